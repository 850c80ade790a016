package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/twostep/twostep/internal/browsertest"
)

// TestRememberedBrowserInABrowser: the hosted page offers "Remember this
// browser for 30 days"; ticked, the platform reads the device token once
// from the challenge, and the next sign-in with it needs no code. The
// admin sees the browser on the user's page and forgets it (asked first,
// audited), after which the token no longer works.
func TestRememberedBrowserInABrowser(t *testing.T) {
	b := browsertest.Start(t)
	r := newConsoleRig(t)
	r.api.must(200, "PATCH", "/v1/companies/"+r.company+"/settings", map[string]any{"remember_device_days": map[string]any{"web": 30}})
	anna := r.users["Anna Ozola"]
	start := func(token string) map[string]any {
		_, m := r.api.call("POST", "/v1/companies/"+r.company+"/users/"+anna+"/challenges",
			map[string]any{"app": "web", "return_url": r.returnTo + "/signed-in", "user_agent": "Mozilla/5.0 Firefox/140.0", "device_token": token})
		return m
	}
	ch := start("")
	b.Do(chromedp.Navigate(ch["verify_url"].(string)), chromedp.WaitVisible(chromedp.ID("remember")))
	if got := b.Text(`label[for="remember"]`); got != "Remember this browser for 30 days" {
		t.Fatalf("the checkbox says %q", got)
	}
	b.Check("verify-remember")
	b.Do(chromedp.SendKeys(chromedp.ID("code"), r.emailCode(t, "anna@acme.test", 1)), chromedp.Click(chromedp.ID("remember")),
		chromedp.Click(chromedp.CSS("main form button[type=submit]")))
	select {
	case <-r.returned:
	case <-time.After(10 * time.Second):
		t.Fatalf("no return to the platform; at %s", b.URL())
	}
	waitForText(t, b, "Back at the platform")
	got := r.api.must(200, "GET", "/v1/challenges/"+ch["id"].(string), nil)
	token, _ := got["device_token"].(string)
	if token == "" {
		t.Fatal("no device token after ticking the box")
	}
	if again := r.api.must(200, "GET", "/v1/challenges/"+ch["id"].(string), nil); again["device_token"] != nil {
		t.Fatal("the device token was handed over twice")
	}
	if next := start(token); next["required"] != false || next["reason"] != "remembered_device" {
		t.Fatalf("the next sign-in with the token: %v", next)
	}

	r.signIn(t, b)
	b.Do(chromedp.Navigate(r.srv.URL+"/admin/2fa/users/"+anna), chromedp.WaitVisible(chromedp.ID("devices")))
	if main := b.Text("main"); !strings.Contains(main, "Firefox") || !strings.Contains(main, "Web application") {
		t.Fatalf("the user's page: %q", main)
	}
	b.Check("user-devices")
	b.Do(chromedp.Click(chromedp.CSS(`form[action$="/devices/forget"] button`)))
	waitForText(t, b, "asked for the second step again")
	b.Do(chromedp.Click(chromedp.CSS(`main form button.button-warning`)), chromedp.WaitVisible(chromedp.CSS(".banner")))
	if got := b.Text(".banner"); !strings.Contains(got, "no longer remembered") {
		t.Errorf("after forgetting: %q", got)
	}
	if events := r.api.must(200, "GET", "/v1/companies/"+r.company+"/audit-events?action=user.devices_revoked", nil)["events"].([]any); len(events) != 1 {
		t.Errorf("%d devices_revoked events", len(events))
	}
	if next := start(token); next["required"] != true {
		t.Fatalf("the forgotten token still works: %v", next)
	}
}
