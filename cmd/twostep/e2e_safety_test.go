package main

import (
	"strings"
	"testing"

	"github.com/twostep/twostep/internal/storetest"
)

// TestServeNeedsProviders: serve names the provider variables it lacks
// rather than send codes to a page anyone can read; dev senders serve only
// on loopback, with a warning; TWOSTEP_SMS=none sends every code by email.
func TestServeNeedsProviders(t *testing.T) {
	in := newInstance(t, storetest.SQLiteURL(t))
	in.mustRun("migrate")
	for _, tc := range []struct {
		env  []string
		want []string
	}{
		{[]string{"TWOSTEP_EMAIL=", "TWOSTEP_SMS="}, []string{"TWOSTEP_EMAIL", "TWOSTEP_SMS"}},
		{[]string{"TWOSTEP_EMAIL=smtp://127.0.0.1:1?from=a%40example.com", "TWOSTEP_SMS="}, []string{"set TWOSTEP_SMS"}},
		{[]string{"TWOSTEP_ADDR=0.0.0.0:0"}, []string{"dev", "loopback"}},
		{[]string{"TWOSTEP_SMS=none", "TWOSTEP_ADDR=:0"}, []string{"TWOSTEP_EMAIL=dev", "loopback"}},
	} {
		cmd := in.command(tc.env, "serve")
		out, _ := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() != 2 {
			t.Errorf("serve with %q: exit %d, want 2\n%s", tc.env, cmd.ProcessState.ExitCode(), out)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("serve with %q says %q, which does not name %q", tc.env, out, w)
			}
		}
	}

	// Dev senders on loopback: served, with a warning.
	srv := in.serve()
	if !strings.Contains(srv.logs.String(), `"level":"WARN","msg":"dev senders are on`) {
		t.Errorf("no warning about the dev senders at start:\n%s", srv.logs)
	}
	srv.stop(t)

	// TWOSTEP_SMS=none: a user with a mobile number under SMS first gets
	// the code by email, and SMS is never offered.
	in.extra = []string{"TWOSTEP_SMS=none"}
	key := in.apiKey()
	srv = in.serve()
	a := apiClient{t: t, base: srv.URL, key: key}
	co := a.must(201, "POST", "/v1/companies", map[string]any{"name": "Acme"})["id"].(string)
	a.must(200, "PATCH", "/v1/companies/"+co+"/settings", map[string]any{"delivery_method": "sms_then_email"})
	u := a.must(201, "POST", "/v1/companies/"+co+"/users", map[string]any{"name": "Anna", "email": "anna@acme.test",
		"phone": "+371 2000 0002", "twofa": map[string]any{"web": true}})["id"].(string)
	ch := a.must(201, "POST", "/v1/companies/"+co+"/users/"+u+"/challenges", map[string]any{"app": "web"})
	if ch["channel"] != "email" || strings.Contains(strings.Join(strs(ch["channels_available"]), ","), "sms") {
		t.Fatalf("with TWOSTEP_SMS=none: %v", ch)
	}
	a.must(422, "POST", "/v1/challenges/"+ch["id"].(string)+"/resend", map[string]any{"channel": "sms"})
	if !strings.Contains(srv.logs.String(), `"variables":["TWOSTEP_EMAIL"]`) {
		t.Errorf("the warning should name only TWOSTEP_EMAIL with TWOSTEP_SMS=none:\n%s", srv.logs)
	}
}

// strs turns a JSON array of strings into a slice.
func strs(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, e := range list {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}
