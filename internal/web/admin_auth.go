package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/twostep"
)

// loginForm is the sign-in page's data.
type loginForm struct{ Email string }

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, err := s.console(r); err == nil {
		seeOther(w, r, "/admin/2fa")
		return
	}
	p := page{Title: "Sign in", Data: loginForm{Email: rememberedEmail(r)}}
	switch r.URL.Query().Get("m") {
	case "out":
		p.Banner = "You have signed out."
	case "expired":
		p.Banner = "Your session has ended. Sign in again."
	case "setup":
		p.Banner = "Your password is saved. Sign in with it."
	case "everywhere":
		p.Banner = "You have signed out everywhere: every session of yours has ended."
	}
	s.render(w, r, http.StatusOK, "login", p)
}

// errSignIn is the one message for every failed password step. It names
// neither field: which of the two is wrong, the answer must not tell.
const errSignIn = "The email address or the password is not correct. Check both and try again."

// signInForm is the field a sign-in's own errors belong to: the two
// fields together, as the page's group of them.
const signInForm = "credentials"

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	email, password := strings.TrimSpace(r.PostFormValue("email")), r.PostFormValue("password")
	p := page{Title: "Sign in", Data: loginForm{Email: email}}
	if email == "" || password == "" {
		if email == "" {
			p.Errors = append(p.Errors, fieldError{"email", "Enter your email address"})
		}
		if password == "" {
			p.Errors = append(p.Errors, fieldError{"password", "Enter your password"})
		}
		s.render(w, r, http.StatusUnprocessableEntity, "login", p)
		return
	}
	start, err := s.svc.SignIn(r.Context(), email, password, s.clientIP(r), userAgent(r))
	if err != nil {
		e := twostep.AsError(err)
		status := http.StatusUnauthorized
		switch e.Code {
		case twostep.CodeUnauthorized:
			p.Errors = []fieldError{{signInForm, errSignIn}}
		case twostep.CodeRateLimited:
			status = http.StatusTooManyRequests
			p.Errors = []fieldError{{signInForm, e.Message + " Wait " + inWords(e.RetryAfter) + " and try again."}}
		default:
			status = http.StatusServiceUnavailable
			p.Errors = []fieldError{{signInForm, "Something went wrong on our side. Try again in a moment."}}
			s.log.ErrorContext(r.Context(), "sign-in failed", "err", err)
		}
		s.render(w, r, status, "login", p)
		return
	}
	setCookie(w, pendingCookie, start.PendingToken)
	clearCookie(w, emailCookie)
	seeOther(w, r, "/admin/login/code")
}

func (s *Server) loginCodePage(w http.ResponseWriter, r *http.Request) {
	v, err := s.svc.SignInChallenge(r.Context(), cookie(r, pendingCookie))
	if err != nil {
		seeOther(w, r, "/admin/login?m=expired")
		return
	}
	s.renderLoginCode(w, r, http.StatusOK, v, page{}, "")
}

// renderLoginCode shows the console's code step; typed is the code to
// show back (after a mistake of form, not after a wrong code).
func (s *Server) renderLoginCode(w http.ResponseWriter, r *http.Request, status int, v twostep.ChallengeView, p page, typed string) {
	st := newCodeStep(v, time.Now(), shownMode(v, r.FormValue("method")), "/admin/login/code", "/admin/login/code", "/admin/login/resend", "/admin/login")
	p.Errors = st.place(p.Errors)
	st.Code = typed
	p.Title, p.Data = st.Heading(), st
	s.render(w, r, status, "login_code", p)
}

func (s *Server) loginCodeSubmit(w http.ResponseWriter, r *http.Request) {
	pending := cookie(r, pendingCookie)
	token, v, err := s.svc.SignInVerify(r.Context(), pending, formProof(r), s.clientIP(r), userAgent(r))
	switch {
	case isCode(err, twostep.CodeUnauthorized): // the pending sign-in is over
		seeOther(w, r, "/admin/login?m=expired")
	case err != nil:
		if v.ID == "" {
			v, _ = s.svc.SignInChallenge(r.Context(), pending)
		}
		if v.ID == "" {
			seeOther(w, r, "/admin/login?m=expired")
			return
		}
		s.renderLoginCode(w, r, http.StatusUnprocessableEntity, v, page{Errors: []fieldError{{"code", codeError(err, v)}}}, typedBack(r, err))
	case token == "":
		s.renderLoginCode(w, r, http.StatusUnprocessableEntity, v, page{Errors: []fieldError{{"code", wrongCode(v, shownMode(v, r.PostFormValue("method")))}}}, "")
	default:
		clearCookie(w, pendingCookie)
		setCookie(w, sessionCookie, token)
		seeOther(w, r, "/admin/2fa")
	}
}

// typedBack is the code to show back in the field after err: what was
// typed when it was not a code at all (too short, not digits), so that it
// can be mended; nothing after a wrong code, which is no use to keep.
func typedBack(r *http.Request, err error) string {
	if isCode(err, twostep.CodeInvalidValue) {
		return r.PostFormValue("code")
	}
	return ""
}

// isCode reports whether err is a *twostep.Error with code.
func isCode(err error, code twostep.ErrorCode) bool {
	var e *twostep.Error
	return errors.As(err, &e) && e.Code == code
}

func (s *Server) loginResend(w http.ResponseWriter, r *http.Request) {
	pending := cookie(r, pendingCookie)
	v, err := s.svc.SignInResend(r.Context(), pending, twostep.Channel(r.PostFormValue("channel")))
	if err != nil {
		if v, cerr := s.svc.SignInChallenge(r.Context(), pending); cerr == nil {
			s.renderLoginCode(w, r, http.StatusTooManyRequests, v, page{Errors: []fieldError{{"resend", resendError(err)}}}, "")
			return
		}
		seeOther(w, r, "/admin/login?m=expired")
		return
	}
	s.renderLoginCode(w, r, http.StatusOK, v, page{Banner: "We’ve sent you a new code."}, "")
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if token := cookie(r, sessionCookie); token != "" {
		if err := s.svc.SignOut(r.Context(), token); err != nil {
			s.log.ErrorContext(r.Context(), "sign-out", "err", err)
		}
	}
	clearCookie(w, sessionCookie)
	seeOther(w, r, "/admin/login?m=out")
}

// setup is the set-up link's page data.
type setup struct {
	Email  string
	Action string
}

func (s *Server) setupPage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	acct, err := s.svc.SetupLink(r.Context(), token)
	if err != nil {
		s.linkInvalid(w, r)
		return
	}
	s.render(w, r, http.StatusOK, "setup", page{Title: "Choose your password", NoHeader: false,
		Data: setup{Email: acct.Email, Action: "/admin/setup/" + token}})
}

func (s *Server) setupSubmit(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	acct, err := s.svc.SetupLink(r.Context(), token)
	if err != nil {
		s.linkInvalid(w, r)
		return
	}
	pw, confirm := r.PostFormValue("password"), r.PostFormValue("confirm")
	p := page{Title: "Choose your password", Data: setup{Email: acct.Email, Action: "/admin/setup/" + token}}
	// Every mistake at once: the password's own, and the confirmation's.
	if pw == "" {
		p.Errors = append(p.Errors, fieldError{"password", "Enter a password"})
	} else if err := twostep.CheckPassword(pw, acct.Email); err != nil {
		p.Errors = append(p.Errors, formErrors(err, map[string]formField{"password": {ID: "password"}}, "password")...)
	}
	switch {
	case confirm == "" && pw != "":
		p.Errors = append(p.Errors, fieldError{"confirm", "Enter the password again"})
	case confirm != pw:
		p.Errors = append(p.Errors, fieldError{"confirm", "The passwords do not match"})
	}
	if len(p.Errors) == 0 {
		if err := s.svc.CompleteSetup(r.Context(), token, pw); err != nil {
			p.Errors = formErrors(err, map[string]formField{"password": {ID: "password"}}, "password")
		}
	}
	if len(p.Errors) > 0 {
		s.render(w, r, http.StatusUnprocessableEntity, "setup", p)
		return
	}
	rememberEmail(w, acct.Email)
	seeOther(w, r, "/admin/login?m=setup")
}

// emailCookie carries a just-set-up admin's email to the sign-in page,
// for a few minutes, so that it is filled in there; not in the URL, where
// it would end up in access logs.
const emailCookie = "__Host-twostep-email"

func rememberEmail(w http.ResponseWriter, email string) {
	http.SetCookie(w, &http.Cookie{Name: emailCookie, Value: url.QueryEscape(email), Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: 600})
}

// rememberedEmail is the email rememberEmail set, "" when none.
func rememberedEmail(r *http.Request) string {
	email, err := url.QueryUnescape(cookie(r, emailCookie))
	if err != nil {
		return ""
	}
	return email
}

// message is a page that only says something.
type message struct {
	Heading    string
	Paragraphs []string
	Link       string
	LinkText   string
}

func (s *Server) linkInvalid(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusNotFound, "message", page{Title: "Link not valid", Data: message{
		Heading:    "This link has expired or has been used",
		Paragraphs: []string{"Set-up links work once, for 3 days. Ask whoever runs Twostep for your company for a new one."},
		Link:       "/admin/login", LinkText: "Go to sign-in"}})
}

// consoleKey carries the signed-in admin in a request's context.
type consoleKey struct{}

// console reads the signed-in admin of a request.
func (s *Server) console(r *http.Request) (twostep.Console, error) {
	if c, ok := r.Context().Value(consoleKey{}).(twostep.Console); ok {
		return c, nil
	}
	token := cookie(r, sessionCookie)
	if token == "" {
		return twostep.Console{}, errors.New("no session")
	}
	return s.svc.SessionUser(r.Context(), token, s.clientIP(r), userAgent(r))
}

// requireConsole lets only signed-in admins through; others go to
// sign-in. A session that cannot be checked just now (the database is
// away for a moment) is not an ended one: the admin gets a 503 and keeps
// the session.
func (s *Server) requireConsole(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := s.console(r)
		switch {
		case err == nil:
			h(w, r.WithContext(context.WithValue(r.Context(), consoleKey{}, c)))
		case cookie(r, sessionCookie) == "":
			seeOther(w, r, "/admin/login")
		case isCode(err, twostep.CodeUnauthorized):
			clearCookie(w, sessionCookie)
			seeOther(w, r, "/admin/login?m=expired")
		default:
			s.consoleUnavailable(w, r, err)
		}
	}
}

// retryLink is where "Try again" goes: the page itself, or after a form
// the console's main page.
func retryLink(r *http.Request) string {
	if r.Method != http.MethodGet {
		return "/admin/2fa"
	}
	return localPath(r.URL.RequestURI(), "/admin/2fa")
}

// consoleUnavailable answers a console request that failed on our side:
// 503 with a page (or JSON, to the console's scripts) that asks to try
// again; the cause goes to the log.
func (s *Server) consoleUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	e := twostep.AsError(err)
	if e.Code != twostep.CodeUnavailable {
		e = &twostep.Error{Code: twostep.CodeUnavailable, Message: "the console is not available just now; try again in a moment", Err: err}
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		s.writeError(w, r, e)
		return
	}
	s.log.ErrorContext(r.Context(), "console unavailable", "route", routeOf(r), "err", err)
	w.Header().Set("Retry-After", "5")
	s.render(w, r, http.StatusServiceUnavailable, "message", page{Title: "Try again in a moment", NoHeader: true, Data: message{
		Heading:    "The console is not available just now",
		Paragraphs: []string{"Nothing was changed, and you are still signed in. Try again in a moment."},
		Link:       retryLink(r), LinkText: "Try again"}})
}
