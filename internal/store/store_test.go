package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

// newTestStore opens a fresh, migrated store for t.
func newTestStore(t *testing.T, url string) *store.DB {
	t.Helper()
	return storetest.Open(t, url)
}

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func company(id string) twostep.Company {
	return twostep.Company{ID: id, Name: "Company " + id, CreatedAt: t0, Settings: twostep.NewSettings(t0)}
}

func user(companyID, id, name string) twostep.User {
	return twostep.User{ID: id, CompanyID: companyID, Name: name, Role: twostep.RoleMember, CreatedAt: t0, UpdatedAt: t0}
}

// mustUpdate runs fn in a write transaction and fails t on error.
func mustUpdate(t *testing.T, db *store.DB, fn func(tx twostep.Tx) error) {
	t.Helper()
	if err := db.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func TestMigrate(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db, err := store.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()

		t.Run("FreshDatabaseIsBehind", func(t *testing.T) {
			if err := db.CheckSchema(ctx); !errors.Is(err, store.ErrSchemaBehind) {
				t.Fatalf("CheckSchema on an empty database = %v, want ErrSchemaBehind", err)
			}
		})
		t.Run("ConcurrentMigratorsApplyEachOnce", func(t *testing.T) {
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				applied []string
			)
			for range 4 {
				wg.Go(func() {
					names, err := db.Migrate(ctx)
					if err != nil {
						t.Error(err)
					}
					mu.Lock()
					applied = append(applied, names...)
					mu.Unlock()
				})
			}
			wg.Wait()
			current, latest, err := db.SchemaVersion(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if current != latest || len(applied) != latest {
				t.Fatalf("after migrating: version %d of %d, applied %v", current, latest, applied)
			}
			if err := db.CheckSchema(ctx); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("SecondRunAppliesNothing", func(t *testing.T) {
			names, err := db.Migrate(ctx)
			if err != nil || len(names) != 0 {
				t.Fatalf("Migrate again = %v, %v", names, err)
			}
		})
	})
}

func TestCompanySettingsRoundTrip(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		db := newTestStore(t, url)
		ctx := context.Background()
		c := company("co_1")
		mustUpdate(t, db, func(tx twostep.Tx) error { return tx.CreateCompany(ctx, c) })

		s := c.Settings
		s.DeliveryMethod = twostep.SMSThenEmail
		s.ResponsibleContact = twostep.Contact{Name: "Rita Berg", Email: "rita@acme.com", Phone: "+37120000001"}
		s.Defaults = twostep.Defaults{Web: true, Manager: false}
		s.SMSDailyCap = 0
		s.AllowedReturnOrigins = []string{"https://app.example.com"}
		s.UpdatedAt = t0.Add(time.Hour)
		mustUpdate(t, db, func(tx twostep.Tx) error { return tx.UpdateSettings(ctx, c.ID, s) })

		var got twostep.Company
		err := db.View(ctx, func(tx twostep.Tx) error {
			var err error
			got, err = tx.Company(ctx, c.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		want := c
		want.Settings = s
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("read back\n %+v\nwant\n %+v", got, want)
		}

		err = db.View(ctx, func(tx twostep.Tx) error { _, err := tx.Company(ctx, "co_missing"); return err })
		if !errors.Is(err, twostep.ErrNotFound) {
			t.Fatalf("missing company: %v, want ErrNotFound", err)
		}
		err = db.Update(ctx, func(tx twostep.Tx) error { return tx.UpdateSettings(ctx, "co_missing", s) })
		if !errors.Is(err, twostep.ErrNotFound) {
			t.Fatalf("update missing company: %v, want ErrNotFound", err)
		}
	})
}

func TestUsers(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		db := newTestStore(t, url)
		ctx := context.Background()
		mustUpdate(t, db, func(tx twostep.Tx) error {
			return errors.Join(tx.CreateCompany(ctx, company("co_a")), tx.CreateCompany(ctx, company("co_b")))
		})

		t.Run("ExternalIDUniquePerCompany", func(t *testing.T) {
			u := user("co_a", "usr_1", "Anna")
			u.ExternalID = "ext-1"
			mustUpdate(t, db, func(tx twostep.Tx) error { return tx.CreateUser(ctx, u) })
			dup := user("co_a", "usr_2", "Other")
			dup.ExternalID = "ext-1"
			err := db.Update(ctx, func(tx twostep.Tx) error { return tx.CreateUser(ctx, dup) })
			if !errors.Is(err, twostep.ErrConflict) {
				t.Fatalf("duplicate external id: %v, want ErrConflict", err)
			}
			other := user("co_b", "usr_3", "Same id elsewhere")
			other.ExternalID = "ext-1"
			mustUpdate(t, db, func(tx twostep.Tx) error { return tx.CreateUser(ctx, other) })
			// Users without an external id never collide.
			mustUpdate(t, db, func(tx twostep.Tx) error {
				return errors.Join(tx.CreateUser(ctx, user("co_a", "usr_4", "No id 1")), tx.CreateUser(ctx, user("co_a", "usr_5", "No id 2")))
			})
		})

		t.Run("OtherCompanysUserIsNotFound", func(t *testing.T) {
			err := db.View(ctx, func(tx twostep.Tx) error { _, err := tx.User(ctx, "co_b", "usr_1"); return err })
			if !errors.Is(err, twostep.ErrNotFound) {
				t.Fatalf("read: %v", err)
			}
			u := user("co_b", "usr_1", "Hijacked")
			err = db.Update(ctx, func(tx twostep.Tx) error { return tx.UpdateUser(ctx, u) })
			if !errors.Is(err, twostep.ErrNotFound) {
				t.Fatalf("update: %v", err)
			}
			err = db.Update(ctx, func(tx twostep.Tx) error { return tx.DeleteUser(ctx, "co_b", "usr_1") })
			if !errors.Is(err, twostep.ErrNotFound) {
				t.Fatalf("delete: %v", err)
			}
			var got twostep.User
			err = db.View(ctx, func(tx twostep.Tx) error { var err error; got, err = tx.User(ctx, "co_a", "usr_1"); return err })
			if err != nil || got.Name != "Anna" {
				t.Fatalf("after attempts from another company: %+v, %v", got, err)
			}
		})

		t.Run("UpdateRoundTrip", func(t *testing.T) {
			u := user("co_a", "usr_1", "Anna Ozola")
			u.Email, u.Phone, u.Role = "anna@acme.com", "+37120000002", twostep.RoleAdmin
			u.TwoFA = twostep.TwoFA{Web: true, Manager: true}
			u.UpdatedAt = t0.Add(time.Minute)
			mustUpdate(t, db, func(tx twostep.Tx) error { return tx.UpdateUser(ctx, u) })
			var got twostep.User
			err := db.View(ctx, func(tx twostep.Tx) error { var err error; got, err = tx.User(ctx, "co_a", "usr_1"); return err })
			if err != nil {
				t.Fatal(err)
			}
			if got != u {
				t.Fatalf("read back %+v, want %+v", got, u)
			}
		})
	})
}

func TestUsersPaging(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		db := newTestStore(t, url)
		ctx := context.Background()
		names := []string{"bob", "Alice", "carol", "Dave", "eve", "100% Real", "under_score", "alice"}
		mustUpdate(t, db, func(tx twostep.Tx) error {
			if err := tx.CreateCompany(ctx, company("co_a")); err != nil {
				return err
			}
			for i, n := range names {
				if err := tx.CreateUser(ctx, user("co_a", fmt.Sprintf("usr_%02d", i), n)); err != nil {
					return err
				}
			}
			return nil
		})
		list := func(q string, limit int) []string {
			t.Helper()
			var out []string
			cursor := ""
			for pages := 0; ; pages++ {
				var (
					users []twostep.User
					next  string
				)
				err := db.View(ctx, func(tx twostep.Tx) error {
					var err error
					users, next, err = tx.Users(ctx, "co_a", twostep.UserFilter{Query: q, Cursor: cursor, Limit: limit})
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if len(users) > limit {
					t.Fatalf("page of %d users with limit %d", len(users), limit)
				}
				for _, u := range users {
					out = append(out, u.Name)
				}
				if next == "" {
					return out
				}
				if pages > len(names) {
					t.Fatal("paging does not end")
				}
				cursor = next
			}
		}

		t.Run("AllPagesInNameOrder", func(t *testing.T) {
			want := []string{"100% Real", "Alice", "alice", "bob", "carol", "Dave", "eve", "under_score"}
			for _, limit := range []int{1, 3, 8, 50} {
				if got := list("", limit); !slices.Equal(got, want) {
					t.Fatalf("limit %d: %q, want %q", limit, got, want)
				}
			}
		})
		t.Run("SearchIgnoresCase", func(t *testing.T) {
			if got := list("ALI", 1); !slices.Equal(got, []string{"Alice", "alice"}) {
				t.Fatalf("q=ALI: %q", got)
			}
		})
		t.Run("SearchWildcardsAreLiteral", func(t *testing.T) {
			if got := list("0%", 50); !slices.Equal(got, []string{"100% Real"}) {
				t.Fatalf("q=0%%: %q", got)
			}
			if got := list("a_i", 50); len(got) != 0 {
				t.Fatalf("q=a_i matched %q; _ must not be a wildcard", got)
			}
		})
		t.Run("BadCursorIsInvalid", func(t *testing.T) {
			err := db.View(ctx, func(tx twostep.Tx) error {
				_, _, err := tx.Users(ctx, "co_a", twostep.UserFilter{Cursor: "not a cursor!", Limit: 5})
				return err
			})
			var e *twostep.Error
			if !errors.As(err, &e) || e.Code != twostep.CodeInvalidValue || e.Field != "cursor" {
				t.Fatalf("bad cursor: %v", err)
			}
		})
	})
}

func TestAuditChain(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		db := newTestStore(t, url)
		ctx := context.Background()
		mustUpdate(t, db, func(tx twostep.Tx) error { return tx.CreateCompany(ctx, company("co_a")) })

		t.Run("ConcurrentAppendsGetConsecutiveSeqs", func(t *testing.T) {
			const n = 20
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					err := db.Update(ctx, func(tx twostep.Tx) error {
						seq, prev, _, err := tx.NextAuditSeq(ctx, "co_a")
						if err != nil {
							return err
						}
						e := twostep.AuditEvent{ID: fmt.Sprintf("evt_%d", i), CompanyID: "co_a", Seq: seq, Time: t0,
							Actor: twostep.Actor{Type: twostep.ActorSystem, ID: "t", Name: "t"}, Action: twostep.ActionUserCreated}
						e.Hash = twostep.ChainHash([]byte("k"), prev, e)
						return tx.InsertAuditEvent(ctx, e)
					})
					if err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			var (
				events []twostep.AuditEvent
				head   twostep.AuditHead
			)
			err := db.View(ctx, func(tx twostep.Tx) error {
				var err error
				if events, err = tx.AuditChain(ctx, "co_a", 0, 100); err != nil {
					return err
				}
				head, err = tx.AuditHead(ctx, "co_a")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			prev := ""
			for i, e := range events {
				if e.Seq != int64(i+1) || twostep.ChainHash([]byte("k"), prev, e) != e.Hash {
					t.Fatalf("event %d: seq %d, chain broken", i, e.Seq)
				}
				prev = e.Hash
			}
			if len(events) != n || head.Seq != n || head.Hash != prev {
				t.Fatalf("%d events, head %+v", len(events), head)
			}
		})

		t.Run("RollbackLeavesNoTrace", func(t *testing.T) {
			boom := errors.New("boom")
			err := db.Update(ctx, func(tx twostep.Tx) error {
				if _, _, _, err := tx.NextAuditSeq(ctx, "co_a"); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("Update = %v, want the function's error", err)
			}
			var head twostep.AuditHead
			db.View(ctx, func(tx twostep.Tx) error { var err error; head, err = tx.AuditHead(ctx, "co_a"); return err })
			if head.Seq != 20 {
				t.Fatalf("head seq %d after a rolled-back append, want 20", head.Seq)
			}
		})
	})
}

func TestAuditEventsFilters(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		db := newTestStore(t, url)
		ctx := context.Background()
		mustUpdate(t, db, func(tx twostep.Tx) error {
			if err := tx.CreateCompany(ctx, company("co_a")); err != nil {
				return err
			}
			if err := tx.CreateCompany(ctx, company("co_b")); err != nil {
				return err
			}
			add := func(co string, minute int, action twostep.Action, actor, target string) error {
				seq, _, _, err := tx.NextAuditSeq(ctx, co)
				if err != nil {
					return err
				}
				return tx.InsertAuditEvent(ctx, twostep.AuditEvent{
					ID: fmt.Sprintf("evt_%s_%d", co, seq), CompanyID: co, Seq: seq, Time: t0.Add(time.Duration(minute) * time.Minute),
					Actor: twostep.Actor{Type: twostep.ActorUser, ID: actor, Name: actor}, Action: action, TargetID: target, Hash: "h"})
			}
			return errors.Join(
				add("co_a", 1, twostep.ActionTwoFAEnabled, "usr_admin", "usr_1"),
				add("co_a", 2, twostep.ActionSettingsGeneralChanged, "usr_admin", ""),
				add("co_a", 3, twostep.ActionTwoFADisabled, "usr_admin", "usr_2"),
				add("co_a", 4, twostep.ActionTwoFAFailedAttempts, "usr_1", "usr_1"),
				add("co_a", 5, twostep.ActionTwoFAEnabled, "usr_2", "usr_2"),
				add("co_b", 6, twostep.ActionTwoFAEnabled, "usr_1", "usr_1"),
			)
		})
		ids := func(f twostep.AuditFilter) []string {
			t.Helper()
			var out []string
			for {
				var (
					events []twostep.AuditEvent
					next   string
				)
				err := db.View(ctx, func(tx twostep.Tx) error {
					var err error
					events, next, err = tx.AuditEvents(ctx, "co_a", f)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range events {
					out = append(out, e.ID)
				}
				if next == "" {
					return out
				}
				f.Cursor = next
			}
		}
		at := func(minute int) time.Time { return t0.Add(time.Duration(minute) * time.Minute) }
		for _, tc := range []struct {
			name   string
			filter twostep.AuditFilter
			want   []string
		}{
			{"NewestFirst", twostep.AuditFilter{Limit: 2}, []string{"evt_co_a_5", "evt_co_a_4", "evt_co_a_3", "evt_co_a_2", "evt_co_a_1"}},
			{"ByAction", twostep.AuditFilter{Limit: 1, Action: twostep.ActionTwoFAEnabled}, []string{"evt_co_a_5", "evt_co_a_1"}},
			{"ByUserAsActorOrTarget", twostep.AuditFilter{Limit: 50, UserID: "usr_1"}, []string{"evt_co_a_4", "evt_co_a_1"}},
			{"SinceIsInclusiveUntilExclusive", twostep.AuditFilter{Limit: 50, Since: at(2), Until: at(4)}, []string{"evt_co_a_3", "evt_co_a_2"}},
			{"Combined", twostep.AuditFilter{Limit: 50, UserID: "usr_2", Since: at(4)}, []string{"evt_co_a_5"}},
			{"ByUserPaged", twostep.AuditFilter{Limit: 1, UserID: "usr_2"}, []string{"evt_co_a_5", "evt_co_a_3"}},
			{"ByUserAndAction", twostep.AuditFilter{Limit: 1, UserID: "usr_2", Action: twostep.ActionTwoFADisabled}, []string{"evt_co_a_3"}},
			{"ByUserAndActionNone", twostep.AuditFilter{Limit: 50, UserID: "usr_admin", Action: twostep.ActionTwoFAFailedAttempts}, nil},
			{"ActionInTimeRange", twostep.AuditFilter{Limit: 1, Action: twostep.ActionTwoFAEnabled, Since: at(1), Until: at(5)}, []string{"evt_co_a_1"}},
			{"UntilPaged", twostep.AuditFilter{Limit: 1, Until: at(4)}, []string{"evt_co_a_3", "evt_co_a_2", "evt_co_a_1"}},
			{"UntilBeforeEverything", twostep.AuditFilter{Limit: 50, Until: at(1)}, nil},
			{"SinceAfterEverything", twostep.AuditFilter{Limit: 50, Since: at(6)}, nil},
			{"EmptyRange", twostep.AuditFilter{Limit: 50, Since: at(4), Until: at(3)}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := ids(tc.filter); !slices.Equal(got, tc.want) {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
				// The count matches the walk, and stops at its limit.
				for _, limit := range []int{50, 1} {
					var n int
					err := db.View(ctx, func(tx twostep.Tx) error {
						var err error
						n, err = tx.CountAuditEvents(ctx, "co_a", tc.filter, limit)
						return err
					})
					if want := min(len(tc.want), limit); err != nil || n != want {
						t.Fatalf("CountAuditEvents(limit %d) = %d, %v; want %d", limit, n, err, want)
					}
				}
			})
		}
	})
}

// TestNowFollowsTheDatabaseClockOffset puts PostgreSQL's clock an hour
// ahead of this process's: every transaction's time must follow it, also
// those that reuse the offset read by an earlier one.
func TestNowFollowsTheDatabaseClockOffset(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		db := newTestStore(t, url)
		if db.Dialect() != "postgres" {
			t.Skip("SQLite runs in this process, on its clock")
		}
		store.SetNowQuery(db, `SELECT now() + interval '1 hour'`)
		ctx := context.Background()
		for i := range 3 {
			var now time.Time
			if err := db.View(ctx, func(tx twostep.Tx) error {
				var err error
				now, err = tx.Now(ctx)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if ahead := now.Sub(time.Now()); ahead < time.Hour-time.Second || ahead > time.Hour+time.Second {
				t.Fatalf("transaction %d: Now is %v ahead of this process, want an hour", i, ahead)
			}
		}
	})
}

func TestAPIKeys(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		db := newTestStore(t, url)
		ctx := context.Background()
		k := twostep.APIKey{ID: "key_1", Name: "ci", CreatedAt: t0}
		mustUpdate(t, db, func(tx twostep.Tx) error { return tx.CreateAPIKey(ctx, k, "hash1") })
		var got twostep.APIKey
		err := db.View(ctx, func(tx twostep.Tx) error { var err error; got, err = tx.APIKeyByHash(ctx, "hash1"); return err })
		if err != nil || got != k {
			t.Fatalf("by hash: %+v, %v", got, err)
		}
		err = db.Update(ctx, func(tx twostep.Tx) error {
			return tx.CreateAPIKey(ctx, twostep.APIKey{ID: "key_2", Name: "x", CreatedAt: t0}, "hash1")
		})
		if !errors.Is(err, twostep.ErrConflict) {
			t.Fatalf("same hash twice: %v", err)
		}
		mustUpdate(t, db, func(tx twostep.Tx) error { return tx.RevokeAPIKey(ctx, "key_1", t0.Add(time.Hour)) })
		err = db.Update(ctx, func(tx twostep.Tx) error { return tx.RevokeAPIKey(ctx, "key_1", t0.Add(2*time.Hour)) })
		if !errors.Is(err, twostep.ErrNotFound) {
			t.Fatalf("revoking twice: %v", err)
		}
		db.View(ctx, func(tx twostep.Tx) error { var err error; got, err = tx.APIKeyByHash(ctx, "hash1"); return err })
		if !got.RevokedAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("revoked at %v", got.RevokedAt)
		}
		err = db.Update(ctx, func(tx twostep.Tx) error {
			return tx.CreateAPIKey(ctx, twostep.APIKey{ID: "key_3", Name: "x", CompanyID: "co_missing", CreatedAt: t0}, "hash3")
		})
		if !errors.Is(err, twostep.ErrNotFound) {
			t.Fatalf("key for a missing company: %v", err)
		}
	})
}

func TestNowIsTheDatabaseClock(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		db := newTestStore(t, url)
		ctx := context.Background()
		var first, second time.Time
		err := db.View(ctx, func(tx twostep.Tx) error {
			var err error
			if first, err = tx.Now(ctx); err != nil {
				return err
			}
			time.Sleep(2 * time.Millisecond)
			second, err = tx.Now(ctx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if !first.Equal(second) || first.Location() != time.UTC || first.Nanosecond()%1000 != 0 {
			t.Fatalf("Now %v then %v: want one UTC time to the microsecond per transaction", first, second)
		}
		if d := time.Since(first); d < 0 || d > time.Minute {
			t.Fatalf("database time %v is %v from this process's", first, d)
		}
		db.SetClock(func() time.Time { return t0 })
		db.View(ctx, func(tx twostep.Tx) error { first, _ = tx.Now(ctx); return nil })
		if !first.Equal(t0) {
			t.Fatalf("SetClock: Now = %v, want %v", first, t0)
		}
	})
}

// TestRateHitsOfSeveralKeys reads, locks and saves several keys' hits in
// one statement each: new keys start empty, each key keeps its own hits,
// and a key's hits survive to the next transaction in order.
func TestRateHitsOfSeveralKeys(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		db := newTestStore(t, url)
		ctx := context.Background()
		keys := []string{"dest:aa", "ip:bb", "user:cc"}
		at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
		mustUpdate(t, db, func(tx twostep.Tx) error {
			hits, err := tx.RateHits(ctx, keys...)
			if err != nil {
				return err
			}
			if len(hits) != 3 || len(hits[0])+len(hits[1])+len(hits[2]) != 0 {
				t.Fatalf("new keys: %v", hits)
			}
			return tx.SaveRateHits(ctx, keys, [][]time.Time{{at(1)}, {}, {at(2), at(3)}}, at(3600))
		})
		mustUpdate(t, db, func(tx twostep.Tx) error {
			hits, err := tx.RateHits(ctx, "user:cc", "dest:aa", "new:dd")
			if err != nil {
				return err
			}
			want := [][]time.Time{{at(2), at(3)}, {at(1)}, nil}
			for i := range want {
				if !slices.EqualFunc(hits[i], want[i], time.Time.Equal) {
					t.Fatalf("key %d: got %v, want %v", i, hits[i], want[i])
				}
			}
			return nil
		})
		err := db.Update(ctx, func(tx twostep.Tx) error {
			return tx.SaveRateHits(ctx, []string{"user:cc", "never:read"}, [][]time.Time{{at(4)}, {at(4)}}, at(3600))
		})
		if !errors.Is(err, twostep.ErrNotFound) {
			t.Fatalf("saving a key that has no row: %v", err)
		}
	})
}

// TestStatsAddUpAcrossShards adds many sign-ins' counts, which land on
// random shards of their day, and reads each day back as one sum.
func TestStatsAddUpAcrossShards(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		db := newTestStore(t, url)
		ctx := context.Background()
		mustUpdate(t, db, func(tx twostep.Tx) error { return tx.CreateCompany(ctx, company("co_a")) })
		mustUpdate(t, db, func(tx twostep.Tx) error { return tx.CreateCompany(ctx, company("co_b")) })
		for i := range 60 {
			mustUpdate(t, db, func(tx twostep.Tx) error {
				if err := tx.AddStats(ctx, "co_a", twostep.DayStats{Day: "2026-11-26", Sent: 1, Failed: i % 2}); err != nil {
					return err
				}
				return tx.AddStats(ctx, "co_a", twostep.DayStats{Day: "2026-11-27", Approved: 1, Locked: i % 3 / 2})
			})
		}
		mustUpdate(t, db, func(tx twostep.Tx) error {
			return tx.AddStats(ctx, "co_b", twostep.DayStats{Day: "2026-11-26", Sent: 5})
		})
		var got []twostep.DayStats
		err := db.View(ctx, func(tx twostep.Tx) error {
			var err error
			got, err = tx.Stats(ctx, "co_a", "2026-11-01", "2026-11-30")
			return err
		})
		want := []twostep.DayStats{{Day: "2026-11-26", Sent: 60, Failed: 30}, {Day: "2026-11-27", Approved: 60, Locked: 20}}
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("stats %+v %v, want %+v", got, err, want)
		}
	})
}

// TestShardingKeepsEarlierStats migrates a database whose statistics were
// one row per day (before migration 0007): the counts must read the same
// after it, and new counts add to them.
func TestShardingKeepsEarlierStats(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db, err := store.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := store.MigrateTo(ctx, db, 6); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`INSERT INTO companies (id, name, created_at, delivery_method, sms_daily_cap, settings_updated_at) VALUES ('co_old', 'Old', 0, 'email_only', 1000, 0)`,
			`INSERT INTO daily_stats (company_id, day, sent, approved, failed, locked) VALUES ('co_old', '2026-11-20', 7, 5, 3, 1)`,
		} {
			if err := store.Exec(ctx, db, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		mustUpdate(t, db, func(tx twostep.Tx) error {
			return tx.AddStats(ctx, "co_old", twostep.DayStats{Day: "2026-11-20", Sent: 1})
		})
		var got []twostep.DayStats
		err = db.View(ctx, func(tx twostep.Tx) error {
			var err error
			got, err = tx.Stats(ctx, "co_old", "2026-11-20", "2026-11-20")
			return err
		})
		want := []twostep.DayStats{{Day: "2026-11-20", Sent: 8, Approved: 5, Failed: 3, Locked: 1}}
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("stats %+v %v, want %+v", got, err, want)
		}
	})
}

// TestSQLiteFilesArePrivate: the database and the files SQLite keeps
// beside it are readable by their owner alone, whatever the umask.
func TestSQLiteFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	url := storetest.SQLiteURL(t)
	db := newTestStore(t, url)
	mustUpdate(t, db, func(tx twostep.Tx) error { return tx.CreateCompany(context.Background(), company("co_private")) })
	path := strings.TrimPrefix(url, "sqlite:")
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(f), fi.Mode().Perm())
		}
	}
}

// TestBackup copies a live SQLite database while writes go on: the copy
// opens, holds every write acknowledged before it began, and is private.
// PostgreSQL is pointed to pg_dump.
func TestBackup(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		db := newTestStore(t, url)
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), "backup.db")
		if storetest.IsPostgres(url) {
			if err := db.Backup(ctx, path); !errors.Is(err, store.ErrNoBackup) || !strings.Contains(err.Error(), "pg_dump") {
				t.Fatalf("backup on PostgreSQL: %v", err)
			}
			return
		}
		for i := range 50 {
			mustUpdate(t, db, func(tx twostep.Tx) error { return tx.CreateCompany(ctx, company(fmt.Sprintf("co_before_%02d", i))) })
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
				db.Update(ctx, func(tx twostep.Tx) error { return tx.CreateCompany(ctx, company(fmt.Sprintf("co_during_%04d", i))) })
			}
		})
		err := db.Backup(ctx, path)
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("backup file: %v %v", fi, err)
		}
		copy := newTestStore(t, "sqlite:"+path)
		if err := copy.CheckSchema(ctx); err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			if err := copy.View(ctx, func(tx twostep.Tx) error { _, err := tx.Company(ctx, fmt.Sprintf("co_before_%02d", i)); return err }); err != nil {
				t.Fatalf("company %d is not in the backup: %v", i, err)
			}
		}
		if err := db.Backup(ctx, path); err == nil {
			t.Fatal("a backup over an existing file was made")
		}
	})
}
