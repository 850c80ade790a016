package main

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/providertest"
)

// recorder is an HTTP client that keeps every URL it asked for, every
// Location it was sent to and every body it got, and carries cookies
// itself (Go's cookie jar keeps Secure cookies from plain http).
type recorder struct {
	t       *testing.T
	seen    strings.Builder
	cookies map[string]string
	client  *http.Client
}

func newRecorder(t *testing.T) *recorder {
	return &recorder{t: t, cookies: map[string]string{},
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (r *recorder) do(method, target, form string) *http.Response {
	r.t.Helper()
	req, _ := http.NewRequest(method, target, strings.NewReader(form))
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range r.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	res, err := r.client.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			delete(r.cookies, c.Name)
		} else {
			r.cookies[c.Name] = c.Value
		}
	}
	r.seen.WriteString(method + " " + target + "\n" + res.Header.Get("Location") + "\n" + string(b) + "\n")
	return res
}

// TestNoSecretAppearsAnywhere runs every flow — the API with its key, an
// admin's set-up, password, code and session, the hosted page — and then
// looks for each secret it handled in every log line, every URL and
// Location, every response body (the audit log's export among them) and
// the whole database (SECURITY 2, 20).
func TestNoSecretAppearsAnywhere(t *testing.T) {
	engines(t, func(t *testing.T, in *instance) {
		tw, mp := providertest.StartTwilio(t), providertest.StartMailpit(t)
		ret := "https://app.acme.test"
		addr := freeAddr(t)
		in.extra = []string{"TWOSTEP_PUBLIC_URL=http://" + addr, "TWOSTEP_SMS=" + tw.SenderURL(), "TWOSTEP_RESEND_COOLDOWN=0s", "TWOSTEP_LOG_LEVEL=debug",
			"TWOSTEP_EMAIL=smtp://" + mp.SMTPAddr + "?from=codes%40twostep.test&tls=none", "TWOSTEP_ALLOWED_RETURN_ORIGINS=" + ret}
		in.mustRun("migrate")
		key := in.apiKey()
		srv := in.serve("--addr", addr)
		rec := newRecorder(t)
		api := apiClient{t: t, base: srv.URL, key: key, record: &syncBuffer{}}
		co, users := company(t, api, map[string]any{"delivery_method": "email_only"}, 1)

		// An admin: the set-up link, a password, the code, a session.
		out := in.mustRun("admin", "create", "--company", co, "--email", "rita@acme.test")
		link := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
		const password = "a secret pass phrase 42"
		rec.do("GET", link, "")
		rec.do("POST", link, url.Values{"password": {password}, "confirm": {password}}.Encode())
		rec.do("POST", srv.URL+"/admin/login", url.Values{"email": {"rita@acme.test"}, "password": {password}}.Encode())
		pending := rec.cookies["__Host-twostep-signin"]
		code := ""
		providertest.WaitFor(t, 15e9, "the admin's code", func() bool {
			for _, m := range mp.Messages(t) {
				if m.To[0] == "rita@acme.test" {
					code = providertest.Code(m.Text)
				}
			}
			return code != ""
		})
		if res := rec.do("POST", srv.URL+"/admin/login/code", "code="+code); res.Header.Get("Location") != "/admin/2fa" {
			t.Fatalf("admin sign-in: %d", res.StatusCode)
		}
		session := rec.cookies["__Host-twostep"]
		for _, p := range []string{"/admin/2fa", "/admin/2fa/settings", "/admin/2fa/audit", "/admin/2fa/audit/export"} {
			if res := rec.do("GET", srv.URL+p, ""); res.StatusCode != 200 {
				t.Fatalf("%s: %d", p, res.StatusCode)
			}
		}
		rec.do("POST", srv.URL+"/admin/2fa/settings/defaults", "web=on")

		// A user signs in on the hosted page: a wrong code, then the right one.
		ch := api.must(201, "POST", "/v1/companies/"+co+"/users/"+users[0]+"/challenges", map[string]any{"app": "web", "return_url": ret + "/done"})
		page := ch["verify_url"].(string)
		rec.do("GET", page, "")
		userCode := ""
		providertest.WaitFor(t, 15e9, "the user's code", func() bool {
			for _, m := range mp.Messages(t) {
				if m.To[0] == "user0@acme.test" {
					userCode = providertest.Code(m.Text)
				}
			}
			return userCode != ""
		})
		rec.do("POST", page, "code="+other(userCode))
		if res := rec.do("POST", page, "code="+userCode); !strings.HasPrefix(res.Header.Get("Location"), ret) {
			t.Fatalf("hosted page: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		rec.do("GET", srv.URL+"/v1/companies/"+co+"/audit-events/export?format=jsonl", "") // unauthenticated: 401
		api.get("/v1/companies/" + co + "/audit-events/export?format=jsonl")
		rec.do("POST", srv.URL+"/admin/logout", "")
		srv.stop(t)

		secrets := map[string]string{"the API key": key, "the admin's password": password, "the admin's code": code,
			"the user's code": userCode, "the session id": session, "the pending sign-in id": pending}
		places := map[string]string{"the server's log": srv.logs.String(), "URLs, Locations and pages": rec.seen.String(),
			"the API's responses": api.record.String()}
		if path, ok := strings.CutPrefix(in.dbURL, "sqlite:"); ok {
			for _, f := range []string{path, path + "-wal"} {
				b, _ := os.ReadFile(f)
				places[f] = string(b)
			}
		} else {
			places["the database"] = pgDump(t, in.dbURL)
		}
		for what, secret := range secrets {
			if len(secret) < 6 {
				t.Fatalf("%s was not captured: %q", what, secret)
			}
			pattern := regexp.QuoteMeta(secret)
			if len(secret) == 6 { // a code: on its own, not inside a longer number
				pattern = `(^|[^0-9])` + pattern + `([^0-9]|$)`
			}
			re := regexp.MustCompile(pattern)
			for where, text := range places {
				if re.MatchString(text) {
					t.Errorf("%s is in %s", what, where)
				}
			}
		}
		if !strings.Contains(places["URLs, Locations and pages"], "Audit log") || len(places["the server's log"]) < 2000 {
			t.Fatal("the places searched are nearly empty; the test would prove nothing")
		}
	})
}
