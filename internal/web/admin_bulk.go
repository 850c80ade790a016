package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/twostep/twostep/internal/twostep"
)

// bulkConfirm is the question before a change to many users.
type bulkConfirm struct {
	Heading string
	Text    []string
	Names   []string // the first users named, when they are named
	More    int      // how many more than Names
	Action  string
	Hidden  url.Values // the form's fields, carried to the answer
	Yes     string
	Warning bool // the change turns 2FA off
	Return  string
}

// bulkNames is how many users a confirmation lists by name.
const bulkNames = 10

// bulkTwoFA turns 2FA on or off in one app for the users selected in the
// list, or for all that match its search: first a question that says how
// many, then the change, a batch of users per transaction.
func (s *Server) bulkTwoFA(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	r.ParseForm()
	q := strings.TrimSpace(r.PostFormValue("q"))
	ret := "/admin/2fa"
	if q != "" {
		ret += "?" + url.Values{"q": {q}}.Encode()
	}
	app, err := twostep.ParseApp("app", r.PostFormValue("app"))
	state := r.PostFormValue("state")
	if err != nil || (state != "on" && state != "off") {
		s.bulkError(w, r, c, "bulk-state", "Choose whether to turn two-factor authentication on or off, and in which app")
		return
	}
	on := state == "on"
	who := twostep.Users{IDs: r.PostForm["user"], All: r.PostFormValue("all") == "1", Query: q}
	if who.All {
		who.IDs = nil
	}
	if !who.All && len(who.IDs) == 0 {
		s.bulkError(w, r, c, "bulk-all", "Select the users to change in the table, or choose all users")
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		n := len(who.IDs)
		d := bulkConfirm{Action: "/admin/2fa/bulk", Hidden: url.Values{"app": {string(app)}, "state": {state}, "q": {q}},
			Warning: !on, Return: ret}
		if who.All {
			total, err := s.svc.CountUsers(r.Context(), c.Caller, c.Company.ID, q)
			if err != nil {
				s.consoleUnavailable(w, r, err)
				return
			}
			n = total
			d.Hidden.Set("all", "1")
		} else {
			d.Hidden["user"] = who.IDs
			for _, id := range who.IDs[:min(len(who.IDs), bulkNames)] {
				if u, err := s.svc.User(r.Context(), c.Caller, c.Company.ID, id); err == nil {
					d.Names = append(d.Names, u.Name)
				}
			}
			d.More = n - len(d.Names)
		}
		users := plural(n, "user", "users")
		if who.All && q != "" {
			users = plural(n, "user who matches", "users who match") + " “" + q + "”"
		}
		d.Heading = "Turn " + state + " two-factor authentication in the " + app.Title() + " for " + users + "?"
		if on {
			d.Text = []string{"They will need a code to sign in to the " + app.Title() + "."}
		} else {
			d.Text = []string{"They will sign in to the " + app.Title() + " with a password only."}
		}
		d.Text = append(d.Text, "Users who have it "+state+" already stay as they are. Each change is recorded in the audit log.")
		d.Yes = "Turn " + state + " for " + plural(n, "user", "users")
		s.render(w, r, http.StatusOK, "bulk", page{Title: d.Heading, Console: &c, Data: d})
		return
	}
	res, err := s.svc.SetTwoFAForUsers(r.Context(), c.Caller, c.Company.ID, who, app, on)
	if err != nil && res.Changed == 0 {
		s.consoleUnavailable(w, r, err)
		return
	}
	extra := url.Values{"app": {string(app)}, "state": {state}}
	if err != nil { // some batches done: say so, and that the rest is not
		s.log.ErrorContext(r.Context(), "bulk 2FA change stopped part way", "changed", res.Changed, "err", err)
		extra.Set("stopped", "1")
	}
	seeOther(w, r, withBulk(ret, "bulk", res, extra))
}

// applyDefaults gives every existing user the default settings, after a
// question that says how many users there are and what the defaults are.
func (s *Server) applyDefaults(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	if r.PostFormValue("confirm") != "yes" {
		total, err := s.svc.CountUsers(r.Context(), c.Caller, c.Company.ID, "")
		if err != nil {
			s.consoleUnavailable(w, r, err)
			return
		}
		d := c.Company.Settings.Defaults
		onOff := func(b bool) string {
			if b {
				return "on"
			}
			return "off"
		}
		dc := bulkConfirm{Action: "/admin/2fa/settings/apply-defaults", Hidden: url.Values{}, Return: "/admin/2fa/settings#tab-defaults",
			Heading: "Apply the default settings to all " + plural(total, "user", "users") + "?",
			Text: []string{"Two-factor authentication will be " + onOff(d.Web) + " in the Web application and " + onOff(d.Manager) +
				" in the Manager app for every user, as for new users.",
				"Users who have it so already stay as they are. Each change is recorded in the audit log."},
			Yes: "Apply to " + plural(total, "user", "users"), Warning: !d.Web || !d.Manager}
		s.render(w, r, http.StatusOK, "bulk", page{Title: dc.Heading, Console: &c, Data: dc})
		return
	}
	res, err := s.svc.ApplyDefaults(r.Context(), c.Caller, c.Company.ID)
	if err != nil && res.Changed == 0 {
		s.consoleUnavailable(w, r, err)
		return
	}
	var extra url.Values
	if err != nil {
		s.log.ErrorContext(r.Context(), "applying the defaults stopped part way", "changed", res.Changed, "err", err)
		extra = url.Values{"stopped": {"1"}}
	}
	seeOther(w, r, withBulk("/admin/2fa", "defaults", res, extra))
}

// withBulk is a return path with a bulk change's result for bannerFor:
// numbers and names of the server's own, nothing a link could word.
func withBulk(ret, done string, res twostep.BulkResult, extra url.Values) string {
	v := url.Values{"done": {done}, "changed": {strconv.Itoa(res.Changed)}, "unchanged": {strconv.Itoa(res.Unchanged)}}
	for k, vs := range extra {
		v[k] = vs
	}
	return withQuery(ret, v)
}

// bulkBanner words a bulk change's result from its redirect's numbers.
func bulkBanner(q url.Values) string {
	changed, err1 := strconv.Atoi(q.Get("changed"))
	unchanged, err2 := strconv.Atoi(q.Get("unchanged"))
	if err1 != nil || err2 != nil || changed < 0 || unchanged < 0 {
		return ""
	}
	var msg string
	switch q.Get("done") {
	case "bulk":
		app, err := twostep.ParseApp("app", q.Get("app"))
		state := q.Get("state")
		if err != nil || (state != "on" && state != "off") {
			return ""
		}
		msg = "Two-factor authentication is now " + state + " in the " + app.Title() + " for " + plural(changed, "user", "users") + "."
		if unchanged > 0 {
			msg += " " + plural(unchanged, "user", "users") + " had it " + state + " already."
		}
	case "defaults":
		msg = "The default settings now apply to every user: " + plural(changed, "user", "users") + " changed"
		if unchanged > 0 {
			msg += ", " + strconv.Itoa(unchanged) + " had them already"
		}
		msg += "."
	}
	if msg != "" && q.Get("stopped") == "1" {
		msg += " The change stopped part way through: the other users are as they were. Try again in a moment."
	}
	return msg
}

// bulkError shows the users page with a bulk change's mistake.
func (s *Server) bulkError(w http.ResponseWriter, r *http.Request, c twostep.Console, field, msg string) {
	s.renderTwofa(w, r, http.StatusUnprocessableEntity, c, page{Errors: []fieldError{{field, msg}}}, nil)
}
