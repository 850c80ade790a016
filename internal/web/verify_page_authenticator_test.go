package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/providertest"
	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

// TestHostedPageWithAnAppWithoutJavaScript: a user with an authenticator
// app, in an app that does not require it, starts on "Use your
// authenticator app" and may have a code texted instead, after which the
// page asks for that code and links back to the app; a recovery code
// page is a link away.
func TestHostedPageWithAnAppWithoutJavaScript(t *testing.T) {
	cs := newConsoleServer(t, storetest.SQLiteURL(t))
	ctx := context.Background()
	var p twostep.SettingsPatch
	p.AllowedReturnOrigins = twostep.Some([]string{"https://app.acme.test"})
	p.DeliveryMethod = twostep.Some(twostep.SMSThenEmail)
	if _, err := cs.svc.UpdateSettings(ctx, twostep.Caller{}, cs.company, p); err != nil {
		t.Fatal(err)
	}
	u, err := cs.svc.CreateUser(ctx, twostep.Caller{}, cs.company, twostep.NewUser{Name: "Anna", Email: "anna@acme.test",
		Phone: "+371 2000 0002", TwoFA: twostep.Some(twostep.TwoFAPatch{Web: twostep.Some(true)})})
	if err != nil {
		t.Fatal(err)
	}
	a, err := cs.svc.AddAuthenticator(ctx, twostep.Caller{}, cs.company, u.ID, "totp", "Phone")
	if err != nil {
		t.Fatal(err)
	}
	cs.mu.Lock()
	now := cs.now
	cs.mu.Unlock()
	if _, err := cs.svc.ConfirmAuthenticator(ctx, twostep.Caller{}, cs.company, u.ID, a.ID, providertest.TOTP(a.Secret, now)); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.svc.NewRecoveryCodes(ctx, twostep.Caller{}, cs.company, u.ID); err != nil {
		t.Fatal(err)
	}
	res, err := cs.svc.CreateChallenge(ctx, twostep.Caller{}, cs.company, u.ID, twostep.NewChallenge{App: "web", ReturnURL: "https://app.acme.test/back"})
	if err != nil || res.Method != twostep.MethodTOTP {
		t.Fatalf("%+v %v", res.Method, err)
	}
	c := cs.browser(t)
	page := cs.URL + "/verify/" + res.VerifyToken
	_, html := get(t, c, page)
	for _, want := range []string{"<h1 class=\"heading-l\">Use your authenticator app</h1>", `name="method" value="totp"`,
		"Text me a code instead", "?method=recovery_code", `autocomplete="one-time-code"`} {
		if !strings.Contains(html, want) {
			t.Errorf("the app's page lacks %q", want)
		}
	}
	if strings.Contains(html, "Email me a code instead") {
		t.Error("email is offered before a first wrong code, against sms_then_email")
	}
	r := post(t, c, page, url.Values{"code": {"000000"}, "method": {"totp"}})
	if html := body(r); r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(html, "Enter the code your authenticator app shows now") ||
		!strings.Contains(html, "Use your authenticator app") {
		t.Fatalf("a wrong app code: %d", r.StatusCode)
	}
	_, html = get(t, c, page+"?method=recovery_code")
	if !strings.Contains(html, "Enter a recovery code") || !strings.Contains(html, `value="recovery_code"`) || strings.Contains(html, `inputmode="numeric"`) {
		t.Error("the recovery code page")
	}
	r = post(t, c, page+"/resend", url.Values{"channel": {"sms"}})
	html = body(r)
	if r.StatusCode != http.StatusOK || !strings.Contains(html, "Check your phone") || !strings.Contains(html, "?method=totp") ||
		strings.Contains(html, `name="method"`) {
		t.Fatalf("after texting a code: %d", r.StatusCode)
	}
	cs.advance(30 * time.Second)
	cs.mu.Lock()
	now = cs.now
	cs.mu.Unlock()
	r = post(t, c, page, url.Values{"code": {providertest.TOTP(a.Secret, now)}, "method": {"totp"}})
	r.Body.Close()
	if loc, _ := url.Parse(r.Header.Get("Location")); r.StatusCode != http.StatusSeeOther || loc.Query().Get("twostep_result") == "" {
		t.Fatalf("the app's code after a text: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
}
