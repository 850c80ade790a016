package twostep_test

import (
	"testing"
	"time"

	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

// TestConsoleUser: the user page tells each sign-in's outcome (a right
// code, wrong codes, none entered, one going on), the wrong codes in a
// row and the pause in each app, in one read transaction; an unlock by
// an admin clears the pause and is audited with the admin as User.
func TestConsoleUser(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		s := newSignIn(t, url, smsFirst, anna)
		// Web: a right code, then a sign-in left without a code.
		v := s.start(t)
		s.verify(t, v.ID, s.code(t, v.ID))
		s.clock.Advance(twostep.ChallengeLifetime) // the next one starts later
		left := s.start(t)
		s.code(t, left.ID)
		s.clock.Advance(twostep.ChallengeLifetime + 1)
		// Manager: wrong codes until the pause.
		managers := 0
		for failures := 0; failures < twostep.LockAfter; managers++ {
			s.clock.Advance(time.Second)
			v, err := s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.NewChallenge{App: "manager", IP: "198.51.100.9"})
			if err != nil {
				t.Fatal(err)
			}
			wrong := wrongCode(s.code(t, v.ID))
			for g := 0; g < twostep.GuessesPerCode && failures < twostep.LockAfter; g++ {
				s.verify(t, v.ID, wrong)
				failures++
			}
		}
		s.clock.Advance(time.Second)
		going := s.start(t)

		counter := &countingStore{Store: s.db}
		svc := twostep.NewService(counter, twostep.Options{AuditKey: auditKey, Now: s.clock.Now})
		pg, err := svc.ConsoleUser(s.ctx, s.platform, s.co.ID, s.user.ID)
		if err != nil {
			t.Fatal(err)
		}
		if counter.views != 1 || counter.updates != 0 {
			t.Fatalf("%d read and %d write transactions, want one read", counter.views, counter.updates)
		}
		if pg.User.ID != s.user.ID || len(pg.Apps) != 2 {
			t.Fatalf("page of %s with %d apps", pg.User.ID, len(pg.Apps))
		}
		web, manager := pg.Apps[0], pg.Apps[1]
		if !web.On || web.Failures != 0 || !web.LockedUntil.IsZero() {
			t.Errorf("web: %+v", web)
		}
		if !manager.On || manager.Failures != twostep.LockAfter || !manager.LockedUntil.After(pg.Now) {
			t.Errorf("manager: %+v, want %d failures and paused", manager, twostep.LockAfter)
		}
		want := []twostep.SignInResult{twostep.SignInPending}
		for range managers {
			want = append(want, twostep.SignInFailed)
		}
		want = append(want, twostep.SignInNotEntered, twostep.SignInApproved)
		if len(pg.SignIns) != min(len(want), twostep.UserPageSignIns) {
			t.Fatalf("%d sign-ins, want %d", len(pg.SignIns), min(len(want), twostep.UserPageSignIns))
		}
		for i, si := range pg.SignIns {
			if si.Result != want[i] {
				t.Errorf("sign-in %d (%s, %s): %s, want %s", i, si.App, si.Time, si.Result, want[i])
			}
		}
		if first := pg.SignIns[0]; first.ID != going.ID || first.App != twostep.AppWeb || first.Channel != twostep.ChannelSMS || first.IP != "198.51.100.7" {
			t.Errorf("the newest sign-in: %+v", first)
		}
		if failed := pg.SignIns[1]; failed.App != twostep.AppManager || failed.Failures != 1 || failed.IP != "198.51.100.9" {
			t.Errorf("a failed sign-in: %+v", failed)
		}

		// An admin unlocks the Manager app.
		admin := s.platform
		admin.UserID = s.user.ID
		if _, err := s.svc.Unlock(s.ctx, admin, s.co.ID, s.user.ID, twostep.AppManager); err != nil {
			t.Fatal(err)
		}
		pg, err = s.svc.ConsoleUser(s.ctx, s.platform, s.co.ID, s.user.ID)
		if err != nil || pg.Apps[1].Failures != 0 || !pg.Apps[1].LockedUntil.IsZero() {
			t.Fatalf("after unlock: %+v, %v", pg.Apps[1], err)
		}
		if e := s.actions(t, twostep.ActionTwoFAUnlocked); len(e) != 1 || e[0].Actor.ID != s.user.ID {
			t.Fatalf("unlock events: %+v", e)
		}

		// Another company's user is not found.
		other := s.company(t, "Other")
		if _, err := s.svc.ConsoleUser(s.ctx, twostep.Caller{Scope: other.ID}, s.co.ID, s.user.ID); twostep.AsError(err).Code != twostep.CodeNotFound {
			t.Fatalf("another company's admin reads the page: %v", err)
		}
	})
}
