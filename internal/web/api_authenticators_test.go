package web_test

import (
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/providertest"
	"github.com/twostep/twostep/internal/storetest"
)

// testClock is a clock the test moves, for the store.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// nextStep moves to just after the start of the next 30-second TOTP step.
func (c *testClock) nextStep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Truncate(30 * time.Second).Add(31 * time.Second)
}

func (c *testClock) advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

func TestAuthenticatorAPI(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dbURL string) {
		s := newTestServer(t, dbURL)
		clock := &testClock{now: time.Date(2026, 12, 2, 9, 0, 1, 0, time.UTC)}
		s.DB.SetClock(clock.Now)
		c := s.client(t)
		co, _ := setup(t, c)
		base := "/v1/companies/" + co
		c.must(200, "PATCH", base+"/settings", map[string]any{"delivery_method": "sms_then_email",
			"allowed_return_origins": []string{"https://app.acme.test"}})
		u := c.must(201, "POST", base+"/users", map[string]any{"name": "Ben", "email": "ben@acme.com", "phone": "+371 2000 0003",
			"twofa": map[string]any{"web": true}})["id"].(string)
		auths := base + "/users/" + u + "/authenticators"

		for body, field := range map[string]string{`{}`: "type", `{"type":"sms"}`: "type", `{"type":"webauthn"}`: "type",
			`{"type":"totp","name":"a\u0000b"}`: "name"} {
			if code, f := c.do("POST", auths, body).ErrorCode(t); code != "invalid_value" || f != field {
				t.Errorf("%s: %s %s; want invalid_value %s", body, code, f, field)
			}
		}
		a := c.must(201, "POST", auths, map[string]any{"type": "totp", "name": "Phone"})
		key, id := a["secret"].(string), a["id"].(string)
		if a["confirmed"] != false || a["otpauth_uri"] == nil {
			t.Fatalf("new authenticator %v", a)
		}
		wrong := notCode(providertest.TOTP(key, clock.Now()))
		if code, f := c.do("POST", auths+"/"+id+"/confirm", map[string]any{"code": wrong}).ErrorCode(t); code != "code_incorrect" || f != "code" {
			t.Fatalf("a wrong confirming code: %s %s", code, f)
		}
		got := c.must(200, "POST", auths+"/"+id+"/confirm", map[string]any{"code": providertest.TOTP(key, clock.Now())})
		if got["confirmed"] != true || got["secret"] != nil {
			t.Fatalf("confirmed: %v", got)
		}
		list := c.must(200, "GET", auths, nil)
		if n := len(list["authenticators"].([]any)); n != 1 || list["recovery_codes_left"] != float64(0) {
			t.Fatalf("list %v", list)
		}

		clock.nextStep()
		ch := c.must(201, "POST", base+"/users/"+u+"/challenges", map[string]any{"app": "web"})
		if ch["method"] != "totp" || ch["channel"] != nil || ch["delivery"] != nil {
			t.Fatalf("a user with an app: method %v, channel %v, delivery %v", ch["method"], ch["channel"], ch["delivery"])
		}
		verify := "/v1/challenges/" + ch["id"].(string) + "/verify"
		if code, f := c.do("POST", verify, map[string]any{"code": "123456", "method": "voice"}).ErrorCode(t); code != "invalid_value" || f != "method" {
			t.Fatalf("unknown method: %s %s", code, f)
		}
		v := c.must(200, "POST", verify, map[string]any{"code": providertest.TOTP(key, clock.Now()), "method": "totp"})
		if v["result"] != "approved" || v["method"] != "totp" {
			t.Fatalf("verify with the app: %v %v", v["result"], v["method"])
		}

		codes := c.must(201, "POST", base+"/users/"+u+"/recovery-codes", nil)["codes"].([]any)
		ch = c.must(201, "POST", base+"/users/"+u+"/challenges", map[string]any{"app": "web"})
		verify = "/v1/challenges/" + ch["id"].(string) + "/verify"
		if v := c.must(200, "POST", verify, map[string]any{"code": codes[0], "method": "recovery_code"}); v["result"] != "approved" || v["method"] != "recovery_code" {
			t.Fatalf("a recovery code: %v", v)
		}

		e := c.must(201, "POST", base+"/users/"+u+"/enrollments", map[string]any{"return_url": "https://app.acme.test/done"})
		if e["enroll_url"] == nil {
			t.Fatalf("enrolment %v", e)
		}
		if code, f := c.do("POST", base+"/users/"+u+"/enrollments", map[string]any{"return_url": "https://evil.test/"}).ErrorCode(t); code != "invalid_value" || f != "return_url" {
			t.Fatalf("a foreign return_url: %s %s", code, f)
		}

		if r := c.do("DELETE", auths+"/"+id, nil); r.Status != 204 {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		if r := c.do("DELETE", auths+"/"+id, nil); r.Status != 404 {
			t.Fatalf("delete again: %d", r.Status)
		}

		// Strong authentication on, grace over, nothing stronger: 403.
		c.must(200, "PATCH", base+"/settings", map[string]any{"strong_authentication": map[string]any{"web": true}, "enrollment_grace_days": 1})
		ch = c.must(201, "POST", base+"/users/"+u+"/challenges", map[string]any{"app": "web"})
		if ch["enrollment_required"] != true || ch["method"] != "sms" {
			t.Fatalf("in grace: %v %v", ch["enrollment_required"], ch["method"])
		}
		clock.advance(25 * time.Hour)
		c.must(201, "POST", base+"/users/"+u+"/recovery-codes", nil) // replaces the set: 10 left
		ch = c.must(201, "POST", base+"/users/"+u+"/challenges", map[string]any{"app": "web"})
		if ch["method"] != "recovery_code" {
			t.Fatalf("after grace with recovery codes: %v", ch["method"])
		}
		// Without them: refused.
		u2 := c.must(201, "POST", base+"/users", map[string]any{"name": "Cid", "email": "cid@acme.com", "twofa": map[string]any{"web": true}})["id"].(string)
		clock.advance(25 * time.Hour)
		if code, _ := c.do("POST", base+"/users/"+u2+"/challenges", map[string]any{"app": "web"}).ErrorCode(t); code != "enrollment_required" {
			t.Fatalf("after grace without anything: %s", code)
		}
	})
}
