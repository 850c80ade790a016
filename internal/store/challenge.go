package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/twostep/twostep/internal/twostep"
)

// CreateChallenge stores a new challenge.
func (t *Tx) CreateChallenge(ctx context.Context, c twostep.Challenge) error {
	_, err := t.exec(ctx, `
		INSERT INTO challenges (id, company_id, user_id, app, status, channel, destination, code_hash,
			code_attempts, code_expires_at, last_sent_at, sends, failures, sms_failed, ip, user_agent,
			return_url, verify_token_hash, created_at, approved_at, nonce, method, enrollment_required, console, device_token_sealed)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`,
		c.ID, c.CompanyID, c.UserID, c.App, c.Status, c.Channel, c.Destination, c.CodeHash,
		c.CodeAttempts, micros(c.CodeExpiresAt), micros(c.LastSentAt), c.Sends, c.Failures, c.SMSFailed,
		c.IP, c.UserAgent, c.ReturnURL, c.VerifyTokenHash, micros(c.CreatedAt), micros(c.ApprovedAt), c.Nonce,
		c.Method, c.EnrollmentRequired, c.Console, c.DeviceTokenSealed)
	return t.fail(err)
}

const selectChallenge = `
	SELECT id, company_id, user_id, app, status, channel, destination, code_hash, code_attempts,
		code_expires_at, last_sent_at, sends, failures, sms_failed, ip, user_agent, return_url,
		verify_token_hash, created_at, approved_at, nonce, method, enrollment_required, console, device_token_sealed
	FROM challenges`

func (t *Tx) scanChallenge(r rowScanner) (twostep.Challenge, error) {
	var (
		c                                twostep.Challenge
		expires, sent, created, approved int64
	)
	err := r.Scan(&c.ID, &c.CompanyID, &c.UserID, &c.App, &c.Status, &c.Channel, &c.Destination,
		&c.CodeHash, &c.CodeAttempts, &expires, &sent, &c.Sends, &c.Failures, &c.SMSFailed, &c.IP,
		&c.UserAgent, &c.ReturnURL, &c.VerifyTokenHash, &created, &approved, &c.Nonce, &c.Method,
		&c.EnrollmentRequired, &c.Console, &c.DeviceTokenSealed)
	c.CodeExpiresAt, c.LastSentAt = fromMicros(expires), fromMicros(sent)
	c.CreatedAt, c.ApprovedAt = fromMicros(created), fromMicros(approved)
	return c, t.fail(err)
}

// Challenge reads a challenge.
func (t *Tx) Challenge(ctx context.Context, id string) (twostep.Challenge, error) {
	return t.scanChallenge(t.queryRow(ctx, selectChallenge+` WHERE id = $1`, id))
}

// ChallengeByVerifyToken reads the challenge of a hosted page's token.
func (t *Tx) ChallengeByVerifyToken(ctx context.Context, tokenHash string) (twostep.Challenge, error) {
	if tokenHash == "" {
		return twostep.Challenge{}, twostep.ErrNotFound
	}
	return t.scanChallenge(t.queryRow(ctx, selectChallenge+` WHERE verify_token_hash = $1`, tokenHash))
}

// UserChallenges reads a user's latest challenges, newest first, down
// challenges_by_user.
func (t *Tx) UserChallenges(ctx context.Context, companyID, userID string, limit int) ([]twostep.Challenge, error) {
	return queryAll(ctx, t, t.scanChallenge, selectChallenge+` WHERE user_id = $1 AND company_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3`,
		userID, companyID, limit)
}

// ChallengeForUpdate reads a challenge and locks its row.
func (t *Tx) ChallengeForUpdate(ctx context.Context, id string) (twostep.Challenge, error) {
	return t.scanChallenge(t.queryRow(ctx, selectChallenge+` WHERE id = $1`+t.d.lockRow, id))
}

// UpdateChallenge stores next if the row still has prev's status, code,
// attempts and sends: a compare-and-set, so that two decisions about one
// code can never both land.
func (t *Tx) UpdateChallenge(ctx context.Context, prev, next twostep.Challenge) error {
	err := t.execOne(ctx, `
		UPDATE challenges SET status = $6, channel = $7, destination = $8, code_hash = $9,
			code_attempts = $10, code_expires_at = $11, last_sent_at = $12, sends = $13,
			failures = $14, sms_failed = $15, approved_at = $16, method = $17, device_token_sealed = $18
		WHERE id = $1 AND status = $2 AND code_hash = $3 AND code_attempts = $4 AND sends = $5`,
		prev.ID, prev.Status, prev.CodeHash, prev.CodeAttempts, prev.Sends,
		next.Status, next.Channel, next.Destination, next.CodeHash, next.CodeAttempts,
		micros(next.CodeExpiresAt), micros(next.LastSentAt), next.Sends, next.Failures, next.SMSFailed,
		micros(next.ApprovedAt), next.Method, next.DeviceTokenSealed)
	if errors.Is(err, twostep.ErrNotFound) {
		return twostep.ErrConflict
	}
	return err
}

const selectLockout = `
	SELECT company_id, user_id, app, failures, locked_until FROM lockouts`

func (t *Tx) scanLockout(r rowScanner) (twostep.Lockout, error) {
	var (
		l     twostep.Lockout
		until int64
	)
	err := r.Scan(&l.CompanyID, &l.UserID, &l.App, &l.Failures, &until)
	l.LockedUntil = fromMicros(until)
	return l, err
}

// Lockout reads a user's lockout in one app; a user without one has a
// zero lockout.
func (t *Tx) Lockout(ctx context.Context, companyID, userID string, app twostep.App) (twostep.Lockout, error) {
	l, err := t.scanLockout(t.queryRow(ctx, selectLockout+`
		WHERE user_id = $1 AND app = $2 AND company_id = $3`, userID, app, companyID))
	if err != nil {
		if err = t.fail(err); errors.Is(err, twostep.ErrNotFound) {
			return twostep.Lockout{CompanyID: companyID, UserID: userID, App: app}, nil
		}
	}
	return l, err
}

// LockoutForUpdate makes sure the lockout row exists and locks it, so that
// concurrent failures of one user and app are counted one after another.
// One upsert does both: even when it changes nothing it locks the row it
// returns until the transaction ends.
func (t *Tx) LockoutForUpdate(ctx context.Context, companyID, userID string, app twostep.App) (twostep.Lockout, error) {
	l, err := t.scanLockout(t.queryRow(ctx, `
		INSERT INTO lockouts (company_id, user_id, app) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, app) DO UPDATE SET app = excluded.app
		WHERE lockouts.company_id = excluded.company_id
		RETURNING company_id, user_id, app, failures, locked_until`, companyID, userID, app))
	return l, t.fail(err)
}

// SaveLockout stores next if the row still has prev's failures.
func (t *Tx) SaveLockout(ctx context.Context, prev, next twostep.Lockout) error {
	err := t.execOne(ctx, `
		UPDATE lockouts SET failures = $4, locked_until = $5
		WHERE user_id = $1 AND app = $2 AND failures = $3`,
		prev.UserID, prev.App, prev.Failures, next.Failures, micros(next.LockedUntil))
	if errors.Is(err, twostep.ErrNotFound) {
		return twostep.ErrConflict
	}
	return err
}

// Lockouts reads a user's lockouts in every app that has one.
func (t *Tx) Lockouts(ctx context.Context, companyID, userID string) ([]twostep.Lockout, error) {
	rows, err := t.query(ctx, selectLockout+` WHERE user_id = $1 AND company_id = $2 ORDER BY app`, userID, companyID)
	if err != nil {
		return nil, t.fail(err)
	}
	return t.scanLockouts(rows)
}

// LockoutsOfUsers reads the lockouts of several users of a company in one
// query.
func (t *Tx) LockoutsOfUsers(ctx context.Context, companyID string, userIDs []string) ([]twostep.Lockout, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	args := []any{companyID}
	in := make([]string, len(userIDs))
	for i, id := range userIDs {
		args = append(args, id)
		in[i] = fmt.Sprintf("$%d", i+2)
	}
	rows, err := t.query(ctx, selectLockout+` WHERE company_id = $1 AND user_id IN (`+strings.Join(in, ", ")+`)`, args...)
	if err != nil {
		return nil, t.fail(err)
	}
	return t.scanLockouts(rows)
}

// scanLockouts reads every row of a lockout query.
func (t *Tx) scanLockouts(rows *sql.Rows) ([]twostep.Lockout, error) {
	defer rows.Close()
	var out []twostep.Lockout
	for rows.Next() {
		l, err := t.scanLockout(rows)
		if err != nil {
			return nil, t.fail(err)
		}
		out = append(out, l)
	}
	return out, t.fail(rows.Err())
}
