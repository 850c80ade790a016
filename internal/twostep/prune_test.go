package twostep_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

// TestPruneDeletesWhatNoLongerMatters makes rows of every kind that
// grows, through the service, moves the clock past their time and
// prunes: they go, what still matters stays, and the audit log is kept
// whole.
func TestPruneDeletesWhatNoLongerMatters(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		s := newSignIn(t, url, smsFirst, anna)
		db := storetest.RawDB(t, s.url)
		count := func(table string) int {
			t.Helper()
			var n int
			if err := db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		// A sign-in with a wrong code first: a challenge, two messages, rate
		// limits, the day's SMS count and statistics, a lockout row back at
		// zero failures.
		v := s.start(t)
		code := s.code(t, v.ID)
		s.verify(t, v.ID, wrongCode(code))
		s.clock.Advance(time.Minute)
		if _, err := s.svc.Resend(s.ctx, s.platform, v.ID, ""); err != nil {
			t.Fatal(err)
		}
		if _, r := s.verify(t, v.ID, s.code(t, v.ID)); r != twostep.ResultApproved {
			t.Fatal(r)
		}
		// A console admin: a used set-up link, an unused one, a session.
		_, token, err := s.svc.CreateAdmin(s.ctx, s.co.ID, "rita@acme.com")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.svc.CompleteSetup(s.ctx, token, "a long enough pass phrase"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.SignIn(s.ctx, "rita@acme.com", "a long enough pass phrase", "198.51.100.4", "test"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.svc.CreateAdmin(s.ctx, s.co.ID, "ben@acme.com"); err != nil {
			t.Fatal(err)
		}
		tables := []string{"challenges", "outbox", "sessions", "admin_setup_links", "rate_limits", "counters", "lockouts", "daily_stats"}
		for _, table := range tables {
			if count(table) == 0 {
				t.Fatalf("no %s rows to prune", table)
			}
		}
		events := count("audit_events")

		// Nothing has stopped mattering yet.
		got, err := s.svc.Prune(s.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for kind, n := range got {
			if n != 0 && kind != twostep.PruneLockouts {
				t.Errorf("pruned %d %s that still matter", n, kind)
			}
		}
		// A month on, a new sign-in is the only one that still matters.
		s.clock.Advance(twostep.ChallengeRetention + time.Hour)
		fresh := s.start(t)
		if _, err := s.svc.Prune(s.ctx); err != nil {
			t.Fatal(err)
		}
		if n := count("challenges"); n != 1 {
			t.Errorf("%d challenges after pruning, want the fresh one", n)
		}
		if _, err := s.svc.Challenge(s.ctx, s.platform, fresh.ID); err != nil {
			t.Errorf("the fresh challenge: %v", err)
		}
		for _, table := range []string{"sessions", "admin_setup_links", "counters"} {
			if n := count(table); n != 0 && table != "counters" {
				t.Errorf("%d %s rows left", n, table)
			}
		}
		if n := count("counters"); n != 1 { // today's SMS count, of the fresh sign-in
			t.Errorf("%d counters left, want today's", n)
		}
		if count("daily_stats") == 0 {
			t.Error("pruning took daily statistics the chart still shows")
		}
		if n := count("audit_events"); n != events {
			t.Fatalf("pruning changed the audit log: %d events, had %d", n, events)
		}
		if brk, err := s.svc.VerifyAudit(s.ctx, nil, twostep.VerifyProgress{}); brk != nil || err != nil {
			t.Fatalf("the audit log after pruning: %v %v", brk, err)
		}
		// Over a year on, the statistics go too.
		s.clock.Advance(401 * 24 * time.Hour)
		if _, err := s.svc.Prune(s.ctx); err != nil {
			t.Fatal(err)
		}
		for _, table := range tables {
			if n := count(table); n != 0 {
				t.Errorf("%d %s rows left a year on", n, table)
			}
		}
	})
}

// TestPruneIsBatchedAndSharesWell gives pruning more than a batch of
// rows and two instances that prune at once: every row goes once, none
// is an error.
func TestPruneIsBatchedAndSharesWell(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		other := twostep.NewService(f.db, twostep.Options{AuditKey: auditKey})
		db := storetest.RawDB(t, url)
		const rows = 2300
		past := f.clock.Now().Add(-time.Hour).UnixMicro()
		for i := 0; i < rows; i += 100 {
			q := `INSERT INTO counters (key, count, expires_at) VALUES `
			var args []any
			for j := range 100 {
				if j > 0 {
					q += ", "
				}
				q += fmt.Sprintf("($%d, 1, $%d)", 2*j+1, 2*j+2)
				args = append(args, fmt.Sprintf("old:%d", i+j), past)
			}
			if _, err := db.Exec(q, args...); err != nil {
				t.Fatal(err)
			}
		}
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			total int
		)
		for _, svc := range []*twostep.Service{f.svc, other} {
			wg.Go(func() {
				got, err := svc.Prune(f.ctx)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				total += got[twostep.PruneCounters]
				mu.Unlock()
			})
		}
		wg.Wait()
		var left int
		db.QueryRow(`SELECT count(*) FROM counters`).Scan(&left)
		if total != rows || left != 0 {
			t.Fatalf("pruned %d of %d, %d left", total, rows, left)
		}
	})
}
