package twostep_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

// signIn is a company with one user for challenge tests.
type signIn struct {
	*fixture
	co   twostep.Company
	user twostep.User
}

// newSignIn makes a company with the given settings patch and a user with
// 2FA on in both apps.
func newSignIn(t *testing.T, url, settings string, in twostep.NewUser) signIn {
	t.Helper()
	f := newFixture(t, storetest.Like(t, url))
	co := f.company(t, "Acme")
	if _, err := f.svc.UpdateSettings(f.ctx, f.platform, co.ID, patch(t, settings)); err != nil {
		t.Fatal(err)
	}
	if in.Name == "" {
		in.Name = "Anna Ozola"
	}
	in.TwoFA = twostep.Some(twostep.TwoFAPatch{Web: twostep.Some(true), Manager: twostep.Some(true)})
	u, err := f.svc.CreateUser(f.ctx, f.platform, co.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	return signIn{f, co, u}
}

const smsFirst = `{"delivery_method":"sms_then_email","responsible_contact":{"name":"Rita Berg","email":"rita@acme.com"}}`

var anna = twostep.NewUser{Email: "anna@acme.com", Phone: "+371 2000 0002"}

func (s signIn) start(t *testing.T) twostep.ChallengeView {
	t.Helper()
	res, err := s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.NewChallenge{App: "web", IP: "198.51.100.7"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Required {
		t.Fatal("challenge not required")
	}
	return res.ChallengeView
}

// deliver takes every due message from the outbox, as the worker would,
// marks it sent and returns the codes by challenge, newest last.
func (f *fixture) deliver(t *testing.T) map[string][]twostep.Message {
	t.Helper()
	out := map[string][]twostep.Message{}
	for {
		msgs, err := f.svc.ClaimMessages(f.ctx, 100, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			return out
		}
		for _, m := range msgs {
			if err := f.svc.MessageSent(f.ctx, m.ID, "test"); err != nil {
				t.Fatal(err)
			}
			out[m.ChallengeID] = append(out[m.ChallengeID], m)
		}
	}
}

// code returns the newest code delivered for a challenge.
func (f *fixture) code(t *testing.T, challengeID string) string {
	t.Helper()
	msgs := f.deliver(t)[challengeID]
	if len(msgs) == 0 {
		t.Fatalf("no message for challenge %s", challengeID)
	}
	return msgs[len(msgs)-1].Code
}

// wrongCode is a code that is not code.
func wrongCode(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

func (s signIn) verify(t *testing.T, id, code string) (twostep.ChallengeView, twostep.VerifyResult) {
	t.Helper()
	v, r, err := s.svc.Verify(s.ctx, s.platform, id, twostep.Proof{Code: code})
	if err != nil {
		t.Fatal(err)
	}
	return v, r
}

func (s signIn) actions(t *testing.T, action twostep.Action) []twostep.AuditEvent {
	t.Helper()
	var out []twostep.AuditEvent
	for _, e := range s.events(t, s.co.ID) {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

func TestChallengeStart(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		t.Run("NotRequiredWhenTwoFAIsOff", func(t *testing.T) {
			s := newSignIn(t, url, smsFirst, anna)
			if _, err := s.svc.SetTwoFA(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.AppManager, false); err != nil {
				t.Fatal(err)
			}
			res, err := s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.NewChallenge{App: "manager"})
			if err != nil || res.Required {
				t.Fatalf("%+v, %v", res, err)
			}
			if n, _ := s.svc.OutboxDepth(s.ctx); n != 0 {
				t.Fatalf("%d messages queued for a sign-in without 2FA", n)
			}
		})
		t.Run("SMSFirstUnderSMSThenEmail", func(t *testing.T) {
			s := newSignIn(t, url, smsFirst, anna)
			v := s.start(t)
			if v.Channel != twostep.ChannelSMS || v.DestinationHint != "+37*******02" || v.Status != twostep.StatusPending ||
				len(v.ChannelsAvailable) != 1 || v.AttemptsRemaining != 3 || v.Delivery.Status != twostep.DeliveryQueued {
				t.Fatalf("%+v", v)
			}
			msgs := s.deliver(t)[v.ID]
			if len(msgs) != 1 || msgs[0].To != "+37120000002" || len(msgs[0].Code) != 6 || msgs[0].CompanyName != "Acme" {
				t.Fatalf("messages %+v", msgs)
			}
		})
		t.Run("EmailOnlyNeverSendsSMS", func(t *testing.T) {
			s := newSignIn(t, url, `{"delivery_method":"email_only"}`, anna)
			v := s.start(t)
			if v.Channel != twostep.ChannelEmail || v.DestinationHint != "a***@acme.com" {
				t.Fatalf("%+v", v)
			}
			s.verify(t, v.ID, wrongCode(s.code(t, v.ID)))
			_, err := s.svc.Resend(s.ctx, s.platform, v.ID, twostep.ChannelSMS)
			wantCode(t, err, twostep.CodeInvalidValue, "channel")
		})
		t.Run("NoAddressNoChallenge", func(t *testing.T) {
			s := newSignIn(t, url, `{"delivery_method":"email_only"}`, twostep.NewUser{Phone: "+371 2000 0002"})
			_, err := s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.NewChallenge{App: "web"})
			wantCode(t, err, twostep.CodeNoChannel, "")
		})
		t.Run("BadInput", func(t *testing.T) {
			s := newSignIn(t, url, smsFirst, anna)
			for _, tc := range []struct {
				in    twostep.NewChallenge
				field string
			}{
				{twostep.NewChallenge{App: "mobile"}, "app"},
				{twostep.NewChallenge{App: "web", IP: "not-an-ip"}, "ip"},
				{twostep.NewChallenge{App: "web", ReturnURL: "https://evil.example/"}, "return_url"},
				{twostep.NewChallenge{App: "web", ReturnURL: "javascript:alert(1)"}, "return_url"},
			} {
				_, err := s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID, tc.in)
				wantCode(t, err, twostep.CodeInvalidValue, tc.field)
			}
			if _, err := s.svc.UpdateSettings(s.ctx, s.platform, s.co.ID, patch(t, `{"allowed_return_origins":["https://app.acme.com"]}`)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID,
				twostep.NewChallenge{App: "web", ReturnURL: "https://app.acme.com/after-login?x=1"}); err != nil {
				t.Fatalf("an allowed return URL: %v", err)
			}
		})
	})
}

func TestVerify(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		t.Run("RightCodeApprovesOnce", func(t *testing.T) {
			s := newSignIn(t, url, smsFirst, anna)
			v := s.start(t)
			code := s.code(t, v.ID)
			got, r := s.verify(t, v.ID, code[:3]+" "+code[3:]) // pasted with a space
			if r != twostep.ResultApproved || got.Status != twostep.StatusApproved {
				t.Fatalf("%s %+v", r, got)
			}
			_, _, err := s.svc.Verify(s.ctx, s.platform, v.ID, twostep.Proof{Code: code})
			wantCode(t, err, twostep.CodeAlreadyUsed, "")
			_, err = s.svc.Resend(s.ctx, s.platform, v.ID, "")
			wantCode(t, err, twostep.CodeAlreadyUsed, "")
		})

		t.Run("WrongCodesVoidTheCodeAndCountAcrossChallenges", func(t *testing.T) {
			s := newSignIn(t, url, smsFirst, anna)
			v := s.start(t)
			code := s.code(t, v.ID)
			got, r := s.verify(t, v.ID, wrongCode(code))
			if r != twostep.ResultRejected || got.FailedAttempts != 1 || got.AttemptsRemaining != 2 ||
				len(got.ChannelsAvailable) != 2 || got.ResponsibleContact != nil {
				t.Fatalf("after one wrong code: %+v", got)
			}
			s.verify(t, v.ID, wrongCode(code))
			got, _ = s.verify(t, v.ID, wrongCode(code))
			if got.FailedAttempts != 3 || got.AttemptsRemaining != 0 || got.ResponsibleContact == nil ||
				got.ResponsibleContact.Name != "Rita Berg" {
				t.Fatalf("after three wrong codes: %+v", got)
			}
			// The code is void: neither a fourth guess nor the right code
			// counts or passes.
			_, _, err := s.svc.Verify(s.ctx, s.platform, v.ID, twostep.Proof{Code: wrongCode(code)})
			wantCode(t, err, twostep.CodeVoid, "")
			_, _, err = s.svc.Verify(s.ctx, s.platform, v.ID, twostep.Proof{Code: code})
			wantCode(t, err, twostep.CodeVoid, "")
			if evs := s.actions(t, twostep.ActionTwoFAFailedAttempts); len(evs) != 1 ||
				evs[0].Actor.ID != s.user.ID || evs[0].TargetID != s.user.ID || evs[0].App != twostep.AppWeb || evs[0].IP != "198.51.100.7" {
				t.Fatalf("failed-attempts events %+v", evs)
			}
			// A new challenge keeps the count, and the contact.
			v2 := s.start(t)
			if v2.FailedAttempts != 3 || v2.ResponsibleContact == nil {
				t.Fatalf("new challenge: %+v", v2)
			}
			code2 := s.code(t, v2.ID)
			got, _ = s.verify(t, v2.ID, wrongCode(code2))
			if got.FailedAttempts != 4 {
				t.Fatalf("failures %d, want 4", got.FailedAttempts)
			}
			if evs := s.actions(t, twostep.ActionTwoFAFailedAttempts); len(evs) != 1 {
				t.Fatalf("%d failed-attempts events; want the one at 3", len(evs))
			}
			// Only a right code resets it.
			got, r = s.verify(t, v2.ID, code2)
			if r != twostep.ResultApproved || got.FailedAttempts != 0 {
				t.Fatalf("after the right code: %s %+v", r, got)
			}
		})

		t.Run("CodeIsBoundToItsChallenge", func(t *testing.T) {
			s := newSignIn(t, url, smsFirst, anna)
			a, b := s.start(t), s.start(t)
			msgs := s.deliver(t)
			codeA := msgs[a.ID][0].Code
			if codeA == msgs[b.ID][0].Code {
				t.Skip("the two codes happen to be equal")
			}
			if _, r := s.verify(t, b.ID, codeA); r != twostep.ResultRejected {
				t.Fatal("challenge A's code passed on challenge B")
			}
		})

		t.Run("ExpiredCodeCountsNothing", func(t *testing.T) {
			s := newSignIn(t, url, smsFirst, anna)
			v := s.start(t)
			code := s.code(t, v.ID)
			s.clock.Advance(5 * time.Minute)
			_, _, err := s.svc.Verify(s.ctx, s.platform, v.ID, twostep.Proof{Code: code})
			wantCode(t, err, twostep.CodeExpired, "")
			got, err := s.svc.Challenge(s.ctx, s.platform, v.ID)
			if err != nil || got.Status != twostep.StatusExpired || got.FailedAttempts != 0 {
				t.Fatalf("%+v %v", got, err)
			}
			// A new code brings the challenge back.
			got, err = s.svc.Resend(s.ctx, s.platform, v.ID, "")
			if err != nil || got.Status != twostep.StatusPending {
				t.Fatalf("after resend: %+v %v", got, err)
			}
			if _, r := s.verify(t, v.ID, s.code(t, v.ID)); r != twostep.ResultApproved {
				t.Fatal("the new code did not pass")
			}
		})

		t.Run("MalformedCodeCountsNothing", func(t *testing.T) {
			s := newSignIn(t, url, smsFirst, anna)
			v := s.start(t)
			for _, c := range []string{"", "12345", "1234567", "abcdef"} {
				_, _, err := s.svc.Verify(s.ctx, s.platform, v.ID, twostep.Proof{Code: c})
				wantCode(t, err, twostep.CodeInvalidValue, "code")
			}
			got, _ := s.svc.Challenge(s.ctx, s.platform, v.ID)
			if got.FailedAttempts != 0 || got.AttemptsRemaining != 3 {
				t.Fatalf("%+v", got)
			}
		})
	})
}

func TestLockout(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		s := newSignIn(t, url, smsFirst, anna)
		// Ten wrong codes over four challenges: the count survives them all.
		var last twostep.ChallengeView
		for failures := 0; failures < twostep.LockAfter; {
			v := s.start(t)
			code := s.code(t, v.ID)
			for range min(3, twostep.LockAfter-failures) {
				last, _ = s.verify(t, v.ID, wrongCode(code))
				failures++
			}
		}
		if last.Status != twostep.StatusLocked || last.FailedAttempts != 10 || last.LockedUntil.IsZero() {
			t.Fatalf("after ten wrong codes: %+v", last)
		}
		if evs := s.actions(t, twostep.ActionTwoFALocked); len(evs) != 1 || evs[0].Actor.ID != s.user.ID {
			t.Fatalf("locked events %+v", evs)
		}
		// A new challenge does not bypass the lock.
		_, err := s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.NewChallenge{App: "web"})
		wantCode(t, err, twostep.CodeLocked, "")
		if e := err.(*twostep.Error); e.RetryAfter != 15*time.Minute {
			t.Fatalf("retry after %v, want 15m", e.RetryAfter)
		}
		// The other app is not locked.
		if res, err := s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.NewChallenge{App: "manager"}); err != nil || !res.Required {
			t.Fatalf("manager app: %v", err)
		}
		// Fifteen minutes later the lock is over; the count stays until a
		// right code.
		s.clock.Advance(15 * time.Minute)
		v := s.start(t)
		if v.FailedAttempts != 10 || v.Status != twostep.StatusPending {
			t.Fatalf("after the lock: %+v", v)
		}
		// An admin can end a lock early, which resets the count.
		code := s.code(t, v.ID)
		for range 3 {
			s.verify(t, v.ID, wrongCode(code))
		}
		for range 7 {
			s.clock.Advance(10 * time.Minute) // within the send limit of 10 an hour
			v := s.start(t)
			last, _ = s.verify(t, v.ID, wrongCode(s.code(t, v.ID)))
		}
		if last.Status != twostep.StatusLocked || last.FailedAttempts != 20 {
			t.Fatalf("after twenty: %+v", last)
		}
		admin := s.platform
		admin.UserID = s.user.ID
		l, err := s.svc.Unlock(s.ctx, admin, s.co.ID, s.user.ID, twostep.AppWeb)
		if err != nil || l.Failures != 0 || !l.LockedUntil.IsZero() {
			t.Fatalf("unlock: %+v %v", l, err)
		}
		if evs := s.actions(t, twostep.ActionTwoFAUnlocked); len(evs) != 1 {
			t.Fatalf("%d unlock events", len(evs))
		}
		v = s.start(t)
		if _, r := s.verify(t, v.ID, s.code(t, v.ID)); r != twostep.ResultApproved {
			t.Fatal("no sign-in after the unlock")
		}
		// Unlocking what is not locked changes and audits nothing.
		if _, err := s.svc.Unlock(s.ctx, admin, s.co.ID, s.user.ID, twostep.AppWeb); err != nil {
			t.Fatal(err)
		}
		if evs := s.actions(t, twostep.ActionTwoFAUnlocked); len(evs) != 1 {
			t.Fatalf("%d unlock events after a no-op unlock", len(evs))
		}
	})
}

func TestSendLimits(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		t.Run("CooldownAndFiveSendsPerChallenge", func(t *testing.T) {
			s := newSignIn(t, url, smsFirst, anna)
			v := s.start(t)
			old := s.code(t, v.ID)
			s.clock.Advance(10 * time.Second)
			_, err := s.svc.Resend(s.ctx, s.platform, v.ID, "")
			wantCode(t, err, twostep.CodeRateLimited, "")
			if e := err.(*twostep.Error); e.RetryAfter != 20*time.Second {
				t.Fatalf("retry after %v, want 20s", e.RetryAfter)
			}
			for i := 2; i <= twostep.SendsPerChallenge; i++ {
				s.clock.Advance(30 * time.Second)
				if _, err := s.svc.Resend(s.ctx, s.platform, v.ID, ""); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			s.clock.Advance(30 * time.Second)
			_, err = s.svc.Resend(s.ctx, s.platform, v.ID, "")
			wantCode(t, err, twostep.CodeRateLimited, "")
			// Only the newest code works; the old one is void (it counts as
			// a wrong code, as any other wrong code would).
			msgs := s.deliver(t)[v.ID]
			if _, r := s.verify(t, v.ID, old); r != twostep.ResultRejected && old != msgs[len(msgs)-1].Code {
				t.Fatal("an old code passed after a resend")
			}
			if _, r := s.verify(t, v.ID, msgs[len(msgs)-1].Code); r != twostep.ResultApproved {
				t.Fatal("the newest code did not pass")
			}
		})

		t.Run("TenSendsPerUserPerHour", func(t *testing.T) {
			s := newSignIn(t, url, smsFirst, anna)
			for i := 1; i <= twostep.SendsPerUser; i++ {
				s.clock.Advance(time.Minute)
				s.start(t)
			}
			_, err := s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.NewChallenge{App: "web"})
			wantCode(t, err, twostep.CodeRateLimited, "")
			if e := err.(*twostep.Error); e.RetryAfter != 51*time.Minute {
				t.Fatalf("retry after %v; want 51m, when the first send leaves the hour", e.RetryAfter)
			}
			s.clock.Advance(51 * time.Minute)
			s.start(t)
		})

		t.Run("PerDestinationAcrossUsers", func(t *testing.T) {
			s := newSignIn(t, url, `{"delivery_method":"email_only"}`, twostep.NewUser{Email: "shared@acme.com"})
			twin, err := s.svc.CreateUser(s.ctx, s.platform, s.co.ID, twostep.NewUser{Name: "Twin", Email: "shared@acme.com",
				TwoFA: twostep.Some(twostep.TwoFAPatch{Web: twostep.Some(true)})})
			if err != nil {
				t.Fatal(err)
			}
			for i := range twostep.SendsPerDestination {
				u := s.user.ID
				if i%2 == 1 {
					u = twin.ID
				}
				if _, err := s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, u, twostep.NewChallenge{App: "web"}); err != nil {
					t.Fatalf("send %d: %v", i+1, err)
				}
			}
			_, err = s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, twin.ID, twostep.NewChallenge{App: "web"})
			wantCode(t, err, twostep.CodeRateLimited, "")
		})

		// One mailbox in any case of its address, across users and
		// companies: 14 case variants once got 14 codes against 10.
		t.Run("PerDestinationIgnoresCase", func(t *testing.T) {
			s := newSignIn(t, url, `{"delivery_method":"email_only"}`, twostep.NewUser{Email: "anna@acme.com"})
			other := s.company(t, "Globex")
			for i := range twostep.SendsPerDestination + 4 {
				email := []string{"Anna@acme.com", "ANNA@ACME.COM", "anNa@Acme.com", "aNNA@acme.COM"}[i%4]
				co := s.co.ID
				if i%2 == 1 {
					co = other.ID
				}
				u, err := s.svc.CreateUser(s.ctx, s.platform, co, twostep.NewUser{Name: fmt.Sprint("Variant ", i), Email: email,
					TwoFA: twostep.Some(twostep.TwoFAPatch{Web: twostep.Some(true)})})
				if err != nil {
					t.Fatal(err)
				}
				_, err = s.svc.CreateChallenge(s.ctx, s.platform, co, u.ID, twostep.NewChallenge{App: "web"})
				if i < twostep.SendsPerDestination && err != nil {
					t.Fatalf("send %d: %v", i+1, err)
				}
				if i >= twostep.SendsPerDestination {
					wantCode(t, err, twostep.CodeRateLimited, "")
				}
			}
		})

		// An IPv6 /64 is one client: rotating through it buys nothing.
		t.Run("PerClientIPv6Per64", func(t *testing.T) {
			s := newSignIn(t, url, `{"delivery_method":"email_only"}`, anna)
			send := func(i int, ip string) error {
				u, err := s.svc.CreateUser(s.ctx, s.platform, s.co.ID, twostep.NewUser{Name: fmt.Sprint("U", i),
					Email: fmt.Sprintf("u%d@acme.com", i), TwoFA: twostep.Some(twostep.TwoFAPatch{Web: twostep.Some(true)})})
				if err != nil {
					t.Fatal(err)
				}
				_, err = s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, u.ID, twostep.NewChallenge{App: "web", IP: ip})
				return err
			}
			for i := range twostep.SendsPerIP {
				if err := send(i, fmt.Sprintf("2001:db8:aa:bb:%x::%x", i, i+1)); err != nil {
					t.Fatalf("send %d: %v", i+1, err)
				}
			}
			wantCode(t, send(1000, "2001:db8:aa:bb:ffff:ffff:ffff:fffe"), twostep.CodeRateLimited, "")
			if err := send(1001, "2001:db8:aa:bc::1"); err != nil {
				t.Fatalf("the next /64: %v", err)
			}
		})

		t.Run("PerClientIP", func(t *testing.T) {
			s := newSignIn(t, url, `{"delivery_method":"email_only"}`, anna)
			var users []string
			for i := range twostep.SendsPerIP/twostep.SendsPerUser + 1 {
				u, err := s.svc.CreateUser(s.ctx, s.platform, s.co.ID, twostep.NewUser{Name: fmt.Sprint("U", i),
					Email: fmt.Sprintf("u%d@acme.com", i), TwoFA: twostep.Some(twostep.TwoFAPatch{Web: twostep.Some(true)})})
				if err != nil {
					t.Fatal(err)
				}
				users = append(users, u.ID)
			}
			in := twostep.NewChallenge{App: "web", IP: "203.0.113.9"}
			for i := range twostep.SendsPerIP {
				if _, err := s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, users[i/twostep.SendsPerUser], in); err != nil {
					t.Fatalf("send %d: %v", i+1, err)
				}
			}
			_, err := s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, users[len(users)-1], in)
			wantCode(t, err, twostep.CodeRateLimited, "")
			in.IP = "203.0.113.10"
			if _, err := s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, users[len(users)-1], in); err != nil {
				t.Fatalf("another IP: %v", err)
			}
		})

		t.Run("DailySMSCap", func(t *testing.T) {
			s := newSignIn(t, url, `{"delivery_method":"sms_then_email","sms_daily_cap":2}`, anna)
			for range 2 {
				if v := s.start(t); v.Channel != twostep.ChannelSMS {
					t.Fatalf("channel %s", v.Channel)
				}
			}
			// The cap is reached: the code goes by email, the backup.
			if v := s.start(t); v.Channel != twostep.ChannelEmail {
				t.Fatalf("over the cap: channel %s", v.Channel)
			}
			smsOnly, err := s.svc.CreateUser(s.ctx, s.platform, s.co.ID, twostep.NewUser{Name: "Phone only", Phone: "+371 2000 0009",
				TwoFA: twostep.Some(twostep.TwoFAPatch{Web: twostep.Some(true)})})
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, smsOnly.ID, twostep.NewChallenge{App: "web"})
			wantCode(t, err, twostep.CodeRateLimited, "")
			// A new UTC day, a new count.
			s.clock.Advance(24 * time.Hour)
			if res, err := s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, smsOnly.ID, twostep.NewChallenge{App: "web"}); err != nil || res.Channel != twostep.ChannelSMS {
				t.Fatalf("next day: %+v %v", res, err)
			}
		})

		// The operator's cap over every company: past it, codes of any
		// company go by email, or not at all without an address.
		t.Run("GlobalDailySMSCap", func(t *testing.T) {
			f := newFixture(t, storetest.Like(t, url), func(o *twostep.Options) { o.SMSGlobalDailyCap = 3 })
			var users []twostep.User
			var companies []string
			for _, name := range []string{"Acme", "Globex"} {
				co := f.company(t, name)
				if _, err := f.svc.UpdateSettings(f.ctx, f.platform, co.ID, patch(t, `{"delivery_method":"sms_then_email"}`)); err != nil {
					t.Fatal(err)
				}
				for i, phone := range []string{"+371 2000 0011", "+371 2000 0012"} {
					u, err := f.svc.CreateUser(f.ctx, f.platform, co.ID, twostep.NewUser{Name: fmt.Sprint(name, i), Phone: phone,
						Email: fmt.Sprintf("u%d@%s.test", i, strings.ToLower(name)), TwoFA: twostep.Some(twostep.TwoFAPatch{Web: twostep.Some(true)})})
					if err != nil {
						t.Fatal(err)
					}
					users, companies = append(users, u), append(companies, co.ID)
				}
			}
			var channels []string
			for i, u := range users {
				res, err := f.svc.CreateChallenge(f.ctx, f.platform, companies[i], u.ID, twostep.NewChallenge{App: "web"})
				if err != nil {
					t.Fatal(err)
				}
				channels = append(channels, string(res.Channel))
			}
			if got := strings.Join(channels, ","); got != "sms,sms,sms,email" {
				t.Fatalf("channels %s over a global cap of 3, want sms,sms,sms,email", got)
			}
			phoneOnly, err := f.svc.CreateUser(f.ctx, f.platform, companies[0], twostep.NewUser{Name: "Phone only", Phone: "+371 2000 0019",
				TwoFA: twostep.Some(twostep.TwoFAPatch{Web: twostep.Some(true)})})
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.CreateChallenge(f.ctx, f.platform, companies[0], phoneOnly.ID, twostep.NewChallenge{App: "web"})
			wantCode(t, err, twostep.CodeRateLimited, "")
		})

		// Without an SMS provider every code goes by email, and SMS is
		// never offered, whatever the company's policy.
		t.Run("NoSMSProvider", func(t *testing.T) {
			f := newFixture(t, storetest.Like(t, url), func(o *twostep.Options) { o.NoSMS = true })
			co := f.company(t, "Acme")
			if _, err := f.svc.UpdateSettings(f.ctx, f.platform, co.ID, patch(t, smsFirst)); err != nil {
				t.Fatal(err)
			}
			in := anna
			in.Name, in.TwoFA = "Anna", twostep.Some(twostep.TwoFAPatch{Web: twostep.Some(true)})
			u, err := f.svc.CreateUser(f.ctx, f.platform, co.ID, in)
			if err != nil {
				t.Fatal(err)
			}
			res, err := f.svc.CreateChallenge(f.ctx, f.platform, co.ID, u.ID, twostep.NewChallenge{App: "web"})
			if err != nil || res.Channel != twostep.ChannelEmail || len(res.ChannelsAvailable) != 1 {
				t.Fatalf("%+v %v", res.ChallengeView, err)
			}
			f.clock.Advance(time.Minute)
			_, err = f.svc.Resend(f.ctx, f.platform, res.ID, twostep.ChannelSMS)
			wantCode(t, err, twostep.CodeInvalidValue, "channel")
		})

		// A resend that meets the spent cap goes by email too, and the
		// send it tried by SMS first counts nowhere: not in the day's
		// statistics, not against the user's hourly sends.
		t.Run("DailySMSCapOnResend", func(t *testing.T) {
			s := newSignIn(t, url, `{"delivery_method":"sms_then_email","sms_daily_cap":2}`, anna)
			v := s.start(t)
			s.clock.Advance(30 * time.Second)
			if r, err := s.svc.Resend(s.ctx, s.platform, v.ID, twostep.ChannelSMS); err != nil || r.Channel != twostep.ChannelSMS {
				t.Fatalf("second SMS: %+v %v", r, err)
			}
			s.clock.Advance(30 * time.Second)
			r, err := s.svc.Resend(s.ctx, s.platform, v.ID, "")
			if err != nil || r.Channel != twostep.ChannelEmail {
				t.Fatalf("over the cap: %+v %v", r, err)
			}
			days, err := s.svc.Stats(s.ctx, s.platform, s.co.ID, 1)
			if err != nil || len(days) != 1 || days[0].Sent != 3 {
				t.Fatalf("stats %+v %v, want 3 sent", days, err)
			}
			// Each resend voided the code before it, so only the email goes.
			msgs := s.deliver(t)[v.ID]
			if len(msgs) != 1 || msgs[0].Channel != twostep.ChannelEmail {
				t.Fatalf("messages %+v, want one email", msgs)
			}
			// 3 sends of the user's 10 in the hour are spent, so 7 more go.
			for i := range twostep.SendsPerUser - 3 {
				s.clock.Advance(time.Second)
				if _, err := s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.NewChallenge{App: "web"}); err != nil {
					t.Fatalf("send %d of the hour: %v", 4+i, err)
				}
			}
			_, err = s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.NewChallenge{App: "web"})
			wantCode(t, err, twostep.CodeRateLimited, "")
		})
	})
}

func TestDeliveryOutcomes(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		t.Run("TemporaryFailureIsRetriedLater", func(t *testing.T) {
			s := newSignIn(t, url, smsFirst, anna)
			v := s.start(t)
			msgs, err := s.svc.ClaimMessages(s.ctx, 10, time.Minute)
			if err != nil || len(msgs) != 1 || msgs[0].Attempt != 1 {
				t.Fatalf("%+v %v", msgs, err)
			}
			// A claimed message is not claimed again while leased.
			if again, _ := s.svc.ClaimMessages(s.ctx, 10, time.Minute); len(again) != 0 {
				t.Fatal("a leased message was claimed twice")
			}
			if err := s.svc.MessageFailed(s.ctx, msgs[0].ID, "provider down", false, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			if again, _ := s.svc.ClaimMessages(s.ctx, 10, time.Minute); len(again) != 0 {
				t.Fatal("a message was retried before its backoff")
			}
			s.clock.Advance(10 * time.Second)
			again, _ := s.svc.ClaimMessages(s.ctx, 10, time.Minute)
			if len(again) != 1 || again[0].Attempt != 2 || again[0].Code != msgs[0].Code {
				t.Fatalf("retry: %+v", again)
			}
			got, _ := s.svc.Challenge(s.ctx, s.platform, v.ID)
			if got.Delivery.Status != twostep.DeliveryQueued {
				t.Fatalf("delivery %+v", got.Delivery)
			}
		})
		t.Run("SMSFailureOffersEmailAndIsAudited", func(t *testing.T) {
			s := newSignIn(t, url, smsFirst, anna)
			v := s.start(t)
			msgs, _ := s.svc.ClaimMessages(s.ctx, 10, time.Minute)
			if err := s.svc.MessageFailed(s.ctx, msgs[0].ID, "twilio answered 400: number "+msgs[0].Code, true, 0); err != nil {
				t.Fatal(err)
			}
			got, _ := s.svc.Challenge(s.ctx, s.platform, v.ID)
			if got.Delivery.Status != twostep.DeliveryFailed || len(got.ChannelsAvailable) != 2 || got.Status != twostep.StatusPending {
				t.Fatalf("%+v", got)
			}
			evs := s.actions(t, twostep.ActionDeliveryFailed)
			if len(evs) != 1 || evs[0].TargetID != s.user.ID || evs[0].Actor.Type != twostep.ActorSystem {
				t.Fatalf("events %+v", evs)
			}
			// The service fails closed: nothing was approved, and the user
			// can ask for the code by email once the cooldown is over.
			s.clock.Advance(30 * time.Second)
			if got, err := s.svc.Resend(s.ctx, s.platform, v.ID, twostep.ChannelEmail); err != nil || got.Channel != twostep.ChannelEmail {
				t.Fatalf("resend by email: %+v %v", got, err)
			}
		})
		t.Run("ResendCancelsTheQueuedMessage", func(t *testing.T) {
			s := newSignIn(t, url, smsFirst, anna)
			v := s.start(t)
			s.clock.Advance(30 * time.Second)
			if _, err := s.svc.Resend(s.ctx, s.platform, v.ID, ""); err != nil {
				t.Fatal(err)
			}
			if msgs := s.deliver(t)[v.ID]; len(msgs) != 1 {
				t.Fatalf("%d messages went out; the first, replaced before it went, must not", len(msgs))
			}
		})
		t.Run("ExpiredCodeIsNotSent", func(t *testing.T) {
			s := newSignIn(t, url, smsFirst, anna)
			v := s.start(t)
			s.clock.Advance(5 * time.Minute)
			if msgs := s.deliver(t); len(msgs) != 0 {
				t.Fatalf("an expired code was sent: %+v", msgs)
			}
			got, _ := s.svc.Challenge(s.ctx, s.platform, v.ID)
			if got.Delivery.Status != twostep.DeliveryFailed {
				t.Fatalf("delivery %+v", got.Delivery)
			}
		})
	})
}

// TestNoCodeInTheDatabase runs a sign-in and reads every text column of
// every table: the code must be nowhere in clear (SECURITY 2).
func TestNoCodeInTheDatabase(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		s := newSignIn(t, url, smsFirst, anna)
		v := s.start(t)
		msgs, err := s.svc.ClaimMessages(s.ctx, 10, time.Minute)
		if err != nil || len(msgs) != 1 {
			t.Fatal(err)
		}
		code := msgs[0].Code
		dump := dumpTables(t, s.url)
		if strings.Contains(dump, code) {
			t.Fatalf("the code %s is in the database while queued", code)
		}
		s.svc.MessageSent(s.ctx, msgs[0].ID, "x")
		s.verify(t, v.ID, wrongCode(code))
		s.verify(t, v.ID, code)
		if dump := dumpTables(t, s.url); strings.Contains(dump, code) || !strings.Contains(dump, v.ID) {
			t.Fatalf("the code %s is in the database after the sign-in (or the dump is empty)", code)
		}
	})
}

// dumpTables returns every row of every Twostep table as text.
func dumpTables(t *testing.T, url string) string {
	t.Helper()
	db := storetest.RawDB(t, url)
	var b strings.Builder
	for _, table := range []string{"companies", "users", "api_keys", "audit_events", "challenges", "lockouts", "outbox", "rate_limits", "counters", "authenticators", "recovery_codes", "enrollments", "devices"} {
		rows, err := db.Query(`SELECT * FROM ` + table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, table, fmt.Sprintf("%s", vals))
		}
		rows.Close()
	}
	return b.String()
}

// TestParallelGuesses fires many guesses at one challenge at once, through
// several stores (on PostgreSQL each is its own pool, as several instances
// would be): exactly three wrong guesses count, none approves, and of many
// right guesses exactly one approves (SECURITY 5 and 10).
func TestParallelGuesses(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		s := newSignIn(t, url, smsFirst, anna)
		services := []*twostep.Service{s.svc}
		if storetest.IsPostgres(url) {
			for range 2 {
				db := storetest.Open(t, s.url)
				services = append(services, twostep.NewService(db, twostep.Options{AuditKey: auditKey, CodeKey: []byte("test code key"),
					OutboxKey: []byte("0123456789abcdef0123456789abcdef"), CodeTTL: 5 * time.Minute}))
				db.SetClock(s.clock.Now)
			}
		}
		guess := func(n int, id, code string) map[string]int {
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				results = map[string]int{}
			)
			for i := range n {
				wg.Go(func() {
					_, r, err := services[i%len(services)].Verify(context.Background(), s.platform, id, twostep.Proof{Code: code})
					key := string(r)
					if err != nil {
						key = string(twostep.AsError(err).Code)
					}
					mu.Lock()
					results[key]++
					mu.Unlock()
				})
			}
			wg.Wait()
			return results
		}

		v := s.start(t)
		code := s.code(t, v.ID)
		results := guess(200, v.ID, wrongCode(code))
		if results["rejected"] != 3 || results["approved"] != 0 || results["code_void"] != 197 {
			t.Fatalf("200 parallel wrong codes: %v; want 3 rejected and 197 code_void", results)
		}
		got, _ := s.svc.Challenge(s.ctx, s.platform, v.ID)
		if got.FailedAttempts != 3 {
			t.Fatalf("%d failures counted, want 3", got.FailedAttempts)
		}
		_, _, err := s.svc.Verify(s.ctx, s.platform, v.ID, twostep.Proof{Code: code})
		wantCode(t, err, twostep.CodeVoid, "")

		v = s.start(t)
		code = s.code(t, v.ID)
		results = guess(60, v.ID, code)
		if results["approved"] != 1 || results["already_used"] != 59 {
			t.Fatalf("60 parallel right codes: %v; want 1 approved and 59 already_used", results)
		}
	})
}
