package web

import (
	"errors"
	"net/http"

	"github.com/twostep/twostep/internal/twostep"
)

// challengeJSON is a challenge as the API shows it.
type challengeJSON struct {
	Required           bool              `json:"required"`
	ID                 string            `json:"id"`
	CompanyID          string            `json:"company_id"`
	UserID             string            `json:"user_id"`
	App                twostep.App       `json:"app"`
	Status             string            `json:"status"`
	Result             string            `json:"result,omitempty"`
	Method             twostep.Method    `json:"method"`
	MethodsAvailable   []twostep.Method  `json:"methods_available"`
	EnrollmentRequired bool              `json:"enrollment_required"`
	Channel            *twostep.Channel  `json:"channel"`
	DestinationHint    string            `json:"destination_hint"`
	ChannelsAvailable  []twostep.Channel `json:"channels_available"`
	FailedAttempts     int               `json:"failed_attempts"`
	AttemptsRemaining  int               `json:"attempts_remaining"`
	ExpiresAt          string            `json:"expires_at"`
	ResendAvailableAt  *string           `json:"resend_available_at"`
	LockedUntil        *string           `json:"locked_until,omitempty"`
	ResponsibleContact *contactJSON      `json:"responsible_contact,omitempty"`
	VerifyURL          string            `json:"verify_url,omitempty"`
	DeviceToken        string            `json:"device_token,omitempty"`
	Delivery           *deliveryJSON     `json:"delivery"`
	CreatedAt          string            `json:"created_at"`
}

type deliveryJSON struct {
	Status  twostep.DeliveryStatus `json:"status"`
	Channel twostep.Channel        `json:"channel"`
}

// optionalTime shows a zero time as null.
func optionalTime(t interface{ IsZero() bool }, s string) *string {
	if t.IsZero() {
		return nil
	}
	return &s
}

func toChallengeJSON(v twostep.ChallengeView) challengeJSON {
	out := challengeJSON{
		Required: true, ID: v.ID, CompanyID: v.CompanyID, UserID: v.UserID, App: v.App,
		Status: string(v.Status), Method: v.Method, MethodsAvailable: v.MethodsAvailable,
		EnrollmentRequired: v.EnrollmentRequired, DestinationHint: v.DestinationHint,
		ChannelsAvailable: v.ChannelsAvailable, FailedAttempts: v.FailedAttempts,
		AttemptsRemaining: v.AttemptsRemaining, ExpiresAt: formatTime(v.ExpiresAt),
		ResendAvailableAt: optionalTime(v.ResendAvailableAt, formatTime(v.ResendAvailableAt)),
		LockedUntil:       optionalTime(v.LockedUntil, formatTime(v.LockedUntil)),
		CreatedAt:         formatTime(v.CreatedAt),
		DeviceToken:       v.DeviceToken,
	}
	if v.Method == twostep.MethodRememberedDevice {
		out.Required = false // a remembered device let it through
	}
	if out.Method == "" { // a challenge from before methods
		out.Method = twostep.Method(v.Channel)
	}
	if v.Channel != "" {
		out.Channel = &v.Channel
	}
	if v.Delivery.Status != "" {
		out.Delivery = &deliveryJSON{v.Delivery.Status, v.Delivery.Channel}
	}
	if out.ChannelsAvailable == nil {
		out.ChannelsAvailable = []twostep.Channel{}
	}
	if out.MethodsAvailable == nil {
		out.MethodsAvailable = []twostep.Method{}
	}
	if v.ResponsibleContact != nil {
		c := toContactJSON(*v.ResponsibleContact)
		out.ResponsibleContact = &c
	}
	return out
}

func (s *Server) createChallenge(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	var in twostep.NewChallenge
	if err := decode(w, r, &in); err != nil {
		return err
	}
	res, err := s.svc.CreateChallenge(r.Context(), c, r.PathValue("company"), r.PathValue("user"), in)
	if err != nil {
		return err
	}
	if !res.Required {
		w.Header().Set("Cache-Control", "no-store")
		if !res.RememberedUntil.IsZero() {
			out := map[string]any{"required": false, "reason": "remembered_device",
				"remembered_until": formatTime(res.RememberedUntil), "challenge_id": res.ID}
			if res.Result != "" {
				out["result_token"] = res.Result
			}
			writeJSON(w, http.StatusOK, out)
			return nil
		}
		writeJSON(w, http.StatusOK, map[string]bool{"required": false})
		return nil
	}
	if res.Channel != "" { // an authenticator app's sign-in sends nothing
		s.metrics.ChallengesCreated.WithLabelValues(string(res.App), string(res.Channel)).Inc()
	}
	w.Header().Set("Location", "/v1/challenges/"+res.ID)
	out := toChallengeJSON(res.ChallengeView)
	if res.VerifyToken != "" {
		out.VerifyURL = s.public + "/verify/" + res.VerifyToken
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) getChallenge(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	v, err := s.svc.Challenge(r.Context(), c, r.PathValue("challenge"))
	if err != nil {
		return err
	}
	if v.DeviceToken != "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	writeJSON(w, http.StatusOK, toChallengeJSON(v))
	return nil
}

// revokeDevices forgets every remembered device of a user.
func (s *Server) revokeDevices(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	if _, err := s.svc.RevokeDevices(r.Context(), c, r.PathValue("company"), r.PathValue("user")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) verifyChallenge(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	var in struct {
		Code     *string `json:"code"`
		Method   string  `json:"method"`
		Remember bool    `json:"remember_device"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Code == nil {
		return twostep.Invalid("code", "code is required: the 6 digits the user received")
	}
	v, result, err := s.svc.Verify(r.Context(), c, r.PathValue("challenge"), twostep.Proof{Code: *in.Code, Method: twostep.Method(in.Method), Remember: in.Remember})
	if err != nil {
		var e *twostep.Error
		if errors.As(err, &e) && e.Code != twostep.CodeInvalidValue && e.Code != twostep.CodeNotFound {
			s.metrics.Verifications.WithLabelValues("refused").Inc()
		}
		return err
	}
	s.metrics.Verifications.WithLabelValues(string(result)).Inc()
	out := toChallengeJSON(v)
	out.Result = string(result)
	if out.DeviceToken != "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) resendChallenge(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	var in struct {
		Channel twostep.Channel `json:"channel"`
	}
	if err := decodeOptional(w, r, &in); err != nil {
		return err
	}
	v, err := s.svc.Resend(r.Context(), c, r.PathValue("challenge"), in.Channel)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toChallengeJSON(v))
	return nil
}

// lockoutJSON is a user's lockout in one app.
type lockoutJSON struct {
	UserID         string      `json:"user_id"`
	App            twostep.App `json:"app"`
	FailedAttempts int         `json:"failed_attempts"`
	LockedUntil    *string     `json:"locked_until"`
}

func (s *Server) unlockTwoFA(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	app, err := twostep.ParseApp("app", r.PathValue("app"))
	if err != nil {
		return &twostep.Error{Code: twostep.CodeNotFound, Message: "no such app: use web or manager"}
	}
	l, err := s.svc.Unlock(r.Context(), c, r.PathValue("company"), r.PathValue("user"), app)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, lockoutJSON{UserID: r.PathValue("user"), App: app, FailedAttempts: l.Failures,
		LockedUntil: optionalTime(l.LockedUntil, formatTime(l.LockedUntil))})
	return nil
}
