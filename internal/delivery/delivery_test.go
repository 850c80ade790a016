package delivery_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/delivery"
	"github.com/twostep/twostep/internal/providertest"
	"github.com/twostep/twostep/internal/twostep"
)

var ctx = context.Background()

func TestRender(t *testing.T) {
	m := twostep.Message{ID: 7, Channel: twostep.ChannelSMS, To: "+37120000002", Code: "042042",
		CompanyName: "Acme <Ltd>", TTL: 5 * time.Minute}
	sms, err := delivery.Render(m, "2fa.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sms.Text, "042042 is your Acme <Ltd> sign-in code") || !strings.Contains(sms.Text, "expires in 5 minutes") ||
		!strings.HasSuffix(sms.Text, "\n\n@2fa.example.com #042042") || len(sms.Text) > 160 {
		t.Fatalf("SMS %q (%d characters)", sms.Text, len(sms.Text))
	}
	m.Channel, m.To, m.TTL = twostep.ChannelEmail, "anna@acme.com", 10*time.Minute
	email, err := delivery.Render(m, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(email.Subject, "042042") || !strings.Contains(email.Subject, "Acme <Ltd>") {
		t.Fatalf("subject %q: it names the company and keeps the code out of previews", email.Subject)
	}
	if !strings.Contains(email.Text, "042042") || !strings.Contains(email.Text, "10 minutes") ||
		!strings.Contains(email.HTML, "042042") || !strings.Contains(email.HTML, "Acme &lt;Ltd&gt;") {
		t.Fatalf("email text %q\nhtml %q", email.Text, email.HTML)
	}
}

func TestSMTPToMailpit(t *testing.T) {
	mp := providertest.StartMailpit(t)
	for _, url := range []string{
		"smtp://" + mp.SMTPAddr + "?from=codes%40twostep.test&tls=none",
		"smtp://user:secret@" + mp.SMTPAddr + "?from=codes%40twostep.test&tls=none", // with AUTH
	} {
		s, err := delivery.NewSMTP(url)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			out := delivery.Outgoing{Channel: twostep.ChannelEmail, To: "anna@acme.test", Subject: "Your Acme sign-in code",
				Text: "Your code is 12345" + string(rune('0'+i)), HTML: "<p>12345" + string(rune('0'+i)) + "</p>"}
			id, err := s.Send(ctx, out)
			if err != nil || id == "" {
				t.Fatalf("send %d over %s: %q %v", i, url, id, err)
			}
		}
		s.Close()
	}
	got := mp.Messages(t)
	if len(got) != 6 {
		t.Fatalf("Mailpit got %d messages, want 6", len(got))
	}
	e := got[0]
	if e.To[0] != "anna@acme.test" || e.From != "codes@twostep.test" || e.Subject != "Your Acme sign-in code" ||
		!strings.Contains(e.Text, "Your code is 123452") || !strings.Contains(e.HTML, "<p>123452</p>") {
		t.Fatalf("message %+v", e)
	}
}

func TestSMTPOutageIsTemporary(t *testing.T) {
	mp := providertest.StartMailpit(t)
	s, err := delivery.NewSMTP("smtp://" + mp.SMTPAddr + "?from=codes%40twostep.test&tls=none")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := delivery.Outgoing{Channel: twostep.ChannelEmail, To: "anna@acme.test", Subject: "s", Text: "t"}
	if _, err := s.Send(ctx, out); err != nil {
		t.Fatal(err)
	}
	mp.Stop()
	_, err = s.Send(ctx, out)
	if err == nil || delivery.IsPermanent(err) {
		t.Fatalf("send while the server is down: %v; want a temporary error", err)
	}
	mp.Restart()
	// The kept connection died with the server; a new one is dialled.
	if _, err := s.Send(ctx, out); err != nil {
		t.Fatalf("send after the server came back: %v", err)
	}
	if n := len(mp.Messages(t)); n != 2 {
		t.Fatalf("%d messages kept across the restart, want 2", n)
	}
}

func TestNewSMTPRefusesBadURLs(t *testing.T) {
	for _, u := range []string{
		"smtp://mail.example.com",                            // no from
		"smtp://mail.example.com?from=x&tls=starttls",        // from is no address
		"smtp://mail.example.com?from=a%40b.c&tls=sometimes", // no such mode
		"smtp://:25?from=a%40b.c",                            // no host
	} {
		if _, err := delivery.NewSMTP(u); err == nil {
			t.Errorf("%s was accepted", u)
		}
	}
}

func TestTwilio(t *testing.T) {
	tw := providertest.StartTwilio(t)
	s, err := delivery.NewTwilio(tw.SenderURL())
	if err != nil {
		t.Fatal(err)
	}
	sms := delivery.Outgoing{ID: 1, Channel: twostep.ChannelSMS, To: "+37120000002", Text: "123456 is your Acme sign-in code."}
	id, err := s.Send(ctx, sms)
	if err != nil || !strings.HasPrefix(id, "SM") {
		t.Fatalf("send: %q %v", id, err)
	}
	if got := tw.Messages(); len(got) != 1 || got[0].To != "+37120000002" || got[0].From != "+15005550006" || got[0].Body != sms.Text {
		t.Fatalf("stand-in got %+v", got)
	}

	tw.Fail(http.StatusInternalServerError)
	if _, err := s.Send(ctx, sms); err == nil || delivery.IsPermanent(err) {
		t.Fatalf("500: %v; want a temporary error", err)
	}
	tw.Fail(http.StatusTooManyRequests)
	if _, err := s.Send(ctx, sms); err == nil || delivery.IsPermanent(err) {
		t.Fatalf("429: %v; want a temporary error", err)
	}
	tw.Fail(0)
	sms.To = "37120000002" // not E.164: Twilio refuses it for good
	if _, err := s.Send(ctx, sms); !delivery.IsPermanent(err) || !strings.Contains(err.Error(), "21211") {
		t.Fatalf("invalid number: %v; want a permanent error with Twilio's code", err)
	}
	bad, _ := delivery.NewTwilio(strings.Replace(tw.SenderURL(), "test-token", "wrong", 1))
	if _, err := bad.Send(ctx, sms); !delivery.IsPermanent(err) || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("bad credentials: %v; want a permanent error that does not show the token", err)
	}
	tw.Delay(time.Second)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := s.Send(short, sms); err == nil || delivery.IsPermanent(err) {
		t.Fatalf("timeout: %v; want a temporary error", err)
	}
}

func TestWebhookIsSigned(t *testing.T) {
	key := []byte("webhook key")
	var (
		mu     sync.Mutex
		bodies []string
		status = http.StatusNoContent
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if !delivery.VerifySignature(key, b, r.Header.Get("Twostep-Signature"), time.Now(), 5*time.Minute) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		bodies = append(bodies, string(b))
		w.WriteHeader(status)
	}))
	defer srv.Close()
	s, err := delivery.NewWebhook("webhook+"+srv.URL+"/sms", key)
	if err != nil {
		t.Fatal(err)
	}
	out := delivery.Outgoing{ID: 3, Channel: twostep.ChannelSMS, To: "+37120000002", Text: "654321 is your code"}
	if _, err := s.Send(ctx, out); err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 1 || !strings.Contains(bodies[0], `"to":"+37120000002"`) || !strings.Contains(bodies[0], "654321") {
		t.Fatalf("receiver got %q", bodies)
	}
	wrong, _ := delivery.NewWebhook("webhook+"+srv.URL+"/sms", []byte("another key"))
	if _, err := wrong.Send(ctx, out); !delivery.IsPermanent(err) {
		t.Fatalf("a body signed with another key: %v", err)
	}
	status = http.StatusBadGateway
	if _, err := s.Send(ctx, out); err == nil || delivery.IsPermanent(err) {
		t.Fatalf("502: %v; want a temporary error", err)
	}
	// A signature is bound to its body and its time.
	body := []byte(`{"to":"+1"}`)
	sig := delivery.Sign(key, body, time.Now())
	if delivery.VerifySignature(key, []byte(`{"to":"+2"}`), sig, time.Now(), time.Minute) ||
		delivery.VerifySignature(key, body, sig, time.Now().Add(time.Hour), time.Minute) {
		t.Fatal("a tampered or stale signature was accepted")
	}
}
