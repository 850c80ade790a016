package main

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/twostep/twostep/internal/browsertest"
	"github.com/twostep/twostep/internal/providertest"
	"github.com/twostep/twostep/result"
)

// TestAuthenticatorAppInABrowser walks a user of an app that requires
// strong authentication: in their grace period the SMS code takes them to
// the enrolment page, where they add an authenticator app (the test reads
// the key from the page, as a person would type it, and computes codes
// from it), save their recovery codes and go back to the platform. Their
// next sign-ins start on the app, and a recovery code works instead.
func TestAuthenticatorAppInABrowser(t *testing.T) {
	b := browsertest.Start(t)
	r := newConsoleRig(t)
	r.api.must(200, "PATCH", "/v1/companies/"+r.company+"/settings", map[string]any{"delivery_method": "sms_then_email",
		"strong_authentication": map[string]any{"web": true}, "enrollment_grace_days": 14})
	anna := r.users["Anna Ozola"]
	keys, err := result.ParseJWKS(r.api.get("/.well-known/jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	start := func() map[string]any {
		return r.api.must(201, "POST", "/v1/companies/"+r.company+"/users/"+anna+"/challenges",
			map[string]any{"app": "web", "return_url": r.returnTo + "/signed-in", "nonce": "n-1"})
	}
	// back waits for the return to the platform and checks its result.
	back := func(ch map[string]any, method string, amr []string) {
		t.Helper()
		var to string
		select {
		case to = <-r.returned:
		case <-time.After(10 * time.Second):
			t.Fatalf("no return to the platform; the browser is at %s, saying %q", b.URL(), b.Text("main"))
		}
		// The browser has the platform's page before it goes elsewhere: a
		// navigation while that page still loads would be aborted.
		waitForText(t, b, "Back at the platform")
		u, _ := url.Parse(to)
		claims, err := result.CheckResultToken(u.Query().Get("twostep_result"), keys, result.Expected{Issuer: r.srv.URL,
			ChallengeID: ch["id"].(string), CompanyID: r.company, UserID: anna, App: "web", Nonce: "n-1"}, time.Now())
		if err != nil {
			t.Fatalf("result: %v", err)
		}
		if claims.Method != method || !slices.Equal(claims.AMR, amr) {
			t.Fatalf("signed in by %s %v, want %s %v", claims.Method, claims.AMR, method, amr)
		}
	}

	ch := start()
	if ch["enrollment_required"] != true || ch["method"] != "sms" {
		t.Fatalf("in the grace period: %v, %v", ch["enrollment_required"], ch["method"])
	}
	sms := smsCode(t, r.twilio, "+37120000002", 0)
	b.Do(chromedp.Navigate(ch["verify_url"].(string)), chromedp.WaitVisible(chromedp.ID("code")),
		chromedp.SendKeys(chromedp.ID("code"), sms), chromedp.Click(chromedp.CSS("main form button[type=submit]")))
	waitForText(t, b, "Set up two-step sign-in")
	if !strings.Contains(b.URL(), "/enroll/") || !strings.Contains(b.Text("main"), "You’re signed in.") {
		t.Fatalf("after the code: %s %q", b.URL(), b.Text("main"))
	}
	b.Check("enroll-start")

	b.Do(chromedp.Click(chromedp.CSS(`form[action$="/app"] button`)))
	waitForText(t, b, "Scan this QR code")
	if n := browsertest.Eval[int](b, `document.querySelector("img.qr").naturalWidth`); n < 100 {
		t.Fatalf("the QR code is %d pixels wide", n)
	}
	b.Do(chromedp.Click(chromedp.CSS("details summary")), chromedp.WaitVisible(chromedp.ID("setup-key")))
	key := b.Text("#setup-key")
	if len(strings.ReplaceAll(key, " ", "")) != 32 {
		t.Fatalf("the key on the page: %q", key)
	}
	attrs := browsertest.Get(b, chromedp.Attributes(chromedp.ID("code")))
	if attrs["autocomplete"] != "one-time-code" || attrs["inputmode"] != "numeric" {
		t.Errorf("code field %v", attrs)
	}
	b.Check("enroll-app")

	b.Do(chromedp.SendKeys(chromedp.ID("code"), other(providertest.TOTP(key, time.Now()))),
		chromedp.Click(chromedp.CSS("main form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".error-summary")))
	if e := b.Text(".error-summary"); !strings.Contains(e, "That code is not correct") {
		t.Errorf("a wrong code: %q", e)
	}
	b.Check("enroll-wrong-code")

	b.Do(chromedp.SetValue(chromedp.ID("code"), providertest.TOTP(key, time.Now())),
		chromedp.Click(chromedp.CSS("main form button[type=submit]")))
	waitForText(t, b, "Save your recovery codes")
	codes := browsertest.Eval[[]string](b, `[...document.querySelectorAll(".code-list li")].map(li => li.innerText.trim())`)
	if len(codes) != 10 {
		t.Fatalf("recovery codes on the page: %v", codes)
	}
	href := browsertest.Eval[string](b, `document.querySelector("a[download]").href`)
	if file, _ := url.PathUnescape(strings.TrimPrefix(href, "data:text/plain;charset=utf-8,")); !strings.Contains(file, codes[9]) {
		t.Errorf("the download holds %q", file)
	}
	b.Check("enroll-codes")
	b.Do(chromedp.Click(chromedp.CSS(`form[action$="/finish"] button`)))
	back(ch, "sms", []string{"otp", "sms"})

	// The next sign-in starts on the app; nothing is sent, and no code by
	// text message is offered, as the app requires strong authentication.
	ch = start()
	if ch["method"] != "totp" {
		t.Fatalf("after enrolment the challenge expects %v", ch["method"])
	}
	b.Do(chromedp.Navigate(ch["verify_url"].(string)), chromedp.WaitVisible(chromedp.ID("code")))
	if h := b.Text("h1"); h != "Use your authenticator app" {
		t.Fatalf("heading %q", h)
	}
	if main := b.Text("main"); !strings.Contains(main, "Use a recovery code") || strings.Contains(main, "Text me a code") {
		t.Errorf("other ways: %q", main)
	}
	b.Check("verify-app")
	// The code of the step after the one that confirmed the app: within
	// the one step of drift, and not used yet.
	b.Do(chromedp.SendKeys(chromedp.ID("code"), providertest.TOTP(key, time.Now().Add(30*time.Second))),
		chromedp.Click(chromedp.CSS("main form button[type=submit]")))
	back(ch, "totp", []string{"otp"})

	// A recovery code instead.
	ch = start()
	b.Do(chromedp.Navigate(ch["verify_url"].(string)), chromedp.WaitVisible(chromedp.ID("code")),
		chromedp.Click(chromedp.CSS(`a[href$="method=recovery_code"]`)))
	waitForTextIn(t, b, "h1", "Use a recovery code")
	b.Check("verify-recovery-code")
	b.Do(chromedp.SendKeys(chromedp.ID("code"), "aaaa-aaaa-aaaa-aaaa"), chromedp.Click(chromedp.CSS("main form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".error-summary")))
	if e := b.Text(".error-summary"); !strings.Contains(e, "That recovery code is not correct") || b.Text("h1") != "Use a recovery code" {
		t.Errorf("a wrong recovery code: %q, %q", e, b.Text("h1"))
	}
	b.Check("verify-recovery-code-wrong")
	b.Do(chromedp.SetValue(chromedp.ID("code"), strings.ToUpper(codes[3])), chromedp.Click(chromedp.CSS("main form button[type=submit]")))
	back(ch, "recovery_code", []string{"otp"})
}
