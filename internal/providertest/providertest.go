// Package providertest runs real stand-ins for the delivery providers in
// tests: Mailpit, a real SMTP server started as a process, and an HTTP
// server that speaks Twilio's documented Messages API; and, for the
// stronger methods, what an authenticator app would show (TOTP).
package providertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/storetest"
)

// Mailpit is a running Mailpit: an SMTP server whose messages a REST API
// lists.
type Mailpit struct {
	SMTPAddr string // host:port
	APIURL   string // http://host:port
	dir      string
	cmd      *exec.Cmd
	exited   chan struct{}
	t        testing.TB
}

// mailpitBinary finds the mailpit command: on PATH or in GOPATH/bin, where
// `go install github.com/axllent/mailpit@v1.33.1` puts it.
func mailpitBinary() string {
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "mailpit")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// StartMailpit starts Mailpit on free ports and waits until its SMTP port
// answers. Without Mailpit the test skips (or fails when every optional
// test is required).
func StartMailpit(t testing.TB) *Mailpit {
	t.Helper()
	bin := mailpitBinary()
	if bin == "" {
		storetest.Skip(t, "SMTP tests need Mailpit: go install github.com/axllent/mailpit@v1.33.1")
	}
	m := &Mailpit{SMTPAddr: freeAddr(t), dir: t.TempDir(), t: t}
	m.APIURL = "http://" + freeAddr(t)
	m.start(bin)
	t.Cleanup(m.Stop)
	return m
}

func (m *Mailpit) start(bin string) {
	m.t.Helper()
	m.cmd = exec.Command(bin, "--smtp", m.SMTPAddr, "--listen", strings.TrimPrefix(m.APIURL, "http://"),
		"--database", filepath.Join(m.dir, "mailpit.db"), "--smtp-auth-accept-any", "--smtp-auth-allow-insecure", "--quiet")
	var out bytes.Buffer
	m.cmd.Stdout, m.cmd.Stderr = &out, &out
	if err := m.cmd.Start(); err != nil {
		m.t.Fatalf("mailpit: %v", err)
	}
	m.exited = make(chan struct{})
	go func() { m.cmd.Wait(); close(m.exited) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-m.exited:
			m.t.Fatalf("mailpit exited at start: %s", out.String())
		default:
		}
		c, err := net.DialTimeout("tcp", m.SMTPAddr, time.Second)
		if err == nil {
			c.Close()
			if res, err := http.Get(m.APIURL + "/api/v1/messages"); err == nil {
				res.Body.Close()
				return
			}
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mailpit did not answer on %s within 15s: %s", m.SMTPAddr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops Mailpit, as an outage would.
func (m *Mailpit) Stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	m.cmd.Process.Kill()
	<-m.exited
	m.cmd = nil
}

// Restart starts Mailpit again on the same ports and database.
func (m *Mailpit) Restart() {
	m.t.Helper()
	m.Stop()
	m.start(mailpitBinary())
}

// Email is a message Mailpit received.
type Email struct {
	ID      string
	To      []string
	From    string
	Subject string
	Text    string
	HTML    string
}

// Messages lists what Mailpit received, newest first, with their bodies.
func (m *Mailpit) Messages(t testing.TB) []Email {
	t.Helper()
	var list struct {
		Messages []struct {
			ID   string
			From struct{ Address string }
			To   []struct{ Address string }
		}
	}
	getJSON(t, m.APIURL+"/api/v1/messages?limit=500", &list)
	var out []Email
	for _, s := range list.Messages {
		var full struct {
			Subject string
			Text    string
			HTML    string
		}
		getJSON(t, m.APIURL+"/api/v1/message/"+s.ID, &full)
		e := Email{ID: s.ID, From: s.From.Address, Subject: full.Subject, Text: full.Text, HTML: full.HTML}
		for _, to := range s.To {
			e.To = append(e.To, to.Address)
		}
		out = append(out, e)
	}
	return out
}

func getJSON(t testing.TB, url string, v any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("mailpit API: %v", err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("mailpit API %s: %v", url, err)
	}
}

// freeAddr returns a local address with a port nobody listens on now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// SMS is a message the Twilio stand-in accepted.
type SMS struct {
	SID, To, From, Body string
}

// Twilio is an HTTP server that speaks Twilio's Messages API as Twilio
// documents it: POST /2010-04-01/Accounts/{AccountSid}/Messages.json with
// the form fields To, From and Body and HTTP basic auth of the account SID
// and auth token; 201 with the message's JSON, or a JSON error.
type Twilio struct {
	URL   string // http://host:port
	SID   string
	Token string
	srv   *httptest.Server

	mu       sync.Mutex
	messages []SMS
	fail     int // answer this status instead of accepting, 0 to accept
	requests int
	delay    time.Duration
}

// StartTwilio starts the stand-in.
func StartTwilio(t testing.TB) *Twilio {
	tw := &Twilio{SID: "AC00000000000000000000000000000001", Token: "test-token"}
	tw.srv = httptest.NewServer(http.HandlerFunc(tw.serve))
	tw.URL = tw.srv.URL
	t.Cleanup(tw.srv.Close)
	return tw
}

// SenderURL is the TWOSTEP_SMS value that points at the stand-in.
func (tw *Twilio) SenderURL() string {
	return fmt.Sprintf("twilio://%s:%s@%s?from=%%2B15005550006&scheme=http", tw.SID, tw.Token, strings.TrimPrefix(tw.URL, "http://"))
}

// Fail makes the stand-in answer status to every message (0 to accept).
func (tw *Twilio) Fail(status int) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.fail = status
}

// Delay makes the stand-in wait before answering, as a slow provider.
func (tw *Twilio) Delay(d time.Duration) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.delay = d
}

// Messages returns the accepted messages in order.
func (tw *Twilio) Messages() []SMS {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return append([]SMS(nil), tw.messages...)
}

// Requests counts every request, accepted or not.
func (tw *Twilio) Requests() int {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return tw.requests
}

var twilioPath = regexp.MustCompile(`^/2010-04-01/Accounts/([A-Za-z0-9]+)/Messages\.json$`)

func (tw *Twilio) serve(w http.ResponseWriter, r *http.Request) {
	tw.mu.Lock()
	tw.requests++
	fail, delay := tw.fail, tw.delay
	tw.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	twErr := func(status, code int, msg string) {
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "status": status,
			"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code)})
	}
	m := twilioPath.FindStringSubmatch(r.URL.Path)
	if r.Method != http.MethodPost || m == nil {
		twErr(http.StatusNotFound, 20404, "The requested resource was not found")
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != tw.SID || pass != tw.Token || m[1] != tw.SID {
		twErr(http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if err := r.ParseForm(); err != nil {
		twErr(http.StatusBadRequest, 21602, "Message body is required.")
		return
	}
	to, from, body := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("Body")
	switch {
	case fail != 0:
		twErr(fail, 20500, "Internal Server Error")
		return
	case to == "" || !strings.HasPrefix(to, "+"):
		twErr(http.StatusBadRequest, 21211, "The 'To' number is not a valid phone number.")
		return
	case from == "" && r.PostForm.Get("MessagingServiceSid") == "":
		twErr(http.StatusBadRequest, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message.")
		return
	case body == "":
		twErr(http.StatusBadRequest, 21602, "Message body is required.")
		return
	}
	tw.mu.Lock()
	sid := fmt.Sprintf("SM%032d", len(tw.messages)+1)
	tw.messages = append(tw.messages, SMS{SID: sid, To: to, From: from, Body: body})
	tw.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"sid": sid, "account_sid": tw.SID, "to": to, "from": from,
		"body": body, "status": "queued", "num_segments": "1", "direction": "outbound-api",
		"date_created": time.Now().UTC().Format(http.TimeFormat), "uri": r.URL.Path[:len(r.URL.Path)-5] + "/" + sid + ".json"})
}

// codePattern finds a code in a message text.
var codePattern = regexp.MustCompile(`\b(\d{6})\b`)

// Code returns the first 6-digit code in a text, or "".
func Code(text string) string {
	m := codePattern.FindStringSubmatch(text)
	if m == nil {
		return ""
	}
	return m[1]
}

// WaitFor polls cond every 20 ms until it holds or timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
