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

// confirmedAuthenticator finds one of a user's confirmed authenticators
// by id; ok is false when the user has no such one.
func (s *Server) confirmedAuthenticator(r *http.Request, c twostep.Console, userID, id string) (twostep.Authenticator, bool, error) {
	list, _, err := s.svc.Authenticators(r.Context(), c.Caller, c.Company.ID, userID)
	if isCode(err, twostep.CodeNotFound) {
		return twostep.Authenticator{}, false, nil
	}
	i := slices.IndexFunc(list, func(a twostep.Authenticator) bool { return a.ID == id && a.Confirmed() })
	if err != nil || i < 0 {
		return twostep.Authenticator{}, false, err
	}
	return list[i], true, nil
}

// authenticatorWord names an authenticator's kind for the console.
func authenticatorWord(a twostep.Authenticator) string {
	if a.Type == twostep.AuthenticatorWebAuthn {
		return "passkey"
	}
	return "authenticator app"
}

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
	a, ok, err := s.confirmedAuthenticator(r, c, c.User.ID, id)
	if err != nil {
		s.consoleUnavailable(w, r, err)
		return
	}
	if !ok {
		s.notFound(w, r)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		what := authenticatorWord(a)
		d := bulkConfirm{Heading: "Remove your " + what + " “" + a.Name + "”?",
			Action: "/admin/account/authenticator/" + id + "/remove",
			Text:   []string{"It stops working at once. You will sign in to the console with another authenticator you have, or with a code by email or text message."},
			Hidden: url.Values{}, Yes: "Remove " + what, Warning: true, Return: "/admin/account"}
		s.render(w, r, http.StatusOK, "bulk", page{Title: d.Heading, Console: &c, Section: "account", Data: d})
		return
	}
	if err := s.svc.RemoveAuthenticator(r.Context(), c.Caller, c.Company.ID, c.User.ID, id); err != nil {
		s.consoleUnavailable(w, r, err)
		return
	}
	seeOther(w, r, "/admin/account?done=app_removed")
}

// accountPasskeyBegin answers the options for the admin's own new passkey.
func (s *Server) accountPasskeyBegin(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	options, err := s.svc.BeginOwnPasskey(r.Context(), c.Caller, c.Session)
	s.passkeyAnswer(w, r, options, err)
}

// accountPasskeyFinish adds the admin's own passkey.
func (s *Server) accountPasskeyFinish(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	err := s.svc.FinishOwnPasskey(r.Context(), c.Caller, c.Session, []byte(r.PostFormValue("answer")))
	s.passkeyAnswer(w, r, []byte(`{"ok":true}`), err)
}

// accountPasskeyDone shows the recovery codes that come with the passkey.
func (s *Server) accountPasskeyDone(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	s.accountCodes(w, r, c, "Your passkey is set up. From now on the console asks for it when you sign in.")
}

// loginPasskeyBegin answers the options for the console's sign-in with a
// passkey.
func (s *Server) loginPasskeyBegin(w http.ResponseWriter, r *http.Request) {
	options, err := s.svc.SignInPasskey(r.Context(), cookie(r, pendingCookie))
	s.passkeyAnswer(w, r, options, err)
}

// loginPasskey checks the passkey's answer and, when it is right, begins
// the admin's session.
func (s *Server) loginPasskey(w http.ResponseWriter, r *http.Request) {
	proof := twostep.Proof{Method: twostep.MethodWebAuthn, Passkey: []byte(r.PostFormValue("answer"))}
	token, _, err := s.svc.SignInVerify(r.Context(), cookie(r, pendingCookie), proof, s.clientIP(r), userAgent(r))
	switch {
	case err != nil:
		s.passkeyAnswer(w, r, nil, err)
	case token == "":
		s.passkeyAnswer(w, r, nil, &twostep.Error{Code: twostep.CodeIncorrect, Message: "That passkey did not work. Try again, or choose another way."})
	default:
		clearCookie(w, pendingCookie)
		setCookie(w, sessionCookie, token)
		s.passkeyAnswer(w, r, []byte(`{"redirect":"/admin/2fa"}`), nil)
	}
}
