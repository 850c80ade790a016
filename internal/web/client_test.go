package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/twostep/twostep/api"
	"github.com/twostep/twostep/internal/delivery"
	"github.com/twostep/twostep/internal/metrics"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
	"github.com/twostep/twostep/internal/web"
	"github.com/twostep/twostep/result"
)

// testServer is a real server over a fresh store on a random port, with a
// platform-wide API key.
type testServer struct {
	URL  string
	Key  string
	DB   *store.DB
	Svc  *twostep.Service
	Web  *web.Server
	Logs *bytes.Buffer // every log line the server wrote
}

func newTestServer(t *testing.T, url string) *testServer {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, url)
	svc := twostep.NewService(db, twostep.Options{AuditKey: []byte("k"), CodeKey: []byte("c"),
		OutboxKey: []byte("0123456789abcdef0123456789abcdef"), CodeTTL: 5 * time.Minute, ResendCooldown: 30 * time.Second,
		Signer: result.NewSigner(make([]byte, 32), "http://127.0.0.1")})
	_, key, err := svc.CreateAPIKey(ctx, "platform", "")
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	ws, err := web.New(web.Config{Service: svc, Ready: db, OpenAPI: api.OpenAPI, Metrics: metrics.New(svc.OutboxDepth),
		Inbox: delivery.NewDevInbox(10), Log: slog.New(slog.NewJSONHandler(logs, nil)), PublicURL: "http://127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(ws)
	t.Cleanup(hs.Close)
	return &testServer{URL: hs.URL, Key: key, DB: db, Svc: svc, Web: ws, Logs: &logs.buf}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// response is an answer of the API.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map, failing t when it is not JSON.
func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.Body, err)
	}
	return m
}

// ErrorCode returns error.code and error.field of an error answer.
func (r response) ErrorCode(t *testing.T) (code, field string) {
	t.Helper()
	e, ok := r.JSON(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("answer %d %s is not an error", r.Status, r.Body)
	}
	code, _ = e["code"].(string)
	field, _ = e["field"].(string)
	return code, field
}

// client calls the API with a key and checks every answer against the
// OpenAPI document.
type client struct {
	t       *testing.T
	base    string
	key     string
	headers map[string]string
	spec    *specChecker
}

func (s *testServer) client(t *testing.T) *client {
	return &client{t: t, base: s.URL, key: s.Key, spec: loadSpec(t)}
}

// as returns a copy of c that sends an extra header.
func (c *client) with(name, value string) *client {
	cc := *c
	cc.headers = map[string]string{name: value}
	for k, v := range c.headers {
		if k != name {
			cc.headers[k] = v
		}
	}
	return &cc
}

// do sends a request; body is sent as is when it is a string or []byte,
// else encoded as JSON.
func (c *client) do(method, path string, body any) response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	r := response{Status: res.StatusCode, Header: res.Header, Body: b}
	if r.Status >= 500 && path != "/readyz" {
		c.t.Errorf("%s %s answered %d: %s", method, path, r.Status, b)
	}
	c.spec.check(c.t, req, r)
	return r
}

// raw sends a request made elsewhere, unchecked against the document.
func (c *client) raw(req *http.Request) response {
	c.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 500 {
		c.t.Errorf("%s %s answered %d: %s", req.Method, req.URL.Path, res.StatusCode, b)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// must sends a request and fails t unless the status is want.
func (c *client) must(want int, method, path string, body any) map[string]any {
	c.t.Helper()
	r := c.do(method, path, body)
	if r.Status != want {
		c.t.Fatalf("%s %s = %d %s; want %d", method, path, r.Status, r.Body, want)
	}
	if len(r.Body) == 0 {
		return nil
	}
	return r.JSON(c.t)
}

// specChecker validates answers against the OpenAPI document and records
// which operations were seen.
type specChecker struct {
	doc    *openapi3.T
	router routers.Router
	mu     sync.Mutex
	seen   map[string]bool // "METHOD /path/template"
}

var (
	specOnce sync.Once
	spec     *specChecker
	specErr  error
)

func loadSpec(t *testing.T) *specChecker {
	t.Helper()
	specOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(api.OpenAPI)
		if err != nil {
			specErr = err
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			specErr = err
			return
		}
		doc.Servers = nil // match any host
		router, err := gorillamux.NewRouter(doc)
		if err != nil {
			specErr = err
			return
		}
		spec = &specChecker{doc: doc, router: router, seen: map[string]bool{}}
	})
	if specErr != nil {
		t.Fatalf("api/openapi.json: %v", specErr)
	}
	return spec
}

// check validates one answer. A path the document does not know must have
// been answered 404 or 405 in the error shape.
func (s *specChecker) check(t *testing.T, req *http.Request, r response) {
	t.Helper()
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		if r.Status != http.StatusNotFound && r.Status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: not in the OpenAPI document, yet answered %d", req.Method, req.URL.Path, r.Status)
		}
		return
	}
	s.mu.Lock()
	s.seen[req.Method+" "+route.Path] = true
	s.mu.Unlock()
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 r.Status,
		Header:                 r.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(r.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s → %d does not match the OpenAPI document: %v\nbody: %s", req.Method, req.URL.Path, r.Status, err, r.Body)
	}
}
