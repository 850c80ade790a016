package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/twostep/twostep/internal/twostep"
)

// apiHandler is an API handler: it gets the authenticated caller and
// returns an error instead of writing one, so error answers are made in
// one place.
type apiHandler func(w http.ResponseWriter, r *http.Request, c twostep.Caller) error

// handleAPI registers an API route behind authentication.
func (s *Server) handleAPI(pattern string, h apiHandler) {
	s.apiRoutes = append(s.apiRoutes, pattern)
	s.api.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.authenticate(r)
		if err == nil {
			err = checkQuery(r)
		}
		if err == nil {
			err = checkPath(r, pattern)
		}
		if err == nil {
			err = h(w, r, c)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	}))
}

// checkQuery refuses a query string that does not parse, which
// r.URL.Query would silently drop parts of, or that is not text.
func checkQuery(r *http.Request) error {
	q, err := url.ParseQuery(r.URL.RawQuery)
	bad := &twostep.Error{Code: twostep.CodeInvalidQuery, Message: "the query string is not well-formed"}
	if err != nil {
		return bad
	}
	for _, vs := range q {
		for _, v := range vs {
			if !isText(v) {
				return bad
			}
		}
	}
	return nil
}

// checkPath answers a path whose ids are not text (invalid UTF-8, control
// characters) as not found: no object has such an id.
func checkPath(r *http.Request, pattern string) error {
	for _, name := range []string{"company", "user", "challenge", "app"} {
		if strings.Contains(pattern, "{"+name+"}") && !isText(r.PathValue(name)) {
			return &twostep.Error{Code: twostep.CodeNotFound, Message: "not found"}
		}
	}
	return nil
}

// isText reports whether s is valid UTF-8 without control characters.
func isText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// authenticate reads the API key and the acting user of a request.
func (s *Server) authenticate(r *http.Request) (twostep.Caller, error) {
	scheme, secret, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		secret = ""
	}
	k, err := s.svc.Authenticate(r.Context(), strings.TrimSpace(secret))
	if err != nil {
		return twostep.Caller{}, err
	}
	c := twostep.CallerFor(k)
	c.IP, c.UserAgent = s.clientIP(r), userAgent(r)
	if v, ok := r.Header[http.CanonicalHeaderKey(twostep.ActorField)]; ok {
		c.UserID = strings.TrimSpace(strings.Join(v, ""))
		if c.UserID == "" || len(c.UserID) > 100 || !isText(c.UserID) {
			return c, twostep.Invalid(twostep.ActorField, "%s must be the id of a user of this company", twostep.ActorField)
		}
	}
	return c, nil
}

// userAgent is the request's User-Agent, bounded and without control
// characters, fit for the audit log.
func userAgent(r *http.Request) string {
	return cleanHeader(r.UserAgent(), 512)
}

// cleanHeader drops control characters and cuts s to max bytes.
func cleanHeader(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "")
	}
	return s
}

// errBodyMissing answers a request without a body.
var errBodyMissing = &twostep.Error{Code: twostep.CodeInvalidJSON, Message: "the request body must be a JSON object"}

// maxBody is the largest request body the API reads.
const maxBody = 1 << 20

// decode reads a JSON object from the request body into v. Bodies over
// maxBody, bodies that are not one JSON object of UTF-8 text (null, an
// array, invalid UTF-8, an unpaired surrogate escape), unknown fields,
// values of the wrong type and null for a field that cannot be null are
// answered as client errors: encoding/json would quietly take null as
// {} or as "", and invalid UTF-8 as U+FFFD.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return &twostep.Error{Code: twostep.CodeTooLarge, Message: fmt.Sprintf("the request body must be at most %d bytes", maxBody)}
	case err != nil:
		return &twostep.Error{Code: twostep.CodeInvalidJSON, Message: "the request body could not be read", Err: err}
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return errBodyMissing
	case trimmed[0] != '{':
		return &twostep.Error{Code: twostep.CodeInvalidJSON, Message: "the request body must be a JSON object"}
	case !utf8.Valid(body) || unpairedSurrogate(body):
		return &twostep.Error{Code: twostep.CodeInvalidJSON, Message: "the request body must be UTF-8 text"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return &twostep.Error{Code: twostep.CodeInvalidJSON, Message: "the request body must hold one JSON object and nothing after it"}
		}
		return refuseNulls(body, v)
	}
	var (
		syntax    *json.SyntaxError
		typeError *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return &twostep.Error{Code: twostep.CodeInvalidJSON, Message: "the request body is not valid JSON", Err: err}
	case errors.As(err, &typeError) && typeError.Field == "":
		return &twostep.Error{Code: twostep.CodeInvalidJSON, Message: "the request body must be a JSON object"}
	case errors.As(err, &typeError):
		return &twostep.Error{Code: twostep.CodeInvalidValue, Field: typeError.Field,
			Message: fmt.Sprintf("%s must be %s", typeError.Field, twostep.KindWords(typeError.Type.Kind().String()))}
	}
	// encoding/json has no typed error for unknown fields; this is its text.
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f, _ = strconv.Unquote(f)
		return &twostep.Error{Code: twostep.CodeUnknownField, Field: f, Message: fmt.Sprintf("%s is not a field of this request", f)}
	}
	return &twostep.Error{Code: twostep.CodeInvalidJSON, Message: "the request body is not valid JSON", Err: err}
}

// refuseNulls answers a top-level null for a field of v that cannot hold
// one: a plain string, number or boolean, unless its tag says
// nullable:"true" (null then means none). Pointers and twostep.Optional
// fields tell null apart themselves.
func refuseNulls(body []byte, v any) error {
	if !bytes.Contains(body, []byte("null")) {
		return nil // the common case, read no further
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return nil // decoded already; nothing more to learn
	}
	t := reflect.TypeOf(v).Elem()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		raw, ok := fields[name]
		if !ok || string(raw) != "null" || f.Tag.Get("nullable") == "true" {
			continue
		}
		switch f.Type.Kind() {
		case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
			return twostep.Invalid(name, "%s must not be null; leave it out instead", name)
		}
	}
	return nil
}

// unpairedSurrogate reports whether a JSON text holds a \u escape of a
// UTF-16 surrogate that is not one half of a pair: it names no character,
// and encoding/json would take it as U+FFFD.
func unpairedSurrogate(b []byte) bool {
	for i := 0; i+1 < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if b[i+1] != 'u' {
			i++ // an escape of one character, \\ included
			continue
		}
		r, ok := hex4(b, i+2)
		switch {
		case !ok:
		case r >= 0xdc00 && r <= 0xdfff:
			return true // a low half alone
		case r >= 0xd800 && r <= 0xdbff:
			low, ok := rune(0), false
			if i+7 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				low, ok = hex4(b, i+8)
			}
			if !ok || low < 0xdc00 || low > 0xdfff {
				return true // a high half without its low half
			}
			i += 11
			continue
		}
		i += 5
	}
	return false
}

// hex4 reads four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[i:i+4]), 16, 16)
	return rune(n), err == nil
}

// decodeOptional is decode for a body that may be left out entirely.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	if err := decode(w, r, v); err != errBodyMissing {
		return err
	}
	return nil
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// statusOf is an error code's HTTP status; 500 for a code not in the table.
func statusOf(code twostep.ErrorCode) int {
	if status, ok := errorStatus[code]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// errorStatus maps each error code to its HTTP status: the one table.
var errorStatus = map[twostep.ErrorCode]int{
	twostep.CodeInvalidJSON:  http.StatusBadRequest,
	twostep.CodeInvalidQuery: http.StatusBadRequest,
	twostep.CodeInvalidValue: http.StatusUnprocessableEntity,
	twostep.CodeUnknownField: http.StatusUnprocessableEntity,
	twostep.CodeTooLarge:     http.StatusRequestEntityTooLarge,
	twostep.CodeUnauthorized: http.StatusUnauthorized,
	twostep.CodeForbidden:    http.StatusForbidden,
	twostep.CodeNotFound:     http.StatusNotFound,
	codeMethodNotAllowed:     http.StatusMethodNotAllowed,
	codeUnsupportedMedia:     http.StatusUnsupportedMediaType,
	twostep.CodeConflict:     http.StatusConflict,
	twostep.CodeAlreadyUsed:  http.StatusConflict,
	twostep.CodeVoid:         http.StatusGone,
	twostep.CodeExpired:      http.StatusGone,
	twostep.CodeLocked:       http.StatusLocked,
	twostep.CodeNoChannel:    http.StatusUnprocessableEntity,
	twostep.CodeIncorrect:    http.StatusUnprocessableEntity,
	twostep.CodeEnrollment:   http.StatusForbidden,
	twostep.CodeRateLimited:  http.StatusTooManyRequests,
	twostep.CodeInternal:     http.StatusInternalServerError,
	twostep.CodeUnavailable:  http.StatusServiceUnavailable,
}

// codeMethodNotAllowed is the web layer's own code for a wrong method.
const codeMethodNotAllowed twostep.ErrorCode = "method_not_allowed"

// errorBody is the JSON error shape of the API.
type errorBody struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Code       twostep.ErrorCode `json:"code"`
	Message    string            `json:"message"`
	Field      string            `json:"field,omitempty"`
	RetryAfter int               `json:"retry_after,omitempty"`
}

// writeError answers with err in the JSON error shape. Server-side errors
// are logged with their cause; the client sees only the safe message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := twostep.AsError(err)
	status := statusOf(e.Code)
	switch {
	case errors.Is(err, context.Canceled):
		// The client went away; nothing failed on our side.
		s.log.InfoContext(r.Context(), "request cancelled by the client", "method", r.Method, "route", routeOf(r))
	case status >= 500:
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "route", routeOf(r), "code", e.Code, "err", err)
	}
	body := errorBody{errorJSON{Code: e.Code, Message: e.Message, Field: e.Field}}
	if e.RetryAfter > 0 {
		secs := int((e.RetryAfter + time.Second - 1) / time.Second)
		body.Error.RetryAfter = secs
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	writeJSON(w, status, body)
}

// apiNotFound answers paths under /v1 that no route serves: 405 with Allow
// when the path exists for other methods, else 404.
func (s *Server) apiNotFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.api.Handler(probe); pattern != "" && pattern != "/v1/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.writeError(w, r, &twostep.Error{Code: codeMethodNotAllowed, Message: r.Method + " is not allowed here; use " + strings.Join(allow, " or ")})
		return
	}
	s.writeError(w, r, &twostep.Error{Code: twostep.CodeNotFound, Message: "no such API route"})
}

// queryInt reads an optional integer query parameter.
func queryInt(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, twostep.Invalid(name, "%s must be a whole number from 1 to %d", name, twostep.MaxLimit)
	}
	return n, nil
}

// queryTime reads an optional time query parameter: RFC 3339, or a date
// (YYYY-MM-DD, meaning its start in UTC).
func queryTime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil && t.Year() >= 1970 && t.Year() < 10000 {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil && t.Year() >= 1970 {
		return t, nil
	}
	return time.Time{}, twostep.Invalid(name, "%s must be an RFC 3339 time like 2026-11-27T09:00:00Z or a date like 2026-11-27", name)
}

// formatTime writes a time as RFC 3339 in UTC.
func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// optional returns nil for "", so that unset fields are JSON null.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
