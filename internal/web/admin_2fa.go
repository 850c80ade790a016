package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/twostep/twostep/internal/twostep"
)

// userRow is one row of the users table.
type userRow struct {
	twostep.User
	Locked []twostep.App
}

// switchCellData is one switch of the users table.
type switchCellData struct {
	User   userRow
	App    twostep.App
	Title  string
	Label  string // the cell's name when its row stacks; Title when ""
	On     bool
	Return string
}

// settingsData is the data of the settings' sections.
type settingsData struct {
	Form     twostep.Settings // what the forms show: saved values, or what was typed
	Recent   auditTable
	InDialog bool
	Saved    string // "general" or "defaults" after a save
	Failed   string // the section whose save failed
	Return   string // where a save returns to
	Page     page   // for the failed section's errors
}

// twofaData is the Two-factor authentication page's data.
type twofaData struct {
	Users        []userRow
	Total        int
	Query        string
	Cursor       string
	Next         string
	Chart        template.HTML
	Settings     settingsData
	OpenSettings bool
	Tab          string
	Return       string
}

// Params returns the page's query string with a parameter set (or, with
// "", removed). url.Values encodes it, so it is safe in a link.
func (d twofaData) Params(key, value string) template.URL {
	q := url.Values{}
	if d.Query != "" {
		q.Set("q", d.Query)
	}
	if value != "" {
		q.Set(key, value)
	}
	return template.URL(q.Encode())
}

func init() {
	pageFuncs["switchCell"] = func(u userRow, app string, ret string) switchCellData {
		a := twostep.App(app)
		return switchCellData{User: u, App: a, Title: a.Title(), On: u.TwoFA.For(a), Return: ret}
	}
	pageFuncs["labelled"] = func(d switchCellData, label string) switchCellData { d.Label = label; return d }
}

// recentEvents is how many events the settings' Audit log tab shows.
const recentEvents = 10

// settingsFor reads what the settings' sections show.
func (s *Server) settingsFor(r *http.Request, c twostep.Console, inDialog bool) settingsData {
	d := settingsData{Form: c.Company.Settings, InDialog: inDialog, Saved: r.URL.Query().Get("saved"),
		Recent: auditTable{Caption: "Latest changes", HideCaption: true}}
	if inDialog {
		d.Return = "/admin/2fa?settings=open"
	} else {
		d.Return = "/admin/2fa/settings"
	}
	if !inDialog { // the users page reads its own with the rest
		events, _, err := s.svc.AuditEvents(r.Context(), c.Caller, c.Company.ID, twostep.AuditFilter{Limit: recentEvents})
		d.Recent.Events, d.Recent.Failed = events, err != nil
	}
	return d
}

func (s *Server) twofaPage(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	s.renderTwofa(w, r, http.StatusOK, c, page{Banner: s.bannerFor(r, c)}, nil)
}

// bannerFor words the one success message a redirect asked for. Every
// word of it is the server's: the link names a user of the admin's own
// company and an app, never the text, so that no one can send an admin
// a console link that says what they like.
func (s *Server) bannerFor(r *http.Request, c twostep.Console) string {
	q := r.URL.Query()
	done := q.Get("done")
	if done == "bulk" || done == "defaults" {
		return bulkBanner(q)
	}
	if done == "authenticator_removed" || done == "devices_forgotten" {
		u, err := s.svc.User(r.Context(), c.Caller, c.Company.ID, q.Get("user"))
		switch {
		case err != nil:
			return ""
		case done == "devices_forgotten":
			return u.Name + " is no longer remembered in any browser."
		}
		return "The authenticator app is removed from " + u.Name + "’s account."
	}
	if done != "on" && done != "off" && done != "unlocked" {
		return ""
	}
	app, err := twostep.ParseApp("app", q.Get("app"))
	if err != nil {
		return ""
	}
	u, err := s.svc.User(r.Context(), c.Caller, c.Company.ID, q.Get("user"))
	if err != nil {
		return ""
	}
	if done == "unlocked" {
		return u.Name + " is unlocked in the " + app.Title() + ": their wrong codes are cleared and they can sign in again."
	}
	return "Two-factor authentication is " + done + " for " + u.Name + " in the " + app.Title() + "."
}

// renderTwofa shows the Two-factor authentication page; settings, if not
// nil, replaces the settings' data (after a failed save). The page's data
// comes from one service call, in one read transaction: if any of it
// cannot be read, the page says so rather than show a locked user as
// unlocked.
func (s *Server) renderTwofa(w http.ResponseWriter, r *http.Request, status int, c twostep.Console, p page, settings *settingsData) {
	q := r.URL.Query()
	d := twofaData{Query: strings.TrimSpace(q.Get("q")), Cursor: q.Get("cursor"), Tab: q.Get("tab")}
	d.OpenSettings = q.Get("settings") == "open" || settings != nil
	d.Return = "/admin/2fa"
	if p := d.Params("cursor", d.Cursor); p != "" {
		d.Return += "?" + string(p)
	}
	pg, err := s.svc.ConsoleUsers(r.Context(), c.Caller, c.Company.ID,
		twostep.UserFilter{Query: d.Query, Cursor: d.Cursor, Limit: 25}, 30, recentEvents)
	if e := twostep.AsError(err); err != nil && e.Code == twostep.CodeInvalidValue {
		// A bad search or an old cursor: the page, with the problem beside the search.
		p.Errors = append(p.Errors, fieldError{"q", "Enter a search of at most 200 characters, without control characters."})
		status = http.StatusUnprocessableEntity
		d.Query, d.Cursor = "", ""
		pg, err = s.svc.ConsoleUsers(r.Context(), c.Caller, c.Company.ID, twostep.UserFilter{Limit: 25}, 30, recentEvents)
	}
	if err != nil {
		s.consoleUnavailable(w, r, err)
		return
	}
	for _, u := range pg.Users {
		d.Users = append(d.Users, userRow{User: u.User, Locked: u.Locked})
	}
	d.Next, d.Total, d.Chart = pg.Next, pg.Total, activityChart(pg.Stats)
	if settings != nil {
		d.Settings = *settings
	} else {
		d.Settings = s.settingsFor(r, c, true)
	}
	d.Settings.Recent.Events, d.Settings.Recent.Failed = pg.Recent, false
	p.Title, p.Console, p.Data = "Two-factor authentication", &c, d
	s.render(w, r, status, "twofa", p)
}

func (s *Server) settingsPage(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	s.render(w, r, http.StatusOK, "settings", page{Title: "Two-factor authentication settings", Console: &c,
		Data: s.settingsFor(r, c, false)})
}

// switchTwoFA turns 2FA on or off for one user and app. Turning it off
// asks first: in the page with JavaScript, else on a page of its own.
func (s *Server) switchTwoFA(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	app, err := twostep.ParseApp("app", r.PathValue("app"))
	if err != nil {
		s.notFound(w, r)
		return
	}
	userID := r.PathValue("user")
	if !isText(userID) {
		s.notFound(w, r)
		return
	}
	on := r.PostFormValue("enabled") == "true"
	ret := localPath(r.PostFormValue("return"), "/admin/2fa")
	wantsJSON := strings.Contains(r.Header.Get("Accept"), "application/json")
	u, err := s.svc.User(r.Context(), c.Caller, c.Company.ID, userID)
	if err != nil {
		s.notFound(w, r)
		return
	}
	if !on && r.PostFormValue("confirm") != "yes" && !wantsJSON {
		s.render(w, r, http.StatusOK, "confirm", page{Title: "Turn off two-factor authentication?", Console: &c,
			Data: map[string]string{"Name": u.Name, "AppTitle": app.Title(), "Return": ret,
				"Action": "/admin/2fa/users/" + u.ID + "/twofa/" + string(app)}})
		return
	}
	u, err = s.svc.SetTwoFA(r.Context(), c.Caller, c.Company.ID, userID, app, on)
	if wantsJSON {
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"enabled": u.TwoFA.For(app), "user": u.Name, "app": app.Title()})
		return
	}
	if err != nil {
		s.renderTwofa(w, r, http.StatusUnprocessableEntity, c, page{Errors: []fieldError{{"q", "The change could not be saved. Try again."}}}, nil)
		return
	}
	done := "off"
	if on {
		done = "on"
	}
	seeOther(w, r, withDone(ret, done, u.ID, app))
}

// settingsFields maps the service's setting fields to the form's inputs,
// with messages in the console's words.
var settingsFields = map[string]formField{
	"delivery_method":              {ID: "delivery_method", Message: "Select how codes are delivered"},
	"responsible_contact.name":     {ID: "contact-name", Message: "Enter a name of at most 200 characters"},
	"responsible_contact.email":    {ID: "contact-email", Message: "Enter an email address in the correct format, like name@example.com"},
	"responsible_contact.phone":    {ID: "contact-phone", Message: "Enter a phone number with the country code, like +371 2000 0001"},
	"enrollment_grace_days":        {ID: "grace-days", Message: "Enter a number of days from 0 to 365"},
	"remember_device_days.web":     {ID: "remember-web", Message: "Enter a number of days from 0 (off) to 90"},
	"remember_device_days.manager": {ID: "remember-manager", Message: "Enter a number of days from 0 (off) to 90"},
}

// saveSettings saves one section of the settings window: general or
// defaults. Each change is audited with the signed-in admin as User, by
// the same service call the API makes.
func (s *Server) saveSettings(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	section := r.PathValue("section")
	ret := localPath(r.PostFormValue("return"), "/admin/2fa/settings")
	var p twostep.SettingsPatch
	form := c.Company.Settings
	switch section {
	case "general":
		dm := twostep.DeliveryMethod(r.PostFormValue("delivery_method"))
		contact := twostep.Contact{Name: r.PostFormValue("contact_name"), Email: r.PostFormValue("contact_email"),
			Phone: r.PostFormValue("contact_phone")}
		p.DeliveryMethod = twostep.Some(dm)
		p.ResponsibleContact = twostep.Some(twostep.ContactPatch{Name: twostep.Some(contact.Name),
			Email: twostep.Some(contact.Email), Phone: twostep.Some(contact.Phone)})
		form.DeliveryMethod, form.ResponsibleContact = dm, contact
		if r.PostFormValue("notify_fields") == "1" {
			n := twostep.NotifyResponsible{FailedAttempts: r.PostFormValue("notify_failed_attempts") == "on", Locked: r.PostFormValue("notify_locked") == "on"}
			p.NotifyResponsible = twostep.Some(twostep.NotifyResponsiblePatch{FailedAttempts: twostep.Some(n.FailedAttempts), Locked: twostep.Some(n.Locked)})
			form.NotifyResponsible = n
		}
		// The stronger-sign-in fields, only from a form that has them: a
		// post without them changes none of them.
		if r.PostFormValue("strong_fields") == "1" {
			kinds := twostep.AuthenticatorKinds{TOTP: r.PostFormValue("auth_totp") == "on", WebAuthn: r.PostFormValue("auth_webauthn") == "on"}
			strong := twostep.Defaults{Web: r.PostFormValue("strong_web") == "on", Manager: r.PostFormValue("strong_manager") == "on"}
			p.Authenticators = twostep.Some(twostep.AuthenticatorKindsPatch{TOTP: twostep.Some(kinds.TOTP), WebAuthn: twostep.Some(kinds.WebAuthn)})
			p.StrongAuthentication = twostep.Some(twostep.DefaultsPatch{Web: twostep.Some(strong.Web), Manager: twostep.Some(strong.Manager)})
			form.Authenticators, form.StrongAuthentication = kinds, strong
			days, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("enrollment_grace_days")))
			if err != nil {
				days = -1 // the service refuses it with the field named
			}
			p.EnrollmentGraceDays, form.EnrollmentGraceDays = twostep.Some(days), days
			remember := func(field string) int {
				n, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue(field)))
				if err != nil {
					return -1 // refused with the field named
				}
				return n
			}
			rd := twostep.AppDays{Web: remember("remember_web"), Manager: remember("remember_manager")}
			p.RememberDeviceDays = twostep.Some(twostep.AppDaysPatch{Web: twostep.Some(rd.Web), Manager: twostep.Some(rd.Manager)})
			form.RememberDeviceDays = rd
		}
	case "defaults":
		d := twostep.Defaults{Web: r.PostFormValue("web") == "on", Manager: r.PostFormValue("manager") == "on"}
		p.Defaults = twostep.Some(twostep.DefaultsPatch{Web: twostep.Some(d.Web), Manager: twostep.Some(d.Manager)})
		form.Defaults = d
	default:
		s.notFound(w, r)
		return
	}
	if _, err := s.svc.UpdateSettings(r.Context(), c.Caller, c.Company.ID, p); err != nil {
		inDialog := strings.HasPrefix(ret, "/admin/2fa?")
		d := s.settingsFor(r, c, inDialog)
		d.Form, d.Failed = form, section
		d.Page = page{Errors: formErrors(err, settingsFields, "delivery_method")}
		if inDialog {
			s.renderTwofa(w, r, http.StatusUnprocessableEntity, c, page{Errors: d.Page.Errors}, &d)
		} else {
			s.render(w, r, http.StatusUnprocessableEntity, "settings", page{Title: "Two-factor authentication settings",
				Console: &c, Errors: d.Page.Errors, Data: d})
		}
		return
	}
	base, _, _ := strings.Cut(ret, "#")
	// The settings page (without JavaScript) goes to the saved section;
	// the window opens on its tab, where the script puts focus on the
	// message (a fragment would take focus to the panel instead).
	frag := "#tab-" + section
	if strings.HasPrefix(base, "/admin/2fa?") {
		frag = ""
	}
	seeOther(w, r, withQuery(base, url.Values{"saved": {section}, "tab": {section}})+frag)
}
