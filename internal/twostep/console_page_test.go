package twostep_test

import (
	"context"
	"testing"

	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

// countingStore counts the transactions a service call runs.
type countingStore struct {
	twostep.Store
	views, updates int
}

func (c *countingStore) View(ctx context.Context, fn func(twostep.Tx) error) error {
	c.views++
	return c.Store.View(ctx, fn)
}

func (c *countingStore) Update(ctx context.Context, fn func(twostep.Tx) error) error {
	c.updates++
	return c.Store.Update(ctx, fn)
}

// TestConsoleUsersIsOneReadTransaction: the console's users page reads
// its users, their locks, the count, the chart and the latest events in
// one read transaction (it took about 29, and dropped their errors).
func TestConsoleUsersIsOneReadTransaction(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		s := newSignIn(t, url, smsFirst, anna)
		for i := range 3 {
			if _, err := s.svc.CreateUser(s.ctx, s.platform, s.co.ID, twostep.NewUser{Name: string(rune('B' + i))}); err != nil {
				t.Fatal(err)
			}
		}
		for range twostep.LockAfter {
			v, err := s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.NewChallenge{App: "manager"})
			if err != nil {
				t.Fatal(err)
			}
			s.verify(t, v.ID, wrongCode(s.code(t, v.ID)))
		}
		counter := &countingStore{Store: s.db}
		svc := twostep.NewService(counter, twostep.Options{AuditKey: auditKey})
		pg, err := svc.ConsoleUsers(s.ctx, s.platform, s.co.ID, twostep.UserFilter{Limit: 2}, 30, 5)
		if err != nil {
			t.Fatal(err)
		}
		if counter.views != 1 || counter.updates != 0 {
			t.Fatalf("%d read and %d write transactions, want one read", counter.views, counter.updates)
		}
		if len(pg.Users) != 2 || pg.Total != 4 || pg.Next == "" || len(pg.Stats) != 30 || len(pg.Recent) != 5 {
			t.Fatalf("page: %d users of %d, next %q, %d days, %d events", len(pg.Users), pg.Total, pg.Next, len(pg.Stats), len(pg.Recent))
		}
		var locked []twostep.App
		for _, u := range pg.Users {
			if u.ID == s.user.ID {
				locked = u.Locked
			}
		}
		if len(locked) != 1 || locked[0] != twostep.AppManager {
			t.Fatalf("Anna, locked in the Manager app, shows locked in %v", locked)
		}
	})
}
