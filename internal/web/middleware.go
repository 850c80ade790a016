package web

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"runtime/debug"
	"time"
)

// securityHeaders sets the headers every answer carries. Pages set their
// own Content-Security-Policy; the default forbids everything, which is
// right for JSON.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status and size of an answer for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests logs one line per request — method, route, status, size
// and time — and counts it in the metrics. It names the route pattern
// the request matched (GET /verify/{token}), never the path itself, which
// may carry a hosted page's or a set-up link's token however it is
// spelled (//verify/TOKEN), nor the query string, which may hold search
// terms.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestID()
		w.Header().Set("Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			took := time.Since(start)
			route := routeOf(r)
			if sw.status == 0 {
				sw.status = http.StatusOK // a handler that wrote nothing
			}
			s.metrics.ObserveRequest(route, sw.status, took)
			s.log.InfoContext(r.Context(), "request", "id", id, "method", r.Method, "route", route,
				"status", sw.status, "bytes", sw.bytes, "ms", float64(took.Microseconds())/1000, "ip", s.clientIP(r))
		}()
		next.ServeHTTP(sw, r)
	})
}

// routeOf is the pattern the request matched, for logs and metrics:
// "unmatched" when no route served it.
func routeOf(r *http.Request) string {
	if r.Pattern == "" {
		return "unmatched"
	}
	return r.Pattern
}

func requestID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// recoverPanics turns a panic in a handler into a logged 500, so that one
// bad request does not take the process down.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "panic", "method", r.Method, "route", routeOf(r), "panic", v, "stack", string(debug.Stack()))
			s.writeError(w, r, nil)
		}()
		next.ServeHTTP(w, r)
	})
}
