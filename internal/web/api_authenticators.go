package web

import (
	"net/http"

	"github.com/twostep/twostep/internal/twostep"
)

// authenticatorJSON is an authenticator as the API shows it; secret and
// otpauth_uri only in the answer that creates it.
type authenticatorJSON struct {
	ID         string                    `json:"id"`
	Type       twostep.AuthenticatorType `json:"type"`
	Name       string                    `json:"name"`
	Confirmed  bool                      `json:"confirmed"`
	CreatedAt  string                    `json:"created_at"`
	LastUsedAt *string                   `json:"last_used_at"`
	Secret     string                    `json:"secret,omitempty"`
	OTPAuthURI string                    `json:"otpauth_uri,omitempty"`
}

func toAuthenticatorJSON(a twostep.Authenticator) authenticatorJSON {
	return authenticatorJSON{ID: a.ID, Type: a.Type, Name: a.Name, Confirmed: a.Confirmed(),
		CreatedAt: formatTime(a.CreatedAt), LastUsedAt: optionalTime(a.LastUsedAt, formatTime(a.LastUsedAt))}
}

func (s *Server) listAuthenticators(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	list, left, err := s.svc.Authenticators(r.Context(), c, r.PathValue("company"), r.PathValue("user"))
	if err != nil {
		return err
	}
	out := make([]authenticatorJSON, len(list))
	for i, a := range list {
		out[i] = toAuthenticatorJSON(a)
	}
	writeJSON(w, http.StatusOK, map[string]any{"authenticators": out, "recovery_codes_left": left})
	return nil
}

func (s *Server) createAuthenticator(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	var in struct {
		Type *string `json:"type"`
		Name string  `json:"name"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Type == nil {
		return twostep.Invalid("type", `type is required: "totp"`)
	}
	a, err := s.svc.AddAuthenticator(r.Context(), c, r.PathValue("company"), r.PathValue("user"), *in.Type, in.Name)
	if err != nil {
		return err
	}
	out := toAuthenticatorJSON(a.Authenticator)
	out.Secret, out.OTPAuthURI = a.Secret, a.OTPAuthURI
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) confirmAuthenticator(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	var in struct {
		Code *string `json:"code"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Code == nil {
		return twostep.Invalid("code", "code is required: the 6 digits the authenticator app shows")
	}
	a, err := s.svc.ConfirmAuthenticator(r.Context(), c, r.PathValue("company"), r.PathValue("user"), r.PathValue("authenticator"), *in.Code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAuthenticatorJSON(a))
	return nil
}

func (s *Server) deleteAuthenticator(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	if err := s.svc.RemoveAuthenticator(r.Context(), c, r.PathValue("company"), r.PathValue("user"), r.PathValue("authenticator")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) createRecoveryCodes(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	if err := decodeOptional(w, r, &struct{}{}); err != nil {
		return err
	}
	codes, err := s.svc.NewRecoveryCodes(r.Context(), c, r.PathValue("company"), r.PathValue("user"))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, map[string]any{"codes": codes})
	return nil
}

func (s *Server) createEnrollment(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	var in struct {
		ReturnURL string `json:"return_url"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	token, e, err := s.svc.StartEnrollment(r.Context(), c, r.PathValue("company"), r.PathValue("user"), in.ReturnURL)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, map[string]string{"enroll_url": s.public + "/enroll/" + token, "expires_at": formatTime(e.ExpiresAt)})
	return nil
}
