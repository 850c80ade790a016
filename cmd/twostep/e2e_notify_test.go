package main

import (
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/providertest"
	"github.com/twostep/twostep/internal/storetest"
)

// TestNotificationsByEmail: through a real SMTP server (Mailpit), the
// user hears that an authenticator app was added and that they are
// locked out; the responsible person hears of 3 wrong codes in a row and
// of the lock. Each email names the company, the user, the app and the
// time, says what to do, and holds no secret; the audit log shows each
// as sent, and to whom.
func TestNotificationsByEmail(t *testing.T) {
	in := newInstance(t, storetest.SQLiteURL(t))
	mp := providertest.StartMailpit(t)
	in.extra = []string{"TWOSTEP_EMAIL=smtp://" + mp.SMTPAddr + "?from=security%40twostep.test&tls=none"}
	in.mustRun("migrate")
	srv := in.serve()
	a := apiClient{t: t, base: srv.URL, key: in.apiKey()}
	co := a.must(201, "POST", "/v1/companies", map[string]any{"name": "Acme Logistics"})["id"].(string)
	a.must(200, "PATCH", "/v1/companies/"+co+"/settings", map[string]any{
		"responsible_contact": map[string]any{"name": "Rita Berg", "email": "rita@acme.test", "phone": "+371 2000 0009"}})
	u := a.must(201, "POST", "/v1/companies/"+co+"/users", map[string]any{"name": "Anna Ozola", "email": "anna@acme.test",
		"twofa": map[string]any{"web": true}})["id"].(string)
	base := "/v1/companies/" + co + "/users/" + u
	app := a.must(201, "POST", base+"/authenticators", map[string]any{"type": "totp", "name": "Work phone"})
	secret := app["secret"].(string)
	a.must(200, "POST", base+"/authenticators/"+app["id"].(string)+"/confirm", map[string]any{"code": providertest.TOTP(secret, time.Now())})

	ch := a.must(201, "POST", base+"/challenges", map[string]any{"app": "web"})["id"].(string)
	for range 10 {
		wrong := other(providertest.TOTP(secret, time.Now()))
		if wrong == providertest.TOTP(secret, time.Now().Add(-30*time.Second)) || wrong == providertest.TOTP(secret, time.Now().Add(30*time.Second)) {
			wrong = "123456"
		}
		st, _ := a.call("POST", "/v1/challenges/"+ch+"/verify", map[string]any{"code": wrong, "method": "totp"})
		if st != 200 && st != 423 {
			t.Fatalf("a wrong app code: %d", st)
		}
	}

	want := []struct{ to, subject string }{
		{"anna@acme.test", "A sign-in method was added to your Acme Logistics account"},
		{"rita@acme.test", "Anna Ozola has entered 3 wrong sign-in codes in a row at Acme Logistics"},
		{"anna@acme.test", "Your sign-in to Acme Logistics is locked"},
		{"rita@acme.test", "Anna Ozola is locked out of the Web application at Acme Logistics"},
	}
	var got []providertest.Email
	providertest.WaitFor(t, 30*time.Second, "4 notifications in Mailpit", func() bool {
		got = mp.Messages(t)
		return len(got) >= len(want)
	})
	if len(got) != len(want) {
		t.Fatalf("%d emails, want %d", len(got), len(want))
	}
	for _, w := range want {
		var m *providertest.Email
		for i := range got {
			if got[i].To[0] == w.to && got[i].Subject == w.subject {
				m = &got[i]
			}
		}
		if m == nil {
			t.Fatalf("no email %q to %s among %+v", w.subject, w.to, got)
		}
		for _, body := range []string{m.Text, m.HTML} {
			for _, must := range []string{"Acme Logistics", "UTC", "What to do"} {
				if !strings.Contains(body, must) {
					t.Errorf("%q lacks %q:\n%s", w.subject, must, body)
				}
			}
			if !strings.Contains(body, "Anna") || strings.Contains(body, secret) || strings.Contains(body, "http") {
				t.Errorf("%q does not name the user, or holds a secret or a link:\n%s", w.subject, body)
			}
		}
		if strings.Contains(w.subject, "locked") && !strings.Contains(m.Text, "Web application") {
			t.Errorf("%q does not name the app:\n%s", w.subject, m.Text)
		}
		if w.to == "anna@acme.test" && !strings.Contains(m.Text, "Rita Berg") {
			t.Errorf("%q does not say whom to ask for help:\n%s", w.subject, m.Text)
		}
	}

	// The audit log shows each as sent, and to whom.
	var sent []map[string]any
	providertest.WaitFor(t, 10*time.Second, "4 notification.sent events", func() bool {
		sent = nil
		for _, e := range a.must(200, "GET", "/v1/companies/"+co+"/audit-events?action=notification.sent", nil)["events"].([]any) {
			sent = append(sent, e.(map[string]any))
		}
		return len(sent) == 4
	})
	for _, e := range sent {
		d := e["details"].(map[string]any)
		if e["target"].(map[string]any)["user_id"] != u || (d["to"] != "anna@acme.test" && d["to"] != "rita@acme.test") || e["actor"].(map[string]any)["type"] != "system" {
			t.Fatalf("a notification.sent event: %v", e)
		}
	}
	srv.stop(t)
}
