package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/twostep"
)

// adminsData is the Admins page.
type adminsData struct {
	Admins []twostep.AdminRow
	Me     string // the signed-in admin's user id
	Email  string // the invitation's email, after a mistake
}

// sessionsData is the account page: the admin's own sessions.
type sessionsData struct {
	Sessions []twostep.Session
	Current  string // this session's token hash
	// The admin's own authenticator apps, their recovery codes left, and
	// whether the company lets them add one.
	Apps          []twostep.Authenticator
	RecoveryCodes int
	TOTPAllowed   bool
	// The admin's passkeys, and whether they may add one.
	Passkeys        []twostep.Authenticator
	PasskeysAllowed bool
}

func (s *Server) adminsPage(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	s.renderAdmins(w, r, http.StatusOK, c, page{Banner: s.adminsBanner(r, c)}, "")
}

// renderAdmins shows the Admins page, with p's errors and banner.
func (s *Server) renderAdmins(w http.ResponseWriter, r *http.Request, status int, c twostep.Console, p page, email string) {
	admins, err := s.svc.ConsoleAdmins(r.Context(), c.Caller, c.Company.ID)
	if err != nil {
		s.consoleUnavailable(w, r, err)
		return
	}
	p.Title, p.Console, p.Section = "Admins", &c, "admins"
	p.Data = adminsData{Admins: admins, Me: c.User.ID, Email: email}
	s.render(w, r, status, "admins", p)
}

// adminsBanner words the Admins page's success message. Like bannerFor,
// it takes only ids from the link and words everything itself.
func (s *Server) adminsBanner(r *http.Request, c twostep.Console) string {
	q := r.URL.Query()
	u, err := s.svc.User(r.Context(), c.Caller, c.Company.ID, q.Get("user"))
	if err != nil {
		return ""
	}
	switch q.Get("done") {
	case "invited":
		return "We have sent " + u.Name + " an email with a link to choose a password. It works once, for 3 days."
	case "removed":
		return u.Name + " is no longer an admin. Their sessions have ended."
	}
	return ""
}

// inviteAdmin makes someone an admin by email: they get a set-up link.
func (s *Server) inviteAdmin(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	email := strings.TrimSpace(r.PostFormValue("email"))
	if email == "" {
		s.renderAdmins(w, r, http.StatusUnprocessableEntity, c, page{Errors: []fieldError{{"email", "Enter the email address of the person to invite"}}}, email)
		return
	}
	u, err := s.svc.InviteAdmin(r.Context(), c.Caller, c.Company.ID, email)
	if e := twostep.AsError(err); err != nil && e.Code == twostep.CodeInvalidValue {
		msg := "Enter an email address in the correct format, like name@example.com"
		if strings.Contains(e.Message, "another company") {
			msg = "This email address already signs in to another company's console. Use another one."
		}
		s.renderAdmins(w, r, http.StatusUnprocessableEntity, c, page{Errors: []fieldError{{"email", msg}}}, email)
		return
	} else if err != nil {
		s.consoleUnavailable(w, r, err)
		return
	}
	seeOther(w, r, "/admin/admins?"+url.Values{"done": {"invited"}, "user": {u.ID}}.Encode())
}

// removeAdmin asks first, then ends someone's console access.
func (s *Server) removeAdmin(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	userID := r.PathValue("user")
	if !isText(userID) {
		s.notFound(w, r)
		return
	}
	u, err := s.svc.User(r.Context(), c.Caller, c.Company.ID, userID)
	if err != nil {
		s.notFound(w, r)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		d := bulkConfirm{Heading: "Remove " + u.Name + " as an admin?", Action: "/admin/admins/" + u.ID + "/remove",
			Text: []string{u.Name + " will no longer be able to sign in to the admin console, and any session they have ends now. " +
				"They stay a user of the company, with their two-factor authentication as it is."},
			Hidden: url.Values{}, Yes: "Remove " + u.Name, Warning: true, Return: "/admin/admins"}
		if u.ID == c.User.ID {
			d.Text = append(d.Text, "This is you: you will be signed out.")
		}
		s.render(w, r, http.StatusOK, "bulk", page{Title: d.Heading, Console: &c, Section: "admins", Data: d})
		return
	}
	err = s.svc.RemoveAdmin(r.Context(), c.Caller, c.Company.ID, u.ID)
	switch e := twostep.AsError(err); {
	case err == nil && u.ID == c.User.ID:
		clearCookie(w, sessionCookie)
		seeOther(w, r, "/admin/login?m=out")
	case err == nil:
		seeOther(w, r, "/admin/admins?"+url.Values{"done": {"removed"}, "user": {u.ID}}.Encode())
	case e.Code == twostep.CodeConflict:
		s.renderAdmins(w, r, http.StatusConflict, c, page{Errors: []fieldError{{"email", e.Message}}}, "")
	case e.Code == twostep.CodeNotFound:
		s.notFound(w, r)
	default:
		s.consoleUnavailable(w, r, err)
	}
}

// accountPage shows the admin's own authenticator apps and sessions.
func (s *Server) accountPage(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	p := page{}
	if r.URL.Query().Get("done") == "app_removed" {
		p.Banner = "Your authenticator app is removed."
	}
	s.renderAccount(w, r, http.StatusOK, c, p)
}

// renderAccount shows the account page.
func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, status int, c twostep.Console, p page) {
	sessions, err := s.svc.ConsoleSessions(r.Context(), c.Caller)
	if err != nil {
		s.consoleUnavailable(w, r, err)
		return
	}
	apps, left, err := s.svc.Authenticators(r.Context(), c.Caller, c.Company.ID, c.User.ID)
	if err != nil {
		s.consoleUnavailable(w, r, err)
		return
	}
	d := sessionsData{Sessions: sessions, Current: c.Session, RecoveryCodes: left, TOTPAllowed: c.Company.Settings.Authenticators.TOTP,
		PasskeysAllowed: c.Company.Settings.Authenticators.WebAuthn && s.svc.Passkeys()}
	for _, a := range apps {
		switch {
		case !a.Confirmed():
		case a.Type == twostep.AuthenticatorWebAuthn:
			d.Passkeys = append(d.Passkeys, a)
		default:
			d.Apps = append(d.Apps, a)
		}
	}
	p.Title, p.Console, p.Section, p.Data = "Your account", &c, "account", d
	s.render(w, r, status, "account", p)
}

// signOutEverywhere ends every session of the admin, this one too.
func (s *Server) signOutEverywhere(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	if err := s.svc.SignOutEverywhere(r.Context(), c.Caller); err != nil {
		s.consoleUnavailable(w, r, err)
		return
	}
	clearCookie(w, sessionCookie)
	seeOther(w, r, "/admin/login?m=everywhere")
}

// forgotForm is the "Forgot your password?" page's data.
type forgotForm struct{ Email string }

func (s *Server) forgotPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "forgot", page{Title: "Reset your password", Data: forgotForm{Email: rememberedEmail(r)}})
}

// forgotSubmit sends a reset link, and answers the same whether or not
// the email is an admin's.
func (s *Server) forgotSubmit(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	p := page{Title: "Reset your password", Data: forgotForm{Email: email}}
	if email == "" {
		p.Errors = []fieldError{{"email", "Enter the email address you sign in with"}}
		s.render(w, r, http.StatusUnprocessableEntity, "forgot", p)
		return
	}
	err := s.svc.RequestPasswordReset(r.Context(), email, s.clientIP(r), userAgent(r))
	switch e := twostep.AsError(err); {
	case err == nil:
		s.render(w, r, http.StatusOK, "message", page{Title: "Check your email", Data: message{
			Heading: "Check your email",
			Paragraphs: []string{"If " + email + " is the email address of an admin account, we have sent it a link to choose a new password. The link works once, for 1 hour.",
				"No email? Check your spam folder, or ask another admin of your company to invite you again."},
			Link: "/admin/login", LinkText: "Back to sign-in"}})
	case e.Code == twostep.CodeInvalidValue:
		p.Errors = []fieldError{{"email", "Enter an email address in the correct format, like name@example.com"}}
		s.render(w, r, http.StatusUnprocessableEntity, "forgot", p)
	case e.Code == twostep.CodeRateLimited:
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
		p.Errors = []fieldError{{"email", "Too many reset links were asked for. Wait " + inWords(e.RetryAfter) + " and try again."}}
		s.render(w, r, http.StatusTooManyRequests, "forgot", p)
	default:
		s.log.ErrorContext(r.Context(), "password reset", "err", err)
		p.Errors = []fieldError{{"email", "Something went wrong on our side. Try again in a moment."}}
		s.render(w, r, http.StatusServiceUnavailable, "forgot", p)
	}
}

// browserName says which browser on which system a user agent is, as
// people name them: "Chrome on Linux". "" when it cannot tell.
func browserName(ua string) string {
	browser := ""
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	system := ""
	for _, o := range []struct{ token, name string }{
		{"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Android", "Android"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			system = o.name
			break
		}
	}
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	}
	return system
}
