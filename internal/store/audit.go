package store

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/twostep/twostep/internal/twostep"
)

// NextAuditSeq advances the company's chain. The UPDATE holds the company
// row until the transaction ends (on SQLite the write transaction holds the
// whole database), so two appends to one chain never share a seq.
func (t *Tx) NextAuditSeq(ctx context.Context, companyID string) (int64, string, error) {
	var (
		seq  int64
		prev string
	)
	err := t.queryRow(ctx, `
		UPDATE companies SET audit_seq = audit_seq + 1 WHERE id = $1
		RETURNING audit_seq, audit_head`, companyID).Scan(&seq, &prev)
	return seq, prev, t.fail(err)
}

// InsertAuditEvent stores an event and makes its hash the chain's head.
func (t *Tx) InsertAuditEvent(ctx context.Context, e twostep.AuditEvent) error {
	_, err := t.exec(ctx, `
		INSERT INTO audit_events (company_id, seq, id, time, actor_type, actor_id, actor_name,
			action, target_id, target_name, app, details, ip, user_agent, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		e.CompanyID, e.Seq, e.ID, micros(e.Time), e.Actor.Type, e.Actor.ID, e.Actor.Name,
		e.Action, e.TargetID, e.TargetName, e.App, string(e.Details), e.IP, e.UserAgent, e.Hash)
	if err != nil {
		return t.fail(err)
	}
	return t.execOne(ctx, `UPDATE companies SET audit_head = $2 WHERE id = $1 AND audit_seq = $3`,
		e.CompanyID, e.Hash, e.Seq)
}

// selectAudit reads audit events; callers add the rest.
const selectAudit = `
	SELECT company_id, seq, id, time, actor_type, actor_id, actor_name, action, target_id,
		target_name, app, details, ip, user_agent, hash
	FROM audit_events`

func scanAudit(r rowScanner) (twostep.AuditEvent, error) {
	var (
		e       twostep.AuditEvent
		at      int64
		details string
	)
	err := r.Scan(&e.CompanyID, &e.Seq, &e.ID, &at, &e.Actor.Type, &e.Actor.ID, &e.Actor.Name,
		&e.Action, &e.TargetID, &e.TargetName, &e.App, &details, &e.IP, &e.UserAgent, &e.Hash)
	e.Time = fromMicros(at)
	if details != "" {
		e.Details = json.RawMessage(details)
	}
	return e, err
}

// auditCursor is where a page of events continues: below this seq.
type auditCursor struct {
	Seq int64 `json:"s"`
}

// AuditEvents returns a page of a company's events, newest first.
func (t *Tx) AuditEvents(ctx context.Context, companyID string, f twostep.AuditFilter) ([]twostep.AuditEvent, string, error) {
	var before auditCursor
	if f.Cursor != "" {
		if err := twostep.DecodeCursor(f.Cursor, &before); err != nil {
			return nil, "", err
		}
	}
	rows, err := t.query(ctx, selectAudit+`
		WHERE company_id = $1
			AND ($2 = '' OR action = $2)
			AND ($3 = '' OR target_id = $3 OR actor_id = $3)
			AND (CAST($4 AS BIGINT) = 0 OR time >= $4)
			AND (CAST($5 AS BIGINT) = 0 OR time < $5)
			AND (CAST($6 AS BIGINT) = 0 OR seq < $6)
		ORDER BY seq DESC
		LIMIT $7`,
		companyID, string(f.Action), f.UserID, micros(f.Since), micros(f.Until), before.Seq, f.Limit+1)
	if err != nil {
		return nil, "", t.fail(err)
	}
	events, err := t.scanAudits(rows)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(events) > f.Limit {
		events = events[:f.Limit]
		next = twostep.EncodeCursor(auditCursor{events[len(events)-1].Seq})
	}
	return events, next, nil
}

// AuditChain returns up to limit events with seq > after, oldest first.
func (t *Tx) AuditChain(ctx context.Context, companyID string, after int64, limit int) ([]twostep.AuditEvent, error) {
	rows, err := t.query(ctx, selectAudit+`
		WHERE company_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, companyID, after, limit)
	if err != nil {
		return nil, t.fail(err)
	}
	return t.scanAudits(rows)
}

func (t *Tx) scanAudits(rows *sql.Rows) ([]twostep.AuditEvent, error) {
	defer rows.Close()
	var events []twostep.AuditEvent
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, t.fail(err)
		}
		events = append(events, e)
	}
	return events, t.fail(rows.Err())
}

// AuditHead returns the head the company records for its chain.
func (t *Tx) AuditHead(ctx context.Context, companyID string) (twostep.AuditHead, error) {
	var h twostep.AuditHead
	err := t.queryRow(ctx, `SELECT audit_seq, audit_head FROM companies WHERE id = $1`, companyID).
		Scan(&h.Seq, &h.Hash)
	return h, t.fail(err)
}
