package store

import (
	"context"
	"errors"
	"time"

	"github.com/twostep/twostep/internal/twostep"
)

// CreateAuthenticator stores a new, unconfirmed authenticator.
func (t *Tx) CreateAuthenticator(ctx context.Context, a twostep.Authenticator) error {
	_, err := t.exec(ctx, `
		INSERT INTO authenticators (id, company_id, user_id, type, name, sealed_secret, confirmed_at,
			created_at, last_used_at, last_step, credential_id, credential)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		a.ID, a.CompanyID, a.UserID, a.Type, a.Name, a.SealedSecret, micros(a.ConfirmedAt),
		micros(a.CreatedAt), micros(a.LastUsedAt), a.LastStep, a.CredentialID, a.Credential)
	return t.fail(err)
}

const selectAuthenticator = `
	SELECT id, company_id, user_id, type, name, sealed_secret, confirmed_at, created_at,
		last_used_at, last_step, credential_id, credential
	FROM authenticators`

func scanAuthenticator(r rowScanner) (twostep.Authenticator, error) {
	var (
		a                          twostep.Authenticator
		confirmed, created, usedAt int64
	)
	err := r.Scan(&a.ID, &a.CompanyID, &a.UserID, &a.Type, &a.Name, &a.SealedSecret, &confirmed,
		&created, &usedAt, &a.LastStep, &a.CredentialID, &a.Credential)
	a.ConfirmedAt, a.CreatedAt, a.LastUsedAt = fromMicros(confirmed), fromMicros(created), fromMicros(usedAt)
	return a, err
}

// Authenticators lists a user's authenticators, oldest first, down
// authenticators_by_user.
func (t *Tx) Authenticators(ctx context.Context, companyID, userID string) ([]twostep.Authenticator, error) {
	return queryAll(ctx, t, scanAuthenticator, selectAuthenticator+`
		WHERE user_id = $1 AND company_id = $2 ORDER BY created_at, id`, userID, companyID)
}

// Authenticator reads one authenticator of a user.
func (t *Tx) Authenticator(ctx context.Context, companyID, userID, id string) (twostep.Authenticator, error) {
	a, err := scanAuthenticator(t.queryRow(ctx, selectAuthenticator+`
		WHERE id = $1 AND user_id = $2 AND company_id = $3`, id, userID, companyID))
	return a, t.fail(err)
}

// UseAuthenticator takes a code of step: one UPDATE that lands only while
// the stored last step is earlier, so of two requests with one code (on
// two instances, say) exactly one lands. On PostgreSQL the second waits
// for the first's row lock and then finds the condition false.
func (t *Tx) UseAuthenticator(ctx context.Context, id string, step int64, at time.Time) error {
	err := t.execOne(ctx, `
		UPDATE authenticators SET last_step = $2, last_used_at = $3,
			confirmed_at = CASE WHEN confirmed_at = 0 THEN $3 ELSE confirmed_at END
		WHERE id = $1 AND last_step < $2`, id, step, micros(at))
	if errors.Is(err, twostep.ErrNotFound) {
		return twostep.ErrConflict
	}
	return err
}

// DeleteAuthenticator removes one authenticator of a user.
func (t *Tx) DeleteAuthenticator(ctx context.Context, companyID, userID, id string) error {
	return t.execOne(ctx, `DELETE FROM authenticators WHERE id = $1 AND user_id = $2 AND company_id = $3`,
		id, userID, companyID)
}

// ReplaceRecoveryCodes drops the user's recovery codes, used or not, and
// stores the new set.
func (t *Tx) ReplaceRecoveryCodes(ctx context.Context, companyID, userID string, hashes []string, at time.Time) error {
	if _, err := t.exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1 AND company_id = $2`, userID, companyID); err != nil {
		return t.fail(err)
	}
	for _, h := range hashes {
		if _, err := t.exec(ctx, `INSERT INTO recovery_codes (user_id, company_id, hash, created_at) VALUES ($1, $2, $3, $4)`,
			userID, companyID, h, micros(at)); err != nil {
			return t.fail(err)
		}
	}
	return nil
}

// UseRecoveryCode marks an unused code used, in one conditional UPDATE:
// of many requests with one code, exactly one finds it unused.
func (t *Tx) UseRecoveryCode(ctx context.Context, companyID, userID, hash string, at time.Time) error {
	return t.execOne(ctx, `
		UPDATE recovery_codes SET used_at = $4
		WHERE user_id = $1 AND hash = $2 AND company_id = $3 AND used_at = 0`, userID, hash, companyID, micros(at))
}

// Factors counts a user's confirmed authenticators by type and unused
// recovery codes, in one round trip.
func (t *Tx) Factors(ctx context.Context, companyID, userID string) (twostep.Factors, error) {
	var f twostep.Factors
	err := t.queryRow(ctx, `
		SELECT
			(SELECT count(*) FROM authenticators
				WHERE user_id = $1 AND company_id = $2 AND type = 'totp' AND confirmed_at <> 0),
			(SELECT count(*) FROM authenticators
				WHERE user_id = $1 AND company_id = $2 AND type = 'webauthn' AND confirmed_at <> 0),
			(SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND company_id = $2 AND used_at = 0)`,
		userID, companyID).Scan(&f.TOTP, &f.WebAuthn, &f.RecoveryCodes)
	return f, t.fail(err)
}

// UseCredential stores a passkey's credential after a sign-in, by a
// compare-and-set on the stored one.
func (t *Tx) UseCredential(ctx context.Context, id, prev, next string, at time.Time) error {
	err := t.execOne(ctx, `UPDATE authenticators SET credential = $3, last_used_at = $4 WHERE id = $1 AND credential = $2`,
		id, prev, next, micros(at))
	if errors.Is(err, twostep.ErrNotFound) {
		return twostep.ErrConflict
	}
	return err
}

// PutCeremony keeps a ceremony's state, replacing one under the same id.
func (t *Tx) PutCeremony(ctx context.Context, id, data string, expiresAt time.Time) error {
	_, err := t.exec(ctx, `
		INSERT INTO ceremonies (id, data, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at`,
		id, data, micros(expiresAt))
	return t.fail(err)
}

// TakeCeremony deletes a ceremony's state and returns it: one DELETE, so
// of two requests finishing one ceremony exactly one gets it.
func (t *Tx) TakeCeremony(ctx context.Context, id string, now time.Time) (string, error) {
	var (
		data    string
		expires int64
	)
	err := t.queryRow(ctx, `DELETE FROM ceremonies WHERE id = $1 RETURNING data, expires_at`, id).Scan(&data, &expires)
	if err = t.fail(err); err != nil {
		return "", err
	}
	if !now.Before(fromMicros(expires)) {
		return "", twostep.ErrNotFound
	}
	return data, nil
}

// RefreshFactors recomputes the user's has_factors hint.
func (t *Tx) RefreshFactors(ctx context.Context, companyID, userID string) error {
	return t.execOne(ctx, `
		UPDATE users SET has_factors = (
			EXISTS (SELECT 1 FROM authenticators WHERE user_id = $1 AND company_id = $2 AND confirmed_at <> 0)
			OR EXISTS (SELECT 1 FROM recovery_codes WHERE user_id = $1 AND company_id = $2 AND used_at = 0))
		WHERE id = $1 AND company_id = $2`, userID, companyID)
}

// CreateEnrollment stores an enrolment link.
func (t *Tx) CreateEnrollment(ctx context.Context, e twostep.Enrollment) error {
	_, err := t.exec(ctx, `
		INSERT INTO enrollments (token_hash, company_id, user_id, challenge_id, return_url, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		e.TokenHash, e.CompanyID, e.UserID, e.ChallengeID, e.ReturnURL, micros(e.CreatedAt), micros(e.ExpiresAt))
	return t.fail(err)
}

// Enrollment reads an enrolment link by its token's hash.
func (t *Tx) Enrollment(ctx context.Context, tokenHash string) (twostep.Enrollment, error) {
	var (
		e                      twostep.Enrollment
		created, expires, used int64
	)
	err := t.queryRow(ctx, `
		SELECT token_hash, company_id, user_id, challenge_id, return_url, created_at, expires_at, used_at
		FROM enrollments WHERE token_hash = $1`, tokenHash).Scan(&e.TokenHash, &e.CompanyID, &e.UserID,
		&e.ChallengeID, &e.ReturnURL, &created, &expires, &used)
	e.CreatedAt, e.ExpiresAt, e.UsedAt = fromMicros(created), fromMicros(expires), fromMicros(used)
	return e, t.fail(err)
}

// UseEnrollment marks an enrolment link finished, once: ErrNotFound when
// it is finished already.
func (t *Tx) UseEnrollment(ctx context.Context, tokenHash string, at time.Time) error {
	return t.execOne(ctx, `UPDATE enrollments SET used_at = $2 WHERE token_hash = $1 AND used_at = 0`, tokenHash, micros(at))
}
