package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/nyaruka/phonenumbers"

	"github.com/twostep/twostep/internal/storetest"
)

// TestSchemasAgreeWithValidation sends values that a client generating
// requests from the OpenAPI document would send — whitespace, control
// characters, every form of address — and checks that none the document
// allows is refused as malformed or invalid (400, 422). A Schemathesis
// style fuzzer found 44 such values when the schemas were looser than
// the server.
func TestSchemasAgreeWithValidation(t *testing.T) {
	openapi3.DefineIPv4Format()
	openapi3.DefineIPv6Format()
	s := newTestServer(t, storetest.SQLiteURL(t))
	c := s.client(t)
	co := c.must(201, "POST", "/v1/companies", map[string]any{"name": "Acme"})["id"].(string)
	c.must(200, "PATCH", "/v1/companies/"+co+"/settings", map[string]any{"allowed_return_origins": []string{"https://app.acme.test"}})
	users := 0
	user := func() string {
		users++
		return c.must(201, "POST", "/v1/companies/"+co+"/users", map[string]any{"name": "U", "email": fmt.Sprintf("u%d@acme.test", users),
			"twofa": map[string]any{"web": true}})["id"].(string)
	}
	names := []string{" ", "\t", "\u00a0", "\u3000", "\u2028", " x ", "a\u0085b", "a\x00b", "a\x7fb", "a\u009fb", "\u200b", "😀",
		strings.Repeat("é", 200), strings.Repeat("é", 201), "\ufeff", "a\nb", "=1+1", "Ren\u00e9e"}
	emails := []string{"", "a@b", "a@b.c", "A@B.CO", "a.b@c.d", ".a@b.c", "a.@b.c", "a..b@c.d", "a+b@c.d", "a!#$%&'*/=?^_`{|}~-@c.d",
		"a@b..c", "a@-b.c", "a@b-.c", "a@[1.2.3.4]", "\"a b\"@c.d", "é@b.c", "a@é.c", "a b@c.d", " a@b.c ", "a@b.c" + strings.Repeat("d", 250)}
	phones := []string{"", "+1", "+3712000000", "+37120000002", "+371 2000 0002", "+371-2000-0002", "+(371)20000002", "+44 7700 900123",
		"+44 20 7946 0000", "+1 800 555 0100", "37120000002", "+0 123 4567"}
	ips := []string{"", "203.0.113.7", "2001:db8::1", "::ffff:1.2.3.4", "1.2.3", "256.1.1.1", "fe80::1%eth0", "01.2.3.4", " 1.2.3.4", "x"}
	origins := []string{"https://a.example", "http://localhost:3000", "HTTPS://A.Example:443/", "http://127.0.0.1", "http://2130706433",
		"https://a_b.example", "https://a.example:65536", "https://a.example/x", "https://xn--80ak6aa92e.com", "http://[::1]:8080",
		"https://" + strings.Repeat("a", 63) + ".example", "https://a.example.123", "https://0x7f.example", "ftp://a.example"}
	codes := []string{"123456", " 123456 ", "123-456", "#123456", "# 12 34 56", "12345", "1234567", "12#3456", "١٢٣٤٥٦", "123\u00a0456",
		"\t123456\n", "12\t3456", "-123456-"}

	type probe struct {
		name, method, path, body string
		header                   map[string]string
	}
	var probes []probe
	add := func(name, method, path string, body any, header map[string]string) {
		b := ""
		if body != nil {
			js, _ := json.Marshal(body)
			b = string(js)
		}
		probes = append(probes, probe{name, method, path, b, header})
	}
	for _, n := range names {
		add("company name "+fmt.Sprintf("%q", n), "POST", "/v1/companies", map[string]any{"name": n}, nil)
		add("user name "+fmt.Sprintf("%q", n), "POST", "/v1/companies/"+co+"/users", map[string]any{"name": n}, nil)
		add("external id "+fmt.Sprintf("%q", n), "POST", "/v1/companies/"+co+"/users", map[string]any{"name": "X", "external_id": n + fmt.Sprint(len(probes))}, nil)
		add("contact name "+fmt.Sprintf("%q", n), "PATCH", "/v1/companies/"+co+"/settings", map[string]any{"responsible_contact": map[string]any{"name": n}}, nil)
		add("user agent "+fmt.Sprintf("%q", n), "POST", "/v1/companies/"+co+"/users/"+user()+"/challenges", map[string]any{"app": "web", "user_agent": n}, nil)
		add("search "+fmt.Sprintf("%q", n), "GET", "/v1/companies/"+co+"/users?q="+url.QueryEscape(n), nil, nil)
	}
	for _, e := range emails {
		add("email "+e, "POST", "/v1/companies/"+co+"/users", map[string]any{"name": "E", "email": e}, nil)
		add("contact email "+e, "PATCH", "/v1/companies/"+co+"/settings", map[string]any{"responsible_contact": map[string]any{"email": e}}, nil)
	}
	for _, p := range phones {
		add("phone "+p, "POST", "/v1/companies/"+co+"/users", map[string]any{"name": "P", "phone": p}, nil)
		add("contact phone "+p, "PATCH", "/v1/companies/"+co+"/settings", map[string]any{"responsible_contact": map[string]any{"phone": p}}, nil)
	}
	for _, ip := range ips {
		add("ip "+ip, "POST", "/v1/companies/"+co+"/users/"+user()+"/challenges", map[string]any{"app": "web", "ip": ip}, nil)
	}
	for _, n := range []string{"a", " ", "~", strings.Repeat("n", 128), strings.Repeat("n", 129), "é", "a\tb"} {
		add("nonce "+n, "POST", "/v1/companies/"+co+"/users/"+user()+"/challenges", map[string]any{"app": "web", "nonce": n}, nil)
	}
	for _, u := range []string{"https://app.acme.test/back", "HTTPS://APP.ACME.TEST/x?y=1", "https://app.acme.test", "https://evil.test/",
		"javascript:alert(1)", "https://user@app.acme.test/", "//app.acme.test/"} {
		add("return url "+u, "POST", "/v1/companies/"+co+"/users/"+user()+"/challenges", map[string]any{"app": "web", "return_url": u}, nil)
	}
	for _, o := range origins {
		add("origin "+o, "PATCH", "/v1/companies/"+co+"/settings", map[string]any{"allowed_return_origins": []string{o}}, nil)
	}
	for _, r := range []string{"LV", "lv", "XX", "UK", "GB", "L"} {
		add("country "+r, "PATCH", "/v1/companies/"+co+"/settings", map[string]any{"sms_countries": []string{r}}, nil)
	}
	ch := c.must(201, "POST", "/v1/companies/"+co+"/users/"+user()+"/challenges", map[string]any{"app": "web"})["id"].(string)
	for _, code := range codes {
		add("code "+fmt.Sprintf("%q", code), "POST", "/v1/challenges/"+ch+"/verify", map[string]any{"code": code}, nil)
	}
	for _, q := range []string{"since=2026-11-27", "since=2026-11-27T09:00:00Z", "since=2026-11-27T09:00:00.5%2B02:00", "since=1969-12-31",
		"until=9999-12-31T23:59:59Z", "since=2026-13-01", "since=2026-02-30", "cursor=abc", "cursor=", "user=usr_x", "user=a%09b"} {
		add("audit "+q, "GET", "/v1/companies/"+co+"/audit-events?"+q, nil, nil)
	}
	for _, a := range []string{"usr_nope", " usr_nope", " ", "a\tb", strings.Repeat("u", 100), strings.Repeat("u", 101), "é"} {
		add("actor "+fmt.Sprintf("%q", a), "GET", "/v1/companies/"+co, nil, map[string]string{"Twostep-Actor": a})
	}

	spec := loadSpec(t)
	allowed, refused, semantic := 0, 0, 0
	for _, p := range probes {
		req, _ := http.NewRequest(p.method, s.URL+p.path, strings.NewReader(p.body))
		req.Header.Set("Authorization", "Bearer "+s.Key)
		if p.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range p.header {
			req.Header.Set(k, v)
		}
		route, params, err := spec.router.FindRoute(req)
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		schemaOK := openapi3filter.ValidateRequest(context.Background(), in) == nil
		req.Body = nopCloser{strings.NewReader(p.body)}
		r := c.raw(req)
		if !schemaOK {
			refused++
			continue
		}
		allowed++
		if r.Status != http.StatusBadRequest && r.Status != http.StatusUnprocessableEntity {
			continue
		}
		// What no schema can say: whether a number is one in its
		// country's plan, an origin one the company allows, a date one
		// the calendar has, a cursor one a page gave, an actor a user of
		// the company. The document says these rules in words; the
		// refusal must name its field.
		var e struct {
			Error struct{ Code, Field, Message string }
		}
		json.Unmarshal(r.Body, &e)
		if semanticRule(e.Error.Message) && e.Error.Field != "" && r.Status == http.StatusUnprocessableEntity {
			semantic++
			continue
		}
		t.Errorf("%s: the OpenAPI document allows it, the server answers %d %s", p.name, r.Status, r.Body)
	}
	t.Logf("%d probes: %d allowed by the document (%d of them refused by a rule no schema can state), %d refused by it",
		len(probes), allowed, semantic, refused)
}

// semanticRule reports whether a refusal is for a rule that depends on
// data or a numbering plan, not on the value's form.
func semanticRule(message string) bool {
	for _, m := range []string{"is not a valid phone number", "must be a mobile number", "on an origin in allowed_return_origins",
		"RFC 3339 time like", "use next_cursor from the previous page", "must be the id of a user of this company"} {
		if strings.Contains(message, m) {
			return true
		}
	}
	return false
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

// TestCountryListIsTheServers: the document's list of sms_countries is
// the regions the server's phone library knows, so an upgrade of it
// cannot leave the two apart.
func TestCountryListIsTheServers(t *testing.T) {
	doc := loadSpec(t).doc
	items := doc.Components.Schemas["SettingsPatch"].Value.Properties["sms_countries"].Value.Items.Value
	documented := map[string]bool{}
	for _, v := range items.Enum {
		documented[v.(string)] = true
	}
	known := phonenumbers.GetSupportedRegions()
	for r := range known {
		if !documented[r] {
			t.Errorf("region %s is missing from the document's sms_countries", r)
		}
	}
	if len(documented) != len(known) {
		t.Errorf("the document lists %d regions, the server knows %d", len(documented), len(known))
	}
}
