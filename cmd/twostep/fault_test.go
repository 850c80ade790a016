package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/providertest"
	"github.com/twostep/twostep/internal/storetest"
)

// outage is how long the fault tests keep a part down. CI keeps it short;
// the behaviour does not depend on its length, only the number of retries
// does (see docs for the longer runs).
const outage = 4 * time.Second

// status reads a URL's status.
func status(t *testing.T, url string) int {
	res, err := http.Get(url)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// TestProvidersDownAndBack stops Mailpit and makes the SMS API answer 500
// and then time out, while codes are queued; the service stays up and
// ready; when the providers return, every code is delivered and works
// (SECURITY 25).
func TestProvidersDownAndBack(t *testing.T) {
	in := newInstance(t, storetest.SQLiteURL(t))
	tw, mp := providertest.StartTwilio(t), providertest.StartMailpit(t)
	in.extra = []string{"TWOSTEP_SMS=" + tw.SenderURL(), "TWOSTEP_DELIVERY_MAX_BACKOFF=500ms", "TWOSTEP_DELIVERY_TIMEOUT=500ms",
		"TWOSTEP_EMAIL=smtp://" + mp.SMTPAddr + "?from=codes%40twostep.test&tls=none"}
	in.mustRun("migrate")
	key := in.apiKey()
	srv := in.serve()
	a := apiClient{t: t, base: srv.URL, key: key}
	smsCo, smsUsers := company(t, a, map[string]any{"delivery_method": "sms_then_email"}, 4)
	mailCo, mailUsers := company(t, a, map[string]any{"delivery_method": "email_only"}, 4)

	mp.Stop()
	tw.Fail(http.StatusInternalServerError)
	challenges := map[string]string{} // destination → challenge
	for i, u := range smsUsers {
		challenges[fmt.Sprintf("+3712%07d", 1000000+i)] = a.must(201, "POST", "/v1/companies/"+smsCo+"/users/"+u+"/challenges", map[string]any{"app": "web"})["id"].(string)
	}
	for i, u := range mailUsers {
		challenges[fmt.Sprintf("user%d@acme.test", i)] = a.must(201, "POST", "/v1/companies/"+mailCo+"/users/"+u+"/challenges", map[string]any{"app": "web"})["id"].(string)
	}
	time.Sleep(outage / 2)
	tw.Fail(0)
	tw.Delay(2 * time.Second) // now it times out instead
	time.Sleep(outage / 2)
	if s := status(t, srv.URL+"/readyz"); s != 200 {
		t.Fatalf("/readyz during a provider outage: %d; the database is fine, so the service is ready", s)
	}
	if tw.Requests() < 8 {
		t.Fatalf("only %d tries at the SMS API during the outage", tw.Requests())
	}
	tw.Delay(0)
	mp.Restart()

	for dest, ch := range challenges {
		var code string
		if strings.HasPrefix(dest, "+") {
			code = smsCode(t, tw, dest, 0)
		} else {
			providertest.WaitFor(t, 30*time.Second, "email to "+dest, func() bool {
				for _, m := range mp.Messages(t) {
					if m.To[0] == dest {
						code = providertest.Code(m.Text)
					}
				}
				return code != ""
			})
		}
		if got := a.must(200, "POST", "/v1/challenges/"+ch+"/verify", map[string]any{"code": code}); got["result"] != "approved" {
			t.Fatalf("%s after the outage: %v", dest, got)
		}
	}
	srv.stop(t)
}

// load runs mixed traffic on a server until stop is closed: settings
// changes, new users and new challenges. It records what was
// acknowledged and every status seen.
type load struct {
	mu       sync.Mutex
	statuses map[int]int
	users    []string // acknowledged user ids
	caps     []int    // acknowledged sms_daily_cap values, in order of acknowledgement
	ack      atomic.Int64
}

func runLoad(t *testing.T, a apiClient, companyID string, workers int, stop <-chan struct{}) *load {
	l := &load{statuses: map[int]int{}}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			c := a
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var st int
				switch i % 3 {
				case 0:
					var body map[string]any
					st, body = c.callSafe("POST", "/v1/companies/"+companyID+"/users", map[string]any{
						"name": fmt.Sprintf("Load %d-%d", w, i), "twofa": map[string]any{"web": true},
						"email": fmt.Sprintf("load%d-%d@acme.test", w, i)})
					if st == 201 {
						l.mu.Lock()
						l.users = append(l.users, body["id"].(string))
						l.mu.Unlock()
					}
				case 1:
					cp := 1000 + w*100000 + i
					st, _ = c.callSafe("PATCH", "/v1/companies/"+companyID+"/settings", map[string]any{"sms_daily_cap": cp})
					if st == 200 {
						l.mu.Lock()
						l.caps = append(l.caps, cp)
						l.mu.Unlock()
					}
				case 2:
					st, _ = c.callSafe("GET", "/v1/companies/"+companyID+"/audit-events?limit=5", nil)
				}
				l.mu.Lock()
				l.statuses[st]++
				l.mu.Unlock()
				if st >= 200 && st < 300 {
					l.ack.Add(1)
				}
			}
		})
	}
	go func() { <-stop; wg.Wait() }()
	return l
}

// TestPostgresRestartUnderLoad stops and starts a PostgreSQL server while
// requests run: while it is down the service answers 503 (never 500) and
// /readyz says so; when it is back the service recovers by itself, and
// everything acknowledged is there with its audit event.
func TestPostgresRestartUnderLoad(t *testing.T) {
	pg := storetest.StartLocalPostgres(t)
	in := newInstance(t, pg.URL)
	in.mustRun("migrate")
	key := in.apiKey()
	srv := in.serve()
	a := apiClient{t: t, base: srv.URL, key: key}
	co := a.must(201, "POST", "/v1/companies", map[string]any{"name": "Acme"})["id"].(string)

	stop := make(chan struct{})
	l := runLoad(t, a, co, 4, stop)
	time.Sleep(time.Second)
	pg.Stop()
	time.Sleep(500 * time.Millisecond)
	if s := status(t, srv.URL+"/readyz"); s != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the database down: %d; want 503", s)
	}
	time.Sleep(outage / 2)
	pg.Start()
	providertest.WaitFor(t, 30*time.Second, "/readyz after the restart", func() bool { return status(t, srv.URL+"/readyz") == 200 })
	before := l.ack.Load()
	providertest.WaitFor(t, 30*time.Second, "requests succeeding again", func() bool { return l.ack.Load() > before+20 })
	close(stop)
	time.Sleep(300 * time.Millisecond)

	l.mu.Lock()
	defer l.mu.Unlock()
	for st, n := range l.statuses {
		if st != 200 && st != 201 && st != http.StatusServiceUnavailable && st != 0 {
			t.Errorf("%d answers with status %d", n, st)
		}
	}
	if l.statuses[http.StatusServiceUnavailable] == 0 {
		t.Error("no request met the outage; the test proves nothing")
	}
	checkAcknowledged(t, a, co, l)
	srv.stop(t)
	if out := in.mustRun("audit", "verify"); !strings.Contains(out, "intact") {
		t.Fatalf("audit verify after the restart: %s", out)
	}
	t.Logf("statuses %v; %d users and %d settings changes acknowledged", l.statuses, len(l.users), len(l.caps))
}

// checkAcknowledged: every acknowledged user exists and was audited, and
// the settings hold an acknowledged value.
func checkAcknowledged(t *testing.T, a apiClient, co string, l *load) {
	t.Helper()
	created := map[string]bool{}
	path := "/v1/companies/" + co + "/audit-events?action=user.created&limit=200"
	for p := path; p != ""; {
		page := a.must(200, "GET", p, nil)
		for _, e := range page["events"].([]any) {
			created[e.(map[string]any)["target"].(map[string]any)["user_id"].(string)] = true
		}
		p = ""
		if next, ok := page["next_cursor"].(string); ok {
			p = path + "&cursor=" + next
		}
	}
	for _, u := range l.users {
		if s, _ := a.call("GET", "/v1/companies/"+co+"/users/"+u, nil); s != 200 {
			t.Errorf("acknowledged user %s: %d", u, s)
		}
		if !created[u] {
			t.Errorf("acknowledged user %s has no user.created event", u)
		}
	}
	// Each acknowledged settings change has its audit event.
	changed := map[int]bool{}
	path = "/v1/companies/" + co + "/audit-events?action=settings.general_changed&limit=200"
	for p := path; p != ""; {
		page := a.must(200, "GET", p, nil)
		for _, e := range page["events"].([]any) {
			if to, ok := e.(map[string]any)["details"].(map[string]any)["to"].(float64); ok {
				changed[int(to)] = true
			}
		}
		p = ""
		if next, ok := page["next_cursor"].(string); ok {
			p = path + "&cursor=" + next
		}
	}
	for _, c := range l.caps {
		if !changed[c] {
			t.Errorf("acknowledged change of sms_daily_cap to %d has no audit event", c)
		}
	}
}

// smallDisk mounts a 4 MiB tmpfs for the test, or returns "" when this
// machine does not allow it (mounting needs root).
func smallDisk(t *testing.T) string {
	dir := t.TempDir()
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).Run(); err != nil {
		return ""
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// TestSQLiteDiskFull runs SQLite on a disk that fills up: writes answer
// 503, reads go on, nothing acknowledged is lost, and once space is freed
// writes work again with no restart. Where a small disk cannot be mounted,
// SQLite's max_page_count stands in for it, and the test stops before the
// recovery, which needs real free space.
func TestSQLiteDiskFull(t *testing.T) {
	disk := smallDisk(t)
	dbURL := storetest.SQLiteURL(t) + "?max_page_count=250"
	if disk != "" {
		dbURL = "sqlite:" + filepath.Join(disk, "twostep.db")
	} else if os.Getenv(storetest.RequireEnv) == "1" && os.Geteuid() == 0 {
		t.Fatal("running as root, yet a tmpfs could not be mounted")
	}
	in := newInstance(t, dbURL)
	in.mustRun("migrate")
	key := in.apiKey()
	srv := in.serve()
	a := apiClient{t: t, base: srv.URL, key: key}
	co := a.must(201, "POST", "/v1/companies", map[string]any{"name": "Acme"})["id"].(string)
	filler := ""
	if disk != "" {
		// Leave about 300 KiB free.
		var st syscall.Statfs_t
		syscall.Statfs(disk, &st)
		free := int64(st.Bavail) * st.Bsize
		filler = filepath.Join(disk, "filler")
		if err := os.WriteFile(filler, make([]byte, free-300<<10), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var users []string
	full := 0
	for i := 0; i < 5000 && full < 3; i++ {
		s, body := a.call("POST", "/v1/companies/"+co+"/users", map[string]any{
			"name": fmt.Sprintf("%04d %s", i, strings.Repeat("long name ", 19)), "email": fmt.Sprintf("u%d@acme.test", i)})
		switch s {
		case 201:
			users = append(users, body["id"].(string))
		case http.StatusServiceUnavailable:
			full++
		default:
			t.Fatalf("user %d: %d %v", i, s, body)
		}
	}
	if full == 0 {
		t.Fatal("the disk never filled up")
	}
	// Reads still work, and everything acknowledged is there.
	if s := status(t, srv.URL+"/readyz"); s != 200 {
		t.Errorf("/readyz with a full disk: %d (the database still answers)", s)
	}
	for _, u := range users {
		a.must(200, "GET", "/v1/companies/"+co+"/users/"+u, nil)
	}
	t.Logf("%d users fitted; %d writes refused as full", len(users), full)
	if disk == "" {
		srv.stop(t)
		return
	}
	// Space comes back: the next write works, without a restart.
	os.Remove(filler)
	a.must(201, "POST", "/v1/companies/"+co+"/users", map[string]any{"name": "After the disk was freed"})
	srv.stop(t)
	if out := in.mustRun("audit", "verify"); !strings.Contains(out, "intact") {
		t.Fatalf("audit verify after the disk filled: %s", out)
	}
}

// TestKillNineUnderMixedLoad kills the server with SIGKILL while mixed
// requests run, restarts it, and finds every acknowledged change with its
// audit event, and the audit chain intact (SECURITY 24).
func TestKillNineUnderMixedLoad(t *testing.T) {
	engines(t, func(t *testing.T, in *instance) {
		in.mustRun("migrate")
		key := in.apiKey()
		srv := in.serve()
		a := apiClient{t: t, base: srv.URL, key: key}
		co := a.must(201, "POST", "/v1/companies", map[string]any{"name": "Acme"})["id"].(string)
		stop := make(chan struct{})
		l := runLoad(t, a, co, 4, stop)
		providertest.WaitFor(t, 20*time.Second, "some load", func() bool { return l.ack.Load() > 60 })
		srv.cmd.Process.Signal(syscall.SIGKILL)
		<-srv.done
		close(stop)
		time.Sleep(200 * time.Millisecond)

		srv = in.serve()
		a.base = srv.URL
		l.mu.Lock()
		checkAcknowledged(t, a, co, l)
		l.mu.Unlock()
		srv.stop(t)
		if out := in.mustRun("audit", "verify"); !strings.Contains(out, "intact") {
			t.Fatalf("audit verify after kill -9: %s", out)
		}
	})
}
