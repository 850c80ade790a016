package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/twostep/twostep/internal/twostep"
)

// The pages: html/template files and static assets, embedded in the binary
// and parsed at start-up, so a broken template fails the start, not a
// request.
//
//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// assetVersion changes whenever a static file does, so the files can be
// cached for long and still never be stale.
var assetVersion = func() string {
	h := sha256.New()
	fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := staticFS.ReadFile(p)
			h.Write([]byte(p))
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

// dateFormat is how pages write a date: 27 Nov 2026.
const dateFormat = "2 Jan 2006"

// pageFuncs are the helpers templates may call.
var pageFuncs = template.FuncMap{
	"asset":    func(name string) string { return "/static/" + name + "?v=" + assetVersion },
	"fieldErr": func(id, msg string) fieldError { return fieldError{Field: id, Message: msg} },
	"describe": Describe,
	"appTitle": func(a twostep.App) string { return a.Title() },
	"utc":      func(t time.Time) string { return t.UTC().Format(dateFormat + ", 15:04:05 UTC") },
	"clock":    func(t time.Time) string { return t.UTC().Format("15:04 UTC") },
	"iso":      func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") },
	"inWords":  inWords,
	"plural":   plural,
	"add":      func(a, b int) int { return a + b },
	"lastTwo":  lastTwo,
	"seconds":  func(d time.Duration) int { return int(d / time.Second) },
	"telHref":  func(s string) template.URL { return template.URL("tel:" + s) },
	"phone":    formatPhone,
	"mailHref": func(s string) template.URL { return template.URL("mailto:" + url.PathEscape(s)) },
}

// formatPhone shows an E.164 number the way people write it: +371 2000 0001.
func formatPhone(s string) string {
	n, err := phonenumbers.Parse(s, "")
	if err != nil {
		return s
	}
	return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
}

// inWords says a duration as people do: "5 minutes", "1 minute", "30 seconds".
func inWords(d time.Duration) string {
	if d < time.Minute {
		return plural(int(d.Round(time.Second)/time.Second), "second", "seconds")
	}
	return plural(int(d.Round(time.Minute)/time.Minute), "minute", "minutes")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// templates are the parsed pages, each with the layout.
type templates map[string]*template.Template

// parseTemplates parses every page with the shared layout and partials.
func parseTemplates() (templates, error) {
	shared := []string{"templates/layout.html", "templates/partials.html"}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := templates{}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" || base == "partials.html" {
			continue
		}
		t, err := template.New(base).Funcs(pageFuncs).ParseFS(templateFS, append(shared, n)...)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", n, err)
		}
		out[strings.TrimSuffix(base, ".html")] = t
	}
	return out, nil
}

// fieldError is one problem with a form, shown in the error summary and
// beside its field.
type fieldError struct {
	Field   string // the input's id
	Message string
}

// page is what every page template gets.
type page struct {
	Title    string
	Errors   []fieldError
	Banner   string // one success message
	Console  *twostep.Console
	Crumb    string // the page's own place after "Two-factor authentication"
	Section  string // "admins" or "account" for those pages; "" for 2FA's
	Data     any
	FormJS   bool
	NoHeader bool
}

// ErrorFor returns the message for a field, if any.
func (p page) ErrorFor(field string) string {
	for _, e := range p.Errors {
		if e.Field == field {
			return e.Message
		}
	}
	return ""
}

// pageCSP is the pages' Content-Security-Policy: no inline script or style,
// nothing from elsewhere, no framing. formAction adds origins a form may
// send to or be redirected to (the hosted page's return URL).
func pageCSP(formAction ...string) string {
	fa := strings.Join(append([]string{"'self'"}, formAction...), " ")
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"form-action " + fa + "; frame-ancestors 'none'; base-uri 'none'"
}

// render writes a page with status. Pages are never cached: they show
// personal data.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page, formAction ...string) {
	t, ok := s.pages[name]
	if !ok {
		s.writeError(w, r, fmt.Errorf("no template %q", name))
		return
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", p); err != nil {
		s.log.ErrorContext(r.Context(), "render", "template", name, "err", err)
		http.Error(w, "The page could not be shown.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP(formAction...))
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// static serves the embedded assets; their URLs carry a version, so they
// may be cached for a year.
func (s *Server) static() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(sub)
	return http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		files.ServeHTTP(w, r)
	}))
}

// Cookie names. The __Host- prefix makes the browser insist on Secure,
// Path=/ and no Domain, so no other host can set or read them.
const (
	sessionCookie = "__Host-twostep"
	pendingCookie = "__Host-twostep-signin"
)

// setCookie sets a session cookie: Secure, HttpOnly, SameSite=Lax, and
// gone when the browser closes.
func setCookie(w http.ResponseWriter, name, value string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode})
}

func clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// cookie reads a cookie's value, "" when absent.
func cookie(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// seeOther redirects after a POST.
func seeOther(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// localPath accepts a redirect target only if it stays on this site: a
// path from the root, not "//host" nor "/\\host" (which browsers read as
// //host), with no backslash or control character anywhere (browsers drop
// tabs and newlines from a URL, so "/\t/evil.example" would leave).
func localPath(p, fallback string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsRune(p, '\\') || len(p) > 2048 {
		return fallback
	}
	for _, r := range p {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return fallback
		}
	}
	return p
}

// formField is how a form shows a service field's errors: the input's id
// and, if set, the message in the page's own words.
type formField struct {
	ID      string
	Message string
}

// formErrors turns a service error into the form's error, on the input
// that fields names for the service's field (or on fallback).
func formErrors(err error, fields map[string]formField, fallback string) []fieldError {
	e := twostep.AsError(err)
	f, ok := fields[e.Field]
	if !ok {
		f = formField{ID: fallback}
	}
	msg := f.Message
	switch {
	case e.Code == twostep.CodeInternal || e.Code == twostep.CodeUnavailable:
		msg = "Something went wrong on our side. Try again in a moment."
	case msg == "":
		msg = e.Message
	}
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	return []fieldError{{Field: f.ID, Message: msg}}
}
