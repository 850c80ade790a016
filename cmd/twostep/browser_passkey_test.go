package main

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/twostep/twostep/internal/browsertest"
	"github.com/twostep/twostep/result"
)

// virtualAuthenticator gives the browser a platform authenticator with
// user verification, as a phone or laptop with a fingerprint reader has
// (Chrome's DevTools WebAuthn domain).
func virtualAuthenticator() chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, t, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, t, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
			Options: &cdpwebauthn.VirtualAuthenticatorOptions{Protocol: cdpwebauthn.AuthenticatorProtocolCtap2,
				Ctap2version: cdpwebauthn.Ctap2versionCtap21, Transport: cdpwebauthn.AuthenticatorTransportInternal,
				HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
		return chromedp.Void{}, err
	}
}

// clearCredentials empties every virtual authenticator of the browser.
func clearCredentials() chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		// The one virtual authenticator is re-made: its credentials go.
		if _, err := cdp.Call(ctx, t, cdpwebauthn.Disable, cdp.Empty{}); err != nil {
			return chromedp.Void{}, err
		}
		return virtualAuthenticator()(ctx, t)
	}
}

// strconvQuote writes s as a JavaScript string literal.
func strconvQuote(s string) string { return strconv.Quote(s) }

// TestPasskeyInABrowser enrols a passkey on the hosted enrolment page with
// Chrome's virtual authenticator, then signs in with it on the hosted page:
// the sign-in starts on the passkey, nothing is sent, and the result says
// webauthn with amr pop and user. The public URL is localhost, as WebAuthn
// takes no IP address as a relying party.
func TestPasskeyInABrowser(t *testing.T) {
	b := browsertest.Start(t)
	r := newConsoleRig(t, "TWOSTEP_PUBLIC_URL=http://localhost:{port}")
	b.Do(virtualAuthenticator())
	anna := r.users["Anna Ozola"]
	r.api.must(200, "PATCH", "/v1/companies/"+r.company+"/settings", map[string]any{"allowed_return_origins": []string{r.returnTo}})
	e := r.api.must(201, "POST", "/v1/companies/"+r.company+"/users/"+anna+"/enrollments", map[string]any{"return_url": r.returnTo + "/security"})
	b.Do(chromedp.Navigate(e["enroll_url"].(string)), chromedp.WaitVisible(chromedp.CSS(`[data-passkey-register] button`)))
	b.Check("enroll-passkey")
	b.Do(chromedp.Click(chromedp.CSS(`[data-passkey-register] button`)))
	waitForText(t, b, "Save your recovery codes")
	if got := b.Text(".banner"); !strings.Contains(got, "Your passkey is set up") {
		t.Errorf("banner %q", got)
	}
	list := r.api.must(200, "GET", "/v1/companies/"+r.company+"/users/"+anna+"/authenticators", nil)
	if as := list["authenticators"].([]any); len(as) != 1 || as[0].(map[string]any)["type"] != "webauthn" || list["recovery_codes_left"] != float64(10) {
		t.Fatalf("after enrolment: %v", list)
	}

	// Anna is told of the passkey and the codes; the sign-in sends nothing.
	mails := r.waitNotices(t, "anna@acme.test", "A sign-in method was added", "New recovery codes")
	ch := r.api.must(201, "POST", "/v1/companies/"+r.company+"/users/"+anna+"/challenges",
		map[string]any{"app": "web", "return_url": r.returnTo + "/signed-in", "nonce": "n-pk"})
	if ch["method"] != "webauthn" || !slices.Contains(ch["methods_available"].([]any), any("recovery_code")) {
		t.Fatalf("a user with a passkey: %v %v", ch["method"], ch["methods_available"])
	}
	b.Do(chromedp.Navigate(ch["verify_url"].(string)), chromedp.WaitVisible(chromedp.CSS(`[data-passkey-login] button`)))
	if h := b.Text("h1"); h != "Use your passkey" {
		t.Fatalf("heading %q", h)
	}
	b.Check("verify-passkey")
	clicked := time.Now()
	b.Do(chromedp.Click(chromedp.CSS(`[data-passkey-login] button`)))
	var back string
	select {
	case back = <-r.returned:
	case <-time.After(10 * time.Second):
		t.Fatalf("no return to the platform; at %s, saying %q", b.URL(), b.Text("main"))
	}
	t.Logf("a passkey sign-in, from the click to the platform's return URL (virtual authenticator, begin and finish round trips): %v", time.Since(clicked))
	waitForText(t, b, "Back at the platform")
	keys, err := result.ParseJWKS(r.api.get("/.well-known/jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(back)
	claims, err := result.CheckResultToken(u.Query().Get("twostep_result"), keys, result.Expected{Issuer: "http://localhost:" + u2port(r.srv.URL),
		ChallengeID: ch["id"].(string), CompanyID: r.company, UserID: anna, App: "web", Nonce: "n-pk"}, time.Now())
	if err != nil || claims.Method != "webauthn" || !slices.Equal(claims.AMR, []string{"pop", "user"}) {
		t.Fatalf("the result: %+v %v", claims, err)
	}
	if n := len(r.mailpit.Messages(t)); n != mails {
		t.Errorf("%d emails sent for a passkey sign-in", n-mails)
	}

	// A replayed answer is refused: the answer to one sign-in's ceremony,
	// sent again for another sign-in, proves nothing (and counts).
	start := func() map[string]any {
		return r.api.must(201, "POST", "/v1/companies/"+r.company+"/users/"+anna+"/challenges",
			map[string]any{"app": "web", "return_url": r.returnTo + "/signed-in"})
	}
	first, second := start(), start()
	b.Do(chromedp.Navigate(first["verify_url"].(string)), chromedp.WaitVisible(chromedp.CSS(`[data-passkey-login] button`)))
	ceremony := func(verifyURL string) string {
		return `(async () => {
			const post = (u, f) => fetch(u, {method: "POST", body: new URLSearchParams(f || {})}).then(r => r.json());
			const o = await post("` + verifyURL + `/passkey/begin");
			const c = await navigator.credentials.get({publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(o.publicKey)});
			return JSON.stringify(c.toJSON());
		})()`
	}
	path := func(ch map[string]any) string { u, _ := url.Parse(ch["verify_url"].(string)); return u.Path }
	answer := browsertest.Eval[string](b, ceremony(path(first)))
	send := func(ch map[string]any, answer string) map[string]any {
		return browsertest.Eval[map[string]any](b, `fetch("`+path(ch)+`/passkey", {method: "POST", body: new URLSearchParams({answer: `+
			strconvQuote(answer)+`})}).then(r => r.json())`)
	}
	if got := send(first, answer); got["redirect"] == nil {
		t.Fatalf("the answer itself: %v", got)
	}
	browsertest.Eval[string](b, `fetch("`+path(second)+`/passkey/begin", {method: "POST"}).then(r => r.text())`)
	if got := send(second, answer); got["error"] == nil {
		t.Fatalf("a replayed answer was taken: %v", got)
	}
	if got := r.api.must(200, "GET", "/v1/challenges/"+second["id"].(string), nil); got["status"] != "pending" || got["failed_attempts"] != float64(1) {
		t.Fatalf("after the replay: %v, %v failures", got["status"], got["failed_attempts"])
	}

	// A passkey the device no longer has: the page says so, and the user
	// signs in another way (a recovery code).
	b.Do(clearCredentials())
	third := start()
	b.Do(chromedp.Navigate(third["verify_url"].(string)), chromedp.WaitVisible(chromedp.CSS(`[data-passkey-login] button`)),
		chromedp.Click(chromedp.CSS(`[data-passkey-login] button`)), chromedp.WaitVisible(chromedp.CSS(`[data-passkey-error]`)))
	if got := b.Text(`[data-passkey-error]`); !strings.Contains(got, "Try again, or choose another way") {
		t.Errorf("a missing passkey: %q", got)
	}
	b.Check("verify-passkey-missing")
	b.Do(chromedp.Click(chromedp.CSS(`a[href$="method=recovery_code"]`)))
	waitForTextIn(t, b, "h1", "Use a recovery code")
}

// u2port is the port of a URL.
func u2port(raw string) string {
	u, _ := url.Parse(raw)
	return u.Port()
}

// TestConsolePasskeyInABrowser: an admin adds a passkey on their account
// page, and the console's sign-in then asks for it after the password,
// instead of a code, sending nothing.
func TestConsolePasskeyInABrowser(t *testing.T) {
	b := browsertest.Start(t)
	r := newConsoleRig(t, "TWOSTEP_PUBLIC_URL=http://localhost:{port}")
	b.Do(virtualAuthenticator())
	base := "http://localhost:" + u2port(r.srv.URL)
	setUpAdmin(t, r.in, r.srv.URL, r.company, "correct horse battery")
	signIn := func() {
		b.Do(chromedp.Navigate(base+"/admin/login"), chromedp.WaitVisible(chromedp.ID("password")),
			chromedp.SetValue(chromedp.ID("email"), "rita@acme.test"), chromedp.SetValue(chromedp.ID("password"), "correct horse battery"),
			chromedp.Click(chromedp.CSS("button[type=submit]")))
	}
	signIn()
	b.Do(chromedp.WaitVisible(chromedp.ID("code")), chromedp.SendKeys(chromedp.ID("code"), r.emailCode(t, "rita@acme.test", 1)),
		chromedp.Click(chromedp.CSS("main button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(`[aria-label="Settings"]`)))

	b.Do(chromedp.Navigate(base+"/admin/account"), chromedp.WaitVisible(chromedp.CSS(`[data-passkey-register] button`)))
	b.Check("account-passkey")
	b.Do(chromedp.Click(chromedp.CSS(`[data-passkey-register] button`)))
	waitForText(t, b, "Save your recovery codes")
	b.Do(chromedp.Click(chromedp.CSS(`main a.button`)))
	waitForText(t, b, "The console asks for your passkey when you sign in")

	mails := r.waitNotices(t, "rita@acme.test", "A sign-in method was added", "New recovery codes")
	b.Do(chromedp.Click(chromedp.CSS(`form[action="/admin/logout"] button`)), chromedp.WaitVisible(chromedp.ID("password")))
	signIn()
	b.Do(chromedp.WaitVisible(chromedp.CSS(`[data-passkey-login] button`)))
	if h := b.Text("h1"); h != "Use your passkey" {
		t.Fatalf("the console's second step: %q", h)
	}
	b.Check("login-passkey")
	b.Do(chromedp.Click(chromedp.CSS(`[data-passkey-login] button`)), chromedp.WaitVisible(chromedp.CSS(`[aria-label="Settings"]`)))
	if n := len(r.mailpit.Messages(t)); n != mails {
		t.Errorf("%d emails sent for a sign-in with a passkey", n-mails)
	}
}
