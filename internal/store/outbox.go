package store

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/twostep/twostep/internal/twostep"
)

// EnqueueMessage stores a message to send and returns its id.
func (t *Tx) EnqueueMessage(ctx context.Context, m twostep.OutboxMessage) (int64, error) {
	var id int64
	err := t.queryRow(ctx, `
		INSERT INTO outbox (challenge_id, company_id, user_id, app, send, channel, destination,
			company_name, sealed_code, code_expires_at, status, attempts, next_attempt_at, lease_until, created_at, kind, notice)
		VALUES (NULLIF($1, ''), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
		RETURNING id`,
		m.ChallengeID, m.CompanyID, m.UserID, m.App, m.Send, m.Channel, m.Destination, m.CompanyName,
		m.SealedCode, micros(m.CodeExpiresAt), m.Status, m.Attempts, micros(m.NextAttemptAt),
		micros(m.LeaseUntil), micros(m.CreatedAt), cmp.Or(m.Kind, twostep.KindCode), m.Notice).Scan(&id)
	return id, t.fail(err)
}

// CancelMessages cancels a challenge's queued messages and drops their codes.
func (t *Tx) CancelMessages(ctx context.Context, challengeID string, at time.Time) error {
	_, err := t.exec(ctx, `
		UPDATE outbox SET status = 'cancelled', sealed_code = '', finished_at = $2, lease_until = 0
		WHERE challenge_id = $1 AND status = 'queued'`, challengeID, micros(at))
	return t.fail(err)
}

// LatestDelivery reads the state of a challenge's newest message.
func (t *Tx) LatestDelivery(ctx context.Context, challengeID string) (twostep.Delivery, error) {
	var d twostep.Delivery
	err := t.queryRow(ctx, `
		SELECT status, channel FROM outbox WHERE challenge_id = $1 ORDER BY id DESC LIMIT 1`, challengeID).
		Scan(&d.Status, &d.Channel)
	if err = t.fail(err); errors.Is(err, twostep.ErrNotFound) {
		return d, nil
	}
	return d, err
}

const outboxColumns = `id, COALESCE(challenge_id, ''), company_id, user_id, app, send, channel, destination,
	company_name, sealed_code, code_expires_at, status, attempts, next_attempt_at, last_error,
	provider_id, created_at, finished_at, kind, notice`

func scanMessage(r rowScanner) (twostep.OutboxMessage, error) {
	var (
		m                                twostep.OutboxMessage
		expires, next, created, finished int64
	)
	err := r.Scan(&m.ID, &m.ChallengeID, &m.CompanyID, &m.UserID, &m.App, &m.Send, &m.Channel,
		&m.Destination, &m.CompanyName, &m.SealedCode, &expires, &m.Status, &m.Attempts, &next,
		&m.LastError, &m.ProviderID, &created, &finished, &m.Kind, &m.Notice)
	m.CodeExpiresAt, m.NextAttemptAt = fromMicros(expires), fromMicros(next)
	m.CreatedAt, m.SentAt = fromMicros(created), fromMicros(finished)
	return m, err
}

// ClaimMessages leases due messages to this worker. On PostgreSQL, rows
// another worker is claiming are skipped, not waited for; on SQLite the one
// writer does the claiming.
func (t *Tx) ClaimMessages(ctx context.Context, now, leaseUntil time.Time, limit int) ([]twostep.OutboxMessage, error) {
	rows, err := t.query(ctx, `
		UPDATE outbox SET lease_until = $2, attempts = attempts + 1
		WHERE id IN (
			SELECT id FROM outbox
			WHERE status = 'queued' AND next_attempt_at <= $1 AND lease_until <= $1
			ORDER BY next_attempt_at, id LIMIT $3`+t.d.skipLocked+`)
		RETURNING `+outboxColumns,
		micros(now), micros(leaseUntil), limit)
	if err != nil {
		return nil, t.fail(err)
	}
	defer rows.Close()
	var out []twostep.OutboxMessage
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, t.fail(err)
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b twostep.OutboxMessage) int { return int(a.ID - b.ID) })
	return out, t.fail(rows.Err())
}

// Message reads one message.
func (t *Tx) Message(ctx context.Context, id int64) (twostep.OutboxMessage, error) {
	m, err := scanMessage(t.queryRow(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE id = $1`, id))
	return m, t.fail(err)
}

// FinishMessage ends a queued message and drops its code. A message that
// is no longer queued (cancelled or finished meanwhile) is left as it is,
// and is ErrNotFound.
func (t *Tx) FinishMessage(ctx context.Context, id int64, status twostep.DeliveryStatus, providerID, lastError string, at time.Time) error {
	return t.execOne(ctx, `
		UPDATE outbox SET status = $2, provider_id = $3, last_error = $4, finished_at = $5,
			sealed_code = '', lease_until = 0
		WHERE id = $1 AND status = 'queued'`, id, status, providerID, lastError, micros(at))
}

// RetryMessage returns a message to the queue, due at at.
func (t *Tx) RetryMessage(ctx context.Context, id int64, at time.Time, lastError string) error {
	_, err := t.exec(ctx, `
		UPDATE outbox SET next_attempt_at = $2, last_error = $3, lease_until = 0
		WHERE id = $1 AND status = 'queued'`, id, micros(at), lastError)
	return t.fail(err)
}

// OutboxDepth counts the queued messages.
func (t *Tx) OutboxDepth(ctx context.Context) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM outbox WHERE status = 'queued'`).Scan(&n)
	return n, t.fail(err)
}
