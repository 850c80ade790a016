package twostep_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

// The hot paths of a sign-in and of the audit log on a real store
// (issue 6), on SQLite and, with TWOSTEP_TEST_POSTGRES, on PostgreSQL.
// Each benchmark sets up once per engine and measures in a sub-benchmark,
// so that the setup does not run again for every b.N. Run with
//
//	go test -run '^$' -bench . -benchtime 1x ./internal/twostep   # a smoke run
//	go test -run '^$' -bench 'Verify|Claim|Audit' ./internal/twostep -cpuprofile cpu.out

// benchClock is a settable clock for the store.
type benchClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *benchClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *benchClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// benchRig is a service on a fresh store with one company.
type benchRig struct {
	url    string
	db     *store.DB
	svc    *twostep.Service
	clock  *benchClock
	caller twostep.Caller
	co     twostep.Company
	ctx    context.Context
}

// benchEngines runs fn once per engine as a sub-benchmark with a fresh
// rig; fn sets up and calls b.Run for what it measures.
func benchEngines(b *testing.B, fn func(b *testing.B, r *benchRig)) {
	for _, e := range storetest.Engines {
		b.Run(e.Name, func(b *testing.B) {
			url := e.URL(b)
			db := storetest.Open(b, url)
			c := &benchClock{now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
			db.SetClock(c.Now)
			r := &benchRig{url: url, db: db, clock: c, ctx: context.Background(),
				svc: twostep.NewService(db, twostep.Options{AuditKey: []byte("bench audit key"), CodeKey: []byte("bench code key"),
					OutboxKey: []byte("0123456789abcdef0123456789abcdef"), CodeTTL: 5 * time.Minute}),
				caller: twostep.Caller{KeyID: "key_bench", KeyName: "bench", IP: "192.0.2.1", UserAgent: "bench"}}
			var err error
			if r.co, err = r.svc.CreateCompany(r.ctx, r.caller, "Bench"); err != nil {
				b.Fatal(err)
			}
			fn(b, r)
		})
	}
}

// users makes n users with an email, 2FA on in the Web application.
func (r *benchRig) users(b *testing.B, n int) []twostep.User {
	b.Helper()
	out := make([]twostep.User, n)
	for i := range out {
		u, err := r.svc.CreateUser(r.ctx, r.caller, r.co.ID, twostep.NewUser{Name: fmt.Sprintf("User %d", i),
			Email: fmt.Sprintf("user%d@bench.test", i), TwoFA: twostep.Some(twostep.TwoFAPatch{Web: twostep.Some(true)})})
		if err != nil {
			b.Fatal(err)
		}
		out[i] = u
	}
	return out
}

// challenge starts a challenge for u and delivers its code, as the worker
// would, returning the challenge id and the code.
func (r *benchRig) challenge(b *testing.B, u twostep.User) (string, string) {
	b.Helper()
	res, err := r.svc.CreateChallenge(r.ctx, r.caller, r.co.ID, u.ID, twostep.NewChallenge{App: "web"})
	if err != nil {
		b.Fatal(err)
	}
	msgs, err := r.svc.ClaimMessages(r.ctx, 1, time.Minute)
	if err != nil || len(msgs) != 1 {
		b.Fatalf("claim: %d messages, %v", len(msgs), err)
	}
	if err := r.svc.MessageSent(r.ctx, msgs[0].ID, "bench"); err != nil {
		b.Fatal(err)
	}
	return res.ID, msgs[0].Code
}

// BenchmarkCreateChallenge is the create transaction: company, user,
// lockout, send limits, the challenge, its outbox message and the stats.
func BenchmarkCreateChallenge(b *testing.B) {
	benchEngines(b, func(b *testing.B, r *benchRig) {
		users := r.users(b, 10)
		b.Run("create", func(b *testing.B) {
			i := 0
			for b.Loop() {
				if i%len(users) == 0 {
					r.clock.Advance(7 * time.Minute) // each user stays under 10 codes an hour
				}
				if _, err := r.svc.CreateChallenge(r.ctx, r.caller, r.co.ID, users[i%len(users)].ID, twostep.NewChallenge{App: "web"}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	})
}

// BenchmarkVerifyWrongAndRight is one wrong guess and then the right code
// per op: the verify decision with its compare-and-set, lockout and stats.
func BenchmarkVerifyWrongAndRight(b *testing.B) {
	benchEngines(b, func(b *testing.B, r *benchRig) {
		u := r.users(b, 1)[0]
		b.Run("wrong+right", func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				r.clock.Advance(7 * time.Minute)
				id, code := r.challenge(b, u)
				wrong := fmt.Sprintf("%06d", (mustAtoi(b, code)+1)%1_000_000)
				b.StartTimer()
				if _, res, err := r.svc.Verify(r.ctx, r.caller, id, twostep.Proof{Code: wrong}); err != nil || res != twostep.ResultRejected {
					b.Fatalf("wrong code: %v %v", res, err)
				}
				if _, res, err := r.svc.Verify(r.ctx, r.caller, id, twostep.Proof{Code: code}); err != nil || res != twostep.ResultApproved {
					b.Fatalf("right code: %v %v", res, err)
				}
			}
		})
	})
}

func mustAtoi(b *testing.B, s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			b.Fatalf("code %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// BenchmarkClaimMessages claims a batch of 16 due messages, opening their
// sealed codes, and records each as sent, as the outbox worker does; ns/msg
// is per message.
func BenchmarkClaimMessages(b *testing.B) {
	const batch = 16
	benchEngines(b, func(b *testing.B, r *benchRig) {
		users := r.users(b, batch)
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				r.clock.Advance(7 * time.Minute)
				for _, u := range users {
					if _, err := r.svc.CreateChallenge(r.ctx, r.caller, r.co.ID, u.ID, twostep.NewChallenge{App: "web"}); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				msgs, err := r.svc.ClaimMessages(r.ctx, batch, 20*time.Second)
				if err != nil || len(msgs) != batch {
					b.Fatalf("claimed %d, %v", len(msgs), err)
				}
				for _, m := range msgs {
					if err := r.svc.MessageSent(r.ctx, m.ID, "bench"); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/msg")
		})
	})
}

// BenchmarkAuditAppend changes a default setting back and forth: each op
// is one change and one chained audit event in one transaction.
func BenchmarkAuditAppend(b *testing.B) {
	benchEngines(b, func(b *testing.B, r *benchRig) {
		b.Run("settings+event", func(b *testing.B) {
			on := false
			for b.Loop() {
				on = !on
				p := twostep.SettingsPatch{Defaults: twostep.Some(twostep.DefaultsPatch{Web: twostep.Some(on)})}
				if _, err := r.svc.UpdateSettings(r.ctx, r.caller, r.co.ID, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// benchAuditEvents is the size of the log BenchmarkAuditPage reads.
const benchAuditEvents = 100_000

// BenchmarkAuditPage reads the newest page of 50 of a company with
// benchAuditEvents events, without a filter, with a rare action (2%), and
// with a user (about 1 event in 25).
func BenchmarkAuditPage(b *testing.B) {
	benchEngines(b, func(b *testing.B, r *benchRig) {
		start := time.Now()
		fillAudit(b, r, benchAuditEvents)
		b.Logf("%d events in %.1fs", benchAuditEvents, time.Since(start).Seconds())
		for _, f := range []struct {
			name   string
			filter twostep.AuditFilter
		}{
			{"no-filter", twostep.AuditFilter{}},
			{"action", twostep.AuditFilter{Action: twostep.ActionSettingsDefaultsChanged}},
			{"user", twostep.AuditFilter{UserID: "usr_bench07"}},
		} {
			b.Run(f.name, func(b *testing.B) {
				f.filter.Limit = 50
				for b.Loop() {
					events, _, err := r.svc.AuditEvents(r.ctx, r.caller, r.co.ID, f.filter)
					if err != nil || len(events) != 50 {
						b.Fatalf("%d events, %v", len(events), err)
					}
				}
			})
		}
	})
}

// fillAudit writes n events of the rig's company straight into the table,
// 200 rows per INSERT; their hashes are not a valid chain, which a page
// read does not check.
func fillAudit(b *testing.B, r *benchRig, n int) {
	b.Helper()
	db := storetest.RawDB(b, r.url)
	cols := "company_id, seq, id, time, actor_type, actor_id, actor_name, action, target_id, target_name, app, details, ip, user_agent, hash"
	const rows = 200
	postgres := storetest.IsPostgres(r.url)
	stmt := func(k int) string {
		var sb strings.Builder
		sb.WriteString("INSERT INTO audit_events (" + cols + ") VALUES ")
		for i := range k {
			if i > 0 {
				sb.WriteString(",")
			}
			sb.WriteString("(")
			for j := range 15 {
				if j > 0 {
					sb.WriteString(",")
				}
				if postgres {
					fmt.Fprintf(&sb, "$%d", i*15+j+1)
				} else {
					sb.WriteString("?") // modernc finds $n by name: slow with thousands
				}
			}
			sb.WriteString(")")
		}
		return sb.String()
	}
	actions := []twostep.Action{twostep.ActionTwoFAEnabled, twostep.ActionTwoFADisabled, twostep.ActionUserCreated,
		twostep.ActionTwoFAFailedAttempts, twostep.ActionTwoFAEnabled, twostep.ActionTwoFADisabled, twostep.ActionUserCreated,
		twostep.ActionTwoFAEnabled, twostep.ActionTwoFALocked, twostep.ActionUserUpdated}
	base := time.Date(2025, 11, 27, 0, 0, 0, 0, time.UTC).UnixMicro()
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	q := stmt(rows)
	args := make([]any, 0, rows*15)
	for seq := 1; seq <= n; {
		k := min(rows, n-seq+1)
		args = args[:0]
		for range k {
			action := actions[seq%len(actions)]
			if seq%50 == 0 {
				action = twostep.ActionSettingsDefaultsChanged
			}
			target := fmt.Sprintf("usr_bench%02d", seq%25)
			args = append(args, r.co.ID, seq, fmt.Sprintf("evt_bench%09d", seq), base+int64(seq)*1_000_000, "user", "usr_admin",
				"Rita Berg", string(action), target, "Some User", "web", `{"field":"defaults.web","from":false,"to":true}`,
				"203.0.113.7", "Mozilla/5.0", fmt.Sprintf("%064d", seq))
			seq++
		}
		query := q
		if k < rows {
			query = stmt(k)
		}
		if _, err := tx.Exec(query, args...); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := tx.Exec(`UPDATE companies SET audit_seq = $2 WHERE id = $1`, r.co.ID, n); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if postgres {
		analyze(b, db)
	}
}

// analyze refreshes PostgreSQL's statistics, as autovacuum soon would.
func analyze(b *testing.B, db *sql.DB) {
	if _, err := db.Exec(`ANALYZE audit_events`); err != nil {
		b.Fatal(err)
	}
}
