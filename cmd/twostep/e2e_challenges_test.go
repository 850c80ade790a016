package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/delivery"
	"github.com/twostep/twostep/internal/providertest"
	"github.com/twostep/twostep/internal/storetest"
)

// company makes a company with 2FA users through the API and returns its
// id and the users' ids.
func company(t *testing.T, a apiClient, settings map[string]any, users int) (string, []string) {
	t.Helper()
	id := a.must(201, "POST", "/v1/companies", map[string]any{"name": "Acme"})["id"].(string)
	a.must(200, "PATCH", "/v1/companies/"+id+"/settings", settings)
	var ids []string
	for i := range users {
		u := a.must(201, "POST", "/v1/companies/"+id+"/users", map[string]any{
			"name": fmt.Sprint("User ", i), "email": fmt.Sprintf("user%d@acme.test", i),
			"phone": fmt.Sprintf("+3712%07d", 1000000+i), "twofa": map[string]any{"web": true, "manager": true}})
		ids = append(ids, u["id"].(string))
	}
	return id, ids
}

// smsCode waits for the newest SMS to a phone and returns its code.
func smsCode(t *testing.T, tw *providertest.Twilio, phone string, seen int) string {
	t.Helper()
	code := ""
	providertest.WaitFor(t, 20*time.Second, "an SMS to "+phone, func() bool {
		n := 0
		for _, m := range tw.Messages() {
			if m.To == phone {
				n++
				code = providertest.Code(m.Body)
			}
		}
		return n > seen
	})
	return code
}

func other(code string) string {
	if code == "000000" {
		return "999999"
	}
	return "000000"
}

// TestThreeInstancesCountExactly runs three servers on one PostgreSQL
// database and fires 200 wrong codes at one challenge through all three at
// once: exactly 3 count, none approves, and the right code is refused
// after; then 60 right codes at another approve exactly once.
func TestThreeInstancesCountExactly(t *testing.T) {
	in := newInstance(t, storetest.PostgresURL(t))
	tw := providertest.StartTwilio(t)
	in.extra = []string{"TWOSTEP_SMS=" + tw.SenderURL()}
	in.mustRun("migrate")
	key := in.apiKey()
	var servers []*server
	for range 3 {
		servers = append(servers, in.serve())
	}
	a := apiClient{t: t, base: servers[0].URL, key: key}
	co, users := company(t, a, map[string]any{"delivery_method": "sms_then_email"}, 2)

	fire := func(n int, challenge, code string) map[int]int {
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			status = map[int]int{}
		)
		for i := range n {
			wg.Go(func() {
				c := apiClient{t: t, base: servers[i%3].URL, key: key}
				s, _ := c.call("POST", "/v1/challenges/"+challenge+"/verify", map[string]any{"code": code})
				mu.Lock()
				status[s]++
				mu.Unlock()
			})
		}
		wg.Wait()
		return status
	}

	ch := a.must(201, "POST", "/v1/companies/"+co+"/users/"+users[0]+"/challenges", map[string]any{"app": "web"})["id"].(string)
	code := smsCode(t, tw, "+37121000000", 0)
	got := fire(200, ch, other(code))
	if got[200] != 3 || got[410] != 197 || len(got) != 2 {
		t.Fatalf("200 wrong codes through 3 instances: statuses %v; want 3×200 (rejected) and 197×410", got)
	}
	if s, body := a.call("POST", "/v1/challenges/"+ch+"/verify", map[string]any{"code": code}); s != 410 {
		t.Fatalf("the right code after the wrong ones: %d %v", s, body)
	}
	if n := a.must(200, "GET", "/v1/challenges/"+ch, nil)["failed_attempts"].(float64); n != 3 {
		t.Fatalf("%v failures counted, want 3", n)
	}

	ch = a.must(201, "POST", "/v1/companies/"+co+"/users/"+users[1]+"/challenges", map[string]any{"app": "web"})["id"].(string)
	code = smsCode(t, tw, "+37121000001", 0)
	got = fire(60, ch, code)
	if got[200] != 1 || got[409] != 59 || len(got) != 2 {
		t.Fatalf("60 right codes through 3 instances: statuses %v; want 1×200 and 59×409", got)
	}
	for _, s := range servers {
		s.stop(t)
	}
	// Three workers share the outbox; each code went out once.
	if n := len(tw.Messages()); n != 2 {
		t.Fatalf("the provider got %d messages for 2 codes", n)
	}
}

// TestKillNineLosesNoMessage queues codes while the SMS provider fails,
// kills the server with SIGKILL, brings the provider back, restarts the
// server, and sees every acknowledged code delivered, and each works.
func TestKillNineLosesNoMessage(t *testing.T) {
	engines(t, func(t *testing.T, in *instance) {
		tw := providertest.StartTwilio(t)
		tw.Fail(http.StatusInternalServerError)
		// A short provider timeout makes a short lease: messages a killed
		// worker held come free again within seconds.
		in.extra = []string{"TWOSTEP_SMS=" + tw.SenderURL(), "TWOSTEP_DELIVERY_MAX_BACKOFF=200ms", "TWOSTEP_DELIVERY_TIMEOUT=1s"}
		in.mustRun("migrate")
		key := in.apiKey()
		srv := in.serve()
		a := apiClient{t: t, base: srv.URL, key: key}
		co, users := company(t, a, map[string]any{"delivery_method": "sms_then_email"}, 20)
		challenges := map[string]string{} // phone → challenge
		for i, u := range users {
			ch := a.must(201, "POST", "/v1/companies/"+co+"/users/"+u+"/challenges", map[string]any{"app": "web"})
			challenges[fmt.Sprintf("+3712%07d", 1000000+i)] = ch["id"].(string)
		}
		providertest.WaitFor(t, 20*time.Second, "failed tries", func() bool { return tw.Requests() >= 30 })
		srv.cmd.Process.Signal(syscall.SIGKILL)
		<-srv.done
		tw.Fail(0)

		srv = in.serve()
		a.base = srv.URL
		for phone, ch := range challenges {
			code := smsCode(t, tw, phone, 0)
			if got := a.must(200, "POST", "/v1/challenges/"+ch+"/verify", map[string]any{"code": code}); got["result"] != "approved" {
				t.Fatalf("challenge %s: %v", ch, got)
			}
		}
		srv.stop(t)
	})
}

// TestNoCodeAppearsAnywhere runs sign-ins through real providers — SMS by
// the Twilio stand-in, email by Mailpit — and then looks for every code
// sent in every log line, every API response and the whole database.
func TestNoCodeAppearsAnywhere(t *testing.T) {
	engines(t, func(t *testing.T, in *instance) {
		tw := providertest.StartTwilio(t)
		mp := providertest.StartMailpit(t)
		in.extra = []string{"TWOSTEP_SMS=" + tw.SenderURL(), "TWOSTEP_RESEND_COOLDOWN=0s", "TWOSTEP_LOG_LEVEL=debug",
			"TWOSTEP_EMAIL=smtp://" + mp.SMTPAddr + "?from=codes%40twostep.test&tls=none"}
		in.mustRun("migrate")
		key := in.apiKey()
		srv := in.serve()
		responses := &syncBuffer{}
		a := apiClient{t: t, base: srv.URL, key: key, record: responses}
		co, users := company(t, a, map[string]any{"delivery_method": "sms_then_email",
			"responsible_contact": map[string]any{"name": "Rita Berg", "email": "rita@acme.test"}}, 2)

		// SMS, a wrong code, the next code by email, the right code.
		ch := a.must(201, "POST", "/v1/companies/"+co+"/users/"+users[0]+"/challenges", map[string]any{"app": "web"})["id"].(string)
		sms := smsCode(t, tw, "+37121000000", 0)
		a.must(200, "POST", "/v1/challenges/"+ch+"/verify", map[string]any{"code": other(sms)})
		a.must(200, "POST", "/v1/challenges/"+ch+"/resend", map[string]any{"channel": "email"})
		var email string
		providertest.WaitFor(t, 20*time.Second, "the email", func() bool {
			for _, m := range mp.Messages(t) {
				email = providertest.Code(m.Text)
			}
			return email != ""
		})
		a.must(200, "POST", "/v1/challenges/"+ch+"/verify", map[string]any{"code": email})
		a.must(200, "GET", "/v1/challenges/"+ch, nil)
		// Three wrong codes and a lockout's worth of failures on the other user.
		for i := range 4 {
			ch := a.must(201, "POST", "/v1/companies/"+co+"/users/"+users[1]+"/challenges", map[string]any{"app": "manager"})["id"].(string)
			code := smsCode(t, tw, "+37121000001", i)
			for range 3 {
				a.call("POST", "/v1/challenges/"+ch+"/verify", map[string]any{"code": other(code)})
			}
		}
		a.get("/v1/companies/" + co + "/audit-events/export?format=jsonl")
		srv.stop(t)

		var codes []string
		for _, m := range tw.Messages() {
			codes = append(codes, providertest.Code(m.Body))
		}
		codes = append(codes, email)
		if len(codes) < 6 {
			t.Fatalf("only %d codes were sent", len(codes))
		}
		places := map[string][]byte{"the server's log": []byte(srv.logs.String()), "the API's responses": []byte(responses.String())}
		if path, ok := strings.CutPrefix(in.dbURL, "sqlite:"); ok {
			for _, f := range []string{path, path + "-wal"} {
				places[f], _ = os.ReadFile(f)
			}
		} else {
			places["the database"] = []byte(pgDump(t, in.dbURL))
		}
		for _, code := range codes {
			standalone := regexp.MustCompile(`(^|[^0-9])` + code + `([^0-9]|$)`)
			for where, b := range places {
				if standalone.Match(b) {
					t.Errorf("code %s is in %s", code, where)
				}
			}
		}
		if len(places["the server's log"]) < 1000 || !bytes.Contains(places["the API's responses"], []byte(ch)) {
			t.Fatal("the places searched are nearly empty; the test would prove nothing")
		}
	})
}

// pgDump returns every row of every table of the schema as text.
func pgDump(t *testing.T, dbURL string) string {
	t.Helper()
	db := storetest.RawDB(t, dbURL)
	rows, err := db.Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	var b strings.Builder
	for _, table := range tables {
		rows, err := db.Query(`SELECT t::text FROM ` + table + ` t`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			rows.Scan(&s)
			b.WriteString(table + " " + s + "\n")
		}
		rows.Close()
	}
	return b.String()
}

// TestWebhookSMS sends codes through the signed webhook to a receiver that
// checks each signature with the key `twostep webhook secret` prints.
func TestWebhookSMS(t *testing.T) {
	in := newInstance(t, storetest.SQLiteURL(t))
	in.mustRun("migrate")
	out := strings.Split(strings.TrimSpace(in.mustRun("webhook", "secret")), "\n")
	key, err := hex.DecodeString(out[len(out)-1])
	if err != nil || len(key) != 32 {
		t.Fatalf("webhook secret printed %q", out)
	}
	var (
		mu    sync.Mutex
		texts []string
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !delivery.VerifySignature(key, body, r.Header.Get("Twostep-Signature"), time.Now(), 5*time.Minute) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p delivery.WebhookPayload
		json.Unmarshal(body, &p)
		mu.Lock()
		texts = append(texts, p.Text)
		mu.Unlock()
	}))
	defer recv.Close()
	in.extra = []string{"TWOSTEP_SMS=webhook+" + recv.URL + "/sms"}
	key2 := in.apiKey()
	srv := in.serve()
	a := apiClient{t: t, base: srv.URL, key: key2}
	co, users := company(t, a, map[string]any{"delivery_method": "sms_then_email"}, 1)
	ch := a.must(201, "POST", "/v1/companies/"+co+"/users/"+users[0]+"/challenges", map[string]any{"app": "web"})["id"].(string)
	providertest.WaitFor(t, 10*time.Second, "the webhook", func() bool { mu.Lock(); defer mu.Unlock(); return len(texts) == 1 })
	if got := a.must(200, "POST", "/v1/challenges/"+ch+"/verify", map[string]any{"code": providertest.Code(texts[0])}); got["result"] != "approved" {
		t.Fatalf("%v", got)
	}
	srv.stop(t)
}

// TestRapidResendsAreCapped asks for 20 new codes at once with no
// cooldown: all past the fifth are refused with 429, and the SMS provider
// got no more than the cap (SECURITY 12).
func TestRapidResendsAreCapped(t *testing.T) {
	in := newInstance(t, storetest.SQLiteURL(t))
	tw := providertest.StartTwilio(t)
	in.extra = []string{"TWOSTEP_SMS=" + tw.SenderURL(), "TWOSTEP_RESEND_COOLDOWN=0s"}
	in.mustRun("migrate")
	key := in.apiKey()
	srv := in.serve()
	a := apiClient{t: t, base: srv.URL, key: key}
	co, users := company(t, a, map[string]any{"delivery_method": "sms_then_email"}, 1)
	ch := a.must(201, "POST", "/v1/companies/"+co+"/users/"+users[0]+"/challenges", map[string]any{"app": "web"})["id"].(string)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
	)
	for range 20 {
		wg.Go(func() {
			s, _ := a.callSafe("POST", "/v1/challenges/"+ch+"/resend", map[string]any{})
			mu.Lock()
			statuses[s]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[200] != 4 || statuses[429] != 16 {
		t.Fatalf("20 rapid resends: %v; want 4×200 (5 sends in all) and 16×429", statuses)
	}
	time.Sleep(time.Second)
	if n := len(tw.Messages()); n > 5 {
		t.Fatalf("the provider got %d messages; the cap is 5", n)
	}
	srv.stop(t)
}
