package store

import (
	"context"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/twostep"
)

// SaveAdminAccount creates or replaces a user's console account.
func (t *Tx) SaveAdminAccount(ctx context.Context, a twostep.AdminAccount) error {
	_, err := t.exec(ctx, `
		INSERT INTO admin_accounts (user_id, company_id, email, password_hash, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, password_hash = excluded.password_hash,
			updated_at = excluded.updated_at`,
		a.UserID, a.CompanyID, strings.ToLower(a.Email), a.PasswordHash, micros(a.CreatedAt), micros(a.UpdatedAt))
	return t.fail(err)
}

const selectAdmin = `SELECT user_id, company_id, email, password_hash, created_at, updated_at FROM admin_accounts`

func (t *Tx) scanAdmin(r rowScanner) (twostep.AdminAccount, error) {
	var (
		a                twostep.AdminAccount
		created, updated int64
	)
	err := r.Scan(&a.UserID, &a.CompanyID, &a.Email, &a.PasswordHash, &created, &updated)
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return a, t.fail(err)
}

// AdminByEmail finds a console account by its email.
func (t *Tx) AdminByEmail(ctx context.Context, email string) (twostep.AdminAccount, error) {
	return t.scanAdmin(t.queryRow(ctx, selectAdmin+` WHERE email = $1`, strings.ToLower(email)))
}

// AdminAccounts lists a company's console accounts by email.
func (t *Tx) AdminAccounts(ctx context.Context, companyID string) ([]twostep.AdminAccount, error) {
	return queryAll(ctx, t, t.scanAdmin, selectAdmin+` WHERE company_id = $1 ORDER BY email`, companyID)
}

// DeleteAdminAccount deletes a user's console account; the user stays.
func (t *Tx) DeleteAdminAccount(ctx context.Context, userID string) error {
	return t.execOne(ctx, `DELETE FROM admin_accounts WHERE user_id = $1`, userID)
}

// AdminByUser finds a user's console account.
func (t *Tx) AdminByUser(ctx context.Context, userID string) (twostep.AdminAccount, error) {
	return t.scanAdmin(t.queryRow(ctx, selectAdmin+` WHERE user_id = $1`, userID))
}

// CreateSetupLink stores a set-up link by its token's hash.
func (t *Tx) CreateSetupLink(ctx context.Context, tokenHash, userID string, expires time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO admin_setup_links (token_hash, user_id, expires_at) VALUES ($1, $2, $3)`,
		tokenHash, userID, micros(expires))
	return t.fail(err)
}

// DeleteSetupLinks deletes a user's set-up links, used or not.
func (t *Tx) DeleteSetupLinks(ctx context.Context, userID string) error {
	_, err := t.exec(ctx, `DELETE FROM admin_setup_links WHERE user_id = $1`, userID)
	return t.fail(err)
}

// SetupLinkUser returns the user of a link that is unused and unexpired.
func (t *Tx) SetupLinkUser(ctx context.Context, tokenHash string, now time.Time) (string, error) {
	var userID string
	err := t.queryRow(ctx, `
		SELECT user_id FROM admin_setup_links WHERE token_hash = $1 AND used_at = 0 AND expires_at > $2`,
		tokenHash, micros(now)).Scan(&userID)
	return userID, t.fail(err)
}

// UseSetupLink marks a usable link used, in one conditional statement.
func (t *Tx) UseSetupLink(ctx context.Context, tokenHash string, now time.Time) (string, error) {
	var userID string
	err := t.queryRow(ctx, `
		UPDATE admin_setup_links SET used_at = $2 WHERE token_hash = $1 AND used_at = 0 AND expires_at > $2
		RETURNING user_id`, tokenHash, micros(now)).Scan(&userID)
	return userID, t.fail(err)
}

// CreateSession stores a session by its token's hash.
func (t *Tx) CreateSession(ctx context.Context, s twostep.Session) error {
	_, err := t.exec(ctx, `
		INSERT INTO sessions (token_hash, user_id, company_id, stage, challenge_id, created_at, seen_at, expires_at, ip, user_agent)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		s.TokenHash, s.UserID, s.CompanyID, s.Stage, s.ChallengeID, micros(s.CreatedAt), micros(s.SeenAt), micros(s.ExpiresAt),
		s.IP, s.UserAgent)
	return t.fail(err)
}

const selectSession = `
	SELECT token_hash, user_id, company_id, stage, challenge_id, created_at, seen_at, expires_at, ip, user_agent
	FROM sessions`

func scanSession(r rowScanner) (twostep.Session, error) {
	var (
		s                      twostep.Session
		created, seen, expires int64
	)
	err := r.Scan(&s.TokenHash, &s.UserID, &s.CompanyID, &s.Stage, &s.ChallengeID, &created, &seen, &expires, &s.IP, &s.UserAgent)
	s.CreatedAt, s.SeenAt, s.ExpiresAt = fromMicros(created), fromMicros(seen), fromMicros(expires)
	return s, err
}

// Session reads a session by its token's hash.
func (t *Tx) Session(ctx context.Context, tokenHash string) (twostep.Session, error) {
	s, err := scanSession(t.queryRow(ctx, selectSession+` WHERE token_hash = $1`, tokenHash))
	return s, t.fail(err)
}

// UserSessions reads a user's signed-in sessions, the latest active first.
func (t *Tx) UserSessions(ctx context.Context, userID string) ([]twostep.Session, error) {
	return queryAll(ctx, t, scanSession, selectSession+` WHERE user_id = $1 AND stage = 'full' ORDER BY seen_at DESC, token_hash`, userID)
}

// TouchSession records a session's latest request.
func (t *Tx) TouchSession(ctx context.Context, tokenHash string, at time.Time) error {
	_, err := t.exec(ctx, `UPDATE sessions SET seen_at = $2 WHERE token_hash = $1`, tokenHash, micros(at))
	return t.fail(err)
}

// DeleteSession ends a session.
func (t *Tx) DeleteSession(ctx context.Context, tokenHash string) error {
	_, err := t.exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash)
	return t.fail(err)
}

// DeleteUserSessions ends every session of a user.
func (t *Tx) DeleteUserSessions(ctx context.Context, userID string) error {
	_, err := t.exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
	return t.fail(err)
}

// UserByEmail finds the user of a company with an email (the first, by
// creation, when several share it).
func (t *Tx) UserByEmail(ctx context.Context, companyID, email string) (twostep.User, error) {
	u, err := scanUser(t.queryRow(ctx, selectUser+`
		WHERE company_id = $1 AND lower(email) = $2 ORDER BY created_at, id LIMIT 1`, companyID, strings.ToLower(email)))
	return u, t.fail(err)
}

// statsShards is how many rows a company's day of statistics is spread
// over (migration 0007): concurrent sign-ins of one company mostly add to
// different rows, so they seldom wait for each other's commit.
const statsShards = 8

// AddStats adds a day's counts to one of its shards, at random, with one
// upsert.
func (t *Tx) AddStats(ctx context.Context, companyID string, d twostep.DayStats) error {
	_, err := t.exec(ctx, `
		INSERT INTO daily_stats (company_id, day, shard, sent, approved, failed, locked) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (company_id, day, shard) DO UPDATE SET sent = daily_stats.sent + excluded.sent,
			approved = daily_stats.approved + excluded.approved, failed = daily_stats.failed + excluded.failed,
			locked = daily_stats.locked + excluded.locked`,
		companyID, d.Day, rand.IntN(statsShards), d.Sent, d.Approved, d.Failed, d.Locked)
	return t.fail(err)
}

// Stats reads a company's days from..to.
func (t *Tx) Stats(ctx context.Context, companyID, from, to string) ([]twostep.DayStats, error) {
	rows, err := t.query(ctx, `
		SELECT day, CAST(sum(sent) AS BIGINT), CAST(sum(approved) AS BIGINT), CAST(sum(failed) AS BIGINT),
			CAST(sum(locked) AS BIGINT) FROM daily_stats
		WHERE company_id = $1 AND day >= $2 AND day <= $3 GROUP BY day ORDER BY day`, companyID, from, to)
	if err != nil {
		return nil, t.fail(err)
	}
	defer rows.Close()
	var out []twostep.DayStats
	for rows.Next() {
		var d twostep.DayStats
		if err := rows.Scan(&d.Day, &d.Sent, &d.Approved, &d.Failed, &d.Locked); err != nil {
			return nil, t.fail(err)
		}
		out = append(out, d)
	}
	return out, t.fail(rows.Err())
}
