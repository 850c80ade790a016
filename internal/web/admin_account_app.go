package web

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/twostep/twostep/internal/twostep"
)

// The admin's own authenticator app, for signing in to the console: added
// from their account page with the steps the hosted enrolment page uses,
// then asked for at the console's code step instead of a sent code.

// accountApp starts adding an authenticator app for the admin.
func (s *Server) accountApp(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	a, err := s.svc.AddAuthenticator(r.Context(), c.Caller, c.Company.ID, c.User.ID, string(twostep.AuthenticatorTOTP), "")
	if err != nil {
		s.renderAccount(w, r, http.StatusUnprocessableEntity, c, page{Errors: []fieldError{{"app", twostep.AsError(err).Message}}})
		return
	}
	seeOther(w, r, "/admin/account/authenticator?app="+url.QueryEscape(a.ID))
}

// accountAppPage shows the QR code and key of the admin's pending app.
func (s *Server) accountAppPage(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	s.renderAccountApp(w, r, http.StatusOK, c, r.FormValue("app"), page{}, "", "")
}

// renderAccountApp shows the steps for the pending app id; a pending app
// that is gone sends the admin back to their account page.
func (s *Server) renderAccountApp(w http.ResponseWriter, r *http.Request, status int, c twostep.Console, id string, p page, typed, msg string) {
	a, err := s.svc.PendingAuthenticator(r.Context(), c.Caller, c.Company.ID, c.User.ID, id)
	if isCode(err, twostep.CodeNotFound) {
		seeOther(w, r, "/admin/account")
		return
	}
	if err != nil {
		s.consoleUnavailable(w, r, err)
		return
	}
	st, err := newAppSetup(a, c.Company.Name, "/admin/account/authenticator/confirm", "/admin/account")
	if err != nil {
		s.consoleUnavailable(w, r, err)
		return
	}
	st.Code, st.Error = typed, msg
	p.Title, p.Console, p.Section, p.Data = "Set up your authenticator app", &c, "account", st
	s.render(w, r, status, "account_app", p)
}

// accountAppConfirm confirms the admin's app and shows them new recovery
// codes.
func (s *Server) accountAppConfirm(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	id := r.PostFormValue("app")
	_, err := s.svc.ConfirmAuthenticator(r.Context(), c.Caller, c.Company.ID, c.User.ID, id, r.PostFormValue("code"))
	if isCode(err, twostep.CodeInvalidValue) || isCode(err, twostep.CodeIncorrect) {
		msg := confirmMessage(err)
		s.renderAccountApp(w, r, http.StatusUnprocessableEntity, c, id, page{Errors: []fieldError{{"code", msg}}}, typedBack(r, err), msg)
		return
	}
	if isCode(err, twostep.CodeNotFound) {
		seeOther(w, r, "/admin/account")
		return
	}
	if err != nil {
		s.consoleUnavailable(w, r, err)
		return
	}
	s.accountCodes(w, r, c, "Your authenticator app is set up. From now on the console asks for its code when you sign in.")
}

// accountRecoveryCodes gives the admin a new set of recovery codes.
func (s *Server) accountRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	s.accountCodes(w, r, c, "")
}

// accountCodes makes and shows the admin new recovery codes.
func (s *Server) accountCodes(w http.ResponseWriter, r *http.Request, c twostep.Console, banner string) {
	codes, err := s.svc.NewRecoveryCodes(r.Context(), c.Caller, c.Company.ID, c.User.ID)
	if err != nil {
		s.consoleUnavailable(w, r, err)
		return
	}
	cv := newCodesView(codes, c.Company.Name, c.User.Name)
	cv.Next, cv.Label = "/admin/account", "I have saved my codes – back to your account"
	s.render(w, r, http.StatusOK, "account_codes", page{Title: "Save your recovery codes", Console: &c, Section: "account",
		Banner: banner, Data: cv})
}

// accountAppRemove removes one of the admin's own authenticator apps,
// after they confirm.
func (s *Server) accountAppRemove(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	id := r.PathValue("authenticator")
	apps, _, err := s.svc.Authenticators(r.Context(), c.Caller, c.Company.ID, c.User.ID)
	if err != nil {
		s.consoleUnavailable(w, r, err)
		return
	}
	i := slices.IndexFunc(apps, func(a twostep.Authenticator) bool { return a.ID == id && a.Confirmed() })
	if i < 0 {
		s.notFound(w, r)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		d := bulkConfirm{Heading: "Remove your authenticator app “" + apps[i].Name + "”?",
			Action: "/admin/account/authenticator/" + id + "/remove",
			Text:   []string{"Its codes stop working at once. You will sign in to the console with a code by email or text message instead, or with another authenticator app you have."},
			Hidden: url.Values{}, Yes: "Remove authenticator app", Warning: true, Return: "/admin/account"}
		s.render(w, r, http.StatusOK, "bulk", page{Title: d.Heading, Console: &c, Section: "account", Data: d})
		return
	}
	if err := s.svc.RemoveAuthenticator(r.Context(), c.Caller, c.Company.ID, c.User.ID, id); err != nil {
		s.consoleUnavailable(w, r, err)
		return
	}
	seeOther(w, r, "/admin/account?done=app_removed")
}
