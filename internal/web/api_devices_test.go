package web_test

import (
	"testing"
	"time"

	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/result"
)

func TestRememberedDeviceAPI(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dbURL string) {
		s := newTestServer(t, dbURL)
		c := s.client(t)
		co, _ := setup(t, c)
		base := "/v1/companies/" + co
		if got := c.must(200, "PATCH", base+"/settings", map[string]any{"remember_device_days": map[string]any{"web": 30}}); got["remember_device_days"].(map[string]any)["web"] != float64(30) {
			t.Fatalf("settings %v", got["remember_device_days"])
		}
		if code, f := c.do("PATCH", base+"/settings", map[string]any{"remember_device_days": map[string]any{"web": 91}}).ErrorCode(t); code != "invalid_value" || f != "remember_device_days.web" {
			t.Fatalf("91 days: %s %s", code, f)
		}
		u := c.must(201, "POST", base+"/users", map[string]any{"name": "Ben", "email": "ben@acme.com", "twofa": map[string]any{"web": true}})["id"].(string)
		start := base + "/users/" + u + "/challenges"
		ch := c.must(201, "POST", start, map[string]any{"app": "web"})
		v := c.must(200, "POST", "/v1/challenges/"+ch["id"].(string)+"/verify", map[string]any{"code": sentCode(t, s, ch["id"].(string)), "remember_device": true})
		token, _ := v["device_token"].(string)
		if v["result"] != "approved" || len(token) < 40 {
			t.Fatalf("verify: %v %q", v["result"], token)
		}
		if again := c.must(200, "GET", "/v1/challenges/"+ch["id"].(string), nil); again["device_token"] != nil {
			t.Fatal("the token was handed over twice")
		}
		got := c.must(200, "POST", start, map[string]any{"app": "web", "device_token": token})
		if got["required"] != false || got["reason"] != "remembered_device" || got["remembered_until"] == nil {
			t.Fatalf("a remembered device: %v", got)
		}
		// The sign-in is recorded, and its signed result says how it went.
		id := got["challenge_id"].(string)
		if rec := c.must(200, "GET", "/v1/challenges/"+id, nil); rec["status"] != "approved" || rec["method"] != "remembered_device" || rec["required"] != false {
			t.Fatalf("the remembered sign-in's challenge: %v %v", rec["status"], rec["method"])
		}
		keys, err := result.ParseJWKS(c.do("GET", "/.well-known/jwks.json", nil).Body)
		if err != nil {
			t.Fatal(err)
		}
		claims, err := result.CheckResultToken(got["result_token"].(string), keys, result.Expected{Issuer: "http://127.0.0.1",
			ChallengeID: id, CompanyID: co, UserID: u, App: "web"}, time.Now())
		if err != nil || claims.Method != "remembered_device" || claims.AuthTime > claims.IssuedAt {
			t.Fatalf("the result: %+v %v", claims, err)
		}
		if r := c.do("DELETE", base+"/users/"+u+"/devices", nil); r.Status != 204 {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		if got := c.must(201, "POST", start, map[string]any{"app": "web", "device_token": token}); got["required"] != true {
			t.Fatalf("after revoking: %v", got)
		}
	})
}
