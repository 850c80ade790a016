package twostep_test

import (
	"context"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/providertest"
	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
	"github.com/twostep/twostep/result"
)

// enrol adds and confirms an authenticator app for the sign-in's user and
// returns its key. The clock then moves to the next 30-second step, so
// that the next code the test computes is a new one.
func (s signIn) enrol(t *testing.T) string {
	t.Helper()
	a, err := s.svc.AddAuthenticator(s.ctx, s.platform, s.co.ID, s.user.ID, "totp", "Phone")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.svc.ConfirmAuthenticator(s.ctx, s.platform, s.co.ID, s.user.ID, a.ID, providertest.TOTP(a.Secret, s.clock.Now())); err != nil {
		t.Fatal(err)
	}
	s.nextStep()
	return a.Secret
}

// nextStep moves the clock to the start of the next TOTP step.
func (s signIn) nextStep() {
	now := s.clock.Now()
	s.clock.Advance(now.Truncate(30*time.Second).Add(30*time.Second).Sub(now) + time.Second)
}

func (s signIn) verifyWith(t *testing.T, id string, m twostep.Method, code string) (twostep.ChallengeView, twostep.VerifyResult, error) {
	t.Helper()
	return s.svc.Verify(s.ctx, s.platform, id, twostep.Proof{Code: code, Method: m})
}

func TestAuthenticatorEnrolment(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		s := newSignIn(t, url, smsFirst, anna)
		a, err := s.svc.AddAuthenticator(s.ctx, s.platform, s.co.ID, s.user.ID, "totp", "")
		if err != nil {
			t.Fatal(err)
		}
		if a.Confirmed() || a.Name != "Authenticator app" || len(a.Secret) != 32 {
			t.Fatalf("new authenticator: %+v", a.Authenticator)
		}
		if !regexp.MustCompile(`^otpauth://totp/Acme:anna@acme.com\?algorithm=SHA1&digits=6&issuer=Acme&period=30&secret=` + a.Secret + `$`).MatchString(a.OTPAuthURI) {
			t.Fatalf("otpauth URI %s", a.OTPAuthURI)
		}
		// The secret is sealed at rest: the table never holds it in clear.
		if dump := dumpTables(t, s.url); regexp.MustCompile(`(?i)` + a.Secret).MatchString(dump) {
			t.Fatal("the secret is in the database in clear")
		}
		// An unconfirmed app proves nothing: a challenge still sends a code.
		if v := s.start(t); v.Method != twostep.MethodSMS {
			t.Fatalf("with an unconfirmed app the challenge expects %s", v.Method)
		}
		wrong := wrongCode(providertest.TOTP(a.Secret, s.clock.Now()))
		_, err = s.svc.ConfirmAuthenticator(s.ctx, s.platform, s.co.ID, s.user.ID, a.ID, wrong)
		wantCode(t, err, twostep.CodeIncorrect, "code")
		if len(s.actions(t, twostep.ActionAuthenticatorAdded)) != 0 {
			t.Fatal("a wrong code added the authenticator")
		}
		got, err := s.svc.ConfirmAuthenticator(s.ctx, s.platform, s.co.ID, s.user.ID, a.ID, providertest.TOTP(a.Secret, s.clock.Now()))
		if err != nil || !got.Confirmed() {
			t.Fatalf("confirm: %+v, %v", got, err)
		}
		if len(s.actions(t, twostep.ActionAuthenticatorAdded)) != 1 {
			t.Fatal("confirming was not audited once")
		}
		hint := func(want bool) {
			t.Helper()
			if u, _ := s.svc.User(s.ctx, s.platform, s.co.ID, s.user.ID); u.HasFactors != want {
				t.Fatalf("has_factors is %v, want %v", u.HasFactors, want)
			}
		}
		hint(true)
		list, left, err := s.svc.Authenticators(s.ctx, s.platform, s.co.ID, s.user.ID)
		if err != nil || len(list) != 1 || !list[0].Confirmed() || left != 0 {
			t.Fatalf("list: %+v, %d, %v", list, left, err)
		}

		// An unconfirmed one vanishes after 15 minutes.
		b, err := s.svc.AddAuthenticator(s.ctx, s.platform, s.co.ID, s.user.ID, "totp", "Tablet")
		if err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(twostep.UnconfirmedLifetime)
		_, err = s.svc.ConfirmAuthenticator(s.ctx, s.platform, s.co.ID, s.user.ID, b.ID, providertest.TOTP(b.Secret, s.clock.Now()))
		wantCode(t, err, twostep.CodeNotFound, "")
		if list, _, _ := s.svc.Authenticators(s.ctx, s.platform, s.co.ID, s.user.ID); len(list) != 1 {
			t.Fatalf("an expired unconfirmed authenticator is listed: %+v", list)
		}

		if err := s.svc.RemoveAuthenticator(s.ctx, s.platform, s.co.ID, s.user.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		if len(s.actions(t, twostep.ActionAuthenticatorRemoved)) != 1 {
			t.Fatal("removing was not audited")
		}
		hint(false)
		if _, err := s.svc.NewRecoveryCodes(s.ctx, s.platform, s.co.ID, s.user.ID); err != nil {
			t.Fatal(err)
		}
		hint(true)
		if v := s.start(t); v.Method != twostep.MethodSMS || !hasMethod(v.MethodsAvailable, twostep.MethodRecoveryCode) {
			t.Fatalf("after removal the challenge expects %s, offers %v", v.Method, v.MethodsAvailable)
		}
		_, err = s.svc.AddAuthenticator(s.ctx, s.platform, s.co.ID, s.user.ID, "sms", "")
		wantCode(t, err, twostep.CodeInvalidValue, "type")
	})
}

func TestSignInWithAuthenticatorApp(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		s := newSignIn(t, url, smsFirst, anna)
		key := s.enrol(t)
		before, _ := s.svc.OutboxDepth(s.ctx) // the "authenticator added" notification
		v := s.start(t)
		if v.Method != twostep.MethodTOTP || v.Channel != "" || v.Sends != 0 {
			t.Fatalf("challenge of a user with an app: method %s channel %q sends %d", v.Method, v.Channel, v.Sends)
		}
		if n, _ := s.svc.OutboxDepth(s.ctx); n != before {
			t.Fatalf("%d messages queued for a user with an authenticator app", n-before)
		}
		if !slices.Equal(v.MethodsAvailable, []twostep.Method{twostep.MethodTOTP, twostep.MethodSMS}) || v.Status != twostep.StatusPending {
			t.Fatalf("methods %v, status %s", v.MethodsAvailable, v.Status)
		}
		// Wrong app codes count towards the consecutive failures only.
		_, r, err := s.verifyWith(t, v.ID, "", wrongCode(providertest.TOTP(key, s.clock.Now())))
		if err != nil || r != twostep.ResultRejected {
			t.Fatalf("wrong code: %s, %v", r, err)
		}
		code := providertest.TOTP(key, s.clock.Now())
		got, r, err := s.verifyWith(t, v.ID, "", code)
		if err != nil || r != twostep.ResultApproved || got.Method != twostep.MethodTOTP {
			t.Fatalf("right code: %s, %s, %v", r, got.Method, err)
		}
		// The same code is refused on the next sign-in: each step once.
		v = s.start(t)
		if _, r, err := s.verifyWith(t, v.ID, "", code); err != nil || r != twostep.ResultRejected {
			t.Fatalf("replayed code: %s, %v", r, err)
		}
		// The code of the step before is still taken once (one step of drift).
		s.clock.Advance(30 * time.Second)
		if _, r, _ := s.verifyWith(t, v.ID, "", providertest.TOTP(key, s.clock.Now().Add(-30*time.Second))); r != twostep.ResultRejected {
			t.Fatalf("a code older than the one used was taken: %s", r)
		}
		if _, r, err := s.verifyWith(t, v.ID, "", providertest.TOTP(key, s.clock.Now())); err != nil || r != twostep.ResultApproved {
			t.Fatalf("the next step's code: %s, %v", r, err)
		}

		// The user may still ask for an SMS instead, which moves the method.
		s.nextStep()
		v = s.start(t)
		sent, err := s.svc.Resend(s.ctx, s.platform, v.ID, twostep.ChannelSMS)
		if err != nil || sent.Method != twostep.MethodSMS || sent.Channel != twostep.ChannelSMS {
			t.Fatalf("resend by SMS: %+v, %v", sent.Method, err)
		}
		smsCode := s.code(t, v.ID)
		if _, r, err := s.verifyWith(t, v.ID, "", smsCode); err != nil || r != twostep.ResultApproved {
			t.Fatalf("the SMS code: %s, %v", r, err)
		}
		// An SMS code that expired does not end a sign-in the app can
		// still prove.
		s.nextStep()
		v = s.start(t)
		if _, err := s.svc.Resend(s.ctx, s.platform, v.ID, twostep.ChannelSMS); err != nil {
			t.Fatal(err)
		}
		s.clock.Advance(6 * time.Minute)
		got, _ = s.svc.Challenge(s.ctx, s.platform, v.ID)
		if got.Status != twostep.StatusPending || !got.ExpiresAt.Equal(got.CreatedAt.Add(twostep.ChallengeLifetime)) {
			t.Fatalf("after the SMS code expired: %s, expires %v", got.Status, got.ExpiresAt)
		}
		_, _, err = s.verifyWith(t, v.ID, twostep.MethodSMS, smsCode)
		wantCode(t, err, twostep.CodeExpired, "")
		if _, r, err := s.verifyWith(t, v.ID, twostep.MethodTOTP, providertest.TOTP(key, s.clock.Now())); err != nil || r != twostep.ResultApproved {
			t.Fatalf("the app after the SMS expired: %s, %v", r, err)
		}
		// A recovery code when the user has none is a wrong guess, counted.
		s.nextStep()
		v = s.start(t)
		if got, r, err := s.verifyWith(t, v.ID, twostep.MethodRecoveryCode, "aaaa-bbbb-cccc-dddd"); err != nil || r != twostep.ResultRejected || got.FailedAttempts != 1 {
			t.Fatalf("a recovery code without any: %s, %v", r, err)
		}

		// An app turned off by the company is not offered.
		if _, err := s.svc.UpdateSettings(s.ctx, s.platform, s.co.ID, patch(t, `{"authenticators":{"totp":false}}`)); err != nil {
			t.Fatal(err)
		}
		if v := s.start(t); v.Method != twostep.MethodSMS || hasMethod(v.MethodsAvailable, twostep.MethodTOTP) {
			t.Fatalf("with apps off: method %s, available %v", v.Method, v.MethodsAvailable)
		}
	})
}

func hasMethod(ms []twostep.Method, m twostep.Method) bool { return slices.Contains(ms, m) }

// TestAuthenticatorCodeOnceAcrossInstances sends one app code to two
// challenges of the user through different instances at once, many
// times over: exactly one is approved each time (SECURITY: TOTP replay).
func TestAuthenticatorCodeOnceAcrossInstances(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		s := newSignIn(t, url, smsFirst, anna)
		key := s.enrol(t)
		services := []*twostep.Service{s.svc, s.svc}
		if storetest.IsPostgres(url) {
			db := storetest.Open(t, s.url)
			db.SetClock(s.clock.Now)
			services[1] = twostep.NewService(db, twostep.Options{AuditKey: auditKey, CodeKey: []byte("test code key"),
				OutboxKey: []byte("0123456789abcdef0123456789abcdef"), CodeTTL: 5 * time.Minute})
		}
		for round := range 5 {
			a, b := s.start(t), s.start(t)
			code := providertest.TOTP(key, s.clock.Now())
			var (
				wg       sync.WaitGroup
				approved = make([]bool, 2)
			)
			for i, id := range []string{a.ID, b.ID} {
				wg.Go(func() {
					_, r, err := services[i].Verify(context.Background(), s.platform, id, twostep.Proof{Code: code})
					approved[i] = err == nil && r == twostep.ResultApproved
				})
			}
			wg.Wait()
			if approved[0] == approved[1] {
				t.Fatalf("round %d: one code approved %v of two sign-ins; want exactly one", round, approved)
			}
			s.nextStep()
		}
	})
}

// TestParallelAuthenticatorGuesses fires 200 wrong app codes at once at
// one challenge, through three instances on PostgreSQL: exactly LockAfter
// count, the rest meet the lock.
func TestParallelAuthenticatorGuesses(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		s := newSignIn(t, url, smsFirst, anna)
		key := s.enrol(t)
		services := []*twostep.Service{s.svc}
		if storetest.IsPostgres(url) {
			for range 2 {
				db := storetest.Open(t, s.url)
				db.SetClock(s.clock.Now)
				services = append(services, twostep.NewService(db, twostep.Options{AuditKey: auditKey, CodeKey: []byte("test code key"),
					OutboxKey: []byte("0123456789abcdef0123456789abcdef"), CodeTTL: 5 * time.Minute}))
			}
		}
		v := s.start(t)
		wrong := wrongCode(providertest.TOTP(key, s.clock.Now()))
		if wrong == providertest.TOTP(key, s.clock.Now().Add(-30*time.Second)) || wrong == providertest.TOTP(key, s.clock.Now().Add(30*time.Second)) {
			wrong = "123456"
		}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			results = map[string]int{}
		)
		for i := range 200 {
			wg.Go(func() {
				_, r, err := services[i%len(services)].Verify(context.Background(), s.platform, v.ID, twostep.Proof{Code: wrong})
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
		if results["rejected"] != twostep.LockAfter || results["locked"] != 200-twostep.LockAfter {
			t.Fatalf("200 parallel wrong app codes: %v; want %d rejected, the rest locked", results, twostep.LockAfter)
		}
		if len(s.actions(t, twostep.ActionTwoFALocked)) != 1 || len(s.actions(t, twostep.ActionTwoFAFailedAttempts)) != 1 {
			t.Fatal("the contact and the lock were not audited once each")
		}
	})
}

func TestRecoveryCodes(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		s := newSignIn(t, url, smsFirst, anna)
		s.enrol(t)
		codes, err := s.svc.NewRecoveryCodes(s.ctx, s.platform, s.co.ID, s.user.ID)
		if err != nil {
			t.Fatal(err)
		}
		form := regexp.MustCompile(`^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$`)
		seen := map[string]bool{}
		for _, c := range codes {
			if !form.MatchString(c) || seen[c] {
				t.Fatalf("codes %v: each 16 base32 characters (80 bits) in four groups, all different", codes)
			}
			seen[c] = true
		}
		if len(codes) != 10 || len(s.actions(t, twostep.ActionRecoveryCodesGenerated)) != 1 {
			t.Fatalf("%d codes", len(codes))
		}
		if dump := dumpTables(t, s.url); regexp.MustCompile(codes[0][:4] + "-?" + codes[0][5:9]).MatchString(dump) {
			t.Fatal("a recovery code is in the database in clear")
		}
		v := s.start(t)
		if !hasMethod(v.MethodsAvailable, twostep.MethodRecoveryCode) {
			t.Fatalf("methods %v lack recovery_code", v.MethodsAvailable)
		}
		_, _, err = s.verifyWith(t, v.ID, twostep.MethodRecoveryCode, "not a code")
		wantCode(t, err, twostep.CodeInvalidValue, "code")
		// Typed in capitals without hyphens, it is the same code.
		typed := regexp.MustCompile(`-`).ReplaceAllString(codes[0], " ")
		got, r, err := s.verifyWith(t, v.ID, twostep.MethodRecoveryCode, typed)
		if err != nil || r != twostep.ResultApproved || got.Method != twostep.MethodRecoveryCode {
			t.Fatalf("a recovery code: %s, %v", r, err)
		}
		used := s.actions(t, twostep.ActionRecoveryCodeUsed)
		if len(used) != 1 || used[0].Actor.ID != s.user.ID {
			t.Fatalf("use audited as %+v", used)
		}
		// Used, it is a wrong guess.
		v = s.start(t)
		if _, r, err := s.verifyWith(t, v.ID, twostep.MethodRecoveryCode, codes[0]); err != nil || r != twostep.ResultRejected {
			t.Fatalf("a used code: %s, %v", r, err)
		}
		if got, _ := s.svc.Challenge(s.ctx, s.platform, v.ID); got.FailedAttempts != 1 {
			t.Fatalf("a used code counted %d failures, want 1", got.FailedAttempts)
		}
		if _, left, _ := s.svc.Authenticators(s.ctx, s.platform, s.co.ID, s.user.ID); left != 9 {
			t.Fatalf("%d codes left, want 9", left)
		}

		// One code, 50 sign-ins at once: exactly one gets in.
		ids := make([]string, 50)
		for i := range ids {
			ids[i] = s.start(t).ID
		}
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			approved int
		)
		for _, id := range ids {
			wg.Go(func() {
				_, r, err := s.svc.Verify(context.Background(), s.platform, id, twostep.Proof{Code: codes[1], Method: twostep.MethodRecoveryCode})
				if err == nil && r == twostep.ResultApproved {
					mu.Lock()
					approved++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if approved != 1 {
			t.Fatalf("one recovery code approved %d of 50 parallel sign-ins", approved)
		}
		// The 49 that lost counted as wrong guesses, and locked the user.
		if _, err := s.svc.Unlock(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.AppWeb); err != nil {
			t.Fatal(err)
		}

		// A new set replaces the old.
		fresh, err := s.svc.NewRecoveryCodes(s.ctx, s.platform, s.co.ID, s.user.ID)
		if err != nil {
			t.Fatal(err)
		}
		v = s.start(t)
		if _, r, _ := s.verifyWith(t, v.ID, twostep.MethodRecoveryCode, codes[2]); r != twostep.ResultRejected {
			t.Fatal("a code of the old set still works")
		}
		if _, r, err := s.verifyWith(t, v.ID, twostep.MethodRecoveryCode, fresh[0]); err != nil || r != twostep.ResultApproved {
			t.Fatalf("a code of the new set: %s, %v", r, err)
		}
	})
}

func TestStrongAuthenticationPolicy(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		s := newSignIn(t, url, smsFirst[:len(smsFirst)-1]+`,"strong_authentication":{"web":true},"enrollment_grace_days":3}`, anna)
		events := s.actions(t, twostep.ActionSettingsGeneralChanged)
		var fields []string
		for _, e := range events {
			fields = append(fields, details(t, e).Field)
		}
		if !slices.Contains(fields, "strong_authentication.web") || !slices.Contains(fields, "enrollment_grace_days") {
			t.Fatalf("policy changes audited as %v", fields)
		}
		// In the grace period: a sent code, and enrolment asked for.
		v := s.start(t)
		if v.Method != twostep.MethodSMS || !v.EnrollmentRequired {
			t.Fatalf("in grace: method %s, enrollment_required %v", v.Method, v.EnrollmentRequired)
		}
		// manager does not require it.
		res, err := s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.NewChallenge{App: "manager"})
		if err != nil || res.EnrollmentRequired {
			t.Fatalf("manager: %+v, %v", res.EnrollmentRequired, err)
		}
		// After it: refused; turning the requirement off and on again does
		// not start the grace period afresh.
		s.clock.Advance(3 * 24 * time.Hour)
		_, err = s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.NewChallenge{App: "web"})
		wantCode(t, err, twostep.CodeEnrollment, "")
		for _, p := range []string{`{"strong_authentication":{"web":false}}`, `{"strong_authentication":{"web":true}}`} {
			if _, err := s.svc.UpdateSettings(s.ctx, s.platform, s.co.ID, patch(t, p)); err != nil {
				t.Fatal(err)
			}
		}
		_, err = s.svc.CreateChallenge(s.ctx, s.platform, s.co.ID, s.user.ID, twostep.NewChallenge{App: "web"})
		wantCode(t, err, twostep.CodeEnrollment, "")
		// Raising the grace days lengthens it again; lowering shortens it.
		if _, err := s.svc.UpdateSettings(s.ctx, s.platform, s.co.ID, patch(t, `{"enrollment_grace_days":10}`)); err != nil {
			t.Fatal(err)
		}
		if v := s.start(t); !v.EnrollmentRequired {
			t.Fatal("a longer grace period did not apply")
		}
		// With only recovery codes the user can still get in, to enrol.
		if _, err := s.svc.UpdateSettings(s.ctx, s.platform, s.co.ID, patch(t, `{"enrollment_grace_days":0}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.NewRecoveryCodes(s.ctx, s.platform, s.co.ID, s.user.ID); err != nil {
			t.Fatal(err)
		}
		if v := s.start(t); v.Method != twostep.MethodRecoveryCode || !slices.Equal(v.MethodsAvailable, []twostep.Method{twostep.MethodRecoveryCode}) {
			t.Fatalf("recovery codes only: method %s, available %v", v.Method, v.MethodsAvailable)
		}

		// With an app: no codes by SMS or email at all.
		key := s.enrol(t)
		v = s.start(t)
		if v.EnrollmentRequired || v.Method != twostep.MethodTOTP || len(v.ChannelsAvailable) != 0 ||
			!slices.Equal(v.MethodsAvailable, []twostep.Method{twostep.MethodTOTP, twostep.MethodRecoveryCode}) {
			t.Fatalf("strong with an app: %+v", v)
		}
		if !v.ResendAvailableAt.IsZero() {
			t.Fatalf("a resend time %v where nothing may be sent", v.ResendAvailableAt)
		}
		_, err = s.svc.Resend(s.ctx, s.platform, v.ID, twostep.ChannelSMS)
		wantCode(t, err, twostep.CodeInvalidValue, "channel")
		_, _, err = s.verifyWith(t, v.ID, twostep.MethodSMS, "123456")
		wantCode(t, err, twostep.CodeInvalidValue, "method")
		if _, r, err := s.verifyWith(t, v.ID, "", providertest.TOTP(key, s.clock.Now())); err != nil || r != twostep.ResultApproved {
			t.Fatalf("app code: %s, %v", r, err)
		}
	})
}

// TestEnrollmentFromASignIn follows a hosted sign-in in its grace period
// into enrolment: one enrolment link per sign-in, finished once, minting
// the sign-in's result once; recovery codes only with an app.
func TestEnrollmentFromASignIn(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		f := newFixture(t, url, func(o *twostep.Options) { o.Signer = result.NewSigner(make([]byte, 32), "https://2fa.example.com") })
		co := f.company(t, "Acme")
		if _, err := f.svc.UpdateSettings(f.ctx, f.platform, co.ID, patch(t, `{"strong_authentication":{"web":true},"allowed_return_origins":["https://app.acme.test"]}`)); err != nil {
			t.Fatal(err)
		}
		u, err := f.svc.CreateUser(f.ctx, f.platform, co.ID, twostep.NewUser{Name: "Anna", Email: "anna@acme.com",
			TwoFA: twostep.Some(twostep.TwoFAPatch{Web: twostep.Some(true)})})
		if err != nil {
			t.Fatal(err)
		}
		res, err := f.svc.CreateChallenge(f.ctx, f.platform, co.ID, u.ID, twostep.NewChallenge{App: "web", ReturnURL: "https://app.acme.test/back"})
		if err != nil || !res.EnrollmentRequired {
			t.Fatalf("%+v, %v", res.EnrollmentRequired, err)
		}
		// Enrolment is for approved sign-ins only.
		if _, err := f.svc.PageEnrollment(f.ctx, res.VerifyToken); err == nil {
			t.Fatal("enrolment before the code")
		}
		if _, r, err := f.svc.PageVerify(f.ctx, res.VerifyToken, twostep.Proof{Code: f.code(t, res.ID)}, "", ""); err != nil || r != twostep.ResultApproved {
			t.Fatalf("the code: %s, %v", r, err)
		}
		token, err := f.svc.PageEnrollment(f.ctx, res.VerifyToken)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.PageEnrollment(f.ctx, res.VerifyToken)
		wantCode(t, err, twostep.CodeNotFound, "")
		_, err = f.svc.EnrollRecoveryCodes(f.ctx, token, "", "")
		wantCode(t, err, twostep.CodeForbidden, "")

		a, err := f.svc.EnrollApp(f.ctx, token, "", "")
		if err != nil {
			t.Fatal(err)
		}
		pg, err := f.svc.OpenEnrollment(f.ctx, token, a.ID)
		if err != nil || pg.Pending == nil || pg.Pending.Secret != a.Secret || !pg.Later {
			t.Fatalf("the page with the pending app: %+v, %v", pg.Pending, err)
		}
		codes, err := f.svc.EnrollConfirm(f.ctx, token, a.ID, providertest.TOTP(a.Secret, f.clock.Now()), "", "")
		if err != nil || len(codes) != 10 {
			t.Fatalf("confirm: %d codes, %v", len(codes), err)
		}
		next, err := f.svc.FinishEnrollment(f.ctx, token)
		if err != nil || !regexp.MustCompile(`^https://app\.acme\.test/back\?twostep_result=`).MatchString(next) {
			t.Fatalf("finish: %s, %v", next, err)
		}
		_, err = f.svc.FinishEnrollment(f.ctx, token)
		wantCode(t, err, twostep.CodeNotFound, "")
		_, err = f.svc.OpenEnrollment(f.ctx, token, "")
		wantCode(t, err, twostep.CodeNotFound, "")
	})
}
