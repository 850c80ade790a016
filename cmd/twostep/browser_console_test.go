package main

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/twostep/twostep/internal/browsertest"
	"github.com/twostep/twostep/internal/providertest"
)

// signIn makes rita@acme.test an admin of the rig's company and signs her
// in to the console in the browser, with the code from Mailpit.
func (r *consoleRig) signIn(t *testing.T, b *browsertest.Browser) {
	t.Helper()
	setUpAdmin(t, r.in, r.srv.URL, r.company, "correct horse battery")
	b.Do(chromedp.Navigate(r.srv.URL+"/admin/login"), chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SetValue(chromedp.ID("email"), "rita@acme.test"), chromedp.SetValue(chromedp.ID("password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("button[type=submit]")), chromedp.WaitVisible(chromedp.ID("code")))
	b.Do(chromedp.SendKeys(chromedp.ID("code"), r.emailCode(t, "rita@acme.test", 1)),
		chromedp.Click(chromedp.CSS("main button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(`[aria-label="Settings"]`)))
}

// TestAuditLogPageInABrowser walks a long audit log: where a page stands
// among all, older and newer pages, each event's details, an export only
// when there is something to export, and a filter error alone.
func TestAuditLogPageInABrowser(t *testing.T) {
	b := browsertest.Start(t)
	r := newConsoleRig(t)
	r.signIn(t, b)
	// 60 changes, each one event, besides the rig's own.
	settings := "/v1/companies/" + r.company + "/settings"
	for i := range 60 {
		method := []string{"sms_then_email", "email_only"}[i%2]
		r.api.must(200, "PATCH", settings, map[string]any{"delivery_method": method})
	}
	total := len(r.api.must(200, "GET", "/v1/companies/"+r.company+"/audit-events?limit=200", nil)["events"].([]any))
	if total <= 60 {
		t.Fatalf("%d events, want more than a page", total)
	}

	b.Do(chromedp.Navigate(r.srv.URL+"/admin/2fa/audit"), chromedp.WaitVisible(chromedp.ID("result-count")))
	if got, want := b.Text("#result-count"), "Showing 1–50 of "+strconv.Itoa(total)+" events"; got != want {
		t.Errorf("first page: %q, want %q", got, want)
	}
	if rows := browsertest.Eval[int](b, `document.querySelectorAll("main tbody tr").length`); rows != 50 {
		t.Errorf("first page has %d rows, want 50", rows)
	}
	// Times to the second.
	if tm := b.Text("main tbody tr time"); !regexp.MustCompile(`^\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}:\d{2} UTC$`).MatchString(tm) {
		t.Errorf("time %q is not to the second", tm)
	}
	// The newest event's details: who changed it from where.
	b.Do(chromedp.Click(chromedp.CSS("main tbody tr summary")), chromedp.WaitVisible(chromedp.CSS("main tbody tr details dl")))
	details := b.Text("main tbody tr details dl")
	for _, want := range []string{"IP address", "127.0.0.1", "Browser", "Go-http-client", "Event ID", "evt_"} {
		if !strings.Contains(details, want) {
			t.Errorf("the event's details lack %q:\n%s", want, details)
		}
	}
	b.Check("audit-log-details")
	if p := b.Text(".pagination"); !strings.Contains(p, "Older events") || strings.Contains(p, "Newer") {
		t.Errorf("first page's paging: %q", b.Text(".pagination"))
	}

	b.Do(chromedp.Click(chromedp.CSS(`a[rel="next"]`)), chromedp.WaitVisible(chromedp.CSS(`a[rel="prev"]`)))
	if got, want := b.Text("#result-count"), "Showing 51–"+strconv.Itoa(total)+" of "+strconv.Itoa(total)+" events"; got != want {
		t.Errorf("second page: %q, want %q", got, want)
	}
	if rows := browsertest.Eval[int](b, `document.querySelectorAll("main tbody tr").length`); rows != total-50 {
		t.Errorf("second page has %d rows, want %d", rows, total-50)
	}
	if browsertest.Eval[bool](b, `!!document.querySelector('a[rel="next"]')`) {
		t.Error("the last page offers older events")
	}
	b.Check("audit-log-last-page")
	b.Do(chromedp.Click(chromedp.CSS(`a[rel="prev"]`)), chromedp.WaitVisible(chromedp.CSS(`a[rel="next"]`)))
	if got := b.Text("#result-count"); !strings.HasPrefix(got, "Showing 1–50 of ") {
		t.Errorf("back on the first page: %q", got)
	}

	// A filter: the count is of what matches; dates read as in the table.
	b.Do(chromedp.Navigate(r.srv.URL+"/admin/2fa/audit?action=settings.general_changed&since=2026-01-01"),
		chromedp.WaitVisible(chromedp.ID("result-count")))
	general := len(r.api.must(200, "GET", "/v1/companies/"+r.company+"/audit-events?limit=200&action=settings.general_changed", nil)["events"].([]any))
	if got, want := b.Text("#result-count"), "Showing 1–50 of "+strconv.Itoa(general)+" events"; got != want || general < 60 {
		t.Errorf("filtered: %q, want %q", got, want)
	}
	if chips := b.Text(".chip-list"); !strings.Contains(chips, "From 1 Jan 2026") {
		t.Errorf("the date chip reads %q, want From 1 Jan 2026", chips)
	}

	// Nothing matches: no export, no count.
	b.Do(chromedp.Navigate(r.srv.URL+"/admin/2fa/audit?action=user.2fa_locked"), chromedp.WaitVisible(chromedp.CSS("main")))
	waitForText(t, b, "No events match these filters")
	if browsertest.Eval[bool](b, `!!document.querySelector("a[download]") || !!document.querySelector("#result-count")`) {
		t.Error("an empty result offers an export or a count")
	}

	// A filter error is said once, by the field, not also as "no events".
	b.Do(chromedp.Navigate(r.srv.URL+"/admin/2fa/audit?since=2026-12-05&until=2026-12-01"), chromedp.WaitVisible(chromedp.CSS(".error-summary")))
	if main := b.Text("main"); strings.Contains(main, "No events match") || strings.Contains(main, "Export CSV") {
		t.Errorf("beside a filter error:\n%s", main)
	}
	if got := b.Text("#until-error"); !strings.Contains(got, "The to date must be the same as or after the from date") {
		t.Errorf("the To field's own error says %q", got)
	}
	b.Check("audit-log-filter-error")
}

// failSignIns makes n wrong codes for a user and app through the API, three
// to a code, and returns how many SMS the user has had by then.
func (r *consoleRig) failSignIns(t *testing.T, user, phone, app string, n, seen int) int {
	t.Helper()
	for n > 0 {
		ch := r.api.must(201, "POST", "/v1/companies/"+r.company+"/users/"+user+"/challenges", map[string]any{"app": app, "ip": "198.51.100.23"})
		code := smsCode(t, r.twilio, phone, seen)
		seen++
		for g := 0; g < 3 && n > 0; g++ {
			r.api.must(200, "POST", "/v1/challenges/"+ch["id"].(string)+"/verify", map[string]any{"code": other(code)})
			n--
		}
	}
	return seen
}

// TestUserPageAndUnlockInABrowser: a user paused after wrong codes is
// unlocked from the list; the user page shows their contact details,
// 2FA and wrong codes per app, and their sign-ins, and unlocks too. Each
// unlock is audited with the admin as User.
func TestUserPageAndUnlockInABrowser(t *testing.T) {
	b := browsertest.Start(t)
	r := newConsoleRig(t)
	r.signIn(t, b)
	anna, phone := r.users["Anna Ozola"], "+37120000002"
	r.api.must(200, "PATCH", "/v1/companies/"+r.company+"/settings", map[string]any{"delivery_method": "sms_then_email"})
	// A right code in the Web application, then a pause in the Manager app.
	ch := r.api.must(201, "POST", "/v1/companies/"+r.company+"/users/"+anna+"/challenges", map[string]any{"app": "web", "ip": "198.51.100.23"})
	r.api.must(200, "POST", "/v1/challenges/"+ch["id"].(string)+"/verify", map[string]any{"code": smsCode(t, r.twilio, phone, 0)})
	seen := r.failSignIns(t, anna, phone, "manager", 10, 1)

	b.Do(chromedp.Navigate(r.srv.URL+"/admin/2fa"), chromedp.WaitVisible(chromedp.CSS("#user-"+anna+" .locked")))
	if got := b.Text("#user-" + anna + " .locked"); !strings.Contains(got, "Locked in the Manager app") || !strings.Contains(got, "Unlock") {
		t.Errorf("Anna's row: %q", got)
	}
	b.Check("users-locked")

	// The activity chart: a day's figure on hover and on focus, and a link
	// from it to that day's audit log, filtered to the figure's action.
	today := time.Now().UTC()
	bar := `svg[aria-labelledby^="chart-sent"] a.chart-link`
	x, y := browsertest.Eval[float64](b, `(function(){var r=document.querySelector('`+bar+`').getBoundingClientRect();return r.left+r.width/2})()`),
		browsertest.Eval[float64](b, `(function(){var r=document.querySelector('`+bar+`').getBoundingClientRect();return r.top+r.height/2})()`)
	b.Do(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, y))
	waitForTextIn(t, b, `figure:has(svg[aria-labelledby^="chart-sent"]) .chart-tip`, today.Format("2 Jan")+": 6 codes sent") // Rita's, then Anna's one and four
	locked := `svg[aria-labelledby^="chart-locked"] a.chart-link`
	b.Do(chromedp.Evaluate[chromedp.Void](`document.querySelector('` + locked + `').focus()`))
	waitForTextIn(t, b, `figure:has(svg[aria-labelledby^="chart-locked"]) .chart-tip`, today.Format("2 Jan")+": 1 lockout")
	if tab := browsertest.Eval[string](b, `document.querySelector('`+locked+`').getAttribute("tabindex")`); tab != "0" {
		t.Errorf("the latest day's link has tabindex %q, want 0", tab)
	}
	b.Check("activity-focused")
	b.Do(chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS(".chip-list")))
	chips := b.Text(".chip-list")
	for _, want := range []string{"Sign-in paused after 10 wrong codes", "From " + today.Format("2 Jan 2006"), "To " + today.Format("2 Jan 2006")} {
		if !strings.Contains(chips, want) {
			t.Errorf("the chart's link filters %q, want %q", chips, want)
		}
	}
	if rows := browsertest.Eval[int](b, `document.querySelectorAll("main tbody tr").length`); rows != 1 {
		t.Errorf("the day's lockouts in the audit log: %d rows, want 1", rows)
	}
	b.Do(chromedp.Navigate(r.srv.URL+"/admin/2fa"), chromedp.WaitVisible(chromedp.CSS("#user-"+anna+" .locked")))
	b.Do(chromedp.Click(chromedp.CSS("#user-"+anna+" .locked button")), chromedp.WaitVisible(chromedp.CSS(".banner")))
	if got := b.Text(".banner"); !strings.Contains(got, "Anna Ozola is unlocked in the Manager app") {
		t.Errorf("after unlocking: %q", got)
	}
	if browsertest.Eval[bool](b, `!!document.querySelector("#user-`+anna+` .locked")`) {
		t.Error("Anna still shows as locked")
	}
	unlocked := func(want int) {
		t.Helper()
		events := r.api.must(200, "GET", "/v1/companies/"+r.company+"/audit-events?action=user.2fa_unlocked", nil)["events"].([]any)
		if len(events) != want {
			t.Fatalf("%d unlock events, want %d", len(events), want)
		}
		e := events[0].(map[string]any)
		if actor := e["actor"].(map[string]any); actor["name"] != "rita" && actor["name"] != "Rita Berg" {
			t.Errorf("the unlock's actor: %v", actor)
		}
	}
	unlocked(1)

	// One wrong code more: the user page shows it and unlocks it.
	r.failSignIns(t, anna, phone, "manager", 1, seen)
	b.Do(chromedp.Click(chromedp.CSS(`#name-`+anna)), chromedp.WaitVisible(chromedp.CSS("h1#name-"+anna)))
	main := b.Text("main")
	for _, want := range []string{"Contact details", "anna@acme.test", "+371 20 000 002", "Member",
		"Web application", "Manager app", "Allowed; 1 wrong code so far", "Recent sign-ins",
		"Signed in", "3 wrong codes", "198.51.100.23", "SMS"} {
		if !strings.Contains(main, want) {
			t.Errorf("the user page lacks %q:\n%s", want, main)
		}
	}
	if got := b.Text(".breadcrumbs"); !strings.Contains(got, "Anna Ozola") {
		t.Errorf("breadcrumbs %q", got)
	}
	if rows := browsertest.Eval[int](b, `document.querySelectorAll("#signins-caption + thead + tbody tr").length`); rows != 6 {
		t.Errorf("%d sign-ins, want 6 (one right, five with wrong codes)", rows)
	}
	b.Check("user-page")
	b.Do(chromedp.Click(chromedp.CSS("#app-manager form[action$=unlock\\/manager] button")), chromedp.WaitVisible(chromedp.CSS(".banner")))
	if got := b.Text("#app-manager"); !strings.Contains(got, "Allowed") || strings.Contains(got, "wrong code") || strings.Contains(got, "Unlock") {
		t.Errorf("the Manager app after unlocking: %q", got)
	}
	unlocked(2)
	b.Check("user-page-unlocked")

	// The switch on the user page, as in the list: off asks first.
	sw := `#app-web form[data-switch] button`
	b.Do(chromedp.Click(chromedp.CSS(sw)), chromedp.WaitVisible(chromedp.ID("confirm-off")),
		chromedp.Click(chromedp.CSS("[data-turn-off]")), chromedp.WaitVisible(chromedp.CSS(sw+`[aria-checked="false"]`)))
	if got := r.api.must(200, "GET", "/v1/companies/"+r.company+"/users/"+anna, nil); got["twofa"].(map[string]any)["web"] != false {
		t.Errorf("Anna's web 2FA after the user page's switch: %v", got["twofa"])
	}

	// No such user: a page that says so, in the console.
	b.Do(chromedp.Navigate(r.srv.URL+"/admin/2fa/users/usr_nobody"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	if got := b.Text("main h1"); got != "Page not found" {
		t.Errorf("an unknown user: %q", got)
	}
	b.Check("user-not-found")
}

// TestBulkActionsInABrowser turns 2FA off for users picked in the list
// and for all users matching a search, each after a question that says
// how many, and applies the defaults to existing users.
func TestBulkActionsInABrowser(t *testing.T) {
	b := browsertest.Start(t)
	r := newConsoleRig(t)
	r.signIn(t, b)
	twofa := func(name string) map[string]any {
		t.Helper()
		return r.api.must(200, "GET", "/v1/companies/"+r.company+"/users/"+r.users[name], nil)["twofa"].(map[string]any)
	}

	// Nothing selected: the page says what to do.
	b.Do(chromedp.Navigate(r.srv.URL+"/admin/2fa"), chromedp.WaitVisible(chromedp.ID("bulk")),
		chromedp.Click(chromedp.CSS("#bulk button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".error-summary")))
	if got := b.Text(".error-summary"); !strings.Contains(got, "Select the users to change") {
		t.Errorf("nothing selected: %q", got)
	}
	b.Check("bulk-nothing-selected")

	// The page's box selects every row; two picked by hand instead.
	b.Do(chromedp.Click(chromedp.ID("select-page")))
	waitForTextIn(t, b, "[data-selected-count]", "4 users selected")
	b.Do(chromedp.Click(chromedp.ID("select-page")))
	b.Do(chromedp.Click(chromedp.ID("select-"+r.users["Anna Ozola"])), chromedp.Click(chromedp.ID("select-"+r.users["Ben Kalns"])))
	waitForTextIn(t, b, "[data-selected-count]", "2 users selected")
	b.Do(chromedp.SetValue(chromedp.ID("bulk-state"), "off"), chromedp.SetValue(chromedp.ID("bulk-app"), "manager"))
	b.Check("bulk-selected")
	b.Do(chromedp.Click(chromedp.CSS("#bulk button[type=submit]")))
	waitForText(t, b, "Turn off two-factor authentication in the Manager app")
	if got := b.Text("main h1"); got != "Turn off two-factor authentication in the Manager app for 2 users?" {
		t.Errorf("the question: %q", got)
	}
	if got := b.Text("main .list"); !strings.Contains(got, "Anna Ozola") || !strings.Contains(got, "Ben Kalns") {
		t.Errorf("the question names %q", got)
	}
	b.Check("bulk-confirm")
	b.Do(chromedp.Click(chromedp.CSS("main form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".banner")))
	if got := b.Text(".banner"); !strings.Contains(got, "Two-factor authentication is now off in the Manager app for 2 users.") {
		t.Errorf("after the change: %q", got)
	}
	if twofa("Anna Ozola")["manager"] != false || twofa("Ben Kalns")["manager"] != false || twofa("Dace Liepa")["manager"] != true {
		t.Errorf("after turning off two: Anna %v, Ben %v, Dace %v", twofa("Anna Ozola"), twofa("Ben Kalns"), twofa("Dace Liepa"))
	}
	events := r.api.must(200, "GET", "/v1/companies/"+r.company+"/audit-events?action=user.2fa_disabled", nil)["events"].([]any)
	if len(events) != 2 {
		t.Fatalf("%d 2fa_disabled events, want one per user", len(events))
	}

	// All who match a search.
	b.Do(chromedp.Navigate(r.srv.URL+"/admin/2fa?q=Liepa"), chromedp.WaitVisible(chromedp.ID("bulk-all")),
		chromedp.Click(chromedp.ID("bulk-all")), chromedp.SetValue(chromedp.ID("bulk-state"), "off"),
		chromedp.Click(chromedp.CSS("#bulk button[type=submit]")))
	waitForText(t, b, "Turn off two-factor authentication in the Web application")
	if got := b.Text("main h1"); got != "Turn off two-factor authentication in the Web application for 1 user who matches “Liepa”?" {
		t.Errorf("the question for a search: %q", got)
	}
	b.Do(chromedp.Click(chromedp.CSS("main form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".banner")))
	if twofa("Dace Liepa")["web"] != false || twofa("Anna Ozola")["web"] != true {
		t.Errorf("after all matching Liepa: Dace %v, Anna %v", twofa("Dace Liepa"), twofa("Anna Ozola"))
	}

	// The defaults (both on) to every existing user.
	b.Do(chromedp.Navigate(r.srv.URL+"/admin/2fa/settings#tab-defaults"), chromedp.WaitVisible(chromedp.CSS(".apply-defaults button")),
		chromedp.Click(chromedp.CSS(".apply-defaults button")))
	waitForText(t, b, "Apply the default settings to all")
	if got := b.Text("main h1"); got != "Apply the default settings to all 4 users?" {
		t.Errorf("the defaults' question: %q", got)
	}
	b.Check("apply-defaults-confirm")
	b.Do(chromedp.Click(chromedp.CSS("main form button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".banner")))
	if got := b.Text(".banner"); !strings.Contains(got, "The default settings now apply to every user: 3 users changed, 1 had them already.") {
		t.Errorf("after applying the defaults: %q", got)
	}
	for _, name := range []string{"Anna Ozola", "Ben Kalns", "Dace Liepa"} {
		if got := twofa(name); got["web"] != true || got["manager"] != true {
			t.Errorf("%s after the defaults: %v", name, got)
		}
	}
	b.Check("apply-defaults-done")
}

// emailLink waits for the n-th email to an address, notifications left
// out, and returns the console link in it.
func (r *consoleRig) emailLink(t *testing.T, to string, n int) string {
	t.Helper()
	link := ""
	pattern := regexp.MustCompile(`https?://\S+/admin/setup/[a-z0-9]+`)
	providertest.WaitFor(t, 15*time.Second, fmt.Sprintf("email %d to %s", n, to), func() bool {
		seen := 0
		msgs := r.mailpit.Messages(t)
		for i := len(msgs) - 1; i >= 0; i-- { // oldest first
			if len(msgs[i].To) > 0 && msgs[i].To[0] == to && !isNotice(msgs[i]) {
				if seen++; seen == n {
					link = pattern.FindString(msgs[i].Text)
				}
			}
		}
		return link != ""
	})
	return link
}

// TestAdminsInABrowser: the Admins page lists the company's admins; an
// admin invites another by email (the link arrives and works) and removes
// them; "Forgot your password?" sends a reset link (and says the same for
// an unknown email); the account page lists the admin's sessions and
// signs out everywhere. Each is in the audit log.
func TestAdminsInABrowser(t *testing.T) {
	b := browsertest.Start(t)
	r := newConsoleRig(t)
	r.signIn(t, b)

	b.Do(chromedp.Click(chromedp.CSS(`.header a[href="/admin/admins"]`)), chromedp.WaitVisible(chromedp.ID("admins-caption")))
	if got := b.Text("main tbody"); !strings.Contains(got, "rita@acme.test") || !strings.Contains(got, "(you)") || !strings.Contains(got, "The only admin") {
		t.Errorf("the admins: %q", got)
	}
	b.Check("admins")
	b.Do(chromedp.Click(chromedp.CSS("main form[action='/admin/admins'] button")), chromedp.WaitVisible(chromedp.CSS(".error-summary")))
	b.Check("admins-invite-error")
	b.Do(chromedp.SendKeys(chromedp.ID("email"), "ben@acme.test"), chromedp.Click(chromedp.CSS("main form[action='/admin/admins'] button")))
	waitForText(t, b, "We have sent Ben Kalns an email")
	ben := r.users["Ben Kalns"]
	if got := b.Text("#admin-" + ben); !strings.Contains(got, "Invited") {
		t.Errorf("Ben's row: %q", got)
	}
	b.Check("admins-invited")
	link := r.emailLink(t, "ben@acme.test", 1)
	if !strings.HasPrefix(link, r.srv.URL+"/admin/setup/") {
		t.Fatalf("the invitation's link: %q", link)
	}
	if got := form(t, link, url.Values{"password": {"ben's own pass phrase"}, "confirm": {"ben's own pass phrase"}}, ""); got != http.StatusSeeOther {
		t.Fatalf("Ben's set-up link: %d", got)
	}
	b.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#admin-"+ben)))
	if got := b.Text("#admin-" + ben); !strings.Contains(got, "Active") {
		t.Errorf("Ben's row after set-up: %q", got)
	}

	// Remove Ben, after a question.
	b.Do(chromedp.Click(chromedp.CSS("#admin-" + ben + " button")))
	waitForText(t, b, "Remove Ben Kalns as an admin?")
	b.Check("admins-remove-confirm")
	b.Do(chromedp.Click(chromedp.CSS("main form button[type=submit]")))
	waitForText(t, b, "Ben Kalns is no longer an admin")
	if browsertest.Eval[bool](b, `!!document.getElementById("admin-`+ben+`")`) {
		t.Error("Ben is still listed")
	}

	// Your account: this session, then sign out everywhere.
	b.Do(chromedp.Click(chromedp.CSS(`.header a[href="/admin/account"]`)), chromedp.WaitVisible(chromedp.ID("sessions-caption")))
	if got := b.Text("main tbody"); !strings.Contains(got, "This session") || !strings.Contains(got, "127.0.0.1") || !strings.Contains(got, "Chrome on Linux") {
		t.Errorf("the sessions: %q", got)
	}
	b.Check("account")
	b.Do(chromedp.Click(chromedp.CSS("main form[action$=sign-out-everywhere] button")))
	waitForText(t, b, "You have signed out everywhere")
	b.Do(chromedp.Navigate(r.srv.URL+"/admin/2fa"), chromedp.WaitVisible(chromedp.ID("password")))

	// Forgot your password: the same answer for anyone; the link works.
	b.Do(chromedp.Click(chromedp.CSS(`a[href="/admin/login/forgot"]`)), chromedp.WaitVisible(chromedp.CSS("form[action='/admin/login/forgot']")))
	b.Check("forgot")
	b.Do(chromedp.SendKeys(chromedp.ID("email"), "nobody@acme.test"), chromedp.Click(chromedp.CSS("main button[type=submit]")))
	waitForText(t, b, "Check your email")
	unknown := strings.ReplaceAll(b.Text("main"), "nobody@acme.test", "EMAIL")
	b.Do(chromedp.Navigate(r.srv.URL+"/admin/login/forgot"), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "rita@acme.test"), chromedp.Click(chromedp.CSS("main button[type=submit]")))
	waitForText(t, b, "Check your email")
	if known := strings.ReplaceAll(b.Text("main"), "rita@acme.test", "EMAIL"); known != unknown {
		t.Errorf("the answers differ:\n%s\n%s", known, unknown)
	}
	b.Check("forgot-sent")
	reset := r.emailLink(t, "rita@acme.test", 2)
	b.Do(chromedp.Navigate(reset), chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SetValue(chromedp.ID("password"), "a brand new pass phrase"), chromedp.SetValue(chromedp.ID("confirm"), "a brand new pass phrase"),
		chromedp.Click(chromedp.CSS("main button[type=submit]")))
	waitForText(t, b, "Your password is saved")
	b.Do(chromedp.SetValue(chromedp.ID("password"), "a brand new pass phrase"), chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("code")))
	b.Do(chromedp.SendKeys(chromedp.ID("code"), r.emailCode(t, "rita@acme.test", 3)),
		chromedp.Click(chromedp.CSS("main button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(`[aria-label="Settings"]`)))

	// Each in the audit log, with who did it.
	b.Do(chromedp.Navigate(r.srv.URL+"/admin/2fa/audit"), chromedp.WaitVisible(chromedp.ID("result-count")))
	log := b.Text("main tbody")
	for _, want := range []string{"Invited Ben Kalns (ben@acme.test) to be an admin", "Ben Kalns chose a console password",
		"Removed Ben Kalns as an admin", "Signed out of the console everywhere (1 session)",
		"Asked for a link to reset rita's console password", "rita chose a console password"} {
		if !strings.Contains(log, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, log)
		}
	}
}
