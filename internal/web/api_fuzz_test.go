package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/api"
	"github.com/twostep/twostep/internal/metrics"
	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
	"github.com/twostep/twostep/internal/web"
	"github.com/twostep/twostep/result"
)

// fuzzServer is one real server over a fresh SQLite store for a whole fuzz
// run, with a company, a user with 2FA on and a challenge with a hosted
// page. Fuzz inputs change its state (they delete the user, void the
// code); what the targets check holds in every state.
type fuzzServer struct {
	url    string
	key    string
	web    *web.Server
	svc    *twostep.Service
	client *http.Client
	log    *fuzzLog

	company   string
	user      string
	challenge string
	token     string // the challenge's hosted page
	users     int    // made so far, for fresh addresses that no send limit holds yet
}

// fuzzReturnOrigin is the origin the fuzz company may return to.
const fuzzReturnOrigin = "https://app.fuzz.test"

func newFuzzServer(tb testing.TB) *fuzzServer {
	tb.Helper()
	ctx := context.Background()
	db := storetest.Open(tb, storetest.SQLiteURL(tb))
	svc := twostep.NewService(db, twostep.Options{AuditKey: []byte("a"), CodeKey: []byte("c"),
		OutboxKey: []byte("0123456789abcdef0123456789abcdef"), CodeTTL: 5 * time.Minute, ResendCooldown: 30 * time.Second,
		Signer: result.NewSigner(make([]byte, 32), "http://127.0.0.1")})
	_, key, err := svc.CreateAPIKey(ctx, "fuzz", "")
	if err != nil {
		tb.Fatal(err)
	}
	logs := &fuzzLog{}
	ws, err := web.New(web.Config{Service: svc, Ready: db, OpenAPI: api.OpenAPI, Metrics: metrics.New(svc.OutboxDepth),
		Log: slog.New(slog.NewJSONHandler(logs, nil)), PublicURL: "http://127.0.0.1"})
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(ws)
	tb.Cleanup(hs.Close)
	client := hs.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s := &fuzzServer{url: hs.URL, key: key, web: ws, svc: svc, client: client, log: logs}

	co, err := svc.CreateCompany(ctx, twostep.Caller{}, "Fuzz & Co")
	if err != nil {
		tb.Fatal(err)
	}
	s.company = co.ID
	var p twostep.SettingsPatch
	p.DeliveryMethod = twostep.Some(twostep.SMSThenEmail)
	p.AllowedReturnOrigins = twostep.Some([]string{fuzzReturnOrigin})
	if _, err := svc.UpdateSettings(ctx, twostep.Caller{}, s.company, p); err != nil {
		tb.Fatal(err)
	}
	s.newUser(tb)
	return s
}

// newUser makes a user with 2FA on in both apps and starts a challenge for
// them with a hosted page.
func (s *fuzzServer) newUser(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	s.users++
	on := twostep.Some(twostep.TwoFAPatch{Web: twostep.Some(true), Manager: twostep.Some(true)})
	u, err := s.svc.CreateUser(ctx, twostep.Caller{}, s.company, twostep.NewUser{Name: "Anna Ozola",
		Email: fmt.Sprintf("anna+%d@fuzz.test", s.users), Phone: fmt.Sprintf("+371 2%07d", s.users), TwoFA: on})
	if err != nil {
		tb.Fatal(err)
	}
	res, err := s.svc.CreateChallenge(ctx, twostep.Caller{}, s.company, u.ID,
		twostep.NewChallenge{App: "web", ReturnURL: fuzzReturnOrigin + "/back?x=1"})
	if err != nil || res.VerifyToken == "" {
		tb.Fatalf("challenge: %+v, %v", res, err)
	}
	s.user, s.challenge, s.token = u.ID, res.ID, res.VerifyToken
}

// path fills a route pattern's parameters with the server's real objects.
func (s *fuzzServer) path(pattern, app string) string {
	return strings.NewReplacer("{company}", s.company, "{user}", s.user, "{challenge}", s.challenge,
		"{app}", app).Replace(pattern)
}

// do sends one request over the network and returns the status and body.
func (s *fuzzServer) do(t *testing.T, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	res, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v\nserver log:\n%s", req.Method, req.URL, err, s.log)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: %d, reading the body: %v\nserver log:\n%s", req.Method, req.URL, res.StatusCode, err, s.log)
	}
	return res.StatusCode, res.Header, b
}

// checkAPIAnswer fails t on a 5xx and on a 4xx that is not the API's JSON
// error shape.
func (s *fuzzServer) checkAPIAnswer(t *testing.T, what string, status int, h http.Header, body []byte) {
	t.Helper()
	if status >= 500 {
		t.Fatalf("%s: %d %s\nserver log:\n%s", what, status, body, s.log)
	}
	if status < 400 {
		return
	}
	var e struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" ||
		!strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("%s: %d %q (%s) is not the JSON error shape", what, status, body, h.Get("Content-Type"))
	}
}

// fuzzMethods are the methods FuzzAPIBodies sends; "" is the route's own.
var fuzzMethods = []string{"", "", "", http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// FuzzAPIBodies sends random bodies to every /v1 route, with a valid key
// and the real company, user and challenge in the path: no answer is a
// 5xx, and every 4xx is {"error": {"code", "message"}}.
func FuzzAPIBodies(f *testing.F) {
	bodies := []string{
		`{"name":"Acme"}`, `{"name":"=HYPERLINK(\"http://x\")"}`, `{"name":""}`, `{}`, `[]`, `null`, `"x"`, ``, `{"name":"a"} {}`,
		`{"delivery_method":"sms_then_email","responsible_contact":{"name":"Rita","email":"rita@acme.com","phone":"+371 2000 0001"}}`,
		`{"responsible_contact":null,"defaults":{"web":true,"manager":false},"sms_daily_cap":99999999999999999999}`,
		`{"allowed_return_origins":["HTTPS://App.Example.com:443/","http://[::1]:80"]}`,
		`{"name":"Anna","email":"anna@acme.com","phone":"+1 800 555 0100","twofa":{"web":true},"role":"admin"}`,
		`{"external_id":null,"email":null,"phone":"+371 2000 0002","twofa":{"manager":null}}`,
		`{"enabled":true}`, `{"enabled":"yes"}`, `{"enabled":null}`,
		`{"app":"web","ip":"203.0.113.7","user_agent":"Mozilla/5.0","return_url":"https://app.fuzz.test/back?x=1"}`,
		`{"app":"manager","ip":"not an ip","return_url":"javascript:alert(1)"}`, `{"app":"web","return_url":"https://evil.test/"}`,
		`{"code":"123456"}`, `{"code":"#12-34 56"}`, `{"code":123456}`, `{"code":"١٢٣٤٥٦"}`, `{"channel":"email"}`, `{"channel":"pigeon"}`,
		`{"name":"` + strings.Repeat("\u00e9", 300) + `"}`, `{"name":"\ud800\u0000"}`, "{\"name\":\"\xff\xfe\"}",
		strings.Repeat(`{"a":`, 1000) + strings.Repeat(`}`, 1000), `{"sms_daily_cap":1e400}`, `{"unknown":1}`,
	}
	for i, b := range bodies {
		f.Add(uint8(i), uint8(i*7), []byte(b))
	}
	s := newFuzzServer(f)
	routes := s.web.APIRoutes()
	if len(routes) == 0 {
		f.Fatal("the server lists no API routes")
	}
	f.Fuzz(func(t *testing.T, method, route uint8, body []byte) {
		own, pattern, _ := strings.Cut(routes[int(route)%len(routes)], " ")
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		if m == "" {
			m = own
		}
		app := string(twostep.Apps[int(method)/len(fuzzMethods)%len(twostep.Apps)])
		req, err := http.NewRequest(m, s.url+s.path(pattern, app), bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+s.key)
		req.Header.Set("Content-Type", "application/json")
		s.log.Reset()
		status, h, b := s.do(t, req)
		s.checkAPIAnswer(t, fmt.Sprintf("%s %s with %q", m, req.URL.Path, body), status, h, b)
		if m == http.MethodDelete && status < 300 && strings.HasSuffix(pattern, "/users/{user}") {
			s.newUser(t) // keep a user to send the next inputs to
		}
	})
}

// fuzzQueryRoutes are the GET routes whose query strings are parsed.
var fuzzQueryRoutes = []string{
	"/v1/companies/{company}/users",
	"/v1/companies/{company}/audit-events",
	"/v1/companies/{company}/audit-events/export",
}

// FuzzQueryStrings sends random raw query strings to the list, audit and
// export routes: none is answered with a 5xx or a cut-off response. The
// requests go straight to the handler, so that query strings that could
// not cross the network intact reach it too.
func FuzzQueryStrings(f *testing.F) {
	for i, q := range []string{
		"", "q=anna&limit=1", "q=%25&limit=200", "q=_", `q=%5C`, "q=%00", "q=%ff%fe", "limit=0", "limit=201", "limit=-1",
		"limit=99999999999999999999", "limit=1e3", "cursor=e30", "cursor=eyJzIjotMX0", "cursor=eyJuIjoxfQ", "cursor=%3D%3D",
		"action=user.2fa_enabled", "action=nope", "user=usr_x", "since=2026-11-27", "until=2026-11-27T09:00:00%2B14:00",
		"since=1970-01-01T00:00:00%2B14:00", "since=9999-12-31T23:59:59.999999999-23:59", "until=0001-01-01",
		"since=2026-02-30", "format=jsonl", "format=xlsx", "format=csv&format=jsonl", "a=%zz", ";", "&&&=&=", "q=a;b",
		"q=" + strings.Repeat("%E2%80%AE", 100), "since=" + strings.Repeat("9", 400),
	} {
		f.Add(uint8(i), q)
	}
	s := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, route uint8, rawQuery string) {
		path := s.path(fuzzQueryRoutes[int(route)%len(fuzzQueryRoutes)], "web")
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.URL.RawQuery = rawQuery
		req.Header.Set("Authorization", "Bearer "+s.key)
		rec := httptest.NewRecorder()
		s.log.Reset()
		func() {
			defer func() {
				if v := recover(); v != nil {
					t.Fatalf("GET %s?%s: panic %v (a cut-off response)\nserver log:\n%s", path, rawQuery, v, s.log)
				}
			}()
			s.web.ServeHTTP(rec, req)
		}()
		s.checkAPIAnswer(t, fmt.Sprintf("GET %s?%s", path, rawQuery), rec.Code, rec.Header(), rec.Body.Bytes())
	})
}

// FuzzHostedPageForm posts random form bodies to the hosted page of a real
// challenge (its code form and its resend button) and to made-up tokens:
// none is answered with a 5xx.
func FuzzHostedPageForm(f *testing.F) {
	for i, form := range []string{
		"code=123456", "code=+12-34+56+", "code=%23123456", "code=", "", "code=1&code=2", "code=%zz", "channel=email",
		"channel=sms", "channel=pigeon", "code=%00%00%00%00%00%00", "code=" + strings.Repeat("9", 10000),
		"code=%D9%A1%D9%A2%D9%A3%D9%A4%D9%A5%D9%A6", "=&=&&", "code=123456;channel=email", "\xff\xfe=\x00",
	} {
		f.Add(uint8(i), "not-a-token", []byte(form))
	}
	f.Add(uint8(1), "", []byte("code=123456"))
	f.Add(uint8(1), "..", []byte("code=123456"))
	f.Add(uint8(1), "a/b", []byte("code=123456"))
	f.Add(uint8(1), "\x00\xff", []byte("code=123456"))
	f.Add(uint8(1), strings.Repeat("t", 5000), []byte("code=123456"))
	s := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, target uint8, token string, form []byte) {
		var path string
		switch target % 3 {
		case 0:
			path = "/verify/" + s.token
		case 1:
			path = "/verify/" + url.PathEscape(token)
		case 2:
			path = "/verify/" + s.token + "/resend"
		}
		req, err := http.NewRequest(http.MethodPost, s.url+path, bytes.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		s.log.Reset()
		status, _, b := s.do(t, req)
		if status >= 500 {
			t.Fatalf("POST %s with %q: %d %s\nserver log:\n%s", path, form, status, b, s.log)
		}
	})
}

// fuzzLog keeps the server's log lines of the current input, for the
// failure message.
type fuzzLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *fuzzLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *fuzzLog) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Reset()
}

func (l *fuzzLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
