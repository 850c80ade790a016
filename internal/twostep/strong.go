package twostep

import "time"

// AuthenticatorKinds are the kinds of authenticator a company lets its
// users add and use.
type AuthenticatorKinds struct {
	TOTP     bool `json:"totp"`
	WebAuthn bool `json:"webauthn"`
}

// AuthenticatorKindsPatch is a partial update of AuthenticatorKinds.
type AuthenticatorKindsPatch struct {
	TOTP     Optional[bool] `json:"totp"`
	WebAuthn Optional[bool] `json:"webauthn"`
}

// StrongSince is when strong authentication first applied per app; zero
// until it has.
type StrongSince struct {
	Web     time.Time
	Manager time.Time
}

// For returns the time of one app.
func (s StrongSince) For(app App) time.Time {
	if app == AppManager {
		return s.Manager
	}
	return s.Web
}

// DefaultEnrollmentGraceDays is how long, by default, a user without a
// stronger authenticator may still sign in with a sent code once an app
// requires one; maxEnrollmentGraceDays bounds the setting.
const (
	DefaultEnrollmentGraceDays = 14
	maxEnrollmentGraceDays     = 365
)

// applyStrong applies the patch's authenticator policy to next, naming
// each change with general. The grace period's start (StrongSince) is
// set by the service, which knows the time.
func (p SettingsPatch) applyStrong(s Settings, next *Settings, general func(field string, from, to any)) error {
	var flags []boolField
	if k, ok, err := p.Authenticators.required("authenticators"); err != nil {
		return err
	} else if ok {
		flags = append(flags, boolField{"authenticators.totp", k.TOTP, &next.Authenticators.TOTP},
			boolField{"authenticators.webauthn", k.WebAuthn, &next.Authenticators.WebAuthn})
	}
	if d, ok, err := p.StrongAuthentication.required("strong_authentication"); err != nil {
		return err
	} else if ok {
		flags = append(flags, boolField{"strong_authentication.web", d.Web, &next.StrongAuthentication.Web},
			boolField{"strong_authentication.manager", d.Manager, &next.StrongAuthentication.Manager})
	}
	if err := applyBools(flags, general); err != nil {
		return err
	}
	if v, ok, err := p.EnrollmentGraceDays.required("enrollment_grace_days"); err != nil {
		return err
	} else if ok {
		if v < 0 || v > maxEnrollmentGraceDays {
			return Invalid("enrollment_grace_days", "enrollment_grace_days must be between 0 and %d", maxEnrollmentGraceDays)
		}
		if v != s.EnrollmentGraceDays {
			general("enrollment_grace_days", s.EnrollmentGraceDays, v)
			next.EnrollmentGraceDays = v
		}
	}
	return nil
}

// startStrong records when strong authentication first applied to each
// app it is on for. Turning it off and on again keeps that time: grace
// periods run from when the requirement first applied (raise
// enrollment_grace_days to give more time).
func (s *Settings) startStrong(now time.Time) {
	for _, a := range []struct {
		on    bool
		since *time.Time
	}{
		{s.StrongAuthentication.Web, &s.StrongSince.Web},
		{s.StrongAuthentication.Manager, &s.StrongSince.Manager},
	} {
		if a.on && a.since.IsZero() {
			*a.since = now
		}
	}
}

// graceEnds is when a user's grace period in an app ends: the given days
// after strong authentication began there, or after the user was
// created if that is later. Lowering the days shortens running periods.
func (s Settings) graceEnds(app App, u User) time.Time {
	start := s.StrongSince.For(app)
	if u.CreatedAt.After(start) {
		start = u.CreatedAt
	}
	return start.AddDate(0, 0, s.EnrollmentGraceDays)
}
