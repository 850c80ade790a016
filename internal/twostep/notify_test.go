package twostep_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

// sent is one notification as the worker would send it: to whom, what.
type sent struct {
	to   string
	kind twostep.NoticeKind
}

// notices sends the queued notifications, as the worker does (recording
// each as sent), and returns them; codes are sent too and left out.
func (s signIn) notices(t *testing.T) []sent {
	t.Helper()
	var out []sent
	for {
		msgs, err := s.svc.ClaimMessages(s.ctx, 100, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			return out
		}
		for _, m := range msgs {
			if m.Kind != twostep.KindNotice {
				s.svc.MessageSent(s.ctx, m.ID, "test")
				continue
			}
			if m.Notice == nil || m.Code != "" {
				t.Fatalf("a notice message: %+v", m)
			}
			if err := s.svc.NoticeSent(s.ctx, m.ID, "test"); err != nil {
				t.Fatal(err)
			}
			out = append(out, sent{m.To, m.Notice.Kind})
		}
	}
}

// fail makes n wrong authenticator-app guesses in new sign-ins.
func (s signIn) fail(t *testing.T, n int) twostep.ChallengeView {
	t.Helper()
	var v twostep.ChallengeView
	for range n {
		v = s.start(t)
		var err error
		if v, _, err = s.verifyWith(t, v.ID, twostep.MethodTOTP, "000000"); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

// TestNotifications: the user hears of a lock and of changes to their
// authenticators; the responsible person hears of 3 failures in a row and
// of a lock, as the company's settings say; at most one of a kind about a
// user to a recipient in an hour; each sent is audited, naming whom.
func TestNotifications(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		s := newSignIn(t, url, smsFirst, anna)
		if n := s.notices(t); len(n) != 0 {
			t.Fatalf("notices before anything happened: %v", n)
		}
		s.enrol(t) // wrong app codes count without sending anything
		if n := s.notices(t); !slices.Equal(n, []sent{{"anna@acme.com", twostep.NoticeAuthenticatorAdded}}) {
			t.Fatalf("after an authenticator app was added: %v", n)
		}
		s.fail(t, 3)
		if n := s.notices(t); !slices.Equal(n, []sent{{"rita@acme.com", twostep.NoticeFailedAttempts}}) {
			t.Fatalf("after 3 failures: %v", n)
		}
		s.fail(t, 6)
		if n := s.notices(t); len(n) != 0 {
			t.Fatalf("after 9 failures: %v", n)
		}
		if v := s.fail(t, 1); v.Status != twostep.StatusLocked {
			t.Fatalf("after 10 failures: %s", v.Status)
		}
		if n := s.notices(t); !slices.Equal(n, []sent{{"anna@acme.com", twostep.NoticeLocked}, {"rita@acme.com", twostep.NoticeLocked}}) {
			t.Fatalf("after the lock: %v", n)
		}
		sentEvents := s.actions(t, twostep.ActionNotificationSent)
		if len(sentEvents) != 4 || !strings.Contains(string(sentEvents[0].Details), `"to":"rita@acme.com"`) ||
			!strings.Contains(string(sentEvents[0].Details), `"recipient":"responsible"`) || sentEvents[0].TargetID != s.user.ID {
			t.Fatalf("notification.sent events: %+v", sentEvents)
		}

		// Unlocked and locked again within the hour: nothing more.
		admin := s.platform
		if _, err := s.svc.Unlock(s.ctx, admin, s.co.ID, s.user.ID, twostep.AppWeb); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(20 * time.Minute)
		s.fail(t, 10)
		if n := s.notices(t); len(n) != 0 {
			t.Fatalf("a second lock within the hour: %v", n)
		}
		// An hour after the first, without the responsible person's
		// lock emails: the user alone hears of it.
		if _, err := s.svc.UpdateSettings(s.ctx, admin, s.co.ID, patch(t, `{"notify_responsible":{"locked":false}}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.Unlock(s.ctx, admin, s.co.ID, s.user.ID, twostep.AppWeb); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(45 * time.Minute)
		s.fail(t, 10)
		if n := s.notices(t); !slices.Equal(n, []sent{{"rita@acme.com", twostep.NoticeFailedAttempts}, {"anna@acme.com", twostep.NoticeLocked}}) {
			t.Fatalf("with notify_responsible.locked off: %v", n)
		}
		co, _ := s.svc.Company(s.ctx, admin, s.co.ID)
		if co.Settings.NotifyResponsible != (twostep.NotifyResponsible{FailedAttempts: true, Locked: false}) {
			t.Fatalf("settings %+v", co.Settings.NotifyResponsible)
		}
		_, err := s.svc.UpdateSettings(s.ctx, admin, s.co.ID, patch(t, `{"notify_responsible":{"locked":"no"}}`))
		wantCode(t, err, twostep.CodeInvalidValue, "notify_responsible.locked")

		// Recovery codes, made and used, and an authenticator removed.
		if _, err := s.svc.Unlock(s.ctx, admin, s.co.ID, s.user.ID, twostep.AppWeb); err != nil {
			t.Fatal(err)
		}
		codes, err := s.svc.NewRecoveryCodes(s.ctx, admin, s.co.ID, s.user.ID)
		if err != nil {
			t.Fatal(err)
		}
		v := s.start(t)
		if _, r, err := s.verifyWith(t, v.ID, twostep.MethodRecoveryCode, codes[0]); err != nil || r != twostep.ResultApproved {
			t.Fatalf("a recovery code: %v %v", r, err)
		}
		if n := s.notices(t); !slices.Equal(n, []sent{{"anna@acme.com", twostep.NoticeRecoveryCodesGenerated}, {"anna@acme.com", twostep.NoticeRecoveryCodeUsed}}) {
			t.Fatalf("recovery codes: %v", n)
		}
		list, _, _ := s.svc.Authenticators(s.ctx, admin, s.co.ID, s.user.ID)
		if err := s.svc.RemoveAuthenticator(s.ctx, admin, s.co.ID, s.user.ID, list[0].ID); err != nil {
			t.Fatal(err)
		}
		if n := s.notices(t); !slices.Equal(n, []sent{{"anna@acme.com", twostep.NoticeAuthenticatorRemoved}}) {
			t.Fatalf("an authenticator removed: %v", n)
		}

		// A user without an email address gets none; nothing is queued.
		s2 := newSignIn(t, url, smsFirst, twostep.NewUser{Phone: "+371 2000 0003"})
		s2.enrol(t)
		if n := s2.notices(t); len(n) != 0 {
			t.Fatalf("to a user without email: %v", n)
		}
	})
}
