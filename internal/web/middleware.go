package web

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"runtime/debug"
	"strings"
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

// logRequests logs one line per request: method, path, status, size and
// time. It logs the path only: query strings may hold search terms.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestID()
		w.Header().Set("Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			s.log.InfoContext(r.Context(), "request", "id", id, "method", r.Method, "path", logPath(r.URL.Path),
				"status", sw.status, "bytes", sw.bytes, "ms", float64(time.Since(start).Microseconds())/1000,
				"ip", s.clientIP(r))
		}()
		next.ServeHTTP(sw, r)
	})
}

// tokenPaths are the paths whose next segment is a secret: a hosted page's
// token or a set-up link's. The log shows them as {token}.
var tokenPaths = []string{"/verify/", "/admin/setup/"}

// logPath is a request's path fit for the log: ids stay, tokens go.
func logPath(p string) string {
	for _, prefix := range tokenPaths {
		if rest, ok := strings.CutPrefix(p, prefix); ok {
			_, tail, _ := strings.Cut(rest, "/")
			if tail != "" {
				tail = "/" + tail
			}
			return prefix + "{token}" + tail
		}
	}
	return p
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
			s.log.ErrorContext(r.Context(), "panic", "method", r.Method, "path", logPath(r.URL.Path), "panic", v, "stack", string(debug.Stack()))
			s.writeError(w, r, nil)
		}()
		next.ServeHTTP(w, r)
	})
}
