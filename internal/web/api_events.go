package web

import (
	"encoding/json"
	"net/http"

	"github.com/twostep/twostep/internal/twostep"
)

// The pull feed and the event endpoints (operator keys only).

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	limit, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	page, err := s.svc.Feed(r.Context(), c, r.URL.Query().Get("after"), limit)
	if err != nil {
		return err
	}
	out := make([]any, len(page.Events))
	for i, e := range page.Events {
		out[i] = twostep.EventJSON(e)
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out, "next_cursor": nextCursor(page.Next)})
	return nil
}

// endpointJSON is an event endpoint as the API shows it; the secret only
// in the answer that creates it.
type endpointJSON struct {
	ID        string              `json:"id"`
	URL       string              `json:"url"`
	Events    []twostep.EventType `json:"events"`
	CompanyID *string             `json:"company_id"`
	CreatedAt string              `json:"created_at"`
	Secret    string              `json:"secret,omitempty"`
}

func toEndpointJSON(e twostep.EventEndpoint) endpointJSON {
	types := e.Types
	if types == nil {
		types = []twostep.EventType{}
	}
	return endpointJSON{ID: e.ID, URL: e.URL, Events: types, CompanyID: optional(e.CompanyID), CreatedAt: formatTime(e.CreatedAt)}
}

func (s *Server) createEventEndpoint(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	var in struct {
		URL       *string         `json:"url"`
		Events    json.RawMessage `json:"events"`
		CompanyID *string         `json:"company_id"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.URL == nil {
		return twostep.Invalid("url", "url is required: the https:// URL that receives the events")
	}
	input := twostep.EndpointInput{URL: *in.URL}
	if in.CompanyID != nil {
		input.CompanyID = *in.CompanyID
	}
	if len(in.Events) > 0 && string(in.Events) != "null" {
		if err := json.Unmarshal(in.Events, &input.Events); err != nil {
			return twostep.Invalid("events", "events must be a list of event types, or left out for all")
		}
	}
	e, secret, err := s.svc.CreateEventEndpoint(r.Context(), c, input)
	if err != nil {
		return err
	}
	out := toEndpointJSON(e)
	out.Secret = secret
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) listEventEndpoints(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	list, err := s.svc.EventEndpoints(r.Context(), c)
	if err != nil {
		return err
	}
	out := make([]endpointJSON, len(list))
	for i, e := range list {
		out[i] = toEndpointJSON(e)
	}
	writeJSON(w, http.StatusOK, map[string]any{"endpoints": out})
	return nil
}

func (s *Server) deleteEventEndpoint(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	if err := s.svc.DeleteEventEndpoint(r.Context(), c, r.PathValue("endpoint")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// eventDeliveryJSON is one line of an endpoint's delivery log.
type eventDeliveryJSON struct {
	EventID        string                      `json:"event_id"`
	Type           twostep.EventType           `json:"type"`
	CompanyID      string                      `json:"company_id"`
	Attempts       int                         `json:"attempts"`
	Status         twostep.EventDeliveryStatus `json:"status"`
	LastStatusCode *int                        `json:"last_status_code"`
	LastError      *string                     `json:"last_error"`
	LastAttemptAt  *string                     `json:"last_attempt_at"`
	LatencyMS      *int64                      `json:"latency_ms"`
	NextAttemptAt  *string                     `json:"next_attempt_at"`
}

func (s *Server) listEventDeliveries(w http.ResponseWriter, r *http.Request, c twostep.Caller) error {
	limit, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	page, err := s.svc.EventDeliveries(r.Context(), c, r.PathValue("endpoint"), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	out := make([]eventDeliveryJSON, len(page.Deliveries))
	for i, d := range page.Deliveries {
		j := eventDeliveryJSON{EventID: d.EventID, Type: d.Type, CompanyID: d.CompanyID, Attempts: d.Attempts, Status: d.Status,
			LastError: optional(d.LastError)}
		if !d.LastAttemptAt.IsZero() {
			at, code, ms := formatTime(d.LastAttemptAt), d.LastStatusCode, d.Latency.Milliseconds()
			j.LastAttemptAt, j.LatencyMS = &at, &ms
			if code != 0 {
				j.LastStatusCode = &code
			}
		}
		if d.Status == twostep.EventPending {
			next := formatTime(d.NextAttemptAt)
			j.NextAttemptAt = &next
		}
		out[i] = j
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": out, "next_cursor": nextCursor(page.Next)})
	return nil
}
