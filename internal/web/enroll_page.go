package web

import (
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/twostep/twostep/internal/twostep"
)

// enrollData is the hosted enrolment page's data.
type enrollData struct {
	twostep.EnrollmentPage
	Token string
	QR    template.URL // the pending app's otpauth URI as a PNG, drawn here
	Key   string       // its key, in groups of four, for typing in
	Code  string       // what was typed, after a mistake of form
	// Codes are new recovery codes, shown this once; Download is them as
	// a text file.
	Codes    []string
	Download template.URL
}

// renderEnroll shows the enrolment page.
func (s *Server) renderEnroll(w http.ResponseWriter, r *http.Request, status int, pg twostep.EnrollmentPage, p page, d enrollData) {
	d.EnrollmentPage, d.Token = pg, r.PathValue("token")
	switch {
	case d.Codes != nil:
		p.Title = "Save your recovery codes"
		file := "Recovery codes for " + pg.Company.Name + " (" + pg.User.Name + ")\r\nEach code signs you in once.\r\n\r\n" +
			strings.Join(d.Codes, "\r\n") + "\r\n"
		d.Download = template.URL("data:text/plain;charset=utf-8," + url.PathEscape(file))
	case pg.Pending != nil:
		p.Title = "Set up your authenticator app"
		png, err := qrcode.Encode(pg.Pending.OTPAuthURI, qrcode.Medium, 256)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		d.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
		d.Key = groupKey(pg.Pending.Secret)
	default:
		p.Title = "Set up two-step sign-in"
	}
	p.Data, p.NoHeader = d, true
	s.render(w, r, status, "enroll", p, returnOrigin(pg.ReturnURL))
}

// groupKey writes a key in groups of four, as people copy it.
func groupKey(key string) string {
	var b strings.Builder
	for i, r := range key {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *Server) enrollPage(w http.ResponseWriter, r *http.Request) {
	pg, err := s.svc.OpenEnrollment(r.Context(), r.PathValue("token"), r.FormValue("app"))
	if err != nil {
		s.enrollInvalid(w, r, err)
		return
	}
	s.renderEnroll(w, r, http.StatusOK, pg, page{}, enrollData{})
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
		msg := twostep.AsError(err).Message
		if isCode(err, twostep.CodeIncorrect) {
			msg = "That code is not correct. Check the time on your phone is set automatically, then enter the code the app shows now."
		}
		s.renderEnroll(w, r, http.StatusUnprocessableEntity, pg, page{Errors: []fieldError{{"code", msg}}}, enrollData{Code: typedBack(r, err)})
	case err != nil:
		// The app's time ran out, or it was confirmed already: start again.
		s.renderEnroll(w, r, http.StatusUnprocessableEntity, pg, page{Errors: []fieldError{{"start", "That set-up took too long. Start again."}}}, enrollData{})
	default:
		pg.Pending = nil
		s.renderEnroll(w, r, http.StatusOK, pg, page{Banner: "Your authenticator app is set up."}, enrollData{Codes: codes})
	}
}

func (s *Server) enrollRecoveryCodes(w http.ResponseWriter, r *http.Request) {
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
	s.renderEnroll(w, r, http.StatusOK, pg, page{}, enrollData{Codes: codes})
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
