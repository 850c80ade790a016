package twostep_test

import (
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/providertest"
	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

// remember signs the user in with a sent code, asking to remember the
// browser, and returns the device token the answer hands over.
func (s signIn) remember(t *testing.T, app string) string {
	t.Helper()
	res, err := s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.NewChallenge{App: app, UserAgent: "Firefox/140"})
	if err != nil || !res.Required {
		t.Fatalf("start: %+v %v", res.Required, err)
	}
	v, r, err := s.svc.Verify(s.ctx, s.platform, res.ID, twostep.Proof{Code: s.code(t, res.ID), Remember: true})
	if err != nil || r != twostep.ResultApproved {
		t.Fatalf("verify: %s %v", r, err)
	}
	return v.DeviceToken
}

// remembered reports whether a device token lets the user in to app
// without a second step, checking that nothing is sent then.
func (s signIn) remembered(t *testing.T, app, token string) bool {
	t.Helper()
	before, _ := s.svc.OutboxDepth(s.ctx)
	res, err := s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.NewChallenge{App: app, DeviceToken: token})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Required {
		if after, _ := s.svc.OutboxDepth(s.ctx); after != before || res.RememberedUntil.IsZero() {
			t.Fatalf("a remembered sign-in queued %d messages, until %v", after-before, res.RememberedUntil)
		}
		return true
	}
	s.deliver(t) // the code that went out instead
	return false
}

func TestRememberedDevices(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		s := newSignIn(t, url, `{"remember_device_days":{"web":30}}`, anna)
		if got := s.actions(t, twostep.ActionSettingsGeneralChanged); len(got) != 1 || details(t, got[0]).Field != "remember_device_days.web" {
			t.Fatalf("the setting audited as %v", got)
		}
		// Off for the manager app: no token.
		if tok := s.remember(t, "manager"); tok != "" {
			t.Fatal("a device token where the app does not remember devices")
		}
		tok := s.remember(t, "web")
		if len(tok) < 40 {
			t.Fatalf("device token %q", tok)
		}
		if dump := dumpTables(t, s.url); strings.Contains(dump, tok) {
			t.Fatal("the device token is in the database in clear")
		}
		if !s.remembered(t, "web", tok) || s.remembered(t, "manager", tok) || s.remembered(t, "web", tok+"x") {
			t.Fatal("a token works only for its user and app")
		}
		devices, err := s.svc.Devices(s.ctx, s.platform, s.co.ID, s.user.ID)
		if err != nil || len(devices) != 1 || devices[0].UserAgent != "Firefox/140" || devices[0].LastUsedAt.IsZero() {
			t.Fatalf("devices %+v %v", devices, err)
		}

		// Another user of the company cannot use it.
		ben := newSignInUser(t, s, "Ben")
		if ben.remembered(t, "web", tok) {
			t.Fatal("another user's token let Ben in")
		}

		// The hosted page keeps it sealed for the platform to read once.
		res, _ := s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.NewChallenge{App: "web"})
		v, _, err := s.svc.Verify(s.ctx, s.platform, res.ID, twostep.Proof{Code: s.code(t, res.ID), Remember: true, KeepDeviceToken: true})
		if err != nil || v.DeviceToken != "" {
			t.Fatalf("the hosted page's verify handed the token over: %q %v", v.DeviceToken, err)
		}
		first, _ := s.svc.Challenge(s.ctx, s.platform, res.ID)
		second, _ := s.svc.Challenge(s.ctx, s.platform, res.ID)
		if first.DeviceToken == "" || second.DeviceToken != "" || !s.remembered(t, "web", first.DeviceToken) {
			t.Fatalf("read once: %q then %q", first.DeviceToken, second.DeviceToken)
		}

		// Each way a token ends.
		ends := []struct {
			name string
			end  func(t *testing.T)
		}{
			{"an admin forgets them", func(t *testing.T) {
				n, err := s.svc.RevokeDevices(s.ctx, s.platform, s.co.ID, s.user.ID)
				if err != nil || n < 1 {
					t.Fatalf("revoke: %d %v", n, err)
				}
			}},
			{"2FA switched for the app", func(t *testing.T) {
				s.svc.SetTwoFA(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.AppWeb, false)
				s.svc.SetTwoFA(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.AppWeb, true)
			}},
			{"the user is locked", func(t *testing.T) {
				for range twostep.LockAfter {
					res, err := s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.NewChallenge{App: "web"})
					if err != nil {
						t.Fatal(err)
					}
					code := s.code(t, res.ID)
					s.verify(t, res.ID, wrongCode(code))
					s.clock.Advance(7 * time.Minute) // within the hourly send limits
				}
				if _, err := s.svc.Unlock(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.AppWeb); err != nil {
					t.Fatal(err)
				}
			}},
			{"an authenticator is removed", func(t *testing.T) {
				a, _ := s.svc.AddAuthenticator(s.ctx, s.platform, s.co.ID, s.user.ID, "totp", "")
				s.svc.ConfirmAuthenticator(s.ctx, s.platform, s.co.ID, s.user.ID, a.ID, providertest.TOTP(a.Secret, s.clock.Now()))
				if err := s.svc.RemoveAuthenticator(s.ctx, s.platform, s.co.ID, s.user.ID, a.ID); err != nil {
					t.Fatal(err)
				}
			}},
			{"the company stops remembering", func(t *testing.T) {
				s.svc.UpdateSettings(s.ctx, s.platform, s.co.ID, patch(t, `{"remember_device_days":{"web":0}}`))
				s.svc.UpdateSettings(s.ctx, s.platform, s.co.ID, patch(t, `{"remember_device_days":{"web":30}}`))
			}},
			{"a shorter setting", func(t *testing.T) {
				s.clock.Advance(6 * 24 * time.Hour)
				s.svc.UpdateSettings(s.ctx, s.platform, s.co.ID, patch(t, `{"remember_device_days":{"web":5}}`))
				t.Cleanup(func() {
					s.svc.UpdateSettings(s.ctx, s.platform, s.co.ID, patch(t, `{"remember_device_days":{"web":30}}`))
				})
			}},
			{"its time is up", func(t *testing.T) { s.clock.Advance(30 * 24 * time.Hour) }},
		}
		for _, e := range ends {
			t.Run(e.name, func(t *testing.T) {
				s.clock.Advance(time.Hour) // clear of the hourly send limits
				tok := s.remember(t, "web")
				if !s.remembered(t, "web", tok) {
					t.Fatal("a fresh token does not work")
				}
				e.end(t)
				if s.remembered(t, "web", tok) {
					t.Fatalf("the token still works after %s", e.name)
				}
			})
		}
		// A device remembered after a sent code does not stand in for the
		// strong authentication an app comes to require.
		s.clock.Advance(time.Hour)
		tok = s.remember(t, "web")
		if !s.remembered(t, "web", tok) {
			t.Fatal("a fresh token does not work")
		}
		if _, err := s.svc.UpdateSettings(s.ctx, s.platform, s.co.ID, patch(t, `{"strong_authentication":{"web":true}}`)); err != nil {
			t.Fatal(err)
		}
		if s.remembered(t, "web", tok) {
			t.Fatal("an SMS-made device token let the user past strong authentication")
		}
		if _, err := s.svc.UpdateSettings(s.ctx, s.platform, s.co.ID, patch(t, `{"strong_authentication":{"web":false},"remember_device_days":{"web":20}}`)); err != nil {
			t.Fatal(err)
		}
		// A shorter setting shows: the device's end is 20 days after it began.
		s.clock.Advance(time.Hour)
		tok = s.remember(t, "web")
		res, err = s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.NewChallenge{App: "web", DeviceToken: tok})
		if err != nil || res.Required {
			t.Fatalf("remembered: %+v %v", res.Required, err)
		}
		list, _ := s.svc.Devices(s.ctx, s.platform, s.co.ID, s.user.ID)
		if len(list) == 0 || !list[0].ExpiresAt.Equal(list[0].CreatedAt.AddDate(0, 0, 20)) || !res.RememberedUntil.Equal(list[0].ExpiresAt) {
			t.Fatalf("until %v, listed %+v", res.RememberedUntil, list)
		}
		if got := s.actions(t, twostep.ActionDevicesRevoked); len(got) != 1 {
			t.Fatalf("%d devices_revoked events, want 1 (the admin's)", len(got))
		}
		_, err = s.svc.UpdateSettings(s.ctx, s.platform, s.co.ID, patch(t, `{"remember_device_days":{"web":91}}`))
		wantCode(t, err, twostep.CodeInvalidValue, "remember_device_days.web")
	})
}

// newSignInUser adds another user, 2FA on, to a sign-in's company.
func newSignInUser(t *testing.T, s signIn, name string) signIn {
	t.Helper()
	u, err := s.svc.CreateUser(s.ctx, s.platform, s.co.ID, twostep.NewUser{Name: name, Email: strings.ToLower(name) + "@acme.com",
		TwoFA: twostep.Some(twostep.TwoFAPatch{Web: twostep.Some(true)})})
	if err != nil {
		t.Fatal(err)
	}
	s.user = u
	return s
}

// TestPasskeysOnlyWhereAPageCanAskForThem: a user with a passkey starts on
// it only where there is a page to run the ceremony on (a return_url);
// a challenge the platform verifies through the API alone goes on as if
// there were none.
func TestPasskeysOnlyWhereAPageCanAskForThem(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		s := newSignIn(t, url, `{"allowed_return_origins":["https://app.acme.test"]}`, anna)
		svc := twostep.NewService(s.db, twostep.Options{AuditKey: auditKey, CodeKey: []byte("test code key"),
			OutboxKey: []byte("0123456789abcdef0123456789abcdef"), CodeTTL: 5 * time.Minute, PublicURL: "https://2fa.example.com"})
		if !svc.Passkeys() {
			t.Fatal("passkeys are off with a public URL on a domain")
		}
		if err := s.db.Update(s.ctx, func(tx twostep.Tx) error {
			now, _ := tx.Now(s.ctx)
			if err := tx.CreateAuthenticator(s.ctx, twostep.Authenticator{ID: "auth_pk", CompanyID: s.co.ID, UserID: s.user.ID,
				Type: twostep.AuthenticatorWebAuthn, Name: "Passkey", ConfirmedAt: now, CreatedAt: now, CredentialID: "cGs", Credential: `{}`}); err != nil {
				return err
			}
			return tx.RefreshFactors(s.ctx, s.co.ID, s.user.ID)
		}); err != nil {
			t.Fatal(err)
		}
		api, err := svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.NewChallenge{App: "web"})
		if err != nil || api.Method == twostep.MethodWebAuthn || hasMethod(api.MethodsAvailable, twostep.MethodWebAuthn) {
			t.Fatalf("an API-only challenge: %s %v, %v", api.Method, api.MethodsAvailable, err)
		}
		hosted, err := svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.NewChallenge{App: "web", ReturnURL: "https://app.acme.test/x"})
		if err != nil || hosted.Method != twostep.MethodWebAuthn {
			t.Fatalf("a hosted challenge: %s, %v", hosted.Method, err)
		}
		if twostep.NewService(s.db, twostep.Options{PublicURL: "http://127.0.0.1:8080"}).Passkeys() {
			t.Fatal("passkeys are on with a public URL on an IP address")
		}
	})
}
