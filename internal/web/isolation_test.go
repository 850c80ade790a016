package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/providertest"
	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

// TestTenantIsolationMatrix walks every route the router has — not a list
// kept by hand — and calls it as company B (B's API key, B's signed-in
// admin) on company A's objects. Every route must answer 404 or 403 and
// leave A as it was, or, where a route has no object in its path, show B
// only B's own data (SECURITY 18). A route the matrix does not know fails
// the test, so a new route must be placed in it.
func TestTenantIsolationMatrix(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dbURL string) {
		cs := newConsoleServer(t, dbURL)
		ctx := context.Background()
		sys := twostep.Caller{}
		a := cs.company
		var p twostep.SettingsPatch
		json.Unmarshal([]byte(`{"delivery_method":"sms_then_email","allowed_return_origins":["https://app.acme.test"]}`), &p)
		if _, err := cs.svc.UpdateSettings(ctx, sys, a, p); err != nil {
			t.Fatal(err)
		}
		anna, err := cs.svc.CreateUser(ctx, sys, a, twostep.NewUser{Name: "Anna Secret-A", Email: "anna@acme.test", Phone: "+371 2000 0002",
			TwoFA: twostep.Some(twostep.TwoFAPatch{Web: twostep.Some(true)})})
		if err != nil {
			t.Fatal(err)
		}
		ch, err := cs.svc.CreateChallenge(ctx, sys, a, anna.ID, twostep.NewChallenge{App: "web", ReturnURL: "https://app.acme.test/x"})
		if err != nil {
			t.Fatal(err)
		}
		// A wrong code, so that Anna has a failure an unlock would clear.
		msgs, err := cs.svc.ClaimMessages(ctx, 10, time.Minute)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("the challenge's code: %v, %v", msgs, err)
		}
		wrong := "000000"
		if msgs[0].Code == wrong {
			wrong = "111111"
		}
		if _, r, err := cs.svc.Verify(ctx, sys, ch.ID, twostep.Proof{Code: wrong}); err != nil || r != twostep.ResultRejected {
			t.Fatalf("a wrong code: %+v, %v", r, err)
		}
		// An authenticator app, confirmed, for the routes that name one.
		app, err := cs.svc.AddAuthenticator(ctx, sys, a, anna.ID, "totp", "Phone")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.svc.ConfirmAuthenticator(ctx, sys, a, anna.ID, app.ID, providertest.TOTP(app.Secret, time.Now())); err != nil {
			t.Fatal(err)
		}
		b, err := cs.svc.CreateCompany(ctx, sys, "Beta")
		if err != nil {
			t.Fatal(err)
		}
		_, bKey, _ := cs.svc.CreateAPIKey(ctx, "beta", b.ID)
		_, setup, err := cs.svc.CreateAdmin(ctx, b.ID, "ben@beta.test")
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.svc.CompleteSetup(ctx, setup, adminPassword); err != nil {
			t.Fatal(err)
		}
		bAdmin := cs.browser(t)
		cs.signInAs(t, bAdmin, "ben@beta.test")

		before := snapshot(t, cs, a, anna.ID, ch.ID)
		endpoint, _, err := cs.svc.CreateEventEndpoint(ctx, sys, twostep.EndpointInput{URL: "https://siem.acme.test/in", CompanyID: a})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.svc.SequenceEvents(ctx); err != nil { // the feed, as the deliverer numbers it on PostgreSQL
			t.Fatal(err)
		}
		objects := map[string]string{"company": a, "user": anna.ID, "challenge": ch.ID, "app": "web", "authenticator": app.ID, "endpoint": endpoint.ID,
			"token": "not-a-real-token-" + strings.Repeat("x", 30), "section": "general"}
		apiBodies := map[string]string{
			"POST /v1/companies":                                                               `{"name":"X"}`,
			"PATCH /v1/companies/{company}/settings":                                           `{"sms_daily_cap":7}`,
			"POST /v1/companies/{company}/users":                                               `{"name":"Intruder"}`,
			"PATCH /v1/companies/{company}/users/{user}":                                       `{"name":"Hijacked"}`,
			"PUT /v1/companies/{company}/users/{user}/twofa/{app}":                             `{"enabled":false}`,
			"POST /v1/companies/{company}/users/{user}/twofa/{app}/unlock":                     `{}`,
			"POST /v1/companies/{company}/users/{user}/challenges":                             `{"app":"web"}`,
			"POST /v1/challenges/{challenge}/verify":                                           `{"code":"123456"}`,
			"POST /v1/challenges/{challenge}/resend":                                           `{}`,
			"POST /v1/companies/{company}/users/{user}/authenticators":                         `{"type":"totp"}`,
			"POST /v1/companies/{company}/users/{user}/authenticators/{authenticator}/confirm": `{"code":"123456"}`,
			"POST /v1/companies/{company}/users/{user}/enrollments":                            `{"return_url":"https://app.acme.test/x"}`,
			"POST /v1/event-endpoints":                                                         `{"url":"https://siem.beta.test/in"}`,
		}
		// Routes with no company data: health, documents, assets, keys,
		// and the sign-in pages before there is a session.
		public := map[string]bool{
			"GET /healthz": true, "GET /readyz": true, "GET /openapi.json": true, "GET /metrics": true,
			"GET /static/": true, "GET /.well-known/jwks.json": true, "GET /admin": true, "GET /admin/login": true,
			"POST /admin/login": true, "GET /admin/login/code": true, "POST /admin/login/code": true,
			"POST /admin/login/resend": true, "POST /admin/logout": true,
			"POST /admin/login/code/passkey/begin": true, "POST /admin/login/code/passkey": true,
			"GET /admin/login/forgot": true, "POST /admin/login/forgot": true,
		}
		// Ending B's sessions goes last: every route before it needs one.
		const last = "POST /admin/account/sign-out-everywhere"
		checked := 0
		routes := slices.DeleteFunc(cs.web.Routes(), func(r string) bool { return r == last })
		for _, route := range append(routes, last) {
			method, pattern, _ := strings.Cut(route, " ")
			path := fill(pattern, objects)
			var status int
			var body string
			switch {
			case public[route]:
				continue
			case route == "GET /v1/events":
				// The feed has no company in its path: B's key reads B's events only.
				status, body = do(t, cs, method, path, "", "Bearer "+bKey, nil)
				var feed struct {
					Events []struct {
						CompanyID string `json:"company_id"`
					}
				}
				json.Unmarshal([]byte(body), &feed)
				if status != http.StatusOK || len(feed.Events) == 0 || strings.Contains(body, "Secret-A") || strings.Contains(body, anna.ID) {
					t.Errorf("%s as company B: %d %.300s; want B's events only", route, status, body)
				}
				for _, e := range feed.Events {
					if e.CompanyID != b.ID {
						t.Errorf("%s as company B shows an event of %s", route, e.CompanyID)
					}
				}
			case strings.HasPrefix(pattern, "/v1/"):
				status, body = do(t, cs, method, path, apiBodies[route], "Bearer "+bKey, nil)
				want := http.StatusNotFound
				if route == "POST /v1/companies" || strings.HasPrefix(pattern, "/v1/event-endpoints") {
					want = http.StatusForbidden // operator keys only
				}
				if status != want {
					t.Errorf("%s as company B: %d %s; want %d", route, status, body, want)
				}
			case strings.Contains(pattern, "{token}"):
				// Capability links: B cannot know A's tokens; a guessed one opens nothing.
				status, _ = do(t, cs, method, path, "code=123456", "", nil)
				if status != http.StatusNotFound {
					t.Errorf("%s with a guessed token: %d; want 404", route, status)
				}
			case strings.HasPrefix(pattern, "/admin/account/") && strings.Contains(pattern, "{authenticator}"):
				// The admin's own authenticator: A's, named by id, is not found.
				status, body = do(t, cs, method, path, "confirm=yes", "", bAdmin)
				if status != http.StatusNotFound {
					t.Errorf("%s as B's admin on A's authenticator: %d; want 404", route, status)
				}
			case strings.Contains(pattern, "{user}"):
				status, body = do(t, cs, method, path, "enabled=false&confirm=yes&return=/admin/2fa", "", bAdmin)
				if status != http.StatusNotFound {
					t.Errorf("%s as B's admin on A's user: %d; want 404", route, status)
				}
			case strings.HasPrefix(pattern, "/admin/"):
				// Scoped by the session: B's admin sees and changes only B.
				form := "delivery_method=sms_then_email&contact_name=Ben&web=on&return=/admin/2fa/settings"
				switch route {
				case "POST /admin/2fa/bulk": // A's user, by id
					form = "user=" + anna.ID + "&app=web&state=off&confirm=yes"
				case "POST /admin/2fa/settings/apply-defaults": // every user: B's own
					form = "confirm=yes"
				case "POST /admin/admins": // into B
					form = "email=intruder@beta.test"
				}
				status, body = do(t, cs, method, path, form, "", bAdmin)
				if route == last { // B's admin is signed out, and only B's
					if status != http.StatusUnauthorized {
						t.Errorf("%s as B's admin: %d, want the sign-in page", route, status)
					}
					checked++
					continue
				}
				// The admin's own passkey ceremony refuses a made-up answer
				// (and passkeys are off on this server's IP address).
				refuses := route == "POST /admin/account/passkey/begin" || route == "POST /admin/account/passkey/finish"
				if (status >= 400 && !refuses) || strings.Contains(body, "Secret-A") || strings.Contains(body, anna.ID) {
					t.Errorf("%s as B's admin: %d, and the answer shows A's data: %v %.300s", route, status, strings.Contains(body, "Secret-A"), body)
				}
			default:
				t.Errorf("route %s is not in the isolation matrix; add it", route)
				continue
			}
			checked++
		}
		if after := snapshot(t, cs, a, anna.ID, ch.ID); after != before {
			t.Fatalf("company A changed:\nbefore %s\nafter  %s", before, after)
		}
		t.Logf("%d routes checked as company B on company A's objects", checked)
		if checked < 20 {
			t.Fatalf("only %d routes checked", checked)
		}
	})
}

// fill puts object ids into a route pattern.
func fill(pattern string, objects map[string]string) string {
	for k, v := range objects {
		pattern = strings.ReplaceAll(pattern, "{"+k+"}", url.PathEscape(v))
	}
	return pattern
}

// do sends one request to the console server: with an Authorization
// header, or as a signed-in browser (a client with its cookies).
func do(t *testing.T, cs *consoleServer, method, path, payload, auth string, browser *http.Client) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, cs.URL+path, strings.NewReader(payload))
	if auth != "" {
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json")
	} else {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	c := browser
	if c == nil {
		c = cs.browser(t)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode == http.StatusSeeOther && strings.HasPrefix(res.Header.Get("Location"), "/admin/login") {
		return http.StatusUnauthorized, body(res) // not signed in: a broken test, not isolation
	}
	return res.StatusCode, body(res)
}

// snapshot is company A's state, as text: settings, users, the audit
// log's length and the challenge.
func snapshot(t *testing.T, cs *consoleServer, companyID, userID, challengeID string) string {
	t.Helper()
	ctx := context.Background()
	co, err := cs.svc.Company(ctx, twostep.Caller{}, companyID)
	if err != nil {
		t.Fatal(err)
	}
	users, _, _ := cs.svc.Users(ctx, twostep.Caller{}, companyID, twostep.UserFilter{})
	n := 0
	cs.svc.ExportAudit(ctx, twostep.Caller{}, companyID, twostep.AuditFilter{}, func(twostep.AuditEvent) error { n++; return nil })
	v, _ := cs.svc.Challenge(ctx, twostep.Caller{}, challengeID)
	locks, _, _ := cs.svc.Lockouts(ctx, twostep.Caller{}, companyID, userID)
	apps, codes, _ := cs.svc.Authenticators(ctx, twostep.Caller{}, companyID, userID)
	co.Settings.UpdatedAt = time.Time{}
	return fmt.Sprintf("%+v | %+v | %d events | %s %s %d %d | %+v | %+v %d", co.Settings, users, n, v.Status, v.CodeHash, v.Sends, v.CodeAttempts, locks, apps, codes)
}
