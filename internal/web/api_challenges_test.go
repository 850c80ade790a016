package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

// sentCode takes the queued messages, as the worker would, and returns the
// newest code for the challenge.
func sentCode(t *testing.T, s *testServer, challengeID string) string {
	t.Helper()
	code := ""
	msgs, err := s.Svc.ClaimMessages(context.Background(), 100, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		sent := s.Svc.MessageSent
		if m.Kind == twostep.KindNotice {
			sent = s.Svc.NoticeSent
		}
		sent(context.Background(), m.ID, "test")
		if m.ChallengeID == challengeID {
			code = m.Code
		}
	}
	if code == "" {
		t.Fatalf("no code was queued for %s", challengeID)
	}
	return code
}

func notCode(code string) string {
	if code == "000000" {
		return "999999"
	}
	return "000000"
}

func TestChallengeAPI(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dbURL string) {
		s := newTestServer(t, dbURL)
		c := s.client(t)
		co, _ := setup(t, c)
		base := "/v1/companies/" + co
		c.must(200, "PATCH", base+"/settings", map[string]any{"delivery_method": "sms_then_email",
			"responsible_contact": map[string]any{"name": "Rita Berg", "email": "rita@acme.com"}})
		u := c.must(201, "POST", base+"/users", map[string]any{"name": "Ben", "email": "ben@acme.com", "phone": "+371 2000 0003",
			"twofa": map[string]any{"web": true}})["id"].(string)
		start := base + "/users/" + u + "/challenges"

		t.Run("NotRequired", func(t *testing.T) {
			if got := c.must(200, "POST", start, map[string]any{"app": "manager"}); got["required"] != false || len(got) != 1 {
				t.Fatalf("%v", got)
			}
		})
		t.Run("BadInput", func(t *testing.T) {
			for body, field := range map[string]string{
				`{"app":"mobile"}`:             "app",
				`{}`:                           "app",
				`{"app":"web","ip":"1.2.3"}`:   "ip",
				`{"app":"web","return_url":1}`: "return_url",
			} {
				r := c.do("POST", start, body)
				if code, f := r.ErrorCode(t); r.Status != 422 || f != field {
					t.Errorf("%s: %d %s %s", body, r.Status, code, f)
				}
			}
			if r := c.do("POST", base+"/users/usr_nobody/challenges", `{"app":"web"}`); r.Status != 404 {
				t.Fatalf("unknown user: %d", r.Status)
			}
		})

		var id, code string
		t.Run("StartVerifyResend", func(t *testing.T) {
			r := c.do("POST", start, map[string]any{"app": "web", "ip": "203.0.113.1", "user_agent": "Mozilla/5.0"})
			ch := r.JSON(t)
			if r.Status != 201 || r.Header.Get("Location") != "/v1/challenges/"+ch["id"].(string) || ch["channel"] != "sms" ||
				ch["destination_hint"] != "+37*******03" || ch["required"] != true {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			id = ch["id"].(string)
			code = sentCode(t, s, id)
			if strings.Contains(string(r.Body), code) {
				t.Fatal("the code is in the response")
			}
			got := c.must(200, "POST", "/v1/challenges/"+id+"/verify", map[string]any{"code": notCode(code)})
			if got["result"] != "rejected" || got["failed_attempts"].(float64) != 1 ||
				strings.Join(toStrings(got["channels_available"]), ",") != "sms,email" {
				t.Fatalf("wrong code: %v", got)
			}
			r = c.do("POST", "/v1/challenges/"+id+"/resend", map[string]any{"channel": "email"})
			if code, _ := r.ErrorCode(t); r.Status != 429 || code != "rate_limited" || r.Header.Get("Retry-After") == "" {
				t.Fatalf("resend within the cooldown: %d %s %v", r.Status, r.Body, r.Header)
			}
			if r := c.do("POST", "/v1/challenges/"+id+"/verify", map[string]any{"code": 123456}); r.Status != 422 {
				t.Fatalf("a numeric code: %d %s", r.Status, r.Body)
			}
			got = c.must(200, "POST", "/v1/challenges/"+id+"/verify", map[string]any{"code": code})
			if got["result"] != "approved" || got["status"] != "approved" || got["failed_attempts"].(float64) != 0 {
				t.Fatalf("right code: %v", got)
			}
			r = c.do("POST", "/v1/challenges/"+id+"/verify", map[string]any{"code": code})
			if code, _ := r.ErrorCode(t); r.Status != 409 || code != "already_used" {
				t.Fatalf("again: %d %s", r.Status, r.Body)
			}
			c.must(200, "GET", "/v1/challenges/"+id, nil)
		})

		t.Run("ReturnURLGivesAHostedPage", func(t *testing.T) {
			r := c.do("POST", start, map[string]any{"app": "web", "return_url": "https://app.acme.test/done"})
			if code, field := r.ErrorCode(t); r.Status != 422 || field != "return_url" {
				t.Fatalf("an origin not allowed: %d %s %s", r.Status, code, field)
			}
			c.must(200, "PATCH", base+"/settings", map[string]any{"allowed_return_origins": []string{"https://app.acme.test"}})
			ch := c.must(201, "POST", start, map[string]any{"app": "web", "return_url": "https://app.acme.test/done"})
			if u, _ := ch["verify_url"].(string); !strings.HasPrefix(u, "http://127.0.0.1/verify/") || len(u) < 60 {
				t.Fatalf("verify_url %q", ch["verify_url"])
			}
			if again := c.must(200, "GET", "/v1/challenges/"+ch["id"].(string), nil); again["verify_url"] != nil {
				t.Fatal("the page's token is shown again after creation")
			}
			keys := c.must(200, "GET", "/.well-known/jwks.json", nil)["keys"].([]any)
			if len(keys) != 1 || keys[0].(map[string]any)["crv"] != "Ed25519" {
				t.Fatalf("jwks %v", keys)
			}
		})

		t.Run("CodeOnlyInAPostBody", func(t *testing.T) {
			ch := c.must(201, "POST", start, map[string]any{"app": "web"})
			id := ch["id"].(string)
			code := sentCode(t, s, id)
			if r := c.do("GET", "/v1/challenges/"+id+"/verify?code="+code, nil); r.Status != 405 {
				t.Fatalf("a code in a GET query: %d", r.Status)
			}
			r := c.do("POST", "/v1/challenges/"+id+"/verify?code="+code, `{}`)
			if _, field := r.ErrorCode(t); r.Status != 422 || field != "code" {
				t.Fatalf("a code in the query of a POST: %d %s", r.Status, r.Body)
			}
			if got := c.must(200, "GET", "/v1/challenges/"+id, nil); got["status"] != "pending" {
				t.Fatalf("the challenge after codes outside a body: %v", got["status"])
			}
		})

		t.Run("VoidCodeIsGone", func(t *testing.T) {
			ch := c.must(201, "POST", start, map[string]any{"app": "web"})
			id := ch["id"].(string)
			code := sentCode(t, s, id)
			for range 3 {
				c.must(200, "POST", "/v1/challenges/"+id+"/verify", map[string]any{"code": notCode(code)})
			}
			r := c.do("POST", "/v1/challenges/"+id+"/verify", map[string]any{"code": code})
			if code, _ := r.ErrorCode(t); r.Status != 410 || code != "code_void" {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			got := c.must(200, "GET", "/v1/challenges/"+id, nil)
			if got["responsible_contact"].(map[string]any)["name"] != "Rita Berg" {
				t.Fatalf("no contact after 3 failures: %v", got)
			}
			if c.must(200, "POST", base+"/users/"+u+"/twofa/web/unlock", nil)["failed_attempts"].(float64) != 0 {
				t.Fatal("unlock did not reset the count")
			}
		})

		t.Run("OtherCompanysKeySeesNothing", func(t *testing.T) {
			other := c.must(201, "POST", "/v1/companies", map[string]any{"name": "Other"})["id"].(string)
			_, secret, _ := s.Svc.CreateAPIKey(context.Background(), "other", other)
			cc := *c
			cc.key = secret
			for _, r := range []response{
				cc.do("GET", "/v1/challenges/"+id, nil),
				cc.do("POST", "/v1/challenges/"+id+"/verify", map[string]any{"code": "123456"}),
				cc.do("POST", "/v1/challenges/"+id+"/resend", nil),
				cc.do("POST", start, map[string]any{"app": "web"}),
				cc.do("POST", base+"/users/"+u+"/twofa/web/unlock", nil),
			} {
				if r.Status != 404 {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
			}
		})

		t.Run("Metrics", func(t *testing.T) {
			// The notifications of the failures above go out first.
			msgs, _ := s.Svc.ClaimMessages(context.Background(), 100, time.Minute)
			for _, m := range msgs {
				s.Svc.NoticeSent(context.Background(), m.ID, "test")
			}
			r := c.do("GET", "/metrics", nil)
			for _, want := range []string{`twostep_challenges_created_total{app="web",channel="sms"}`,
				`twostep_verifications_total{result="approved"} 1`, `twostep_verifications_total{result="rejected"}`,
				"twostep_outbox_depth 0"} {
				if !strings.Contains(string(r.Body), want) {
					t.Errorf("metrics lack %s", want)
				}
			}
		})
	})
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
