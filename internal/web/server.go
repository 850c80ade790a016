// Package web serves Twostep over HTTP: the JSON API under /v1, health
// checks and the OpenAPI document. One Server holds the routes, on
// net/http's ServeMux with method patterns; handlers are its methods and
// middleware is func(http.Handler) http.Handler.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"path"
	"strings"

	"github.com/twostep/twostep/internal/delivery"
	"github.com/twostep/twostep/internal/metrics"
	"github.com/twostep/twostep/internal/twostep"
)

// Readiness is what /readyz asks of the store.
type Readiness interface {
	Ping(ctx context.Context) error
	CheckSchema(ctx context.Context) error
}

// Server is Twostep's HTTP front.
type Server struct {
	svc     *twostep.Service
	ready   Readiness
	log     *slog.Logger
	metrics *metrics.Metrics
	inbox   *delivery.DevInbox
	openAPI []byte
	public  string
	proxies []netip.Prefix
	demo    *Demo
	pages   templates
	mux     *http.ServeMux
	api     *http.ServeMux // the /v1 routes
	handler http.Handler

	apiRoutes  []string // every /v1 pattern
	pageRoutes []string // every pattern outside /v1
}

// Config is what New needs.
type Config struct {
	Service *twostep.Service
	Ready   Readiness
	Log     *slog.Logger
	Metrics *metrics.Metrics
	// Inbox is the dev sender's inbox, served at /dev/inbox; nil when no
	// dev sender is on, and then there is no such page.
	Inbox   *delivery.DevInbox
	OpenAPI []byte // the document served at /openapi.json
	// PublicURL is the base of the hosted page's links (verify_url).
	PublicURL string
	// Demo, with a dev sender, adds /dev/try and /dev/return.
	Demo *Demo
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (TWOSTEP_TRUSTED_PROXIES).
	TrustedProxies []netip.Prefix
}

// New returns a Server with its routes. It fails when a page template
// does not parse.
func New(c Config) (*Server, error) {
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	s := &Server{svc: c.Service, ready: c.Ready, log: c.Log, metrics: c.Metrics, inbox: c.Inbox,
		openAPI: c.OpenAPI, public: strings.TrimRight(c.PublicURL, "/"), demo: c.Demo, pages: pages, proxies: c.TrustedProxies,
		mux: http.NewServeMux(), api: http.NewServeMux()}
	s.routes()
	s.metrics.Routes(s.Routes())
	// Every state-changing request from a browser to a page must come from
	// this site: a cross-site POST is refused before any handler runs. The
	// API is not the browser's: it takes no cookies, only a bearer key that
	// a cross-site page cannot send, so an Origin header there means
	// nothing (platform backends and tools send one).
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(s.crossOrigin))
	browser := csrf.Handler(s.mux)
	s.handler = s.recoverPanics(s.logRequests(securityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isAPIPath(r.URL.Path) {
			s.serveAPI(w, r)
			return
		}
		browser.ServeHTTP(w, r)
	}))))
	return s, nil
}

// isAPIPath reports whether a path is the JSON API's, however unclean.
func isAPIPath(p string) bool { return strings.HasPrefix(path.Clean("/"+p), "/v1/") || p == "/v1" }

// serveAPI serves a request to the API. A path that is not in clean form
// (an empty id, as in /v1/companies//users, a dot segment, a trailing
// slash) names nothing: it is answered 404 in the API's JSON shape, not
// redirected to another resource as the mux would.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; p != path.Clean(p) || !strings.HasPrefix(p, "/v1/") {
		s.writeError(w, r, &twostep.Error{Code: twostep.CodeNotFound, Message: "no such API route: the path has an empty or relative segment"})
		return
	}
	s.mux.ServeHTTP(w, r)
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// routes registers every route. The API's routes live on their own mux so
// that unknown paths and wrong methods under /v1 answer in JSON.
func (s *Server) routes() {
	s.handleAPI("POST /v1/companies", s.createCompany)
	s.handleAPI("GET /v1/companies/{company}", s.getCompany)
	s.handleAPI("GET /v1/companies/{company}/settings", s.getSettings)
	s.handleAPI("PATCH /v1/companies/{company}/settings", s.patchSettings)
	s.handleAPI("POST /v1/companies/{company}/users", s.createUser)
	s.handleAPI("GET /v1/companies/{company}/users", s.listUsers)
	s.handleAPI("GET /v1/companies/{company}/users/{user}", s.getUser)
	s.handleAPI("PATCH /v1/companies/{company}/users/{user}", s.patchUser)
	s.handleAPI("DELETE /v1/companies/{company}/users/{user}", s.deleteUser)
	s.handleAPI("PUT /v1/companies/{company}/users/{user}/twofa/{app}", s.putTwoFA)
	s.handleAPI("POST /v1/companies/{company}/users/{user}/twofa/{app}/unlock", s.unlockTwoFA)
	s.handleAPI("GET /v1/companies/{company}/users/{user}/authenticators", s.listAuthenticators)
	s.handleAPI("POST /v1/companies/{company}/users/{user}/authenticators", s.createAuthenticator)
	s.handleAPI("POST /v1/companies/{company}/users/{user}/authenticators/{authenticator}/confirm", s.confirmAuthenticator)
	s.handleAPI("DELETE /v1/companies/{company}/users/{user}/authenticators/{authenticator}", s.deleteAuthenticator)
	s.handleAPI("POST /v1/companies/{company}/users/{user}/recovery-codes", s.createRecoveryCodes)
	s.handleAPI("POST /v1/companies/{company}/users/{user}/enrollments", s.createEnrollment)
	s.handleAPI("DELETE /v1/companies/{company}/users/{user}/devices", s.revokeDevices)
	s.handleAPI("POST /v1/companies/{company}/users/{user}/challenges", s.createChallenge)
	s.handleAPI("GET /v1/challenges/{challenge}", s.getChallenge)
	s.handleAPI("POST /v1/challenges/{challenge}/verify", s.verifyChallenge)
	s.handleAPI("POST /v1/challenges/{challenge}/resend", s.resendChallenge)
	s.handleAPI("GET /v1/companies/{company}/audit-events", s.listAuditEvents)
	s.handleAPI("GET /v1/companies/{company}/audit-events/export", s.exportAuditEvents)
	s.handleAPI("GET /v1/events", s.listEvents)
	s.handleAPI("POST /v1/event-endpoints", s.createEventEndpoint)
	s.handleAPI("GET /v1/event-endpoints", s.listEventEndpoints)
	s.handleAPI("DELETE /v1/event-endpoints/{endpoint}", s.deleteEventEndpoint)
	s.handleAPI("GET /v1/event-endpoints/{endpoint}/deliveries", s.listEventDeliveries)
	s.api.HandleFunc("/v1/", s.apiNotFound)
	s.mux.Handle("/v1/", s.api)

	s.handleFunc("GET /healthz", s.healthz)
	s.handleFunc("GET /readyz", s.readyz)
	s.handleFunc("GET /openapi.json", s.openAPIDocument)
	s.handle("GET /metrics", s.metrics.Handler())
	if s.inbox != nil {
		s.handleFunc("GET /dev/inbox", s.devInbox)
		if s.demo != nil {
			s.handleFunc("GET /dev/try", s.devTry)
			s.handleFunc("GET /dev/return", s.devReturn)
		}
	}
	s.handle("GET /static/", s.static())
	s.handleFunc("GET /.well-known/jwks.json", s.jwks)

	// The hosted verification page.
	s.handleFunc("GET /verify/{token}", s.verifyPage)
	s.handleFunc("POST /verify/{token}", s.verifySubmit)
	s.handleFunc("POST /verify/{token}/resend", s.verifyResend)
	s.handleFunc("POST /verify/{token}/enroll", s.verifyEnroll)
	s.handleFunc("GET /enroll/{token}", s.enrollPage)
	s.handleFunc("POST /enroll/{token}/app", s.enrollApp)
	s.handleFunc("POST /enroll/{token}/confirm", s.enrollConfirm)
	s.handleFunc("POST /enroll/{token}/recovery-codes", s.enrollRecoveryCodes)
	s.handleFunc("POST /enroll/{token}/finish", s.enrollFinish)
	s.handleFunc("POST /enroll/{token}/passkey/begin", s.enrollPasskeyBegin)
	s.handleFunc("POST /enroll/{token}/passkey/finish", s.enrollPasskeyFinish)
	s.handleFunc("POST /enroll/{token}/passkey/done", s.enrollPasskeyDone)
	s.handleFunc("POST /verify/{token}/passkey/begin", s.verifyPasskeyBegin)
	s.handleFunc("POST /verify/{token}/passkey", s.verifyPasskey)

	// The admin console.
	s.handleFunc("GET /admin", func(w http.ResponseWriter, r *http.Request) { seeOther(w, r, "/admin/2fa") })
	s.handleFunc("GET /admin/login", s.loginPage)
	s.handleFunc("POST /admin/login", s.loginSubmit)
	s.handleFunc("GET /admin/login/code", s.loginCodePage)
	s.handleFunc("POST /admin/login/code", s.loginCodeSubmit)
	s.handleFunc("POST /admin/login/code/passkey/begin", s.loginPasskeyBegin)
	s.handleFunc("POST /admin/login/code/passkey", s.loginPasskey)
	s.handleFunc("POST /admin/login/resend", s.loginResend)
	s.handleFunc("POST /admin/logout", s.logout)
	s.handleFunc("GET /admin/login/forgot", s.forgotPage)
	s.handleFunc("POST /admin/login/forgot", s.forgotSubmit)
	s.handleFunc("GET /admin/admins", s.requireConsole(s.adminsPage))
	s.handleFunc("POST /admin/admins", s.requireConsole(s.inviteAdmin))
	s.handleFunc("POST /admin/admins/{user}/remove", s.requireConsole(s.removeAdmin))
	s.handleFunc("GET /admin/account", s.requireConsole(s.accountPage))
	s.handleFunc("POST /admin/account/sign-out-everywhere", s.requireConsole(s.signOutEverywhere))
	s.handleFunc("POST /admin/account/authenticator", s.requireConsole(s.accountApp))
	s.handleFunc("GET /admin/account/authenticator", s.requireConsole(s.accountAppPage))
	s.handleFunc("POST /admin/account/authenticator/confirm", s.requireConsole(s.accountAppConfirm))
	s.handleFunc("POST /admin/account/authenticator/{authenticator}/remove", s.requireConsole(s.accountAppRemove))
	s.handleFunc("POST /admin/account/recovery-codes", s.requireConsole(s.accountRecoveryCodes))
	s.handleFunc("POST /admin/account/passkey/begin", s.requireConsole(s.accountPasskeyBegin))
	s.handleFunc("POST /admin/account/passkey/finish", s.requireConsole(s.accountPasskeyFinish))
	s.handleFunc("POST /admin/account/passkey/done", s.requireConsole(s.accountPasskeyDone))
	s.handleFunc("GET /admin/setup/{token}", s.setupPage)
	s.handleFunc("POST /admin/setup/{token}", s.setupSubmit)
	s.handleFunc("GET /admin/2fa", s.requireConsole(s.twofaPage))
	s.handleFunc("GET /admin/2fa/settings", s.requireConsole(s.settingsPage))
	s.handleFunc("POST /admin/2fa/settings/{section}", s.requireConsole(s.saveSettings))
	s.handleFunc("POST /admin/2fa/users/{user}/twofa/{app}", s.requireConsole(s.switchTwoFA))
	s.handleFunc("GET /admin/2fa/users/{user}", s.requireConsole(s.userPage))
	s.handleFunc("POST /admin/2fa/bulk", s.requireConsole(s.bulkTwoFA))
	s.handleFunc("POST /admin/2fa/settings/apply-defaults", s.requireConsole(s.applyDefaults))
	s.handleFunc("POST /admin/2fa/users/{user}/unlock/{app}", s.requireConsole(s.unlock))
	s.handleFunc("POST /admin/2fa/users/{user}/authenticators/{authenticator}/remove", s.requireConsole(s.removeAuthenticator))
	s.handleFunc("POST /admin/2fa/users/{user}/devices/forget", s.requireConsole(s.forgetDevices))
	s.handleFunc("GET /admin/2fa/audit", s.requireConsole(s.auditPage))
	s.handleFunc("GET /admin/2fa/audit/latest", s.requireConsole(s.auditLatest))
	s.handleFunc("GET /admin/2fa/audit/export", s.requireConsole(s.auditExport))
}

// crossOrigin answers a cross-site state-changing request: 403, and
// nothing changes.
func (s *Server) crossOrigin(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/v1/") {
		s.writeError(w, r, &twostep.Error{Code: twostep.CodeForbidden, Message: "cross-origin requests are refused"})
		return
	}
	s.render(w, r, http.StatusForbidden, "message", page{Title: "Request refused", NoHeader: true, Data: message{
		Heading:    "This request was refused",
		Paragraphs: []string{"It came from another website. Go back to the page you were using and try again from there."}}})
}

// APIRoutes lists the method and pattern of every /v1 route, for tests that
// walk them all.
func (s *Server) APIRoutes() []string { return s.apiRoutes }

// Routes lists the method and pattern of every route the server has.
func (s *Server) Routes() []string {
	return append(append([]string(nil), s.apiRoutes...), s.pageRoutes...)
}

// handle registers a route outside /v1.
func (s *Server) handle(pattern string, h http.Handler) {
	s.pageRoutes = append(s.pageRoutes, pattern)
	s.mux.Handle(pattern, h)
}

// handleFunc registers a page route; a POST's form is read, within
// bounds, before the handler runs (pageForm).
func (s *Server) handleFunc(pattern string, h http.HandlerFunc) {
	if strings.HasPrefix(pattern, "POST ") {
		h = s.pageForm(h)
	}
	s.handle(pattern, h)
}
