package twostep

import (
	"context"
	"errors"
	"time"
)

// Device is a browser a user asked to be remembered in, after a sign-in:
// its token (kept only as a hash) lets the user's next sign-ins in that
// app skip the second step until ExpiresAt. It ends early when the user
// is locked, loses an authenticator, has 2FA switched for the app, when
// an admin forgets it, or when the company stops remembering devices.
type Device struct {
	TokenHash  string
	CompanyID  string
	UserID     string
	App        App
	UserAgent  string
	Method     Method    // what proved the approval that made it
	AuthTime   time.Time // the approval that made it
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
}

// DeviceStore keeps remembered devices.
type DeviceStore interface {
	CreateDevice(ctx context.Context, d Device) error
	// Device finds a device by its token's hash.
	Device(ctx context.Context, tokenHash string) (Device, error)
	TouchDevice(ctx context.Context, tokenHash string, at time.Time) error
	// Devices lists a user's devices, newest first.
	Devices(ctx context.Context, companyID, userID string) ([]Device, error)
	// DeleteDevices forgets a user's devices in app ("" for every app) and
	// says how many there were.
	DeleteDevices(ctx context.Context, companyID, userID string, app App) (int, error)
	// DeleteCompanyDevices forgets every device of a company in app.
	DeleteCompanyDevices(ctx context.Context, companyID string, app App) error
	// TakeDeviceToken clears a challenge's sealed device token, only while
	// it is still sealed: of two readers, one gets it (ErrConflict for
	// the other).
	TakeDeviceToken(ctx context.Context, challengeID, sealed string) error
}

// AppDays is a number of days per app.
type AppDays struct {
	Web     int `json:"web"`
	Manager int `json:"manager"`
}

// For returns the days of one app.
func (d AppDays) For(app App) int {
	if app == AppManager {
		return d.Manager
	}
	return d.Web
}

// AppDaysPatch is a partial update of AppDays.
type AppDaysPatch struct {
	Web     Optional[int] `json:"web"`
	Manager Optional[int] `json:"manager"`
}

// maxRememberDays bounds remember_device_days.
const maxRememberDays = 90

// Until is when the device stops being remembered under a company's
// current days for its app: its own end, or sooner if the setting was
// shortened since.
func (d Device) Until(days int) time.Time {
	if end := d.CreatedAt.AddDate(0, 0, days); end.Before(d.ExpiresAt) {
		return end
	}
	return d.ExpiresAt
}

// deviceSealBinding ties a challenge's sealed device token to it.
func deviceSealBinding(challengeID string) string { return "device:" + challengeID }

// remembered reports whether a device token lets this user and app in at
// now: it is theirs, not expired, and the company still remembers devices
// for as long as it has been.
func (d Device) remembered(companyID, userID string, app App, days int, now time.Time) bool {
	return d.CompanyID == companyID && d.UserID == userID && d.App == app && days > 0 && now.Before(d.Until(days))
}

// rememberedDevice checks a challenge's device token inside its
// transaction; it returns the device and true when the sign-in may skip
// the second step, and records the use. Where the app requires strong
// authentication, a device remembered after a sent code does not count.
func (s *core) rememberedDevice(ctx context.Context, tx Tx, co Company, u User, app App, token string, now time.Time) (Device, bool, error) {
	if token == "" {
		return Device{}, false, nil
	}
	d, err := tx.Device(ctx, tokenHash(token))
	if errors.Is(err, ErrNotFound) {
		return d, false, nil // ended, or never was: the second step as usual
	}
	if err != nil || !d.remembered(co.ID, u.ID, app, co.Settings.RememberDeviceDays.For(app), now) {
		return d, false, err
	}
	if co.Settings.StrongAuthentication.For(app) && (d.Method == "" || d.Method.sent()) {
		return d, false, nil
	}
	return d, true, tx.TouchDevice(ctx, d.TokenHash, now)
}

// rememberDevice makes a device token for an approved challenge and
// returns it with its sealed form for the challenge, or "" when the
// company does not remember devices for the app.
func (s *core) rememberDevice(ctx context.Context, tx Tx, cc challengeContext, method Method) (token, sealed string, err error) {
	days := cc.co.Settings.RememberDeviceDays.For(cc.ch.App)
	if days == 0 {
		return "", "", nil
	}
	if token, err = s.newToken(); err != nil {
		return "", "", Internal(err)
	}
	d := Device{TokenHash: tokenHash(token), CompanyID: cc.ch.CompanyID, UserID: cc.ch.UserID, App: cc.ch.App, Method: method,
		UserAgent: clip(cc.ch.UserAgent, 300), AuthTime: cc.now, CreatedAt: cc.now, ExpiresAt: cc.now.AddDate(0, 0, days)}
	if err := tx.CreateDevice(ctx, d); err != nil {
		return "", "", err
	}
	if sealed, err = s.sealer.seal(s.rand, token, deviceSealBinding(cc.ch.ID)); err != nil {
		return "", "", Internal(err)
	}
	return token, sealed, nil
}

// Devices lists a user's remembered devices that have not ended.
func (s *Directory) Devices(ctx context.Context, c Caller, companyID, userID string) ([]Device, error) {
	var out []Device
	err := s.view(ctx, func(tx Tx) error {
		co, _, err := s.company(ctx, tx, c, companyID, false)
		if err != nil {
			return err
		}
		if _, err := s.user(ctx, tx, companyID, userID, false); err != nil {
			return err
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		out, err = liveDevices(ctx, tx, co, userID, now)
		return err
	})
	return out, err
}

// liveDevices reads a user's devices that are still remembered at now,
// each ending when the company's current days for its app say.
func liveDevices(ctx context.Context, tx Tx, co Company, userID string, now time.Time) ([]Device, error) {
	all, err := tx.Devices(ctx, co.ID, userID)
	var out []Device
	for _, d := range all {
		d.ExpiresAt = d.Until(co.Settings.RememberDeviceDays.For(d.App))
		if now.Before(d.ExpiresAt) {
			out = append(out, d)
		}
	}
	return out, err
}

// RevokeDevices forgets every remembered device of a user, audited
// user.devices_revoked with how many there were.
func (s *Directory) RevokeDevices(ctx context.Context, c Caller, companyID, userID string) (int, error) {
	var n int
	err := s.update(ctx, func(tx Tx) error {
		_, actor, err := s.company(ctx, tx, c, companyID, false)
		if err != nil {
			return err
		}
		u, err := s.user(ctx, tx, companyID, userID, false)
		if err != nil {
			return err
		}
		if n, err = tx.DeleteDevices(ctx, companyID, userID, ""); err != nil || n == 0 {
			return err
		}
		return s.audit(ctx, tx, c, AuditEvent{CompanyID: companyID, Actor: actor, Action: ActionDevicesRevoked,
			TargetID: u.ID, TargetName: u.Name, Details: details(map[string]any{"count": n})})
	})
	return n, err
}

// applyRemember applies the patch's remember_device_days to next.
func (p SettingsPatch) applyRemember(next *Settings, general func(field string, from, to any)) error {
	d, ok, err := p.RememberDeviceDays.required("remember_device_days")
	if err != nil || !ok {
		return err
	}
	for _, f := range []struct {
		name  string
		patch Optional[int]
		dst   *int
	}{
		{"remember_device_days.web", d.Web, &next.RememberDeviceDays.Web},
		{"remember_device_days.manager", d.Manager, &next.RememberDeviceDays.Manager},
	} {
		v, ok, err := f.patch.required(f.name)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if v < 0 || v > maxRememberDays {
			return Invalid(f.name, "%s must be between 0 (off) and %d days", f.name, maxRememberDays)
		}
		if v != *f.dst {
			general(f.name, *f.dst, v)
			*f.dst = v
		}
	}
	return nil
}

// forgetDevicesTurnedOff forgets a company's devices in each app whose
// remembering was just turned off.
func forgetDevicesTurnedOff(ctx context.Context, tx Tx, companyID string, prev, next Settings) error {
	for _, app := range Apps {
		if prev.RememberDeviceDays.For(app) > 0 && next.RememberDeviceDays.For(app) == 0 {
			if err := tx.DeleteCompanyDevices(ctx, companyID, app); err != nil {
				return err
			}
		}
	}
	return nil
}
