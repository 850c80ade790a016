package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/twostep/twostep/internal/browsertest"
	"github.com/twostep/twostep/internal/providertest"
)

// TestConsoleAuthenticatorsInABrowser walks the console's side of
// authenticator apps: an admin adds one for their own sign-in and then
// signs in with it; removes a user's app (asked first, audited); and sets
// the company's policy in General settings (audited).
func TestConsoleAuthenticatorsInABrowser(t *testing.T) {
	b := browsertest.Start(t)
	r := newConsoleRig(t)
	r.signIn(t, b)

	b.Do(chromedp.Navigate(r.srv.URL+"/admin/account"), chromedp.WaitVisible(chromedp.CSS(`form[action="/admin/account/authenticator"] button`)))
	b.Check("account-no-app")
	b.Do(chromedp.Click(chromedp.CSS(`form[action="/admin/account/authenticator"] button`)))
	waitForText(t, b, "Scan this QR code")
	b.Do(chromedp.Click(chromedp.CSS("details summary")), chromedp.WaitVisible(chromedp.ID("setup-key")))
	key := b.Text("#setup-key")
	b.Check("account-app-setup")
	b.Do(chromedp.SendKeys(chromedp.ID("code"), providertest.TOTP(key, time.Now())), chromedp.Click(chromedp.CSS("main form button[type=submit]")))
	waitForText(t, b, "Save your recovery codes")
	codes := browsertest.Eval[[]string](b, `[...document.querySelectorAll(".code-list li")].map(li => li.innerText.trim())`)
	if len(codes) != 10 {
		t.Fatalf("recovery codes: %v", codes)
	}
	b.Check("account-codes")
	b.Do(chromedp.Click(chromedp.CSS(`main a.button`)))
	waitForText(t, b, "The console asks for a code from your authenticator app")
	b.Check("account-with-app")

	// The admin is told by email that her account has a new sign-in
	// method and new recovery codes.
	mails := r.waitNotices(t, "rita@acme.test", "A sign-in method was added", "New recovery codes")

	// Signed out and in again: the console asks for the app's code, and
	// sends nothing.
	b.Do(chromedp.Click(chromedp.CSS(`form[action="/admin/logout"] button`)), chromedp.WaitVisible(chromedp.ID("password")))
	b.Do(chromedp.SetValue(chromedp.ID("email"), "rita@acme.test"), chromedp.SetValue(chromedp.ID("password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("button[type=submit]")), chromedp.WaitVisible(chromedp.ID("code")))
	if h := b.Text("h1"); h != "Use your authenticator app" {
		t.Fatalf("the console's code step: %q", h)
	}
	b.Check("login-app")
	b.Do(chromedp.SendKeys(chromedp.ID("code"), providertest.TOTP(key, time.Now().Add(30*time.Second))),
		chromedp.Click(chromedp.CSS("main button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(`[aria-label="Settings"]`)))
	if n := len(r.mailpit.Messages(t)); n != mails {
		t.Errorf("%d emails sent for a sign-in with the app", n-mails)
	}

	// Anna's app, removed by the admin.
	anna := r.users["Anna Ozola"]
	a := r.api.must(201, "POST", "/v1/companies/"+r.company+"/users/"+anna+"/authenticators", map[string]any{"type": "totp", "name": "Anna’s phone"})
	r.api.must(200, "POST", "/v1/companies/"+r.company+"/users/"+anna+"/authenticators/"+a["id"].(string)+"/confirm",
		map[string]any{"code": providertest.TOTP(a["secret"].(string), time.Now())})
	b.Do(chromedp.Navigate(r.srv.URL + "/admin/2fa/users/" + anna))
	b.Do(chromedp.WaitVisible(chromedp.ID("authenticators")))
	if got := b.Text("main"); !strings.Contains(got, "Anna’s phone") || !strings.Contains(got, "Authenticator app") {
		t.Fatalf("Anna's page: %q", got)
	}
	b.Check("user-authenticators")
	b.Do(chromedp.Click(chromedp.CSS(`form[action$="/remove"] button`)))
	waitForText(t, b, "Its codes stop working at once")
	b.Check("user-authenticator-remove")
	b.Do(chromedp.Click(chromedp.CSS(`main form button.button-warning`)), chromedp.WaitVisible(chromedp.CSS(".banner")))
	if got := b.Text(".banner"); !strings.Contains(got, "removed from Anna Ozola") || strings.Contains(b.Text("main"), "Anna’s phone") {
		t.Errorf("after removing: %q", got)
	}
	events := r.api.must(200, "GET", "/v1/companies/"+r.company+"/audit-events?action=user.authenticator_removed", nil)["events"].([]any)
	if len(events) != 1 || events[0].(map[string]any)["actor"].(map[string]any)["type"] != "user" {
		t.Errorf("removal audited as %v", events)
	}

	// The policy, in General settings.
	b.Do(chromedp.Navigate(r.srv.URL+"/admin/2fa/settings"), chromedp.WaitVisible(chromedp.ID("strong-web")))
	b.Do(chromedp.Click(chromedp.ID("strong-web")), chromedp.SetValue(chromedp.ID("grace-days"), "400"), chromedp.SetValue(chromedp.ID("remember-web"), "91"),
		chromedp.Click(chromedp.CSS(`form[action="/admin/2fa/settings/general"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".error-summary")))
	if e := b.Text(".error-summary"); !strings.Contains(e, "Enter a number of days from 0 to 365") && !strings.Contains(e, "from 0 (off) to 90") {
		t.Errorf("grace of 400 days: %q", e)
	}
	b.Check("settings-grace-error")
	b.Do(chromedp.SetValue(chromedp.ID("grace-days"), "7"), chromedp.SetValue(chromedp.ID("remember-web"), "30"),
		chromedp.Click(chromedp.ID("notify-locked")),
		chromedp.Click(chromedp.CSS(`form[action="/admin/2fa/settings/general"] button[type=submit]`)))
	waitForText(t, b, "General settings saved")
	got := r.api.must(200, "GET", "/v1/companies/"+r.company+"/settings", nil)
	if got["strong_authentication"].(map[string]any)["web"] != true || got["enrollment_grace_days"] != float64(7) ||
		got["remember_device_days"].(map[string]any)["web"] != float64(30) {
		t.Fatalf("settings after saving: %v %v %v", got["strong_authentication"], got["enrollment_grace_days"], got["remember_device_days"])
	}
	if n := got["notify_responsible"].(map[string]any); n["locked"] != false || n["failed_attempts"] != true {
		t.Fatalf("notify_responsible after unticking the lock emails: %v", n)
	}
	b.Check("settings-strong")

	// The audit log says which notifications went out, and to whom.
	providertest.WaitFor(t, 20*time.Second, "the notifications, audited as sent", func() bool {
		return len(r.api.must(200, "GET", "/v1/companies/"+r.company+"/audit-events?action=notification.sent", nil)["events"].([]any)) >= 2
	})
	b.Do(chromedp.Navigate(r.srv.URL+"/admin/2fa/audit?action=notification.sent"), chromedp.WaitVisible(chromedp.ID("result-count")))
	log := b.Text("main")
	for _, want := range []string{"Emailed rita (rita@acme.test) that a sign-in method was added to their account",
		"that a sign-in method was removed from their account"} {
		if !strings.Contains(log, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, log)
		}
	}
	b.Check("audit-notifications")
}
