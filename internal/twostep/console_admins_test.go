package twostep_test

import (
	"testing"
	"time"

	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

// TestConsoleAdmins: an admin invites another by email (the set-up link
// goes through the outbox and works), removes them (not the last admin),
// has a password reset link sent (the same answer for an unknown email,
// and limited), and signs out everywhere; each is audited.
func TestConsoleAdmins(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		co := f.company(t, "Acme")
		rita, token, err := f.svc.CreateAdmin(f.ctx, co.ID, "rita@acme.com")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.CompleteSetup(f.ctx, token, "a long enough pass phrase"); err != nil {
			t.Fatal(err)
		}
		admin := twostep.Caller{Scope: co.ID, UserID: rita.ID}
		link := func(kind twostep.MessageKind, to string) string {
			t.Helper()
			msgs := f.deliver(t)[""]
			if len(msgs) != 1 || msgs[0].Kind != kind || msgs[0].To != to || msgs[0].Code == "" {
				t.Fatalf("console emails %+v, want one %s to %s", msgs, kind, to)
			}
			return msgs[0].Code
		}
		actions := func() []twostep.Action {
			var out []twostep.Action
			for _, e := range f.events(t, co.ID) {
				out = append(out, e.Action)
			}
			return out
		}

		// Invite Ben: a user, an admin account, a link by email.
		ben, err := f.svc.InviteAdmin(f.ctx, admin, co.ID, " Ben@Acme.com ")
		if err != nil {
			t.Fatal(err)
		}
		benLink := link(twostep.KindSetupLink, "ben@acme.com")
		if a, err := f.svc.SetupLink(f.ctx, benLink); err != nil || a.UserID != ben.ID {
			t.Fatalf("the emailed link: %+v, %v", a, err)
		}
		rows, err := f.svc.ConsoleAdmins(f.ctx, admin, co.ID)
		if err != nil || len(rows) != 2 || rows[0].Email != "ben@acme.com" || !rows[0].Invited || rows[1].Invited {
			t.Fatalf("admins: %+v, %v", rows, err)
		}
		if e := f.events(t, co.ID)[0]; e.Action != twostep.ActionAdminInvited || e.Actor.ID != rita.ID || e.TargetID != ben.ID {
			t.Fatalf("the invitation's event: %+v", e)
		}
		if _, err := f.svc.InviteAdmin(f.ctx, admin, co.ID, "not an email"); twostep.AsError(err).Code != twostep.CodeInvalidValue {
			t.Fatalf("a bad email: %v", err)
		}

		// Remove Ben; Rita, the last, stays.
		if err := f.svc.RemoveAdmin(f.ctx, admin, co.ID, ben.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SetupLink(f.ctx, benLink); err == nil {
			t.Fatal("a removed admin's link still works")
		}
		if u, _ := f.svc.User(f.ctx, admin, co.ID, ben.ID); u.Role != twostep.RoleMember {
			t.Fatalf("Ben's role after removal: %s", u.Role)
		}
		if err := f.svc.RemoveAdmin(f.ctx, admin, co.ID, rita.ID); twostep.AsError(err).Code != twostep.CodeConflict {
			t.Fatalf("removing the last admin: %v", err)
		}
		other := f.company(t, "Other")
		dan, _, err := f.svc.CreateAdmin(f.ctx, other.ID, "dan@other.com")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.RemoveAdmin(f.ctx, admin, co.ID, dan.ID); twostep.AsError(err).Code != twostep.CodeNotFound {
			t.Fatalf("removing another company's admin: %v", err)
		}
		if rows, _ := f.svc.ConsoleAdmins(f.ctx, admin, other.ID); len(rows) != 0 {
			t.Fatalf("another company's admins through Acme's caller: %+v", rows)
		}

		// A reset link for Rita, none for an unknown email, both answered alike.
		if err := f.svc.RequestPasswordReset(f.ctx, "RITA@acme.com", "198.51.100.4", "test"); err != nil {
			t.Fatal(err)
		}
		reset := link(twostep.KindResetLink, "rita@acme.com")
		if err := f.svc.RequestPasswordReset(f.ctx, "nobody@acme.com", "198.51.100.4", "test"); err != nil {
			t.Fatalf("an unknown email: %v", err)
		}
		if msgs := f.deliver(t)[""]; len(msgs) != 0 {
			t.Fatalf("an unknown email got %+v", msgs)
		}
		if err := f.svc.CompleteSetup(f.ctx, reset, "another long pass phrase"); err != nil {
			t.Fatal(err)
		}
		// Each email has had one request; both get as many more before the
		// limit, so the limit tells nobody which email is an admin's.
		for _, email := range []string{"rita@acme.com", "nobody@acme.com"} {
			ok := 0
			for range twostep.ResetsPerEmail {
				if f.svc.RequestPasswordReset(f.ctx, email, "198.51.100.5", "test") == nil {
					ok++
				}
			}
			if ok != twostep.ResetsPerEmail-1 {
				t.Fatalf("%s: %d more requests within the hour, want %d", email, ok, twostep.ResetsPerEmail-1)
			}
			if err := f.svc.RequestPasswordReset(f.ctx, email, "198.51.100.5", "test"); twostep.AsError(err).Code != twostep.CodeRateLimited {
				t.Fatalf("%s: a request over the limit: %v", email, err)
			}
		}
		f.deliver(t)
		f.clock.Advance(time.Hour)
		if err := f.svc.RequestPasswordReset(f.ctx, "nobody@acme.com", "198.51.100.5", "test"); err != nil {
			t.Fatalf("an hour later: %v", err)
		}

		// Sessions: two of Rita's, listed, then ended everywhere.
		for _, h := range []string{"a", "b"} {
			mustUpdateStore(t, f, twostep.Session{TokenHash: h, UserID: rita.ID, CompanyID: co.ID, Stage: twostep.StageFull,
				CreatedAt: f.clock.Now(), SeenAt: f.clock.Now(), ExpiresAt: f.clock.Now().Add(time.Hour), IP: "198.51.100.6", UserAgent: "Firefox"})
		}
		sessions, err := f.svc.ConsoleSessions(f.ctx, admin)
		if err != nil || len(sessions) != 2 || sessions[0].IP != "198.51.100.6" || sessions[0].UserAgent != "Firefox" {
			t.Fatalf("sessions: %+v, %v", sessions, err)
		}
		if err := f.svc.SignOutEverywhere(f.ctx, admin); err != nil {
			t.Fatal(err)
		}
		if sessions, _ := f.svc.ConsoleSessions(f.ctx, admin); len(sessions) != 0 {
			t.Fatalf("after signing out everywhere: %+v", sessions)
		}
		got := actions()
		for _, want := range []twostep.Action{twostep.ActionAdminInvited, twostep.ActionAdminRemoved, twostep.ActionAdminPasswordReset,
			twostep.ActionAdminPasswordSet, twostep.ActionAdminSignedOutEverywhere} {
			found := false
			for _, a := range got {
				found = found || a == want
			}
			if !found {
				t.Errorf("no %s event among %v", want, got)
			}
		}
		if brk, err := f.svc.VerifyAudit(f.ctx, nil, twostep.VerifyProgress{}); brk != nil || err != nil {
			t.Fatalf("the chain: %v, %v", brk, err)
		}
	})
}

// mustUpdateStore stores a session as a sign-in would.
func mustUpdateStore(t *testing.T, f *fixture, ses twostep.Session) {
	t.Helper()
	if err := f.db.Update(f.ctx, func(tx twostep.Tx) error { return tx.CreateSession(f.ctx, ses) }); err != nil {
		t.Fatal(err)
	}
}
