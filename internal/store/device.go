package store

import (
	"context"
	"errors"
	"time"

	"github.com/twostep/twostep/internal/twostep"
)

// CreateDevice stores a remembered device.
func (t *Tx) CreateDevice(ctx context.Context, d twostep.Device) error {
	_, err := t.exec(ctx, `
		INSERT INTO devices (token_hash, company_id, user_id, app, user_agent, auth_time, created_at, last_used_at, expires_at, method)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		d.TokenHash, d.CompanyID, d.UserID, d.App, d.UserAgent, micros(d.AuthTime), micros(d.CreatedAt),
		micros(d.LastUsedAt), micros(d.ExpiresAt), d.Method)
	return t.fail(err)
}

const selectDevice = `
	SELECT token_hash, company_id, user_id, app, user_agent, auth_time, created_at, last_used_at, expires_at, method
	FROM devices`

func scanDevice(r rowScanner) (twostep.Device, error) {
	var (
		d                              twostep.Device
		auth, created, used, expiresAt int64
	)
	err := r.Scan(&d.TokenHash, &d.CompanyID, &d.UserID, &d.App, &d.UserAgent, &auth, &created, &used, &expiresAt, &d.Method)
	d.AuthTime, d.CreatedAt, d.LastUsedAt, d.ExpiresAt = fromMicros(auth), fromMicros(created), fromMicros(used), fromMicros(expiresAt)
	return d, err
}

// Device reads a device by its token's hash.
func (t *Tx) Device(ctx context.Context, tokenHash string) (twostep.Device, error) {
	d, err := scanDevice(t.queryRow(ctx, selectDevice+` WHERE token_hash = $1`, tokenHash))
	return d, t.fail(err)
}

// TouchDevice records a device's use.
func (t *Tx) TouchDevice(ctx context.Context, tokenHash string, at time.Time) error {
	_, err := t.exec(ctx, `UPDATE devices SET last_used_at = $2 WHERE token_hash = $1`, tokenHash, micros(at))
	return t.fail(err)
}

// Devices lists a user's devices, newest first, down devices_by_user.
func (t *Tx) Devices(ctx context.Context, companyID, userID string) ([]twostep.Device, error) {
	return queryAll(ctx, t, scanDevice, selectDevice+`
		WHERE user_id = $1 AND company_id = $2 ORDER BY created_at DESC, token_hash`, userID, companyID)
}

// DeleteDevices forgets a user's devices in one app, or in every app.
func (t *Tx) DeleteDevices(ctx context.Context, companyID, userID string, app twostep.App) (int, error) {
	res, err := t.exec(ctx, `DELETE FROM devices WHERE user_id = $1 AND company_id = $2 AND ($3 = '' OR app = $3)`,
		userID, companyID, string(app))
	if err != nil {
		return 0, t.fail(err)
	}
	n, err := res.RowsAffected()
	return int(n), t.fail(err)
}

// DeleteCompanyDevices forgets every device of a company in one app.
func (t *Tx) DeleteCompanyDevices(ctx context.Context, companyID string, app twostep.App) error {
	_, err := t.exec(ctx, `DELETE FROM devices WHERE company_id = $1 AND app = $2`, companyID, app)
	return t.fail(err)
}

// TakeDeviceToken clears a challenge's sealed device token while it is
// still the one read.
func (t *Tx) TakeDeviceToken(ctx context.Context, challengeID, sealed string) error {
	err := t.execOne(ctx, `UPDATE challenges SET device_token_sealed = '' WHERE id = $1 AND device_token_sealed = $2`,
		challengeID, sealed)
	if errors.Is(err, twostep.ErrNotFound) {
		return twostep.ErrConflict
	}
	return err
}
