package web

import (
	"context"
	"net/http"
	"time"
)

// healthz says the process is up; it checks nothing else.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz says whether this instance can serve: the database answers and
// its schema is current. Load balancers route on it.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.ready.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready: database", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "database unreachable"})
		return
	}
	if err := s.ready.CheckSchema(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready: schema", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "database schema is not current"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// openAPIDocument serves the API's OpenAPI 3.1 description.
func (s *Server) openAPIDocument(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(s.openAPI)
}
