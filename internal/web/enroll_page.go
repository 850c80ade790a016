package web

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/twostep/twostep/internal/twostep"
)

// enrollData is the hosted enrolment page's data: its start, the app
// being added (Setup), or the new recovery codes (Codes).
type enrollData struct {
	twostep.EnrollmentPage
	Token string
	Setup *appSetup
	Codes *codesView
}

// enrollInput is what a submitted form brings back to the page.
type enrollInput struct {
	codes []string
	typed string
	err   string
}

// renderEnroll shows the enrolment page.
func (s *Server) renderEnroll(w http.ResponseWriter, r *http.Request, status int, pg twostep.EnrollmentPage, p page, in enrollInput) {
	token := r.PathValue("token")
	d := enrollData{EnrollmentPage: pg, Token: token}
	switch {
	case in.codes != nil:
		p.Title = "Save your recovery codes"
		cv := newCodesView(in.codes, pg.Company.Name, pg.User.Name)
		cv.Finish, cv.Label = "/enroll/"+token+"/finish", "I have saved my codes – continue"
		d.Codes = &cv
	case pg.Pending != nil:
		p.Title = "Set up your authenticator app"
		st, err := newAppSetup(*pg.Pending, pg.Company.Name, "/enroll/"+token+"/confirm", "/enroll/"+token)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		st.Code, st.Error = in.typed, in.err
		d.Setup = &st
	default:
		p.Title = "Set up two-step sign-in"
	}
	p.Data, p.NoHeader = d, true
	s.render(w, r, status, "enroll", p, returnOrigin(pg.ReturnURL))
}

func (s *Server) enrollPage(w http.ResponseWriter, r *http.Request) {
	pg, err := s.svc.OpenEnrollment(r.Context(), r.PathValue("token"), r.FormValue("app"))
	if err != nil {
		s.enrollInvalid(w, r, err)
		return
	}
	s.renderEnroll(w, r, http.StatusOK, pg, page{}, enrollInput{})
}

func (s *Server) enrollApp(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	a, err := s.svc.EnrollApp(r.Context(), token, s.clientIP(r), userAgent(r))
	if err != nil {
		s.enrollInvalid(w, r, err)
		return
	}
	seeOther(w, r, "/enroll/"+token+"?app="+url.QueryEscape(a.ID))
}

func (s *Server) enrollConfirm(w http.ResponseWriter, r *http.Request) {
	token, app := r.PathValue("token"), r.PostFormValue("app")
	codes, err := s.svc.EnrollConfirm(r.Context(), token, app, r.PostFormValue("code"), s.clientIP(r), userAgent(r))
	pg, perr := s.svc.OpenEnrollment(r.Context(), token, app)
	switch {
	case perr != nil:
		s.enrollInvalid(w, r, perr)
	case err != nil && pg.Pending != nil && (isCode(err, twostep.CodeInvalidValue) || isCode(err, twostep.CodeIncorrect)):
		msg := confirmMessage(err)
		s.renderEnroll(w, r, http.StatusUnprocessableEntity, pg, page{Errors: []fieldError{{"code", msg}}}, enrollInput{typed: typedBack(r, err), err: msg})
	case err != nil:
		// The app's time ran out, or it was confirmed already: start again.
		s.renderEnroll(w, r, http.StatusUnprocessableEntity, pg, page{Errors: []fieldError{{"start", "That set-up took too long. Start again."}}}, enrollInput{})
	default:
		pg.Pending = nil
		s.renderEnroll(w, r, http.StatusOK, pg, page{Banner: "Your authenticator app is set up."}, enrollInput{codes: codes})
	}
}

func (s *Server) enrollRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	s.enrollCodes(w, r, "")
}

// enrollCodes makes the user of an enrolment page new recovery codes and
// shows them, under banner.
func (s *Server) enrollCodes(w http.ResponseWriter, r *http.Request, banner string) {
	token := r.PathValue("token")
	codes, err := s.svc.EnrollRecoveryCodes(r.Context(), token, s.clientIP(r), userAgent(r))
	if err != nil {
		s.enrollInvalid(w, r, err)
		return
	}
	pg, err := s.svc.OpenEnrollment(r.Context(), token, "")
	if err != nil {
		s.enrollInvalid(w, r, err)
		return
	}
	s.renderEnroll(w, r, http.StatusOK, pg, page{Banner: banner}, enrollInput{codes: codes})
}

func (s *Server) enrollFinish(w http.ResponseWriter, r *http.Request) {
	next, err := s.svc.FinishEnrollment(r.Context(), r.PathValue("token"))
	if err != nil {
		s.enrollInvalid(w, r, err)
		return
	}
	seeOther(w, r, next)
}

// enrollInvalid answers an enrolment link that opens nothing.
func (s *Server) enrollInvalid(w http.ResponseWriter, r *http.Request, err error) {
	if !isCode(err, twostep.CodeNotFound) {
		s.log.ErrorContext(r.Context(), "enrolment page", "err", err)
	}
	s.render(w, r, http.StatusNotFound, "message", page{Title: "Link not valid", NoHeader: true, Data: message{
		Heading:    "This link is not valid",
		Paragraphs: []string{"It has expired or has been used. Go back to where you came from and start again."}}})
}

// verifyEnroll sends the person on an approved hosted page, whose app
// asks for an authenticator they have not added, to enrolment.
func (s *Server) verifyEnroll(w http.ResponseWriter, r *http.Request) {
	token, err := s.svc.PageEnrollment(r.Context(), r.PathValue("token"))
	if err != nil {
		s.verifyInvalid(w, r, err)
		return
	}
	seeOther(w, r, "/enroll/"+token)
}

// enrollPasskeyBegin answers the options for creating a passkey.
func (s *Server) enrollPasskeyBegin(w http.ResponseWriter, r *http.Request) {
	options, err := s.svc.BeginPasskey(r.Context(), r.PathValue("token"))
	s.passkeyAnswer(w, r, options, err)
}

// enrollPasskeyFinish adds the passkey the browser created.
func (s *Server) enrollPasskeyFinish(w http.ResponseWriter, r *http.Request) {
	err := s.svc.FinishPasskey(r.Context(), r.PathValue("token"), []byte(r.PostFormValue("answer")), s.clientIP(r), userAgent(r))
	s.passkeyAnswer(w, r, json.RawMessage(`{"ok":true}`), err)
}

// enrollPasskeyDone shows the recovery codes that come with a new passkey.
func (s *Server) enrollPasskeyDone(w http.ResponseWriter, r *http.Request) {
	s.enrollCodes(w, r, "Your passkey is set up.")
}

// passkeyAnswer writes a ceremony step's JSON answer, or its error as
// {"error": message} for the page's script to show.
func (s *Server) passkeyAnswer(w http.ResponseWriter, r *http.Request, v json.RawMessage, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		e := twostep.AsError(err)
		if e.Code == twostep.CodeInternal || e.Code == twostep.CodeUnavailable {
			s.log.ErrorContext(r.Context(), "passkey", "err", err)
		}
		w.WriteHeader(statusOf(e.Code))
		json.NewEncoder(w).Encode(map[string]string{"error": e.Message})
		return
	}
	w.Write(v)
}

// verifyPasskeyBegin answers the options for signing in with a passkey.
func (s *Server) verifyPasskeyBegin(w http.ResponseWriter, r *http.Request) {
	options, err := s.svc.BeginPasskeyLogin(r.Context(), r.PathValue("token"))
	s.passkeyAnswer(w, r, options, err)
}

// verifyPasskey checks the browser's passkey answer and says where to go.
func (s *Server) verifyPasskey(w http.ResponseWriter, r *http.Request) {
	// The answer comes as a form field, as every page POST's body is a
	// form (at most 64 KiB).
	pg, result, err := s.svc.PagePasskey(r.Context(), r.PathValue("token"), []byte(r.PostFormValue("answer")),
		r.PostFormValue("remember") == "on", s.clientIP(r), userAgent(r))
	switch {
	case err != nil:
		s.metrics.Verifications.WithLabelValues("refused").Inc()
		s.passkeyAnswer(w, r, nil, err)
	case result == twostep.ResultRejected:
		s.metrics.Verifications.WithLabelValues(string(result)).Inc()
		s.passkeyAnswer(w, r, nil, &twostep.Error{Code: twostep.CodeIncorrect, Message: "That passkey did not work. Try again, or choose another way."})
	default:
		s.metrics.Verifications.WithLabelValues(string(result)).Inc()
		next := "/verify/" + r.PathValue("token")
		if pg.Result != "" && !pg.Challenge.EnrollmentRequired {
			next = twostep.ResultURL(pg.Challenge.ReturnURL, pg.Result)
		}
		b, _ := json.Marshal(map[string]string{"redirect": next})
		s.passkeyAnswer(w, r, b, nil)
	}
}
