package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/twostep"
)

// auditTable is a table of audit events and its empty states.
type auditTable struct {
	Events      []twostep.AuditEvent
	Caption     string
	HideCaption bool
	Filtered    bool // "nothing matches" rather than "nothing yet"
	Failed      bool // "could not load"
	Invalid     bool // the filters are wrong: their error says so, not the table
}

// option is a choice of a select.
type option struct {
	Value, Label string
	Selected     bool
}

// chip is a filter in use, with the link that removes it.
type chip struct {
	Label   string
	Without template.URL // the query string without this filter
}

// auditPageData is the full audit log page's data.
type auditPageData struct {
	Table        auditTable
	Actions      []option
	Users        []option
	Since, Until string
	Chips        []chip
	Query        template.URL // the filters' query string, for export
	Showing      string       // "Showing 51–100 of 230 events"
	Prev, Next   template.URL // the previous and next pages' query strings
	HasPrev      bool         // Prev is "" for the first page with no filters
	values       url.Values
}

// auditPageSize is how many events a page of the audit log shows.
const auditPageSize = 50

// Params returns the filters' query string with a parameter set (or
// removed with ""). url.Values encodes it, so it is safe in a link.
func (d auditPageData) Params(key, value string) template.URL {
	q := url.Values{}
	for k, v := range d.values {
		q[k] = v
	}
	if value == "" {
		q.Del(key)
	} else {
		q.Set(key, value)
	}
	return template.URL(q.Encode())
}

// pages sets the page's "Showing" line and its previous and next links.
// A page is reached by its cursor; "back" lists the cursors of the pages
// before it but the first, so that Previous needs no walk backwards and
// the page knows where it starts.
func (d *auditPageData) pages(cursor string, back []string, next string, a twostep.AuditPage) {
	n := len(a.Events)
	if n == 0 {
		return
	}
	index := 0
	if cursor != "" {
		index = len(back) + 1
	}
	first := index*auditPageSize + 1
	of := "of " + count(a.Total)
	if a.TotalCapped {
		of = "of more than " + count(a.Total)
	}
	d.Showing = fmt.Sprintf("Showing %s–%s %s %s", count(first), count(first+n-1), of, pluralWord(a.Total, "event", "events"))
	link := func(cursor string, back []string) template.URL {
		q := url.Values{}
		for k, v := range d.values {
			q[k] = v
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		if len(back) > 0 {
			q.Set("back", strings.Join(back, "."))
		}
		return template.URL(q.Encode())
	}
	if cursor != "" {
		if len(back) == 0 {
			d.Prev = link("", nil)
		} else {
			d.Prev = link(back[len(back)-1], back[:len(back)-1])
		}
		d.HasPrev = true
	}
	if next != "" {
		ahead := back
		if cursor != "" {
			ahead = append(slices.Clip(back), cursor)
		}
		d.Next = link(next, ahead)
	}
}

// count writes a number with thousands separated: 10,000.
func count(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// pluralWord is the word alone for n things.
func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// actionLabels name the actions in the filter.
var actionLabels = map[twostep.Action]string{
	twostep.ActionTwoFAEnabled:             "2FA turned on",
	twostep.ActionTwoFADisabled:            "2FA turned off",
	twostep.ActionSettingsGeneralChanged:   "General settings changed",
	twostep.ActionSettingsDefaultsChanged:  "Default settings changed",
	twostep.ActionTwoFAFailedAttempts:      "3 wrong codes in a row",
	twostep.ActionTwoFALocked:              "Sign-in paused after 10 wrong codes",
	twostep.ActionTwoFAUnlocked:            "Sign-in unlocked",
	twostep.ActionDeliveryFailed:           "Code could not be delivered",
	twostep.ActionUserCreated:              "User added",
	twostep.ActionUserUpdated:              "User changed",
	twostep.ActionUserDeleted:              "User deleted",
	twostep.ActionAdminInvited:             "Admin invited",
	twostep.ActionAdminRemoved:             "Admin removed",
	twostep.ActionAdminPasswordReset:       "Password reset asked for",
	twostep.ActionAdminPasswordSet:         "Console password chosen",
	twostep.ActionAdminSignedOutEverywhere: "Signed out everywhere",
	twostep.ActionAuthenticatorAdded:       "Sign-in method added",
	twostep.ActionAuthenticatorRemoved:     "Sign-in method removed",
	twostep.ActionRecoveryCodesGenerated:   "Recovery codes made",
	twostep.ActionRecoveryCodeUsed:         "Recovery code used",
	twostep.ActionDevicesRevoked:           "Remembered browsers forgotten",
	twostep.ActionNotificationSent:         "Notification emailed",
}

// consoleFilter reads the audit page's filters; dates are whole UTC days,
// "until" included.
func consoleFilter(q url.Values) (twostep.AuditFilter, error) {
	var f twostep.AuditFilter
	if a := q.Get("action"); a != "" {
		action, err := twostep.ParseAction("action", a)
		if err != nil {
			return f, err
		}
		f.Action = action
	}
	f.UserID = q.Get("user")
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return f, twostep.Invalid("since", "Enter the from date as a real date")
		}
		f.Since = t
	}
	if v := q.Get("until"); v != "" {
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return f, twostep.Invalid("until", "Enter the to date as a real date")
		}
		f.Until = t.AddDate(0, 0, 1)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, twostep.Invalid("until", "The to date must be the same as or after the from date")
	}
	f.Cursor = q.Get("cursor")
	return f, nil
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	q := r.URL.Query()
	filters := url.Values{}
	for _, k := range []string{"action", "user", "since", "until"} {
		if v := q.Get(k); v != "" {
			filters.Set(k, v)
		}
	}
	d := auditPageData{Since: q.Get("since"), Until: q.Get("until"), Query: template.URL(filters.Encode()), values: filters,
		Table: auditTable{Caption: "Audit log, newest first", Filtered: len(filters) > 0}}
	p := page{Title: "Audit log", Console: &c}
	var back []string
	if v := q.Get("back"); v != "" && q.Get("cursor") != "" {
		back = strings.Split(v, ".")
	}
	var a twostep.AuditPage
	f, err := consoleFilter(q)
	if err == nil {
		f.Limit = auditPageSize
		a, err = s.svc.ConsoleAudit(r.Context(), c.Caller, c.Company.ID, f)
	}
	status := http.StatusOK
	if err != nil {
		e := twostep.AsError(err)
		if e.Code == twostep.CodeInvalidValue && (e.Field == "since" || e.Field == "until" || e.Field == "action" || e.Field == "cursor") {
			field := e.Field
			if field == "cursor" {
				field, e.Message = "action", "That page of the audit log is no longer there. Choose the filters again."
			}
			p.Errors = []fieldError{{field, e.Message}}
			status = http.StatusUnprocessableEntity
			d.Table.Invalid = true
		} else {
			d.Table.Failed = true
		}
	}
	d.Table.Events = a.Events
	d.pages(f.Cursor, back, a.Next, a)
	for _, act := range twostep.Actions {
		d.Actions = append(d.Actions, option{string(act), actionLabels[act], string(act) == q.Get("action")})
		if string(act) == q.Get("action") {
			d.Chips = append(d.Chips, chip{"Action: " + actionLabels[act], d.Params("action", "")})
		}
	}
	for _, u := range a.Users {
		d.Users = append(d.Users, option{u.ID, u.Name, u.ID == q.Get("user")})
		if u.ID == q.Get("user") {
			d.Chips = append(d.Chips, chip{"User: " + u.Name, d.Params("user", "")})
		}
	}
	if t, err := time.Parse(time.DateOnly, d.Since); err == nil {
		d.Chips = append(d.Chips, chip{"From " + t.Format(dateFormat), d.Params("since", "")})
	}
	if t, err := time.Parse(time.DateOnly, d.Until); err == nil {
		d.Chips = append(d.Chips, chip{"To " + t.Format(dateFormat), d.Params("until", "")})
	}
	p.Data = d
	s.render(w, r, status, "audit", p)
}

// auditExport streams exactly the filtered events as CSV.
func (s *Server) auditExport(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	f, err := consoleFilter(r.URL.Query())
	f.Cursor = ""
	if err != nil {
		http.Error(w, "The filters are not valid.", http.StatusUnprocessableEntity)
		return
	}
	if err := s.streamAudit(w, r, c.Caller, c.Company.ID, f, "csv"); err != nil {
		http.Error(w, "The audit log could not be exported.", http.StatusServiceUnavailable)
	}
}

// auditLatest serves the settings window's Audit log tab: the latest
// events as a table alone, which the window reads each time the tab
// opens, so that a change made since the page loaded is there.
func (s *Server) auditLatest(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	events, _, err := s.svc.AuditEvents(r.Context(), c.Caller, c.Company.ID, twostep.AuditFilter{Limit: recentEvents})
	if err != nil {
		s.consoleUnavailable(w, r, err)
		return
	}
	var b bytes.Buffer
	if err := s.pages["settings"].ExecuteTemplate(&b, "audit-table", auditTable{Events: events,
		Caption: "Latest changes", HideCaption: true}); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}
