package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/storetest"
)

// TestSeedWalk walks the help-center page's settings and audit log through
// the real binary: General settings, Default settings, per-user per-app
// switches, and the audit log's User, Action and Time.
func TestSeedWalk(t *testing.T) {
	engines(t, func(t *testing.T, in *instance) {
		in.mustRun("migrate")
		key := in.apiKey()
		srv := in.serve()
		a := apiClient{t: t, base: srv.URL, key: key}

		co := a.must(201, "POST", "/v1/companies", map[string]any{"name": "Acme"})
		id := co["id"].(string)
		base := "/v1/companies/" + id
		s := a.must(200, "GET", base+"/settings", nil)
		if s["delivery_method"] != "email_only" || s["defaults"].(map[string]any)["web"] != false ||
			s["defaults"].(map[string]any)["manager"] != false {
			t.Fatalf("a new company's settings: %v", s)
		}
		rita := a.must(201, "POST", base+"/users", map[string]any{"name": "Rita Berg", "email": "rita@acme.com", "role": "admin"})["id"].(string)
		admin := a.as(rita)

		// General settings: SMS first with email as backup, and the
		// responsible person's contact.
		s = admin.must(200, "PATCH", base+"/settings", map[string]any{
			"delivery_method":     "sms_then_email",
			"responsible_contact": map[string]any{"name": "Rita Berg", "email": "rita@acme.com", "phone": "+371 2000 0001"},
		})
		if s["delivery_method"] != "sms_then_email" || s["responsible_contact"].(map[string]any)["phone"] != "+37120000001" {
			t.Fatalf("general settings: %v", s)
		}
		// Default settings: 2FA on for new users in both apps.
		admin.must(200, "PATCH", base+"/settings", map[string]any{"defaults": map[string]any{"web": true, "manager": true}})
		anna := a.must(201, "POST", base+"/users", map[string]any{"name": "Anna Ozola", "phone": "+371 2000 0002"})
		if tf := anna["twofa"].(map[string]any); tf["web"] != true || tf["manager"] != true {
			t.Fatalf("a new user did not take the defaults: %v", anna)
		}
		// Turning the defaults off again leaves Anna as she is.
		admin.must(200, "PATCH", base+"/settings", map[string]any{"defaults": map[string]any{"web": false, "manager": false}})
		got := a.must(200, "GET", base+"/users/"+anna["id"].(string), nil)
		if tf := got["twofa"].(map[string]any); tf["web"] != true || tf["manager"] != true {
			t.Fatalf("changing the defaults changed an existing user: %v", got)
		}
		// Enabling or disabling 2FA for a user, per application.
		admin.must(200, "PUT", base+"/users/"+anna["id"].(string)+"/twofa/manager", map[string]any{"enabled": false})

		// The audit log: who, what, when — newest first.
		events := a.must(200, "GET", base+"/audit-events", nil)["events"].([]any)
		type row struct{ user, action, field string }
		var rows []row
		var times []time.Time
		for _, e := range events {
			e := e.(map[string]any)
			field := ""
			if d, ok := e["details"].(map[string]any); ok {
				field, _ = d["field"].(string)
			}
			rows = append(rows, row{e["actor"].(map[string]any)["name"].(string), e["action"].(string), field})
			tm, err := time.Parse(time.RFC3339Nano, e["time"].(string))
			if err != nil || !strings.HasSuffix(e["time"].(string), "Z") {
				t.Fatalf("time %q is not RFC 3339 UTC", e["time"])
			}
			times = append(times, tm)
		}
		want := []row{
			{"Rita Berg", "user.2fa_disabled", "twofa.manager"},
			{"Rita Berg", "settings.defaults_changed", "defaults.manager"},
			{"Rita Berg", "settings.defaults_changed", "defaults.web"},
			{"platform", "user.created", ""},
			{"Rita Berg", "settings.defaults_changed", "defaults.manager"},
			{"Rita Berg", "settings.defaults_changed", "defaults.web"},
			{"Rita Berg", "settings.general_changed", "responsible_contact.phone"},
			{"Rita Berg", "settings.general_changed", "responsible_contact.email"},
			{"Rita Berg", "settings.general_changed", "responsible_contact.name"},
			{"Rita Berg", "settings.general_changed", "delivery_method"},
			{"platform", "user.created", ""},
		}
		if !slices.Equal(rows, want) {
			t.Fatalf("audit log\n%v\nwant\n%v", rows, want)
		}
		for i := 1; i < len(times); i++ {
			if times[i].After(times[i-1]) {
				t.Fatalf("event %d is newer than the one listed before it", i)
			}
		}

		// Filters: by action, by user, by time.
		disabled := a.must(200, "GET", base+"/audit-events?action=user.2fa_disabled", nil)["events"].([]any)
		if len(disabled) != 1 || disabled[0].(map[string]any)["target"].(map[string]any)["name"] != "Anna Ozola" {
			t.Fatalf("action filter: %v", disabled)
		}
		aboutAnna := a.must(200, "GET", base+"/audit-events?user="+anna["id"].(string), nil)["events"].([]any)
		if len(aboutAnna) != 2 {
			t.Fatalf("user filter: %d events", len(aboutAnna))
		}
		since := times[0].Add(time.Microsecond).Format(time.RFC3339Nano)
		if n := len(a.must(200, "GET", base+"/audit-events?since="+since, nil)["events"].([]any)); n != 0 {
			t.Fatalf("since after the newest event: %d events", n)
		}

		// The CSV export carries the same User, Action and Time.
		records, err := csv.NewReader(bytes.NewReader(a.get(base + "/audit-events/export?format=csv"))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(records) != len(want)+1 || records[1][1] != "Rita Berg" || records[1][2] != "user.2fa_disabled" ||
			records[1][0] != events[0].(map[string]any)["time"] {
			t.Fatalf("CSV export: %q", records[:2])
		}

		srv.stop(t)
		if out := in.mustRun("audit", "verify"); !strings.Contains(out, "intact") {
			t.Fatalf("audit verify: %s", out)
		}
	})
}

func TestAPIKeyIsPrintedOnceAndStoredHashed(t *testing.T) {
	engines(t, func(t *testing.T, in *instance) {
		in.mustRun("migrate")
		out := in.mustRun("apikey", "create", "--name", "ci")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		key := lines[len(lines)-1]
		if !strings.HasPrefix(key, "tsk_") || strings.Contains(key, " ") {
			t.Fatalf("last line %q is not a key", key)
		}
		srv := in.serve()
		a := apiClient{t: t, base: srv.URL, key: key}
		a.must(201, "POST", "/v1/companies", map[string]any{"name": "Acme"})
		srv.stop(t)

		if path, ok := strings.CutPrefix(in.dbURL, "sqlite:"); ok {
			for _, f := range []string{path, path + "-wal"} {
				b, _ := os.ReadFile(f)
				if bytes.Contains(b, []byte(key)) {
					t.Fatalf("%s holds the key in clear", f)
				}
			}
		} else {
			var n int
			storetest.RawDB(t, in.dbURL).QueryRow(`SELECT count(*) FROM api_keys WHERE hash = $1 OR name = $1`, key).Scan(&n)
			if n != 0 {
				t.Fatal("the database holds the key in clear")
			}
		}
		if list := in.mustRun("apikey", "list"); strings.Contains(list, key) || !strings.Contains(list, "ci") {
			t.Fatalf("apikey list:\n%s", list)
		}
	})
}

func TestAuditVerifyCatchesTampering(t *testing.T) {
	engines(t, func(t *testing.T, in *instance) {
		in.mustRun("migrate")
		key := in.apiKey()
		srv := in.serve()
		a := apiClient{t: t, base: srv.URL, key: key}
		id := a.must(201, "POST", "/v1/companies", map[string]any{"name": "Acme"})["id"].(string)
		for _, dm := range []string{"sms_then_email", "email_only", "sms_then_email"} {
			a.must(200, "PATCH", "/v1/companies/"+id+"/settings", map[string]any{"delivery_method": dm})
		}
		events := a.must(200, "GET", "/v1/companies/"+id+"/audit-events", nil)["events"].([]any)
		middle := events[1].(map[string]any)["id"].(string)
		srv.stop(t)

		if out := in.mustRun("audit", "verify"); !strings.Contains(out, "1 companies, 3 events") {
			t.Fatalf("before tampering: %s", out)
		}
		// Someone with database access rewrites who made a change.
		db := storetest.RawDB(t, in.dbURL)
		if _, err := db.Exec(`UPDATE audit_events SET actor_name = 'Nobody' WHERE id = $1`, middle); err != nil {
			t.Fatal(err)
		}
		out, _, code := in.run("audit", "verify")
		if code != 1 || !strings.Contains(out, middle) {
			t.Fatalf("after tampering: exit %d, %s; want exit 1 naming %s", code, out, middle)
		}
	})
}

// TestAuditCheckpointCatchesDeletion: a company's whole log deleted, with
// its head reset, passes `audit verify`; the checkpoint taken before it,
// kept in a file, catches it.
func TestAuditCheckpointCatchesDeletion(t *testing.T) {
	engines(t, func(t *testing.T, in *instance) {
		in.mustRun("migrate")
		key := in.apiKey()
		srv := in.serve()
		a := apiClient{t: t, base: srv.URL, key: key}
		id := a.must(201, "POST", "/v1/companies", map[string]any{"name": "Acme"})["id"].(string)
		a.must(201, "POST", "/v1/companies", map[string]any{"name": "Globex"})
		for _, dm := range []string{"sms_then_email", "email_only"} {
			a.must(200, "PATCH", "/v1/companies/"+id+"/settings", map[string]any{"delivery_method": dm})
		}
		srv.stop(t)

		out := strings.TrimSpace(in.mustRun("audit", "checkpoint"))
		if strings.Count(out, "\n") != 0 || !strings.Contains(out, id) {
			t.Fatalf("audit checkpoint printed %q; want one line naming %s", out, id)
		}
		file := filepath.Join(t.TempDir(), "checkpoints.log")
		os.WriteFile(file, []byte("older line that is not read\n"+out+"\n"), 0o600)
		if got := in.mustRun("audit", "verify", "--checkpoint", file); !strings.Contains(got, "Everything the checkpoint") {
			t.Fatalf("verify with the checkpoint: %s", got)
		}

		db := storetest.RawDB(t, in.dbURL)
		for _, q := range []string{`DELETE FROM audit_events WHERE company_id = $1`,
			`UPDATE companies SET audit_seq = 0, audit_head = '', audit_time = 0 WHERE id = $1`} {
			if _, err := db.Exec(q, id); err != nil {
				t.Fatal(err)
			}
		}
		if got := in.mustRun("audit", "verify"); !strings.Contains(got, "intact") {
			t.Fatalf("without the checkpoint: %s", got)
		}
		got, _, code := in.run("audit", "verify", "--checkpoint", file)
		if code != 1 || !strings.Contains(got, id) || !strings.Contains(got, "checkpoint counted 2") {
			t.Fatalf("with the checkpoint after the log was deleted: exit %d, %s", code, got)
		}
		os.WriteFile(file, []byte(strings.Replace(out, `"events":2`, `"events":0`, 1)+"\n"), 0o600)
		if got, errOut, code := in.run("audit", "verify", "--checkpoint", file); code == 0 || !strings.Contains(errOut, "signature") {
			t.Fatalf("an edited checkpoint: exit %d, %s %s", code, got, errOut)
		}
	})
}

func TestServeRefusesASchemaThatIsBehind(t *testing.T) {
	engines(t, func(t *testing.T, in *instance) {
		_, errOut, code := in.run("serve", "--addr", "127.0.0.1:0")
		if code != 1 || !strings.Contains(errOut, "twostep migrate") {
			t.Fatalf("serve on an empty database: exit %d\n%s", code, errOut)
		}
		// --migrate brings it up to date and serves.
		srv := in.serve("--migrate")
		res, err := http.Get(srv.URL + "/readyz")
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("readyz after serve --migrate: %v %v", res, err)
		}
		// /readyz tells the truth when the schema falls behind under it.
		if _, err := storetest.RawDB(t, in.dbURL).Exec(`DELETE FROM schema_migrations`); err != nil {
			t.Fatal(err)
		}
		res, err = http.Get(srv.URL + "/readyz")
		if err != nil || res.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("readyz with the schema behind: %v %v", res, err)
		}
		srv.stop(t)
	})
}

func TestSecretFileIsPrivate(t *testing.T) {
	in := newInstance(t, storetest.SQLiteURL(t))
	in.mustRun("migrate")
	in.apiKey()
	fi, err := os.Stat(in.secret)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v, want 0600", fi.Mode().Perm())
	}
	before, _ := os.ReadFile(in.secret)
	in.apiKey()
	after, _ := os.ReadFile(in.secret)
	if !bytes.Equal(before, after) {
		t.Fatal("a second command replaced the secret file")
	}
}

func TestBadSettingsAreUsageErrors(t *testing.T) {
	in := newInstance(t, storetest.SQLiteURL(t))
	for _, args := range [][]string{
		{"serve", "--code-ttl", "11m"},
		{"serve", "--code-ttl", "0s"},
		{"serve", "--resend-cooldown", "soon"},
		{"serve", "--database-url", "mysql://localhost/db"},
		{"serve", "--email", "sendmail"},
		{"serve", "--allowed-return-origins", "https://ok.example.com,not an origin"},
		{"apikey", "create"},
		{"nonsense"},
	} {
		_, errOut, code := in.run(args...)
		if code != 2 || errOut == "" {
			t.Errorf("twostep %s: exit %d, stderr %q; want exit 2 with a message", strings.Join(args, " "), code, errOut)
		}
	}
	// The variables are read too, and a flag beats its variable.
	cmd := in.command([]string{"TWOSTEP_CODE_TTL=15m"}, "serve")
	if out, _ := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "TWOSTEP_CODE_TTL") {
		t.Errorf("TWOSTEP_CODE_TTL=15m: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}
	cmd = in.command([]string{"TWOSTEP_CODE_TTL=15m"}, "serve", "--code-ttl", "5m") // then stops at the empty schema
	if out, _ := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "migrate") {
		t.Errorf("--code-ttl 5m over TWOSTEP_CODE_TTL=15m: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}
}

// TestBackupOfALiveDatabase copies the SQLite database while the server
// takes writes: `audit verify` accepts the copy, which holds every change
// acknowledged before the backup began. On PostgreSQL it says to use
// pg_dump.
func TestBackupOfALiveDatabase(t *testing.T) {
	engines(t, func(t *testing.T, in *instance) {
		in.mustRun("migrate")
		file := filepath.Join(t.TempDir(), "backup.db")
		if storetest.IsPostgres(in.dbURL) {
			_, errOut, code := in.run("backup", file)
			if code != 1 || !strings.Contains(errOut, "pg_dump") {
				t.Fatalf("backup on PostgreSQL: exit %d, %s", code, errOut)
			}
			return
		}
		key := in.apiKey()
		srv := in.serve()
		a := apiClient{t: t, base: srv.URL, key: key}
		id := a.must(201, "POST", "/v1/companies", map[string]any{"name": "Acme"})["id"].(string)
		for i := range 20 {
			a.must(201, "POST", "/v1/companies/"+id+"/users", map[string]any{"name": fmt.Sprint("User ", i)})
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				a.callSafe("PATCH", "/v1/companies/"+id+"/settings", map[string]any{"defaults": map[string]any{"web": i%2 == 0}})
			}
		})
		out := in.mustRun("backup", file)
		close(stop)
		wg.Wait()
		if !strings.Contains(out, "Backed up") {
			t.Fatalf("backup: %s", out)
		}
		if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("backup file: %v %v", fi, err)
		}
		copyOf := &instance{t: t, dbURL: "sqlite:" + file, secret: in.secret}
		got := copyOf.mustRun("audit", "verify")
		if !strings.Contains(got, "Audit log intact: 1 companies") {
			t.Fatalf("audit verify on the backup: %s", got)
		}
		var users int
		storetest.RawDB(t, "sqlite:"+file).QueryRow(`SELECT count(*) FROM users`).Scan(&users)
		if users != 20 {
			t.Fatalf("the backup holds %d of 20 users", users)
		}
		if _, errOut, code := in.run("backup", file); code == 0 || !strings.Contains(errOut, "exists") {
			t.Fatalf("a backup over an existing file: exit %d %s", code, errOut)
		}
	})
}

// TestProgressOnlyOnATerminal runs migrate on a terminal (a pty, through
// util-linux's script) and in a pipe: the first shows where it is, the
// second only its log.
func TestProgressOnlyOnATerminal(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil || runtime.GOOS != "linux" {
		t.Skip("needs util-linux's script for a pty")
	}
	in := newInstance(t, storetest.SQLiteURL(t))
	cmd := exec.Command("script", "-qec", binary+" migrate", "/dev/null")
	cmd.Env = in.env()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "\rMigrating the database: 0001_") || !strings.Contains(string(out), "schema is current") {
		t.Fatalf("migrate on a terminal: %v\n%q", err, out)
	}
	_, stderr, code := newInstance(t, storetest.SQLiteURL(t)).run("migrate")
	if code != 0 || strings.Contains(stderr, "Migrating the database") || strings.Contains(stderr, "\r") {
		t.Fatalf("migrate in a pipe: exit %d\n%q", code, stderr)
	}
}
