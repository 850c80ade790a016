package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/providertest"
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

// form posts a form to a page of srv, from client address ip as the
// proxy in front says (X-Forwarded-For; "" for none), and returns the
// status. It follows no redirect.
func form(t *testing.T, target string, values url.Values, ip string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", target, strings.NewReader(values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// setUpAdmin makes rita@acme.test an admin of the company with password,
// through the set-up link the CLI prints.
func setUpAdmin(t *testing.T, in *instance, srvURL, company, password string) {
	t.Helper()
	out := strings.TrimSpace(in.mustRun("admin", "create", "--company", company, "--email", "rita@acme.test"))
	link := srvURL + "/admin/setup/" + out[strings.LastIndex(out, "/")+1:]
	if got := form(t, link, url.Values{"password": {password}, "confirm": {password}}, ""); got != http.StatusSeeOther {
		t.Fatalf("set-up link: %d", got)
	}
}

// TestBehindAProxy runs the binary behind a trusted proxy: junk console
// sign-ins from many addresses leave the admin's own sign-in alone, and
// the audit log names the client, not the proxy. Without the setting,
// X-Forwarded-For is not believed.
func TestBehindAProxy(t *testing.T) {
	in := newInstance(t, storetest.SQLiteURL(t))
	in.mustRun("migrate")
	key := in.apiKey()
	in.extra = []string{"TWOSTEP_TRUSTED_PROXIES=127.0.0.1/32,::1"}
	srv := in.serve()
	a := apiClient{t: t, base: srv.URL, key: key}
	co := a.must(201, "POST", "/v1/companies", map[string]any{"name": "Acme"})["id"].(string)
	const password = "a secret pass phrase 42"
	setUpAdmin(t, in, srv.URL, co, password)

	// 60 junk sign-ins for the admin's email from 60 addresses, more
	// than any limit allows from one.
	for i := range 60 {
		ip := fmt.Sprintf("203.0.113.%d", i+1)
		if got := form(t, srv.URL+"/admin/login", url.Values{"email": {"rita@acme.test"}, "password": {"guess " + strconv.Itoa(i)}}, ip); got != http.StatusUnauthorized {
			t.Fatalf("junk sign-in %d: %d", i+1, got)
		}
	}
	if got := form(t, srv.URL+"/admin/login", url.Values{"email": {"rita@acme.test"}, "password": {password}}, "198.51.100.9"); got != http.StatusSeeOther {
		t.Fatalf("the admin's own sign-in after 60 junk ones: %d, want 303", got)
	}

	// The audit log names the client the proxy saw.
	patch := func(base, web, xff string) {
		r, _ := http.NewRequest("PATCH", base+"/v1/companies/"+co+"/settings", strings.NewReader(`{"defaults":{"web":`+web+`}}`))
		r.Header.Set("Authorization", "Bearer "+key)
		r.Header.Set("X-Forwarded-For", xff)
		res, err := http.DefaultClient.Do(r)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("PATCH: %v %v", res, err)
		}
		res.Body.Close()
	}
	patch(srv.URL, "true", "192.0.2.44, 198.51.100.77")
	events := a.must(200, "GET", "/v1/companies/"+co+"/audit-events?action=settings.defaults_changed", nil)["events"].([]any)
	if ip := events[0].(map[string]any)["ip"]; ip != "198.51.100.77" {
		t.Fatalf("audit ip %v, want the client the proxy saw, 198.51.100.77", ip)
	}
	srv.stop(t)

	// Without TWOSTEP_TRUSTED_PROXIES the header is anyone's word.
	in.extra = nil
	srv = in.serve()
	a.base = srv.URL
	patch(srv.URL, "false", "198.51.100.77")
	events = a.must(200, "GET", "/v1/companies/"+co+"/audit-events?action=settings.defaults_changed", nil)["events"].([]any)
	if ip := events[0].(map[string]any)["ip"]; ip != "127.0.0.1" {
		t.Fatalf("audit ip %v without trusted proxies, want the peer, 127.0.0.1", ip)
	}
}

// peakRSS is a process's peak resident memory in MiB, from /proc.
func peakRSS(t *testing.T, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		storetest.Skip(t, "memory is read from /proc: "+err.Error())
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	t.Fatal("no VmHWM in /proc/PID/status")
	return 0
}

// TestPageResourcesAreBounded: eight parallel 64 MiB posts to the hosted
// page, multipart and urlencoded, are refused (415, 413) without the
// server holding them, and 60 parallel sign-ins with unknown emails run
// argon2id a few at a time; the server's peak memory stays bounded
// (before: 958 MiB and 925 MiB).
func TestPageResourcesAreBounded(t *testing.T) {
	in := newInstance(t, storetest.SQLiteURL(t))
	in.mustRun("migrate")
	in.extra = []string{"TWOSTEP_TRUSTED_PROXIES=127.0.0.1/32"}
	srv := in.serve()
	pid := srv.cmd.Process.Pid
	start := peakRSS(t, pid)

	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range 8 {
		wg.Go(func() {
			ct := "application/x-www-form-urlencoded"
			if i%2 == 0 {
				ct = "multipart/form-data; boundary=x"
			}
			body := io.LimitReader(repeat('a'), 64<<20)
			req, _ := http.NewRequest("POST", srv.URL+"/verify/x", body)
			req.Header.Set("Content-Type", ct)
			req.ContentLength = 64 << 20
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				return // the server may close before the client is done writing
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			statuses[i] = res.StatusCode
		})
	}
	wg.Wait()
	for i, st := range statuses {
		want := http.StatusRequestEntityTooLarge
		if i%2 == 0 {
			want = http.StatusUnsupportedMediaType
		}
		if st != 0 && st != want {
			t.Errorf("64 MiB post %d: %d, want %d", i, st, want)
		}
	}
	afterPosts := peakRSS(t, pid)

	counts := map[int]int{}
	var mu sync.Mutex
	for i := range 60 {
		wg.Go(func() {
			got := form(t, srv.URL+"/admin/login", url.Values{"email": {fmt.Sprintf("nobody%d@acme.test", i)}, "password": {"a password guess"}},
				fmt.Sprintf("198.51.100.%d", i+1))
			mu.Lock()
			counts[got]++
			mu.Unlock()
		})
	}
	wg.Wait()
	afterSignIns := peakRSS(t, pid)
	t.Logf("peak RSS: %.1f MiB at start, %.1f after the posts, %.1f after the sign-ins; sign-ins answered %v", start, afterPosts, afterSignIns, counts)
	for st := range counts {
		if st != http.StatusUnauthorized && st != http.StatusServiceUnavailable {
			t.Errorf("sign-ins answered %v, want only 401 and 503", counts)
		}
	}
	if afterPosts > start+40 {
		t.Errorf("eight 64 MiB posts took the peak RSS from %.1f to %.1f MiB", start, afterPosts)
	}
	if afterSignIns > 200 {
		t.Errorf("60 parallel sign-ins took the peak RSS to %.1f MiB", afterSignIns)
	}
	if s := status(t, srv.URL+"/healthz"); s != 200 {
		t.Fatalf("healthz after: %d", s)
	}
}

// repeat is an endless stream of one byte.
type repeat byte

func (r repeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// TestPumpingIsStopped walks what an SMS pumper or a code bomber would try
// against the binary: a company-scoped key raising its own SMS cap (403),
// sends past the operator's cap over every company (email then), a whole
// IPv6 /64 of addresses (one client), and case variants of one mailbox
// (one destination). The SMS provider stand-in counts what got through.
func TestPumpingIsStopped(t *testing.T) {
	in := newInstance(t, storetest.SQLiteURL(t))
	tw := providertest.StartTwilio(t)
	in.extra = []string{"TWOSTEP_SMS=" + tw.SenderURL(), "TWOSTEP_SMS_GLOBAL_DAILY_CAP=3"}
	in.mustRun("migrate")
	key := in.apiKey()
	srv := in.serve()
	a := apiClient{t: t, base: srv.URL, key: key}
	co, users := company(t, a, map[string]any{"delivery_method": "sms_then_email"}, 3)
	co2, users2 := company(t, a, map[string]any{"delivery_method": "sms_then_email"}, 2)

	out := strings.TrimSpace(in.mustRun("apikey", "create", "--name", "acme", "--company", co))
	scoped := apiClient{t: t, base: srv.URL, key: out[strings.LastIndex(out, "\n")+1:]}
	for _, body := range []map[string]any{{"sms_daily_cap": 1000000}, {"sms_countries": []string{"LV"}},
		{"allowed_return_origins": []string{"https://pump.example"}}} {
		got := scoped.must(403, "PATCH", "/v1/companies/"+co+"/settings", body)
		if got["error"].(map[string]any)["code"] != "forbidden" {
			t.Fatalf("a scoped key changing %v: %v", body, got)
		}
	}
	scoped.must(200, "PATCH", "/v1/companies/"+co+"/settings", map[string]any{"defaults": map[string]any{"web": true}})

	// Three SMS over both companies, then email.
	var channels []string
	for i, u := range append(users, users2...) {
		c := co
		if i >= len(users) {
			c = co2
		}
		ch := a.must(201, "POST", "/v1/companies/"+c+"/users/"+u+"/challenges", map[string]any{"app": "web"})
		channels = append(channels, ch["channel"].(string))
	}
	if got := strings.Join(channels, ","); got != "sms,sms,sms,email,email" {
		t.Fatalf("channels %s under a global cap of 3", got)
	}
	providertest.WaitFor(t, 10*time.Second, "three SMS", func() bool { return len(tw.Messages()) == 3 })

	// One /64: 100 codes, then 429, whatever the address within it.
	bomb, _ := company(t, a, map[string]any{"delivery_method": "email_only"}, 0)
	var bombUsers []string
	for i := range 11 {
		bombUsers = append(bombUsers, a.must(201, "POST", "/v1/companies/"+bomb+"/users", map[string]any{"name": fmt.Sprint("B", i),
			"email": fmt.Sprintf("b%d@bomb.test", i), "twofa": map[string]any{"web": true}})["id"].(string))
	}
	for i := range 100 {
		ip := fmt.Sprintf("2001:db8:5:6:%x:%x::1", i/256, i%256)
		a.must(201, "POST", "/v1/companies/"+bomb+"/users/"+bombUsers[i/10]+"/challenges", map[string]any{"app": "web", "ip": ip})
	}
	a.must(429, "POST", "/v1/companies/"+bomb+"/users/"+bombUsers[10]+"/challenges", map[string]any{"app": "web", "ip": "2001:db8:5:6:ffff::9"})
	a.must(201, "POST", "/v1/companies/"+bomb+"/users/"+bombUsers[10]+"/challenges", map[string]any{"app": "web", "ip": "2001:db8:5:7::9"})

	// Case variants of one mailbox: 10 codes, then 429.
	mailbox, _ := company(t, a, map[string]any{"delivery_method": "email_only"}, 0)
	sent := 0
	for i := range 14 {
		email := []string{"Pat@Example.com", "PAT@example.com", "pat@EXAMPLE.COM", "pAt@example.com"}[i%4]
		u := a.must(201, "POST", "/v1/companies/"+mailbox+"/users", map[string]any{"name": fmt.Sprint("Pat ", i), "email": email,
			"twofa": map[string]any{"web": true}})["id"].(string)
		if st, _ := a.call("POST", "/v1/companies/"+mailbox+"/users/"+u+"/challenges", map[string]any{"app": "web"}); st == 201 {
			sent++
		}
	}
	if sent != 10 {
		t.Fatalf("%d codes went to 14 case variants of one mailbox, want 10", sent)
	}
	if n := len(tw.Messages()); n != 3 {
		t.Fatalf("the SMS provider got %d messages, want 3", n)
	}
}
