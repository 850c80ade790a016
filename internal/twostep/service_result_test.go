package twostep_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
	"github.com/twostep/twostep/result"
)

// TestSignedResult: the hosted page's result is signed once, at the
// approval: every reading hands out the same token, valid for result.TTL
// from the approval and not longer, and it names the sign-in (nonce,
// method, amr, auth_time) so that the platform can check each.
func TestSignedResult(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		signer := result.NewSigner(make([]byte, 32), "https://2fa.example.com")
		f := newFixture(t, url, func(o *twostep.Options) { o.Signer = signer })
		co := f.company(t, "Acme")
		if _, err := f.svc.UpdateSettings(f.ctx, f.platform, co.ID,
			patch(t, `{"delivery_method":"sms_then_email","allowed_return_origins":["https://app.acme.com"]}`)); err != nil {
			t.Fatal(err)
		}
		in := anna
		in.Name, in.ExternalID, in.TwoFA = "Anna", "ext-7", twostep.Some(twostep.TwoFAPatch{Web: twostep.Some(true)})
		u, err := f.svc.CreateUser(f.ctx, f.platform, co.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{strings.Repeat("n", 129), "tab\there", "é"} {
			_, err := f.svc.CreateChallenge(f.ctx, f.platform, co.ID, u.ID, twostep.NewChallenge{App: "web", Nonce: bad,
				ReturnURL: "https://app.acme.com/back"})
			wantCode(t, err, twostep.CodeInvalidValue, "nonce")
		}
		res, err := f.svc.CreateChallenge(f.ctx, f.platform, co.ID, u.ID, twostep.NewChallenge{App: "web", Nonce: "n-0001",
			ReturnURL: "https://app.acme.com/back"})
		if err != nil {
			t.Fatal(err)
		}
		code := f.code(t, res.ID)
		f.clock.Advance(20 * time.Second)
		approvedAt := f.clock.Now()
		pg, r, err := f.svc.PageVerify(f.ctx, res.VerifyToken, twostep.Proof{Code: code}, "198.51.100.1", "test")
		if err != nil || r != twostep.ResultApproved || pg.Result == "" {
			t.Fatalf("%s %v %q", r, err, pg.Result)
		}
		want := result.Expected{Issuer: "https://2fa.example.com", ChallengeID: res.ID, CompanyID: co.ID, UserID: u.ID, App: "web", Nonce: "n-0001"}
		c, err := result.CheckResultToken(pg.Result, f.svc.JWKS(), want, f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if c.Method != "sms" || !slices.Equal(c.AMR, []string{"otp", "sms"}) || c.AuthTime != approvedAt.Unix() ||
			c.IssuedAt != approvedAt.Unix() || c.ExpiresAt != approvedAt.Add(result.TTL).Unix() || c.ExternalID != "ext-7" {
			t.Fatalf("claims %+v", c)
		}
		// Read again later: the same token, no fresh lifetime.
		f.clock.Advance(3 * time.Minute)
		again, err := f.svc.PageChallenge(f.ctx, res.VerifyToken)
		if err != nil || again.Result != pg.Result {
			t.Fatalf("reading the page again gave another token (%v)", err)
		}
		f.clock.Advance(result.TTL - 3*time.Minute)
		late, err := f.svc.PageChallenge(f.ctx, res.VerifyToken)
		if err != nil || late.Result != "" {
			t.Fatalf("%v after the approval the page still hands out a result (%v)", result.TTL, err)
		}
	})
}

// TestChallengeLifetime: a challenge takes codes and resends for 15
// minutes from its start and then reads expired; a code sent late in
// that time ends with it (an expired challenge could once be resent and
// approved 10 minutes later).
func TestChallengeLifetime(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		s := newSignIn(t, url, smsFirst, anna)
		v := s.start(t)
		for range 4 {
			s.clock.Advance(3*time.Minute + 20*time.Second)
			if _, err := s.svc.Resend(s.ctx, s.platform, v.ID, ""); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.svc.Challenge(s.ctx, s.platform, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if end := v.CreatedAt.Add(twostep.ChallengeLifetime); !got.CodeExpiresAt.Equal(end) {
			t.Fatalf("a code sent at %v expires at %v, after its sign-in ends at %v", s.clock.Now(), got.CodeExpiresAt, end)
		}
		code := s.code(t, v.ID)
		s.clock.Advance(twostep.ChallengeLifetime - 4*(3*time.Minute+20*time.Second))
		_, _, err = s.svc.Verify(s.ctx, s.platform, v.ID, twostep.Proof{Code: code})
		wantCode(t, err, twostep.CodeExpired, "")
		_, err = s.svc.Resend(s.ctx, s.platform, v.ID, "")
		wantCode(t, err, twostep.CodeExpired, "")
		got, _ = s.svc.Challenge(s.ctx, s.platform, v.ID)
		if got.Status != twostep.StatusExpired || !got.ResendAvailableAt.IsZero() || len(got.ChannelsAvailable) != 0 {
			t.Fatalf("a challenge past its lifetime: %+v", got)
		}
	})
}
