package web

import (
	"net/http"
	"net/url"
	"time"

	"github.com/twostep/twostep/internal/twostep"
)

// verifyData is the hosted page's data.
type verifyData struct {
	Company   string
	Step      codeStep
	Done      bool
	ReturnURL string
	Token     string
	// Enroll: the app asks for an authenticator app the user has not
	// added; they may set one up now.
	Enroll bool
}

// returnOrigin is the origin of a return URL, for the page's form-action:
// the browser follows the redirect after the code only to it.
func returnOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// renderVerify shows the hosted page for a challenge; typed is the code
// to show back (after a mistake of form, not after a wrong code).
func (s *Server) renderVerify(w http.ResponseWriter, r *http.Request, status int, pg twostep.Page, p page, typed string) {
	token := r.PathValue("token")
	v := pg.Challenge
	cancel := ""
	if v.ReturnURL != "" {
		cancel = withQuery(v.ReturnURL, url.Values{"twostep_error": {"cancelled"}})
	}
	d := verifyData{Company: pg.Company.Name,
		Step: newCodeStep(v, time.Now(), shownMode(v, r.FormValue("method")), "/verify/"+token, "/verify/"+token, "/verify/"+token+"/resend", cancel)}
	p.Errors = d.Step.place(p.Errors)
	d.Step.Code = typed
	d.Step.RememberDays = pg.Company.Settings.RememberDeviceDays.For(v.App)
	if v.Status == twostep.StatusApproved {
		d.Done, d.Token = true, token
		if pg.Result != "" {
			d.ReturnURL = twostep.ResultURL(v.ReturnURL, pg.Result)
			d.Enroll = v.EnrollmentRequired
		}
	}
	p.Title, p.Data, p.NoHeader = d.Step.Heading(), d, true
	if d.Done {
		p.Title = "You’re signed in"
	}
	s.render(w, r, status, "verify", p, returnOrigin(v.ReturnURL))
}

func (s *Server) verifyPage(w http.ResponseWriter, r *http.Request) {
	pg, err := s.svc.PageChallenge(r.Context(), r.PathValue("token"))
	if err != nil {
		s.verifyInvalid(w, r, err)
		return
	}
	s.renderVerify(w, r, http.StatusOK, pg, page{}, "")
}

func (s *Server) verifySubmit(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	proof := formProof(r)
	// "Remember this browser": the token waits, sealed, for the platform
	// to read it once from the challenge; it never goes through a URL.
	proof.Remember, proof.KeepDeviceToken = r.PostFormValue("remember") == "on", true
	pg, result, err := s.svc.PageVerify(r.Context(), token, proof, s.clientIP(r), userAgent(r))
	switch {
	case pg.Challenge.ID == "":
		s.verifyInvalid(w, r, err)
	case err != nil:
		s.metrics.Verifications.WithLabelValues("refused").Inc()
		s.renderVerify(w, r, http.StatusUnprocessableEntity, pg, page{Errors: []fieldError{{"code", codeError(err, pg.Challenge)}}}, typedBack(r, err))
	case result == twostep.ResultRejected:
		s.metrics.Verifications.WithLabelValues(string(result)).Inc()
		s.renderVerify(w, r, http.StatusUnprocessableEntity, pg, page{Errors: []fieldError{{"code", wrongCode(pg.Challenge, shownMode(pg.Challenge, r.PostFormValue("method")))}}}, "")
	default:
		s.metrics.Verifications.WithLabelValues(string(result)).Inc()
		if pg.Challenge.EnrollmentRequired && pg.Result != "" {
			// The app asks for an authenticator app: set one up first.
			s.verifyEnroll(w, r)
			return
		}
		if pg.Result != "" {
			seeOther(w, r, twostep.ResultURL(pg.Challenge.ReturnURL, pg.Result))
			return
		}
		s.renderVerify(w, r, http.StatusOK, pg, page{}, "")
	}
}

func (s *Server) verifyResend(w http.ResponseWriter, r *http.Request) {
	pg, err := s.svc.PageResend(r.Context(), r.PathValue("token"), twostep.Channel(r.PostFormValue("channel")), s.clientIP(r), userAgent(r))
	switch {
	case pg.Challenge.ID == "":
		s.verifyInvalid(w, r, err)
	case err != nil:
		s.renderVerify(w, r, http.StatusTooManyRequests, pg, page{Errors: []fieldError{{"resend", resendError(err)}}}, "")
	default:
		s.renderVerify(w, r, http.StatusOK, pg, page{Banner: "We’ve sent you a new code."}, "")
	}
}

// verifyInvalid answers a hosted page token that opens nothing.
func (s *Server) verifyInvalid(w http.ResponseWriter, r *http.Request, err error) {
	if !isCode(err, twostep.CodeNotFound) {
		s.log.ErrorContext(r.Context(), "hosted page", "err", err)
	}
	s.render(w, r, http.StatusNotFound, "message", page{Title: "Link not valid", NoHeader: true, Data: message{
		Heading:    "This sign-in link is not valid",
		Paragraphs: []string{"Go back to where you were signing in and start again."}}})
}

// jwks serves the public keys that check the hosted page's signed results.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, map[string]any{"keys": s.svc.JWKS()})
}
