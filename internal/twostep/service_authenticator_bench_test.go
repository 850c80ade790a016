package twostep_test

import (
	"testing"
	"time"

	"github.com/twostep/twostep/internal/providertest"
	"github.com/twostep/twostep/internal/twostep"
)

// BenchmarkVerifyAuthenticatorApp is a sign-in with an authenticator app:
// the challenge starts on the app and sends nothing (start), and the
// right code is checked, its step taken by the conditional UPDATE, and
// the challenge approved (verify). Compare with BenchmarkCreateChallenge
// and BenchmarkVerifyWrongAndRight, the same steps with a sent code.
func BenchmarkVerifyAuthenticatorApp(b *testing.B) {
	benchEngines(b, func(b *testing.B, r *benchRig) {
		u := r.users(b, 1)[0]
		a, err := r.svc.AddAuthenticator(r.ctx, r.caller, r.co.ID, u.ID, "totp", "Phone")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.svc.ConfirmAuthenticator(r.ctx, r.caller, r.co.ID, u.ID, a.ID, providertest.TOTP(a.Secret, r.clock.Now())); err != nil {
			b.Fatal(err)
		}
		start := func(b *testing.B) string {
			res, err := r.svc.CreateChallenge(r.ctx, r.caller, r.co.ID, u.ID, twostep.NewChallenge{App: "web"})
			if err != nil || res.Method != twostep.MethodTOTP {
				b.Fatalf("start: %v %v", res.Method, err)
			}
			return res.ID
		}
		b.Run("start", func(b *testing.B) {
			for b.Loop() {
				start(b)
			}
		})
		b.Run("verify", func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				r.clock.Advance(30 * time.Second) // a new step: each is taken once
				id, code := start(b), providertest.TOTP(a.Secret, r.clock.Now())
				b.StartTimer()
				if _, res, err := r.svc.Verify(r.ctx, r.caller, id, twostep.Proof{Code: code}); err != nil || res != twostep.ResultApproved {
					b.Fatalf("verify: %v %v", res, err)
				}
			}
		})
	})
}
