package web

import (
	"encoding/json"
	"net/http"

	"github.com/twostep/twostep/internal/twostep"
)

// userJSON is a user as the API shows them.
type userJSON struct {
	ID         string        `json:"id"`
	CompanyID  string        `json:"company_id"`
	ExternalID *string       `json:"external_id"`
	Name       string        `json:"name"`
	Email      *string       `json:"email"`
	Phone      *string       `json:"phone"`
	Role       twostep.Role  `json:"role"`
	TwoFA      twostep.TwoFA `json:"twofa"`
	CreatedAt  string        `json:"created_at"`
	UpdatedAt  string        `json:"updated_at"`
}

func toUserJSON(u twostep.User) userJSON {
	return userJSON{
		ID: u.ID, CompanyID: u.CompanyID, ExternalID: optional(u.ExternalID), Name: u.Name,
		Email: optional(u.Email), Phone: optional(u.Phone), Role: u.Role, TwoFA: u.TwoFA,
		CreatedAt: formatTime(u.CreatedAt), UpdatedAt: formatTime(u.UpdatedAt),
	}
}

// nextCursor shows the last page's missing cursor as null.
func nextCursor(s string) *string { return optional(s) }

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	var in twostep.NewUser
	if err := decode(w, r, &in); err != nil {
		return err
	}
	u, err := s.svc.CreateUser(r.Context(), c, r.PathValue("company"), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/companies/"+u.CompanyID+"/users/"+u.ID)
	writeJSON(w, http.StatusCreated, toUserJSON(u))
	return nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	limit, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	users, next, err := s.svc.Users(r.Context(), c, r.PathValue("company"),
		twostep.UserFilter{Query: q.Get("q"), Cursor: q.Get("cursor"), Limit: limit})
	if err != nil {
		return err
	}
	out := make([]userJSON, len(users))
	for i, u := range users {
		out[i] = toUserJSON(u)
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out, "next_cursor": nextCursor(next)})
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	u, err := s.svc.User(r.Context(), c, r.PathValue("company"), r.PathValue("user"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
	return nil
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	var p twostep.UserPatch
	if err := decode(w, r, &p); err != nil {
		return err
	}
	u, err := s.svc.UpdateUser(r.Context(), c, r.PathValue("company"), r.PathValue("user"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
	return nil
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	if err := s.svc.DeleteUser(r.Context(), c, r.PathValue("company"), r.PathValue("user")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) putTwoFA(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	app, err := twostep.ParseApp("app", r.PathValue("app"))
	if err != nil {
		return &twostep.Error{Code: twostep.CodeNotFound, Message: "no such app: use web or manager"}
	}
	var in struct {
		Enabled *bool `json:"enabled"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Enabled == nil {
		return twostep.Invalid("enabled", "enabled must be true or false")
	}
	u, err := s.svc.SetTwoFA(r.Context(), c, r.PathValue("company"), r.PathValue("user"), app, *in.Enabled)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
	return nil
}

// eventJSON is an audit event as the API shows it; empty parts are left out.
type eventJSON struct {
	ID        string          `json:"id"`
	Time      string          `json:"time"`
	Actor     twostep.Actor   `json:"actor"`
	Action    twostep.Action  `json:"action"`
	Target    *targetJSON     `json:"target,omitempty"`
	App       twostep.App     `json:"app,omitempty"`
	Details   json.RawMessage `json:"details,omitempty"`
	IP        string          `json:"ip,omitempty"`
	UserAgent string          `json:"user_agent,omitempty"`
}

type targetJSON struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
}

func toEventJSON(e twostep.AuditEvent) eventJSON {
	out := eventJSON{ID: e.ID, Time: formatTime(e.Time), Actor: e.Actor, Action: e.Action, App: e.App,
		Details: e.Details, IP: e.IP, UserAgent: e.UserAgent}
	if e.TargetID != "" {
		out.Target = &targetJSON{e.TargetID, e.TargetName}
	}
	return out
}
