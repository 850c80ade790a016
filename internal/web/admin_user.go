package web

import (
	"net/http"
	"net/url"

	"github.com/twostep/twostep/internal/twostep"
)

// userPageData is the page of one user.
type userPageData struct {
	twostep.UserPage
	Row    userRow // for the switches
	Return string  // where the page's forms come back to
}

// signInResults word a sign-in's outcome.
var signInResults = map[twostep.SignInResult]string{
	twostep.SignInApproved:   "Signed in",
	twostep.SignInFailed:     "Wrong code",
	twostep.SignInPending:    "Waiting for the code",
	twostep.SignInNotEntered: "No code entered",
}

// unlockFormData is an Unlock button's form.
type unlockFormData struct {
	User   twostep.User
	App    twostep.App
	Return string
}

func init() {
	pageFuncs["unlockForm"] = func(u twostep.User, app twostep.App, ret string) unlockFormData {
		return unlockFormData{u, app, ret}
	}
	pageFuncs["browserName"] = browserName
	pageFuncs["signInResult"] = func(r twostep.SignInResult) string { return signInResults[r] }
	pageFuncs["methodName"] = methodName
}

// methodName words a method for the console.
func methodName(m string) string {
	switch twostep.Method(m) {
	case twostep.MethodSMS:
		return "SMS"
	case twostep.MethodTOTP:
		return "Authenticator app"
	case twostep.MethodRecoveryCode:
		return "Recovery code"
	case twostep.MethodWebAuthn:
		return "Passkey"
	case twostep.MethodRememberedDevice:
		return "Remembered browser"
	}
	return "Email"
}

// forgetDevices forgets every browser a user is remembered in, after the
// admin confirms. Audited with the admin as User.
func (s *Server) forgetDevices(w http.ResponseWriter, r *http.Request) {
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
	ret := "/admin/2fa/users/" + u.ID
	if r.PostFormValue("confirm") != "yes" {
		d := bulkConfirm{Heading: "Forget the browsers " + u.Name + " is remembered in?",
			Action: "/admin/2fa/users/" + u.ID + "/devices/forget",
			Text:   []string{u.Name + " will be asked for the second step again the next time they sign in, in every browser."},
			Hidden: url.Values{}, Yes: "Forget all", Warning: true, Return: ret}
		s.render(w, r, http.StatusOK, "bulk", page{Title: d.Heading, Console: &c, Crumb: u.Name, Data: d})
		return
	}
	if _, err := s.svc.RevokeDevices(r.Context(), c.Caller, c.Company.ID, u.ID); err != nil {
		s.consoleUnavailable(w, r, err)
		return
	}
	seeOther(w, r, withQuery(ret, url.Values{"done": {"devices_forgotten"}, "user": {u.ID}}))
}

// removeAuthenticator removes one of a user's authenticators, after the
// admin confirms. Audited with the admin as User.
func (s *Server) removeAuthenticator(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	userID, id := r.PathValue("user"), r.PathValue("authenticator")
	if !isText(userID) || !isText(id) {
		s.notFound(w, r)
		return
	}
	u, err := s.svc.User(r.Context(), c.Caller, c.Company.ID, userID)
	if err != nil {
		s.notFound(w, r)
		return
	}
	a, ok, err := s.confirmedAuthenticator(r, c, u.ID, id)
	if err != nil {
		s.consoleUnavailable(w, r, err)
		return
	}
	if !ok {
		s.notFound(w, r)
		return
	}
	ret, what := "/admin/2fa/users/"+u.ID, authenticatorWord(a)
	if r.PostFormValue("confirm") != "yes" {
		d := bulkConfirm{Heading: "Remove " + u.Name + "’s " + what + " “" + a.Name + "”?",
			Action: "/admin/2fa/users/" + u.ID + "/authenticators/" + a.ID + "/remove",
			Text: []string{"Its codes stop working at once. " + u.Name + " will need another way to sign in: " +
				"another authenticator app, a recovery code or, where the company allows, a code by text message or email."},
			Hidden: url.Values{}, Yes: "Remove " + what, Warning: true, Return: ret}
		s.render(w, r, http.StatusOK, "bulk", page{Title: d.Heading, Console: &c, Crumb: u.Name, Data: d})
		return
	}
	if err := s.svc.RemoveAuthenticator(r.Context(), c.Caller, c.Company.ID, u.ID, a.ID); err != nil {
		if isCode(err, twostep.CodeNotFound) {
			s.notFound(w, r)
			return
		}
		s.consoleUnavailable(w, r, err)
		return
	}
	seeOther(w, r, withQuery(ret, url.Values{"done": {"authenticator_removed"}, "user": {u.ID}}))
}

// userPage shows one user: contact details, 2FA and locks per app, and
// the latest sign-ins.
func (s *Server) userPage(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	userID := r.PathValue("user")
	if !isText(userID) {
		s.notFound(w, r)
		return
	}
	up, err := s.svc.ConsoleUser(r.Context(), c.Caller, c.Company.ID, userID)
	if isCode(err, twostep.CodeNotFound) {
		s.notFound(w, r)
		return
	}
	if err != nil {
		s.consoleUnavailable(w, r, err)
		return
	}
	d := userPageData{UserPage: up, Return: "/admin/2fa/users/" + up.User.ID}
	d.Row = userRow{User: up.User}
	for _, a := range up.Apps {
		if !a.LockedUntil.IsZero() {
			d.Row.Locked = append(d.Row.Locked, a.App)
		}
	}
	s.render(w, r, http.StatusOK, "user", page{Title: up.User.Name, Console: &c, Crumb: up.User.Name,
		Banner: s.bannerFor(r, c), Data: d})
}

// unlock lets a user sign in to an app again after wrong codes: their
// failures end and so does any pause. Audited with the admin as User.
func (s *Server) unlock(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	app, err := twostep.ParseApp("app", r.PathValue("app"))
	userID := r.PathValue("user")
	if err != nil || !isText(userID) {
		s.notFound(w, r)
		return
	}
	ret := localPath(r.PostFormValue("return"), "/admin/2fa")
	if _, err := s.svc.Unlock(r.Context(), c.Caller, c.Company.ID, userID, app); err != nil {
		if isCode(err, twostep.CodeNotFound) {
			s.notFound(w, r)
			return
		}
		s.consoleUnavailable(w, r, err)
		return
	}
	seeOther(w, r, withDone(ret, "unlocked", userID, app))
}

// withDone adds to a return path the success message's parameters, which
// bannerFor words.
func withDone(ret, done, userID string, app twostep.App) string {
	return withQuery(ret, url.Values{"done": {done}, "user": {userID}, "app": {string(app)}})
}

// notFound answers a console page that names nothing in the admin's
// company: another company's user looks the same as no user.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	c, _ := s.console(r)
	s.render(w, r, http.StatusNotFound, "message", page{Title: "Page not found", Console: &c, Data: message{
		Heading:    "Page not found",
		Paragraphs: []string{"There is nothing at this address in your company. If you typed it, check it; if a link brought you, it may be out of date."},
		Link:       "/admin/2fa", LinkText: "Go to Two-factor authentication"}})
}
