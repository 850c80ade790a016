package web_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/api"
	"github.com/twostep/twostep/internal/metrics"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
	"github.com/twostep/twostep/internal/web"
	"github.com/twostep/twostep/result"
)

// consoleServer is a TLS test server (the console's cookies are Secure)
// over a store whose clock the test moves.
type consoleServer struct {
	*httptest.Server
	web     *web.Server
	svc     *twostep.Service
	db      *store.DB
	now     time.Time
	mu      sync.Mutex
	company string
	admin   twostep.User
}

const adminPassword = "correct horse battery staple"

func newConsoleServer(t *testing.T, dbURL string) *consoleServer {
	t.Helper()
	cs := &consoleServer{db: storetest.Open(t, dbURL), now: time.Now().UTC()}
	cs.db.SetClock(cs.clock)
	cs.svc = twostep.NewService(cs.db, twostep.Options{AuditKey: []byte("a"), CodeKey: []byte("c"),
		OutboxKey: []byte("0123456789abcdef0123456789abcdef"), CodeTTL: 5 * time.Minute, ResendCooldown: 30 * time.Second,
		Signer: result.NewSigner(make([]byte, 32), "https://2fa.example.com")})
	// The test server's peer is a trusted proxy, so that a test can say
	// where a request comes from in X-Forwarded-For (postFrom).
	ws, err := web.New(web.Config{Service: cs.svc, Ready: cs.db, Metrics: metrics.New(cs.svc.OutboxDepth), OpenAPI: api.OpenAPI,
		Log: slog.New(slog.DiscardHandler), TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	if err != nil {
		t.Fatal(err)
	}
	cs.web = ws
	cs.Server = httptest.NewTLSServer(ws)
	t.Cleanup(cs.Close)
	ctx := context.Background()
	platform := twostep.Caller{KeyID: "key_t", KeyName: "t"}
	co, err := cs.svc.CreateCompany(ctx, platform, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	cs.company = co.ID
	user, token, err := cs.svc.CreateAdmin(ctx, co.ID, "rita@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	cs.admin = user
	if err := cs.svc.CompleteSetup(ctx, token, adminPassword); err != nil {
		t.Fatal(err)
	}
	return cs
}

func (cs *consoleServer) clock() time.Time {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.now
}

func (cs *consoleServer) advance(d time.Duration) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.now = cs.now.Add(d)
}

// browser is a client with cookies that does not follow redirects, so the
// tests see each answer: a browser without JavaScript.
func (cs *consoleServer) browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: cs.Client().Transport, Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// post sends a form as the site's own page would (same origin).
func post(t *testing.T, c *http.Client, target string, form url.Values) *http.Response {
	t.Helper()
	return postFrom(t, c, target, form, "")
}

// postFrom is post from the client address ip, as the trusted proxy in
// front of the test server says in X-Forwarded-For ("" for none).
func postFrom(t *testing.T, c *http.Client, target string, form url.Values, ip string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func get(t *testing.T, c *http.Client, target string) (*http.Response, string) {
	t.Helper()
	res, err := c.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func body(res *http.Response) string {
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// signIn passes the password and the code; it returns the session cookie.
func (cs *consoleServer) signIn(t *testing.T, c *http.Client) *http.Cookie {
	t.Helper()
	return cs.signInAs(t, c, "rita@acme.test")
}

// signInAs signs in the admin with email (and adminPassword).
func (cs *consoleServer) signInAs(t *testing.T, c *http.Client, email string) *http.Cookie {
	t.Helper()
	res := post(t, c, cs.URL+"/admin/login", url.Values{"email": {email}, "password": {adminPassword}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login/code" {
		t.Fatalf("password step: %d %s", res.StatusCode, body(res))
	}
	res.Body.Close()
	code := ""
	msgs, _ := cs.svc.ClaimMessages(context.Background(), 10, time.Minute)
	for _, m := range msgs {
		cs.svc.MessageSent(context.Background(), m.ID, "t")
		code = m.Code
	}
	res = post(t, c, cs.URL+"/admin/login/code", url.Values{"code": {code}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/2fa" {
		t.Fatalf("code step: %d %s", res.StatusCode, body(res))
	}
	res.Body.Close()
	for _, ck := range res.Cookies() {
		if ck.Name == "__Host-twostep" {
			return ck
		}
	}
	t.Fatal("no session cookie")
	return nil
}

func TestConsoleSessions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dbURL string) {
		cs := newConsoleServer(t, dbURL)
		c := cs.browser(t)

		t.Run("CookiesAreHostOnlySecureHttpOnlyLax", func(t *testing.T) {
			res := post(t, c, cs.URL+"/admin/login", url.Values{"email": {"rita@acme.test"}, "password": {adminPassword}})
			res.Body.Close()
			pending := res.Cookies()[0]
			if pending.Name != "__Host-twostep-signin" || !pending.Secure || !pending.HttpOnly ||
				pending.SameSite != http.SameSiteLaxMode || pending.Path != "/" || pending.Domain != "" {
				t.Fatalf("pending cookie %+v", pending)
			}
			// The state between password and code grants nothing.
			if res, _ := get(t, c, cs.URL+"/admin/2fa"); res.StatusCode != http.StatusSeeOther ||
				!strings.HasPrefix(res.Header.Get("Location"), "/admin/login") {
				t.Fatalf("the console after the password alone: %d", res.StatusCode)
			}
			forged := cs.browser(t)
			u, _ := url.Parse(cs.URL)
			forged.Jar.SetCookies(u, []*http.Cookie{{Name: "__Host-twostep", Value: pending.Value, Path: "/", Secure: true}})
			if res, _ := get(t, forged, cs.URL+"/admin/2fa"); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("the pending token as a session: %d", res.StatusCode)
			}
		})

		t.Run("SignInRotatesTheSessionID", func(t *testing.T) {
			session := cs.signIn(t, c)
			if len(session.Value) < 43 || !session.Secure || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode {
				t.Fatalf("session cookie %+v (a token of at least 256 bits is 43 characters)", session)
			}
			again := cs.signIn(t, cs.browser(t))
			if again.Value == session.Value {
				t.Fatal("two sign-ins got the same session id")
			}
			if res, page := get(t, c, cs.URL+"/admin/2fa"); res.StatusCode != 200 || !strings.Contains(page, "Two-factor authentication") {
				t.Fatalf("signed in: %d", res.StatusCode)
			}
		})

		t.Run("PagesSendSecurityHeaders", func(t *testing.T) {
			res, _ := get(t, c, cs.URL+"/admin/2fa")
			csp := res.Header.Get("Content-Security-Policy")
			if strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "script-src 'self'") ||
				!strings.Contains(csp, "frame-ancestors 'none'") || res.Header.Get("X-Content-Type-Options") != "nosniff" ||
				res.Header.Get("Referrer-Policy") != "no-referrer" || res.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("headers %v", res.Header)
			}
		})

		t.Run("CrossSitePostIsRefused", func(t *testing.T) {
			req, _ := http.NewRequest("POST", cs.URL+"/admin/2fa/settings/defaults", strings.NewReader("web=on&manager=on"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusForbidden {
				t.Fatalf("cross-site POST: %d", res.StatusCode)
			}
			req, _ = http.NewRequest("POST", cs.URL+"/admin/2fa/settings/defaults", strings.NewReader("web=on&manager=on"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", "https://evil.example")
			res, _ = c.Do(req)
			res.Body.Close()
			if res.StatusCode != http.StatusForbidden {
				t.Fatalf("POST from another origin: %d", res.StatusCode)
			}
			co, _ := cs.svc.Company(context.Background(), twostep.Caller{}, cs.company)
			if co.Settings.Defaults.Web || co.Settings.Defaults.Manager {
				t.Fatal("a refused cross-site POST changed the settings")
			}
		})

		t.Run("WithoutJavaScriptTurningOffAsksFirst", func(t *testing.T) {
			action := cs.URL + "/admin/2fa/users/" + cs.admin.ID + "/twofa/web"
			res := post(t, c, action, url.Values{"enabled": {"true"}, "return": {"/admin/2fa"}})
			res.Body.Close()
			if res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "done=on") {
				t.Fatalf("turning on: %d %s", res.StatusCode, res.Header.Get("Location"))
			}
			// The banner it leads to is the server's own words.
			if _, page := get(t, c, cs.URL+res.Header.Get("Location")); !strings.Contains(page,
				"Two-factor authentication is on for "+cs.admin.Name+" in the Web application.") {
				t.Fatalf("no banner after turning on:\n%s", page)
			}
			for _, q := range []string{"done=on&who=Call+%2B1+555+0100+to+keep+your+account", "done=on&user=usr_other&app=web",
				"done=on&user=" + cs.admin.ID + "&app=mobile"} {
				if _, page := get(t, c, cs.URL+"/admin/2fa?"+q); strings.Contains(page, "Two-factor authentication is on") ||
					strings.Contains(page, "555") {
					t.Fatalf("a crafted link %q put words in the banner", q)
				}
			}
			res = post(t, c, action, url.Values{"enabled": {"false"}, "return": {"/admin/2fa"}})
			if page := body(res); res.StatusCode != 200 || !strings.Contains(page, "Keep it on") {
				t.Fatalf("turning off without confirming: %d", res.StatusCode)
			}
			u, _ := cs.svc.User(context.Background(), twostep.Caller{}, cs.company, cs.admin.ID)
			if !u.TwoFA.Web {
				t.Fatal("asking first changed the switch already")
			}
			res = post(t, c, action, url.Values{"enabled": {"false"}, "confirm": {"yes"}, "return": {"//evil.example/"}})
			res.Body.Close()
			if loc := res.Header.Get("Location"); !strings.HasPrefix(loc, "/admin/2fa?") {
				t.Fatalf("return to another site: %s", loc)
			}
			u, _ = cs.svc.User(context.Background(), twostep.Caller{}, cs.company, cs.admin.ID)
			if u.TwoFA.Web {
				t.Fatal("the confirmed switch did not turn off")
			}
			events, _, _ := cs.svc.AuditEvents(context.Background(), twostep.Caller{}, cs.company, twostep.AuditFilter{Limit: 1})
			if events[0].Action != twostep.ActionTwoFADisabled || events[0].Actor.ID != cs.admin.ID {
				t.Fatalf("the console's change is not audited with the admin as User: %+v", events[0])
			}
		})

		t.Run("IdleAndAbsoluteExpiry", func(t *testing.T) {
			c := cs.browser(t)
			cs.signIn(t, c)
			cs.advance(twostep.SessionIdle - time.Minute)
			if res, _ := get(t, c, cs.URL+"/admin/2fa"); res.StatusCode != 200 {
				t.Fatalf("within the idle time: %d", res.StatusCode)
			}
			cs.advance(twostep.SessionIdle + time.Second)
			if res, _ := get(t, c, cs.URL+"/admin/2fa"); res.StatusCode != http.StatusSeeOther ||
				!strings.Contains(res.Header.Get("Location"), "expired") {
				t.Fatalf("after the idle time: %d", res.StatusCode)
			}
			c = cs.browser(t)
			cs.signIn(t, c)
			for range int(twostep.SessionAbsolute/(20*time.Minute)) + 1 {
				cs.advance(20 * time.Minute)
				get(t, c, cs.URL+"/admin/2fa")
			}
			if res, _ := get(t, c, cs.URL+"/admin/2fa"); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("after the absolute time, though active: %d", res.StatusCode)
			}
		})

		t.Run("SignOutEndsTheSession", func(t *testing.T) {
			c := cs.browser(t)
			session := cs.signIn(t, c)
			post(t, c, cs.URL+"/admin/logout", nil).Body.Close()
			replay := cs.browser(t)
			u, _ := url.Parse(cs.URL)
			replay.Jar.SetCookies(u, []*http.Cookie{session})
			if res, _ := get(t, replay, cs.URL+"/admin/2fa"); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("the old session after sign-out: %d", res.StatusCode)
			}
		})
	})
}

// TestSignInFailuresLookAlike: an unknown email, a wrong password and a
// locked account get the same status and the same page (SECURITY 19).
func TestSignInFailuresLookAlike(t *testing.T) {
	cs := newConsoleServer(t, storetest.SQLiteURL(t))
	ctx := context.Background()
	// Lock the admin's Web application sign-in: ten wrong codes.
	if _, err := cs.svc.SetTwoFA(ctx, twostep.Caller{}, cs.company, cs.admin.ID, twostep.AppWeb, true); err != nil {
		t.Fatal(err)
	}
	for failures := 0; failures < twostep.LockAfter; {
		res, err := cs.svc.CreateChallenge(ctx, twostep.Caller{}, cs.company, cs.admin.ID, twostep.NewChallenge{App: "web"})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3 && failures < twostep.LockAfter; i++ {
			cs.svc.Verify(ctx, twostep.Caller{}, res.ID, twostep.Proof{Code: "000000"})
			failures++
		}
	}
	answer := func(email, password string) (int, string) {
		res := post(t, cs.browser(t), cs.URL+"/admin/login", url.Values{"email": {email}, "password": {password}})
		return res.StatusCode, body(res)
	}
	wantStatus, wantPage := answer("nobody@acme.test", "some password here")
	for _, tc := range []struct{ name, email, password string }{
		{"WrongPassword", "rita@acme.test", "not the password at all"},
		{"LockedAccount", "rita@acme.test", adminPassword},
		{"UnknownEmailAgain", "someone@else.test", "x"},
	} {
		status, page := answer(tc.email, tc.password)
		// The page shows back the email typed; compare the rest.
		strip := regexp.MustCompile(`value="[^"]*"`)
		if status != wantStatus || strip.ReplaceAllString(page, "") != strip.ReplaceAllString(wantPage, "") {
			t.Errorf("%s: %d; an unknown email: %d, and the pages differ", tc.name, status, wantStatus)
		}
	}
}

// TestSignInIsRateLimited: failed passwords are limited per email from
// one address and per address, so that someone who knows an admin's email
// cannot lock the admin out from elsewhere, and right passwords never
// count.
func TestSignInIsRateLimited(t *testing.T) {
	cs := newConsoleServer(t, storetest.SQLiteURL(t))
	try := func(email, password, ip string) int {
		t.Helper()
		res := postFrom(t, cs.browser(t), cs.URL+"/admin/login", url.Values{"email": {email}, "password": {password}}, ip)
		page := body(res)
		if res.StatusCode == http.StatusTooManyRequests && !strings.Contains(page, "Too many failed sign-in attempts") {
			t.Fatalf("429 without saying why:\n%s", page)
		}
		return res.StatusCode
	}
	const attacker, admin = "203.0.113.66", "198.51.100.20"
	// The attacker's wrong passwords for Rita, in any case of her email,
	// fill the limit for her email from the attacker's address...
	for i := range twostep.SignInFailuresPerEmailIP {
		email := "rita@acme.test"
		if i%2 == 1 {
			email = "RITA@Acme.Test"
		}
		if got := try(email, fmt.Sprint("wrong password ", i), attacker); got != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i+1, got)
		}
	}
	if got := try("rita@acme.test", adminPassword, attacker); got != http.StatusTooManyRequests {
		t.Fatalf("from the attacker's address after %d failures: %d, want 429", twostep.SignInFailuresPerEmailIP, got)
	}
	// ...and not from Rita's: her right password is never refused, and
	// right passwords do not count.
	for i := range 5 {
		if got := try("rita@acme.test", adminPassword, admin); got != http.StatusSeeOther {
			t.Fatalf("Rita's own sign-in %d while the attacker is locked out: %d", i+1, got)
		}
	}
	for i := range twostep.SignInFailuresPerEmailIP - 1 {
		if got := try("rita@acme.test", fmt.Sprint("typo ", i), admin); got != http.StatusUnauthorized {
			t.Fatalf("Rita's typo %d: %d", i+1, got)
		}
	}
	if got := try("rita@acme.test", adminPassword, admin); got != http.StatusSeeOther {
		t.Fatalf("Rita's right password after %d typos: %d", twostep.SignInFailuresPerEmailIP-1, got)
	}
	// Per address, over every email, an IPv6 /64 counting as one.
	for i := range twostep.SignInFailuresPerIP {
		ip := fmt.Sprintf("2001:db8:7:8::%x", i+1)
		if got := try(fmt.Sprintf("guess%d@acme.test", i), "password guess", ip); got != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i+1, got)
		}
	}
	if got := try("rita@acme.test", adminPassword, "2001:db8:7:8:ffff::1"); got != http.StatusTooManyRequests {
		t.Fatalf("from the same /64 after %d failures: %d, want 429", twostep.SignInFailuresPerIP, got)
	}
	if got := try("nobody@acme.test", "password guess", "2001:db8:7:9::1"); got != http.StatusUnauthorized {
		t.Fatalf("from the next /64: %d", got)
	}
	// The window passes.
	cs.advance(16 * time.Minute)
	if got := try("rita@acme.test", adminPassword, attacker); got != http.StatusSeeOther {
		t.Fatalf("after the window: %d", got)
	}
}

func TestSetupLinkWorksOnce(t *testing.T) {
	cs := newConsoleServer(t, storetest.SQLiteURL(t))
	ctx := context.Background()
	_, token, err := cs.svc.CreateAdmin(ctx, cs.company, "ben@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	c := cs.browser(t)
	link := cs.URL + "/admin/setup/" + token
	res := post(t, c, link, url.Values{"password": {"short"}, "confirm": {"short"}})
	if page := body(res); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "at least 8 characters") {
		t.Fatalf("a short password: %d", res.StatusCode)
	}
	res = post(t, c, link, url.Values{"password": {"a much longer passphrase"}, "confirm": {"a much longer passphrase"}})
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("set-up: %d", res.StatusCode)
	}
	if res, _ := get(t, c, link); res.StatusCode != http.StatusNotFound {
		t.Fatalf("the link a second time: %d", res.StatusCode)
	}
	// A new link revokes the ones before it.
	_, first, err := cs.svc.CreateAdmin(ctx, cs.company, "dace@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	_, second, err := cs.svc.CreateAdmin(ctx, cs.company, "dace@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := get(t, c, cs.URL+"/admin/setup/"+first); res.StatusCode != http.StatusNotFound {
		t.Fatalf("an earlier link after a new one was issued: %d", res.StatusCode)
	}
	if res, _ := get(t, c, cs.URL+"/admin/setup/"+second); res.StatusCode != http.StatusOK {
		t.Fatalf("the newest link: %d", res.StatusCode)
	}
	_, token, _ = cs.svc.CreateAdmin(ctx, cs.company, "ben@acme.test")
	cs.advance(twostep.SetupLinkTTL + time.Minute)
	if res, _ := get(t, c, cs.URL+"/admin/setup/"+token); res.StatusCode != http.StatusNotFound {
		t.Fatalf("an expired link: %d", res.StatusCode)
	}
}

// TestHostedPageWithoutJavaScript submits the hosted page's form as a
// browser without JavaScript does and follows it back to the platform.
func TestHostedPageWithoutJavaScript(t *testing.T) {
	cs := newConsoleServer(t, storetest.SQLiteURL(t))
	ctx := context.Background()
	var p twostep.SettingsPatch
	p.AllowedReturnOrigins = twostep.Some([]string{"https://app.acme.test"})
	if _, err := cs.svc.UpdateSettings(ctx, twostep.Caller{}, cs.company, p); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.svc.SetTwoFA(ctx, twostep.Caller{}, cs.company, cs.admin.ID, twostep.AppManager, true); err != nil {
		t.Fatal(err)
	}
	res, err := cs.svc.CreateChallenge(ctx, twostep.Caller{}, cs.company, cs.admin.ID,
		twostep.NewChallenge{App: "manager", ReturnURL: "https://app.acme.test/back?x=1"})
	if err != nil || res.VerifyToken == "" {
		t.Fatalf("%+v %v", res, err)
	}
	msgs, _ := cs.svc.ClaimMessages(ctx, 10, time.Minute)
	code := msgs[0].Code
	c := cs.browser(t)
	page := cs.URL + "/verify/" + res.VerifyToken
	r, html := get(t, c, page)
	if r.StatusCode != 200 || !strings.Contains(html, `autocomplete="one-time-code"`) ||
		!strings.Contains(r.Header.Get("Content-Security-Policy"), "form-action 'self' https://app.acme.test") {
		t.Fatalf("the page: %d %v", r.StatusCode, r.Header)
	}
	r = post(t, c, page, url.Values{"code": {"12-34"}})
	if html := body(r); r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(html, "<title>Error: ") ||
		!strings.Contains(html, "6 digits") {
		t.Fatalf("a short code: %d", r.StatusCode)
	}
	r = post(t, c, page, url.Values{"code": {" " + code[:3] + "-" + code[3:] + " "}})
	r.Body.Close()
	loc, _ := url.Parse(r.Header.Get("Location"))
	if r.StatusCode != http.StatusSeeOther || loc.Host != "app.acme.test" || loc.Query().Get("x") != "1" || loc.Query().Get("twostep_result") == "" {
		t.Fatalf("after the code: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if r, _ := get(t, c, cs.URL+"/verify/not-a-token"); r.StatusCode != http.StatusNotFound {
		t.Fatalf("a made-up token: %d", r.StatusCode)
	}
}

// TestSignInTimingLooksAlike compares how long the password step takes for
// an unknown email, a wrong password and a locked account, over many tries
// each, interleaved: the medians must be close, so timing does not tell
// which emails have accounts (SECURITY 19).
func TestSignInTimingLooksAlike(t *testing.T) {
	cs := newConsoleServer(t, storetest.SQLiteURL(t))
	ctx := context.Background()
	_, token, _ := cs.svc.CreateAdmin(ctx, cs.company, "ben@acme.test")
	if err := cs.svc.CompleteSetup(ctx, token, adminPassword); err != nil {
		t.Fatal(err)
	}
	ben, _, _ := cs.svc.CreateAdmin(ctx, cs.company, "ben@acme.test")
	// Lock Ben for good: a hundred wrong codes, spread so that the send
	// limits and the 15-minute locks allow them.
	cs.svc.SetTwoFA(ctx, twostep.Caller{}, cs.company, ben.ID, twostep.AppWeb, true)
	for failures := 0; failures < twostep.MaxFailures; {
		res, err := cs.svc.CreateChallenge(ctx, twostep.Caller{}, cs.company, ben.ID, twostep.NewChallenge{App: "web"})
		if isLocked(err) {
			cs.advance(twostep.LockFor + time.Minute)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			v, _, err := cs.svc.Verify(ctx, twostep.Caller{}, res.ID, twostep.Proof{Code: "000000"})
			if err != nil {
				break
			}
			failures = v.FailedAttempts
		}
		cs.advance(7 * time.Minute)
	}
	if ls, now, _ := cs.svc.Lockouts(ctx, twostep.Caller{}, cs.company, ben.ID); !ls[twostep.AppWeb].Locked(now) {
		t.Fatalf("Ben is not locked: %+v", ls)
	}
	rounds := 100
	if testing.Short() {
		rounds = 20
	}
	kinds := []struct{ name, email, password string }{
		{"unknown email", "", "some password here"},
		{"wrong password", "rita@acme.test", "not the password at all"},
		{"locked account", "ben@acme.test", adminPassword},
	}
	took := make([][]time.Duration, len(kinds))
	for round := range rounds {
		cs.advance(100 * time.Second) // within the sign-in limits
		for i, k := range kinds {
			email := k.email
			if email == "" {
				email = fmt.Sprintf("nobody%d@acme.test", round)
			}
			start := time.Now()
			res := post(t, cs.browser(t), cs.URL+"/admin/login", url.Values{"email": {email}, "password": {k.password}})
			body(res)
			took[i] = append(took[i], time.Since(start))
			if res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s: %d", k.name, res.StatusCode)
			}
		}
	}
	medians := make([]time.Duration, len(kinds))
	for i := range kinds {
		slices.Sort(took[i])
		medians[i] = took[i][len(took[i])/2]
	}
	lo, hi := slices.Min(medians), slices.Max(medians)
	t.Logf("median time of the password step: %s %v, %s %v, %s %v",
		kinds[0].name, medians[0], kinds[1].name, medians[1], kinds[2].name, medians[2])
	if hi-lo > max(hi/4, 3*time.Millisecond) {
		t.Errorf("the medians differ by %v (%v to %v): timing tells the cases apart", hi-lo, lo, hi)
	}
}

func isLocked(err error) bool {
	var e *twostep.Error
	return errors.As(err, &e) && e.Code == twostep.CodeLocked
}

// TestPageFormsAreBounded: console and hosted-page forms take only
// urlencoded bodies of at most 64 KiB; a bare POST without a body needs
// no type.
func TestPageFormsAreBounded(t *testing.T) {
	cs := newConsoleServer(t, storetest.SQLiteURL(t))
	c := cs.browser(t)
	send := func(path, contentType, payload, accept string) int {
		req, _ := http.NewRequest("POST", cs.URL+path, strings.NewReader(payload))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b := body(res)
		if accept == "application/json" && res.StatusCode >= 400 && !strings.Contains(b, `"error"`) {
			t.Errorf("%s with Accept: application/json: %d %s, want the JSON error shape", path, res.StatusCode, b)
		}
		return res.StatusCode
	}
	big := "email=" + strings.Repeat("a", 64<<10) + "&password=x"
	for _, tc := range []struct {
		name, path, contentType, body, accept string
		want                                  int
	}{
		{"Multipart", "/verify/x", "multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"code\"\r\n\r\n123456\r\n--b--\r\n", "", http.StatusUnsupportedMediaType},
		{"JSON", "/admin/login", "application/json", `{"email":"a@b.c"}`, "", http.StatusUnsupportedMediaType},
		{"NoTypeWithABody", "/admin/login", "", "email=a", "", http.StatusUnsupportedMediaType},
		{"OverTheLimit", "/admin/login", "application/x-www-form-urlencoded", big, "", http.StatusRequestEntityTooLarge},
		{"OverTheLimitFromScript", "/admin/2fa/users/x/twofa/web", "application/x-www-form-urlencoded", big, "application/json", http.StatusRequestEntityTooLarge},
		{"WithinTheLimit", "/admin/login", "application/x-www-form-urlencoded; charset=UTF-8", "email=nobody%40acme.test&password=" + strings.Repeat("p", 60<<10), "", http.StatusUnauthorized},
		{"BareSignOut", "/admin/logout", "", "", "", http.StatusSeeOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := send(tc.path, tc.contentType, tc.body, tc.accept); got != tc.want {
				t.Fatalf("%d, want %d", got, tc.want)
			}
		})
	}
}

// TestConsoleKeepsTheSessionThroughADatabaseBlip: a session that cannot
// be checked because the database is away is answered 503, and the
// admin stays signed in (the console once signed them out).
func TestConsoleKeepsTheSessionThroughADatabaseBlip(t *testing.T) {
	cs := newConsoleServer(t, storetest.SQLiteURL(t))
	c := cs.browser(t)
	cs.signIn(t, c)
	if res, _ := get(t, c, cs.URL+"/admin/2fa"); res.StatusCode != http.StatusOK {
		t.Fatalf("the console: %d", res.StatusCode)
	}
	cs.db.Close()
	res, page := get(t, c, cs.URL+"/admin/2fa")
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, "still signed in") {
		t.Fatalf("the console with the database away: %d\n%s", res.StatusCode, page)
	}
	for _, ck := range res.Cookies() {
		if ck.Name == "__Host-twostep" {
			t.Fatalf("the session cookie was changed: %+v", ck)
		}
	}
	req, _ := http.NewRequest("POST", cs.URL+"/admin/2fa/users/"+cs.admin.ID+"/twofa/web", strings.NewReader("enabled=true"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if b := body(res); res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(b, `"unavailable"`) {
		t.Fatalf("a switch with the database away: %d %s", res.StatusCode, b)
	}
}
