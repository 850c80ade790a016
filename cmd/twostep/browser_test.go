package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/twostep/twostep/internal/browsertest"
	"github.com/twostep/twostep/internal/providertest"
	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/result"
)

// freeAddr returns a local address nobody listens on now.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// consoleRig is a running server with real providers, a company, its users
// and an API client, for the browser tests.
type consoleRig struct {
	in       *instance
	srv      *server
	api      apiClient
	mailpit  *providertest.Mailpit
	twilio   *providertest.Twilio
	company  string
	users    map[string]string // name → id
	returned chan string       // return URLs the hosted page sent the browser to
	returnTo string
}

func newConsoleRig(t *testing.T, extra ...string) *consoleRig {
	t.Helper()
	r := &consoleRig{mailpit: providertest.StartMailpit(t), twilio: providertest.StartTwilio(t),
		users: map[string]string{}, returned: make(chan string, 10)}
	ret := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/favicon.ico" {
			http.NotFound(w, req)
			return
		}
		select {
		case r.returned <- req.URL.String():
		default:
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>Platform</title><main><h1>Back at the platform</h1></main></html>`)
	}))
	t.Cleanup(ret.Close)
	r.returnTo = ret.URL
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	for i := range extra { // "{port}" in an extra setting is the server's
		extra[i] = strings.ReplaceAll(extra[i], "{port}", port)
	}
	r.in = newInstance(t, storetest.SQLiteURL(t))
	r.in.extra = append([]string{
		"TWOSTEP_EMAIL=smtp://" + r.mailpit.SMTPAddr + "?from=codes%40twostep.test&tls=none",
		"TWOSTEP_SMS=" + r.twilio.SenderURL(),
		"TWOSTEP_RESEND_COOLDOWN=2s",
		"TWOSTEP_ALLOWED_RETURN_ORIGINS=" + ret.URL,
		"TWOSTEP_PUBLIC_URL=http://" + addr,
	}, extra...)
	r.in.mustRun("migrate")
	key := r.in.apiKey()
	r.srv = r.in.serve("--addr", addr)
	r.api = apiClient{t: t, base: r.srv.URL, key: key}
	r.company = r.api.must(201, "POST", "/v1/companies", map[string]any{"name": "Acme Ltd"})["id"].(string)
	r.api.must(200, "PATCH", "/v1/companies/"+r.company+"/settings", map[string]any{
		"responsible_contact": map[string]any{"name": "Rita Berg", "email": "rita@acme.test", "phone": "+371 2000 0001"},
		"defaults":            map[string]any{"web": true, "manager": true}})
	for i, name := range []string{"Anna Ozola", "Ben Kalns", "Dace Liepa"} {
		u := r.api.must(201, "POST", "/v1/companies/"+r.company+"/users", map[string]any{"name": name,
			"email": strings.ToLower(strings.Fields(name)[0]) + "@acme.test", "phone": fmt.Sprintf("+3712000000%d", i+2)})
		r.users[name] = u["id"].(string)
	}
	return r
}

// waitNotices waits until Mailpit holds a notification to an address for
// each subject prefix, and returns how many emails it holds then.
func (r *consoleRig) waitNotices(t *testing.T, to string, subjects ...string) int {
	t.Helper()
	n := 0
	providertest.WaitFor(t, 20*time.Second, fmt.Sprintf("notifications %q to %s", subjects, to), func() bool {
		msgs := r.mailpit.Messages(t)
		n = len(msgs)
		for _, s := range subjects {
			if !slices.ContainsFunc(msgs, func(m providertest.Email) bool { return m.To[0] == to && strings.HasPrefix(m.Subject, s) }) {
				return false
			}
		}
		return true
	})
	return n
}

// isNotice reports a notification email (notify.go), which the
// walks' counts of codes and links leave out.
func isNotice(m providertest.Email) bool {
	return strings.Contains(m.Text, "This is a security notice from")
}

// emailCode waits for the n-th email to an address, notifications left
// out, and returns its code.
func (r *consoleRig) emailCode(t *testing.T, to string, n int) string {
	t.Helper()
	code := ""
	providertest.WaitFor(t, 15*time.Second, fmt.Sprintf("email %d to %s", n, to), func() bool {
		seen := 0
		msgs := r.mailpit.Messages(t)
		for i := len(msgs) - 1; i >= 0; i-- { // oldest first
			if len(msgs[i].To) > 0 && msgs[i].To[0] == to && !isNotice(msgs[i]) {
				seen++
				if seen == n {
					code = providertest.Code(msgs[i].Text)
				}
			}
		}
		return code != ""
	})
	return code
}

// TestConsoleInABrowser walks the admin console as an admin would, with
// the keyboard where UI.md asks for it, and runs axe-core on every state.
func TestConsoleInABrowser(t *testing.T) {
	b := browsertest.Start(t)
	r := newConsoleRig(t)
	out := r.in.mustRun("admin", "create", "--company", r.company, "--email", "rita@acme.test")
	link := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	if !strings.HasPrefix(link, r.srv.URL+"/admin/setup/") {
		t.Fatalf("admin create printed %q", out)
	}

	// The set-up link: a mismatch first, then a password.
	b.Do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("password")))
	b.Check("setup")
	// Every mistake at once: too short, and not the same twice.
	b.Do(chromedp.SendKeys(chromedp.ID("password"), "short"),
		chromedp.SendKeys(chromedp.ID("confirm"), "shirt"),
		chromedp.Click(chromedp.CSS("button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".error-summary")))
	if sum := b.Text(".error-summary"); !strings.Contains(sum, "at least 8 characters") || !strings.Contains(sum, "The passwords do not match") {
		t.Errorf("the set-up errors name not both mistakes: %q", sum)
	}
	// The summary of the first try goes, so that the wait is for the next.
	b.Do(chromedp.Evaluate[chromedp.Void](`document.querySelector(".error-summary").remove()`),
		chromedp.SetValue(chromedp.ID("password"), "correct horse battery"),
		chromedp.SetValue(chromedp.ID("confirm"), "correct horse batter"),
		chromedp.Click(chromedp.CSS("button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".error-summary")))
	if title := browsertest.Eval[string](b, "document.title"); !strings.HasPrefix(title, "Error: ") {
		t.Errorf("title %q does not start with Error:", title)
	}
	if b.Active() == "" || !strings.Contains(b.Text(".error-summary"), "The passwords do not match") {
		t.Errorf("the error summary is not focused or says %q", b.Text(".error-summary"))
	}
	b.Check("setup-error")
	b.Do(chromedp.SetValue(chromedp.ID("password"), "correct horse battery"),
		chromedp.SetValue(chromedp.ID("confirm"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("button[type=submit]")), chromedp.WaitVisible(chromedp.ID("email")))
	if !strings.Contains(b.Text(".banner"), "Your password is saved") {
		t.Errorf("after set-up: %q", b.Text("main"))
	}
	if email := browsertest.Eval[string](b, `document.getElementById("email").value`); email != "rita@acme.test" {
		t.Errorf("after set-up the sign-in page's email is %q, want it filled in", email)
	}
	b.Check("login")

	// A wrong password, then the right one and the code from Mailpit. The
	// error names neither field: the page cannot know which is wrong.
	b.Do(chromedp.SendKeys(chromedp.ID("password"), "wrong password here"),
		chromedp.Click(chromedp.CSS("button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".error-summary")))
	if msg := b.Text("#credentials-error"); !strings.Contains(msg, "The email address or the password is not correct") {
		t.Errorf("the sign-in error says %q", msg)
	}
	if browsertest.Eval[bool](b, `!!document.querySelector("#email-error, #password-error, .input-error")`) {
		t.Error("the sign-in error blames one field")
	}
	b.Check("login-error")
	b.Do(chromedp.SetValue(chromedp.ID("password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("button[type=submit]")), chromedp.WaitVisible(chromedp.ID("code")))
	b.Check("login-code")
	code := r.emailCode(t, "rita@acme.test", 1)
	b.Do(chromedp.SendKeys(chromedp.ID("code"), code), chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`[aria-label="Settings"]`)))
	if u := b.URL(); !strings.HasSuffix(u, "/admin/2fa") {
		t.Fatalf("after the code: %s", u)
	}
	b.Check("two-factor-authentication")

	// Toggle Anna's Manager 2FA: off asks first; Keep it on is focused.
	anna := r.users["Anna Ozola"]
	sw := fmt.Sprintf(`#user-%s form[action$="/manager"] button`, anna)
	b.Do(chromedp.Click(chromedp.CSS(sw)), chromedp.WaitVisible(chromedp.ID("confirm-off")))
	if a := b.Active(); a != "Keep it on" {
		t.Errorf("focus in the confirmation is on %q, want Keep it on", a)
	}
	b.Check("confirm-turn-off")
	b.Do(chromedp.Click(chromedp.CSS("[data-turn-off]")),
		chromedp.WaitVisible(chromedp.CSS(sw+`[aria-checked="false"]`)))
	// Space on a switch turns it back on, without asking.
	b.Do(chromedp.Focus(chromedp.CSS(sw)), chromedp.KeyEvent(" "),
		chromedp.WaitVisible(chromedp.CSS(sw+`[aria-checked="true"]`)))
	b.Do(chromedp.Click(chromedp.CSS(sw)), chromedp.WaitVisible(chromedp.ID("confirm-off")),
		chromedp.Click(chromedp.CSS("[data-turn-off]")), chromedp.WaitVisible(chromedp.CSS(sw+`[aria-checked="false"]`)))
	got := r.api.must(200, "GET", "/v1/companies/"+r.company+"/users/"+anna, nil)
	if got["twofa"].(map[string]any)["manager"] != false {
		t.Fatalf("Anna's manager 2FA after the switch: %v", got["twofa"])
	}

	// The settings window: focus moves in, is trapped, arrows move between
	// tabs, and Escape returns focus to the gear.
	b.Do(chromedp.Click(chromedp.CSS(`[aria-label="Settings"]`)), chromedp.WaitVisible(chromedp.CSS("#settings-dialog [role=tablist]")))
	b.Check("settings-general")
	for i := 0; i < 25; i++ {
		b.Do(chromedp.KeyEvent(kb.Tab))
		if !browsertest.Eval[bool](b, `document.getElementById("settings-dialog").contains(document.activeElement)`) {
			t.Fatalf("after %d tabs, focus left the open window: %q", i+1, b.Active())
		}
	}
	b.Do(chromedp.Focus(chromedp.ID("tab-general-tab")), chromedp.KeyEvent(kb.ArrowRight))
	if a := b.Active(); a != "tab-defaults-tab" {
		t.Errorf("ArrowRight on the first tab focused %q", a)
	}
	if n := browsertest.Eval[int](b, `document.querySelectorAll("#tab-defaults input[role=switch]").length`); n != 2 ||
		browsertest.Eval[string](b, `getComputedStyle(document.getElementById("default-web")).appearance`) != "none" {
		t.Error("the default settings are not drawn as switches")
	}
	b.Check("settings-defaults")
	// The Audit log tab shows the switch just turned off, without a reload.
	b.Do(chromedp.KeyEvent(kb.ArrowRight))
	waitForTextIn(t, b, "#tab-audit", "Turned off 2FA for Anna Ozola in the Manager app")
	b.Check("settings-audit")
	b.Do(chromedp.KeyEvent(kb.Escape))
	if a := b.Active(); a != "Settings" {
		t.Errorf("after Escape, focus is on %q, want the Settings button", a)
	}

	// At 1280x800 the window keeps one size over its tabs, and each
	// tab's Save is in view.
	b.Do(chromedp.EmulateViewport(1280, 800), chromedp.Click(chromedp.CSS(`[aria-label="Settings"]`)),
		chromedp.WaitVisible(chromedp.ID("tab-general-tab")))
	var heights []int
	for _, tab := range []string{"general", "defaults", "audit"} {
		b.Do(chromedp.Click(chromedp.ID("tab-" + tab + "-tab")))
		heights = append(heights, browsertest.Eval[int](b, `document.getElementById("settings-dialog").getBoundingClientRect().height`))
		if tab == "audit" {
			continue
		}
		if !browsertest.Eval[bool](b, `(function(){var r = document.querySelector("#tab-`+tab+` button[type=submit]").getBoundingClientRect();
			var d = document.getElementById("settings-dialog").getBoundingClientRect(); return r.top >= d.top && r.bottom <= d.bottom && r.bottom <= innerHeight})()`) {
			t.Errorf("at 1280x800 the %s tab's Save button is out of view", tab)
		}
	}
	if heights[0] != heights[1] || heights[1] != heights[2] {
		t.Errorf("the window's height changes between tabs: %v", heights)
	}

	// Closing with a change not saved asks, in the window's own dialog;
	// Escape there keeps editing; discarding puts the saved value back.
	b.Do(chromedp.Click(chromedp.ID("tab-general-tab")),
		chromedp.SendKeys(chromedp.ID("contact-name"), " (not saved)"), chromedp.Click(chromedp.CSS("#settings-dialog [data-close]")),
		chromedp.WaitVisible(chromedp.ID("confirm-discard")))
	if role := browsertest.Eval[string](b, `document.getElementById("confirm-discard").getAttribute("role")`); role != "alertdialog" || b.Active() != "Keep editing" {
		t.Errorf("the question: role %q, focus on %q", role, b.Active())
	}
	b.Check("settings-discard")
	b.Do(chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(chromedp.ID("confirm-discard")))
	b.Do(chromedp.KeyEvent(kb.Escape), chromedp.WaitVisible(chromedp.ID("confirm-discard")))
	if !browsertest.Eval[bool](b, `document.getElementById("settings-dialog").open`) {
		t.Error("a second Escape closed the window with changes not saved")
	}
	b.Do(chromedp.Click(chromedp.CSS("[data-discard]")), chromedp.WaitNotVisible(chromedp.ID("settings-dialog")),
		chromedp.Click(chromedp.CSS(`[aria-label="Settings"]`)), chromedp.WaitVisible(chromedp.ID("contact-name")))
	if v := browsertest.Eval[string](b, `document.getElementById("contact-name").value`); v != "Rita Berg" {
		t.Errorf("after discarding, the name field holds %q, want the saved Rita Berg", v)
	}
	b.Do(chromedp.Click(chromedp.CSS("#settings-dialog [data-close]")), chromedp.WaitNotVisible(chromedp.ID("settings-dialog")),
		chromedp.EmulateViewport(1280, 900))

	// General settings: SMS first. The save reopens the window with its
	// success message.
	b.Do(chromedp.Click(chromedp.CSS(`[aria-label="Settings"]`)), chromedp.Click(chromedp.ID("tab-general-tab")),
		chromedp.WaitVisible(chromedp.ID("delivery_method")), chromedp.Click(chromedp.ID("delivery_method")),
		chromedp.Click(chromedp.CSS(`#tab-general button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#settings-dialog .banner`)))
	if s := b.Text("#settings-dialog .banner"); !strings.Contains(s, "General settings saved") {
		t.Errorf("after saving: %q", s)
	}
	if !browsertest.Eval[bool](b, `(function(){var el = document.activeElement, r = el.getBoundingClientRect(),
		h = document.querySelector("#settings-dialog .dialog-header").getBoundingClientRect();
		return el.matches("[data-saved][role=status]") && r.top >= h.bottom && r.bottom <= innerHeight})()`) {
		t.Errorf("the saved message is not focused in view below the window's header (focus on %q)", b.Active())
	}
	b.Check("settings-saved")
	// Default settings: new users get no Web application 2FA.
	b.Do(chromedp.Click(chromedp.ID("tab-defaults-tab")), chromedp.Click(chromedp.ID("default-web")),
		chromedp.Click(chromedp.CSS(`#tab-defaults button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#tab-defaults .banner`)))
	s := r.api.must(200, "GET", "/v1/companies/"+r.company+"/settings", nil)
	if s["delivery_method"] != "sms_then_email" || s["defaults"].(map[string]any)["web"] != false {
		t.Fatalf("settings after the window: %v", s)
	}
	// Each change is in the Audit log tab, with the admin as User.
	b.Do(chromedp.Click(chromedp.ID("tab-audit-tab")), chromedp.WaitVisible(chromedp.CSS("#tab-audit table")))
	log := b.Text("#tab-audit table")
	for _, want := range []string{"Changed default 2FA for new users in the Web application from on to off",
		"Changed authentication code delivery from email only to SMS first, email as backup",
		"Turned off 2FA for Anna Ozola in the Manager app"} {
		if !strings.Contains(log, want) {
			t.Errorf("the audit log tab lacks %q:\n%s", want, log)
		}
	}
	if !strings.Contains(log, "rita") {
		t.Errorf("the audit log does not name the admin as User:\n%s", log)
	}

	// The full audit log: filters as chips, an empty result, CSV export of
	// exactly the filtered set.
	b.Do(chromedp.Navigate(r.srv.URL+"/admin/2fa/audit"), chromedp.WaitVisible(chromedp.ID("action")))
	b.Check("audit-log")
	b.Do(chromedp.SetValue(chromedp.ID("action"), "user.2fa_disabled"),
		chromedp.Click(chromedp.CSS(".filters button")), chromedp.WaitVisible(chromedp.CSS(".chip")))
	b.Check("audit-log-filtered")
	csv := browsertest.Eval[string](b, `fetch(document.querySelector("a[download]").href).then(r => r.text())`)
	rows := strings.Split(strings.TrimSpace(csv), "\n")
	if len(rows) != 3 || !strings.HasPrefix(rows[0], "Time,User,Action") || !strings.Contains(rows[1], "rita,user.2fa_disabled") {
		t.Errorf("CSV export of the filtered log:\n%s", csv)
	}
	b.Do(chromedp.Navigate(r.srv.URL+"/admin/2fa/audit?action=user.2fa_locked"), chromedp.WaitVisible(chromedp.CSS("main")))
	if !strings.Contains(b.Text("main"), "No events match these filters") {
		t.Errorf("empty filter: %q", b.Text("main"))
	}
	b.Check("audit-log-empty")

	// Search: a match, and none.
	b.Do(chromedp.Navigate(r.srv.URL+"/admin/2fa?q=ben"), chromedp.WaitVisible(chromedp.ID("result-count")))
	if c := b.Text("#result-count"); !strings.Contains(c, "1 user matches") {
		t.Errorf("result count %q", c)
	}
	b.Do(chromedp.Navigate(r.srv.URL+"/admin/2fa?q=nobody"), chromedp.WaitVisible(chromedp.CSS("main")))
	b.Check("users-no-match")

	// A narrow screen (320 px, as at 400% zoom) scrolls only vertically.
	b.Do(chromedp.EmulateViewport(320, 640), chromedp.Navigate(r.srv.URL+"/admin/2fa"), chromedp.WaitVisible(chromedp.CSS("main")))
	if browsertest.Eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth + 1`) {
		t.Error("the Two-factor authentication page scrolls sideways at 320 px")
	}
	b.Check("two-factor-authentication-320px")
	b.Do(chromedp.EmulateViewport(1280, 900))

	// Sign out ends the session.
	b.Do(chromedp.Click(chromedp.CSS(".header form button")), chromedp.WaitVisible(chromedp.ID("email")))
	b.Do(chromedp.Navigate(r.srv.URL+"/admin/2fa"), chromedp.WaitVisible(chromedp.ID("email")))
	r.srv.stop(t)
}

// waitForText waits, for at most 10 seconds, until the page's main
// content says text: a page that a form submission replaces.
func waitForText(t *testing.T, b *browsertest.Browser, text string) {
	t.Helper()
	providertest.WaitFor(t, 10*time.Second, "the page to say "+text, func() bool {
		got, err := browsertest.TryEval[string](b, `document.querySelector("main") ? document.querySelector("main").innerText : ""`)
		return err == nil && strings.Contains(got, text)
	})
}

// waitForTextIn waits, for at most 10 seconds, until the element at sel
// says text.
func waitForTextIn(t *testing.T, b *browsertest.Browser, sel, text string) {
	t.Helper()
	providertest.WaitFor(t, 10*time.Second, sel+" to say "+text, func() bool {
		got, err := browsertest.TryEval[string](b, `document.querySelector(`+"`"+sel+"`"+`) ? document.querySelector(`+"`"+sel+"`"+`).innerText : ""`)
		return err == nil && strings.Contains(got, text)
	})
}

// TestHostedPageInABrowser walks the hosted verification page: a wrong
// code, the code again by email, the responsible contact after three
// wrong codes, and the redirect to the return URL with a signed result
// that verifies against the JWKS. Expired and locked pages follow.
func TestHostedPageInABrowser(t *testing.T) {
	b := browsertest.Start(t)
	r := newConsoleRig(t)
	r.api.must(200, "PATCH", "/v1/companies/"+r.company+"/settings", map[string]any{"delivery_method": "sms_then_email"})
	anna := r.users["Anna Ozola"]
	start := func(user string) map[string]any {
		return r.api.must(201, "POST", "/v1/companies/"+r.company+"/users/"+user+"/challenges",
			map[string]any{"app": "web", "ip": "203.0.113.5", "return_url": r.returnTo + "/signed-in?state=abc", "nonce": "n-" + user})
	}
	ch := start(anna)
	verifyURL, _ := ch["verify_url"].(string)
	if !strings.HasPrefix(verifyURL, r.srv.URL+"/verify/") {
		t.Fatalf("verify_url %q", verifyURL)
	}
	sms := smsCode(t, r.twilio, "+37120000002", 0)

	b.Do(chromedp.Navigate(verifyURL), chromedp.WaitVisible(chromedp.ID("code")))
	if h := b.Text("h1"); h != "Check your phone" || !strings.Contains(b.Text("main"), "ending in 02") {
		t.Errorf("heading %q; page %q", h, b.Text("main"))
	}
	attrs := browsertest.Get(b, chromedp.Attributes(chromedp.ID("code")))
	if attrs["autocomplete"] != "one-time-code" || attrs["inputmode"] != "numeric" || attrs["type"] != "text" {
		t.Errorf("code field %v", attrs)
	}
	b.Check("verify")

	// A wrong code: the error says how many attempts are left, and the
	// field is empty for the next try.
	b.Do(chromedp.SendKeys(chromedp.ID("code"), other(sms)), chromedp.Click(chromedp.CSS("main form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".error-summary")))
	if e := b.Text(".error-summary"); !strings.Contains(e, "That code is not correct. You have 2 attempts left.") {
		t.Errorf("wrong code: %q", e)
	}
	if v := browsertest.Eval[string](b, `document.getElementById("code").value`); v != "" {
		t.Errorf("the wrong code %q stays in the field", v)
	}
	b.Check("verify-wrong-code")

	// Email is offered now; the button appears when the countdown ends.
	// Once the code goes by email, a text message may be asked for again.
	b.Do(chromedp.WaitVisible(chromedp.CSS(`input[name=channel][value=email] + button`)))
	b.Do(chromedp.Click(chromedp.CSS(`input[name=channel][value=email] + button`)), chromedp.WaitVisible(chromedp.CSS(".banner")))
	if h := b.Text("h1"); h != "Check your email" {
		t.Errorf("after sending by email: %q", h)
	}
	if n := browsertest.Eval[int](b, `document.querySelectorAll("input[name=channel][value=sms]").length`); n != 1 {
		t.Error("after switching to email there is no way back to a text message")
	}
	b.Check("verify-sent-by-email")
	email := r.emailCode(t, "anna@acme.test", 1)

	// Two more wrong codes: three in a row show the responsible person.
	for _, next := range []string{"You have 2 attempts left", "You have 1 attempt left"} {
		b.Do(chromedp.SetValue(chromedp.ID("code"), other(email)), chromedp.Click(chromedp.CSS("main form button[type=submit]")))
		waitForText(t, b, next)
	}
	if c := b.Text(".contact-box"); !strings.Contains(c, "Rita Berg") || !strings.Contains(c, "rita@acme.test") {
		t.Errorf("contact after 3 wrong codes: %q", c)
	}
	b.Check("verify-contact")

	// The right code: back to the platform with a signed result.
	b.Do(chromedp.SetValue(chromedp.ID("code"), email), chromedp.Click(chromedp.CSS("main form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("h1")))
	var back string
	select {
	case back = <-r.returned:
	case <-time.After(10 * time.Second):
		t.Fatalf("no redirect to the return URL; the browser is at %s", b.URL())
	}
	u, _ := url.Parse(back)
	if u.Path != "/signed-in" || u.Query().Get("state") != "abc" {
		t.Fatalf("returned to %s", back)
	}
	keys, err := result.ParseJWKS(r.api.get("/.well-known/jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := result.Expected{Issuer: r.srv.URL, ChallengeID: ch["id"].(string), CompanyID: r.company, UserID: anna, App: "web", Nonce: "n-" + anna}
	claims, err := result.CheckResultToken(u.Query().Get("twostep_result"), keys, want, time.Now())
	if err != nil {
		t.Fatalf("the result does not verify against the JWKS and the sign-in: %v", err)
	}
	if claims.Method != "email" || !slices.Equal(claims.AMR, []string{"otp"}) || claims.AuthTime != claims.IssuedAt {
		t.Fatalf("claims %+v", claims)
	}
	tampered := u.Query().Get("twostep_result")
	tampered = tampered[:len(tampered)-4] + "AAAA"
	if _, err := result.CheckResultToken(tampered, keys, want, time.Now()); err == nil {
		t.Fatal("a tampered result verified")
	}

	// Three wrong codes void the code: the page says to get a new one,
	// with that as its main action, and the error summary links to it.
	ben := start(r.users["Ben Kalns"])
	benCode := smsCode(t, r.twilio, "+37120000003", 0)
	b.Do(chromedp.Navigate(ben["verify_url"].(string)), chromedp.WaitVisible(chromedp.ID("code")))
	for _, next := range []string{"You have 2 attempts left", "You have 1 attempt left", "Request a new code"} {
		b.Do(chromedp.SetValue(chromedp.ID("code"), other(benCode)), chromedp.Click(chromedp.CSS("main form button[type=submit]")))
		waitForText(t, b, next)
	}
	if h := b.Text("h1"); h != "Request a new code" {
		t.Errorf("after 3 wrong codes the heading is %q", h)
	}
	if n := browsertest.Eval[int](b, `document.querySelectorAll("#code").length`); n != 0 {
		t.Error("the void code's field is still there")
	}
	b.Check("verify-void")
	b.Do(chromedp.WaitVisible(chromedp.CSS(`#resend ~ .button-group form:first-child button.button:not(.button-secondary)`)))
	// Cancel sign-in goes back to the platform, saying so.
	b.Do(chromedp.Click(chromedp.CSS(".cancel a")), chromedp.WaitVisible(chromedp.CSS("h1")))
	select {
	case back := <-r.returned:
		if u, _ := url.Parse(back); u.Query().Get("twostep_error") != "cancelled" || u.Query().Get("state") != "abc" {
			t.Errorf("Cancel sign-in went to %s", back)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Cancel sign-in did not go back to the platform; the browser is at %s", b.URL())
	}

	// A page left open past its code's time shows the expired state by
	// itself, with a new code as its main action (codes live 2 seconds on
	// this server).
	short := newConsoleRig(t, "TWOSTEP_CODE_TTL=2s")
	dace0 := short.api.must(201, "POST", "/v1/companies/"+short.company+"/users/"+short.users["Dace Liepa"]+"/challenges",
		map[string]any{"app": "web", "return_url": short.returnTo + "/signed-in"})
	b.Do(chromedp.Navigate(dace0["verify_url"].(string)), chromedp.WaitVisible(chromedp.ID("code")))
	providertest.WaitFor(t, 10*time.Second, "the page to show its code expired", func() bool {
		h, err := browsertest.TryEval[string](b, `document.querySelector("h1") ? document.querySelector("h1").textContent : ""`)
		return err == nil && h == "Your code has expired"
	})
	if !strings.Contains(b.Text("main"), "has expired.") || browsertest.Eval[int](b, `document.querySelectorAll("#code").length`) != 0 {
		t.Errorf("expired: %q", b.Text("main"))
	}
	b.Check("verify-expired")
	short.srv.stop(t)

	// A locked user: nine wrong codes through the API, the tenth on the
	// page. The form is gone; the page says until when, and nothing else.
	dace := r.users["Dace Liepa"]
	var page map[string]any
	for failures, sent := 0, 0; failures < 9; sent++ {
		page = start(dace)
		code := smsCode(t, r.twilio, "+37120000004", sent)
		for i := 0; i < 3 && failures < 9; i++ {
			r.api.call("POST", "/v1/challenges/"+page["id"].(string)+"/verify", map[string]any{"code": other(code)})
			failures++
		}
	}
	page = start(dace)
	b.Do(chromedp.Navigate(page["verify_url"].(string)), chromedp.WaitVisible(chromedp.ID("code")),
		chromedp.SetValue(chromedp.ID("code"), "000000"), chromedp.Click(chromedp.CSS("main form button[type=submit]")),
		chromedp.WaitNotPresent(chromedp.ID("code")))
	if h := b.Text("h1"); h != "Sign-in is paused" || !strings.Contains(b.Text("main"), "until") ||
		strings.Contains(b.Text("main"), "Request a new code") {
		t.Errorf("locked: %q %q", h, b.Text("main"))
	}
	if title := browsertest.Eval[string](b, "document.title"); !strings.HasPrefix(title, "Sign-in is paused") {
		t.Errorf("the locked page's title is %q", title)
	}
	b.Check("verify-locked")
	r.srv.stop(t)
}
