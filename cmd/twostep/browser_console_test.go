package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/twostep/twostep/internal/browsertest"
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
