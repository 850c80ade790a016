package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/storetest"
)

// TestEventEndpointAPI: endpoints take only an https URL (or http to this
// machine), known event types and a real company; the secret comes once
// and in the Standard Webhooks form; a company's key may not touch them;
// the feed pages oldest first from a cursor. Every answer is checked
// against the OpenAPI document.
func TestEventEndpointAPI(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dbURL string) {
		s := newTestServer(t, dbURL)
		c := s.client(t)
		co, _ := setup(t, c)
		for _, tc := range []struct {
			body  map[string]any
			code  string
			field string
		}{
			{map[string]any{}, "invalid_value", "url"},
			{map[string]any{"url": "http://siem.example.com/in"}, "invalid_value", "url"},
			{map[string]any{"url": "ftp://siem.example.com/in"}, "invalid_value", "url"},
			{map[string]any{"url": "https://user:pw@siem.example.com/in"}, "invalid_value", "url"},
			{map[string]any{"url": "https://siem.example.com/in", "events": []string{"user.exploded"}}, "invalid_value", "events"},
			{map[string]any{"url": "https://siem.example.com/in", "events": "user.2fa_locked"}, "invalid_value", "events"},
			{map[string]any{"url": "https://siem.example.com/in", "company_id": "co_nope"}, "invalid_value", "company_id"},
			{map[string]any{"url": "https://siem.example.com/in", "extra": true}, "unknown_field", "extra"},
		} {
			r := c.do("POST", "/v1/event-endpoints", tc.body)
			if code, field := r.ErrorCode(t); r.Status/100 != 4 || (code != tc.code && !(tc.code == "unknown_field" && r.Status == 422)) || field != tc.field {
				t.Errorf("POST %v: %d %s %s, want %s on %s", tc.body, r.Status, code, field, tc.code, tc.field)
			}
		}
		ep := c.must(201, "POST", "/v1/event-endpoints", map[string]any{"url": "http://127.0.0.1:9/in", "company_id": co,
			"events": []string{"user.2fa_locked", "challenge.approved", "user.2fa_locked"}})
		if secret, _ := ep["secret"].(string); !strings.HasPrefix(secret, "whsec_") || len(secret) != len("whsec_")+44 {
			t.Fatalf("secret %q", ep["secret"])
		}
		if evs := ep["events"].([]any); len(evs) != 2 || ep["company_id"] != co {
			t.Fatalf("endpoint %v", ep)
		}
		list := c.must(200, "GET", "/v1/event-endpoints", nil)["endpoints"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["secret"] != nil {
			t.Fatalf("list %v", list)
		}
		id := ep["id"].(string)
		if d := c.must(200, "GET", "/v1/event-endpoints/"+id+"/deliveries", nil); len(d["deliveries"].([]any)) != 0 {
			t.Fatalf("deliveries of a new endpoint: %v", d)
		}

		// A company's key: forbidden, whatever the endpoint.
		_, scoped, _ := s.Svc.CreateAPIKey(context.Background(), "company", co)
		sc := s.client(t)
		sc.key = scoped
		for _, r := range []response{sc.do("GET", "/v1/event-endpoints", nil), sc.do("DELETE", "/v1/event-endpoints/"+id, nil),
			sc.do("POST", "/v1/event-endpoints", map[string]any{"url": "https://x.example.com"})} {
			if code, _ := r.ErrorCode(t); r.Status != 403 || code != "forbidden" {
				t.Errorf("a company key: %d %s", r.Status, code)
			}
		}
		// The feed, two at a time, oldest first, to the end and on.
		for _, name := range []string{"Rita", "Rita Berg", "R. Berg"} {
			c.must(200, "PATCH", "/v1/companies/"+co+"/settings", map[string]any{"responsible_contact": map[string]any{"name": name}})
		}
		if _, err := s.Svc.SequenceEvents(context.Background()); err != nil { // as the deliverer does, on PostgreSQL
			t.Fatal(err)
		}
		var ids []string
		after := ""
		for range 100 {
			page := c.must(200, "GET", "/v1/events?limit=2&after="+after, nil)
			evs := page["events"].([]any)
			for _, e := range evs {
				ids = append(ids, e.(map[string]any)["id"].(string))
			}
			next, _ := page["next_cursor"].(string)
			if len(evs) == 0 {
				if next != after {
					t.Fatalf("an empty page moved the cursor from %q to %q", after, next)
				}
				break
			}
			after = next
		}
		all := c.must(200, "GET", "/v1/events?limit=200", nil)["events"].([]any)
		if len(ids) != len(all) || len(all) < 3 {
			t.Fatalf("paged %d events, all at once %d", len(ids), len(all))
		}
		for i, e := range all {
			if e.(map[string]any)["id"] != ids[i] {
				t.Fatalf("event %d: %v, paged %s", i, e, ids[i])
			}
		}
		if code, f := c.do("GET", "/v1/events?after=zzz", nil).ErrorCode(t); code != "invalid_value" || f != "after" {
			t.Fatalf("a bad cursor: %s %s", code, f)
		}
		c.must(204, "DELETE", "/v1/event-endpoints/"+id, nil)
		if code, _ := c.do("DELETE", "/v1/event-endpoints/"+id, nil).ErrorCode(t); code != "not_found" {
			t.Fatalf("deleting twice: %s", code)
		}
	})
}
