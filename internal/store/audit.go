package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/twostep/twostep/internal/twostep"
)

// NextAuditSeq advances the company's chain. The UPDATE holds the company
// row until the transaction ends (on SQLite the write transaction holds the
// whole database), so two appends to one chain never share a seq.
func (t *Tx) NextAuditSeq(ctx context.Context, companyID string) (int64, string, time.Time, error) {
	var (
		seq      int64
		prev     string
		prevTime int64
	)
	err := t.queryRow(ctx, `
		UPDATE companies SET audit_seq = audit_seq + 1 WHERE id = $1
		RETURNING audit_seq, audit_head, audit_time`, companyID).Scan(&seq, &prev, &prevTime)
	return seq, prev, fromMicros(prevTime), t.fail(err)
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
	return t.execOne(ctx, `UPDATE companies SET audit_head = $2, audit_time = $4 WHERE id = $1 AND audit_seq = $3`,
		e.CompanyID, e.Hash, e.Seq, micros(e.Time))
}

// selectAudit reads audit events; callers add the rest.
const selectAudit = `SELECT ` + auditColumns + ` FROM audit_events`

const auditColumns = `company_id, seq, id, time, actor_type, actor_id, actor_name, action, target_id,
	target_name, app, details, ip, user_agent, hash`

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
//
// Each page is a walk down one index from a known seq (auditWhere), so it
// costs the same at the log's start as at its end, and with ten events or
// ten million.
func (t *Tx) AuditEvents(ctx context.Context, companyID string, f twostep.AuditFilter) ([]twostep.AuditEvent, string, error) {
	q, err := t.auditWhere(ctx, companyID, f)
	if err != nil || q.empty {
		return nil, "", err
	}
	limit := q.arg(f.Limit + 1)
	query := selectAudit + ` WHERE ` + q.where + ` ORDER BY seq DESC LIMIT ` + limit
	if f.UserID != "" {
		// By or about the user: two walks, one down each user index,
		// merged. The indexes hold action and time, so the events a walk
		// skips need not be read. PostgreSQL tests them in the index by
		// itself; SQLite reads a WITHOUT ROWID table's row before any test,
		// so there the walks return only seqs, from the index alone, and
		// just the page's rows are read afterwards. SQLite is also told the
		// indexes: without statistics it may walk the action index
		// instead, which holds far more events than the user's.
		walk := func(columns, index, userColumn string) string {
			return `SELECT ` + columns + ` FROM audit_events` + t.d.indexedBy(index) + ` WHERE ` + q.where +
				` AND ` + userColumn + ` = ` + q.user + ` ORDER BY seq DESC LIMIT ` + limit
		}
		if t.d.seqOnlyWalks {
			query = selectAudit + ` WHERE company_id = $1 AND seq IN (
				SELECT seq FROM (` + walk("seq", "audit_events_by_target", "target_id") + `) AS about
				UNION ALL
				SELECT seq FROM (` + walk("seq", "audit_events_by_actor", "actor_id") + `) AS by_user)
				ORDER BY seq DESC LIMIT ` + limit
		} else {
			query = `SELECT * FROM (` + walk(auditColumns, "audit_events_by_target", "target_id") + `) AS about
				UNION
				SELECT * FROM (` + walk(auditColumns, "audit_events_by_actor", "actor_id") + `) AS by_user
				ORDER BY seq DESC LIMIT ` + limit
		}
	}
	args := q.args
	rows, err := t.query(ctx, query, args...)
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

// auditQuery is the WHERE clause of a filtered walk of a company's events
// and its arguments; empty when the filter's time bounds hold no event.
type auditQuery struct {
	where string
	args  []any
	user  string // the argument holding the user, when the filter has one
	empty bool
}

// arg adds an argument and returns its placeholder.
func (q *auditQuery) arg(v any) string {
	q.args = append(q.args, v)
	return fmt.Sprintf("$%d", len(q.args))
}

// auditWhere turns a filter into the WHERE clause of its walk: time
// bounds become seq bounds first (time never goes back along a chain),
// through audit_events_by_time; the clause then takes only the filters
// given, so that the planner can use the index made for them, not an
// "action = $2 OR $2 is empty" that hides the index from both databases.
func (t *Tx) auditWhere(ctx context.Context, companyID string, f twostep.AuditFilter) (auditQuery, error) {
	var before auditCursor
	if f.Cursor != "" {
		if err := twostep.DecodeCursor(f.Cursor, &before); err != nil {
			return auditQuery{}, err
		}
	}
	lo, hi := int64(1), int64(math.MaxInt64)
	if before.Seq > 0 {
		hi = before.Seq - 1
	}
	if !f.Since.IsZero() {
		seq, err := t.auditSeqAt(ctx, `time >= $2 ORDER BY time, seq`, companyID, f.Since)
		if err != nil || seq == 0 {
			return auditQuery{empty: true}, err
		}
		lo = max(lo, seq)
	}
	if !f.Until.IsZero() {
		seq, err := t.auditSeqAt(ctx, `time < $2 ORDER BY time DESC, seq DESC`, companyID, f.Until)
		if err != nil || seq == 0 {
			return auditQuery{empty: true}, err
		}
		hi = min(hi, seq)
	}
	if lo > hi {
		return auditQuery{empty: true}, nil
	}
	q := auditQuery{where: `company_id = $1 AND seq BETWEEN $2 AND $3`, args: []any{companyID, lo, hi}}
	if f.Action != "" {
		q.where += ` AND action = ` + q.arg(string(f.Action))
	}
	// The time filters again, exact even for events logged before times
	// were kept in order. "time + 0" keeps the planner off the time index
	// here: PostgreSQL's generic plan for a prepared statement, not
	// knowing the range is a few events wide, would sort the range's
	// events instead of walking seq down to the first 50.
	if !f.Since.IsZero() {
		q.where += ` AND time + 0 >= ` + q.arg(micros(f.Since))
	}
	if !f.Until.IsZero() {
		q.where += ` AND time + 0 < ` + q.arg(micros(f.Until))
	}
	if f.UserID != "" {
		q.user = q.arg(f.UserID)
	}
	return q, nil
}

// CountAuditEvents counts the company's events that match f (its cursor
// aside), up to limit: a count stops there, so that it costs no more than
// a walk of that many.
func (t *Tx) CountAuditEvents(ctx context.Context, companyID string, f twostep.AuditFilter, limit int) (int, error) {
	f.Cursor = ""
	q, err := t.auditWhere(ctx, companyID, f)
	if err != nil || q.empty {
		return 0, err
	}
	lim := q.arg(limit)
	inner := `SELECT seq FROM audit_events WHERE ` + q.where + ` LIMIT ` + lim
	if f.UserID != "" {
		walk := func(index, userColumn string) string {
			return `SELECT seq FROM audit_events` + t.d.indexedBy(index) + ` WHERE ` + q.where + ` AND ` + userColumn + ` = ` + q.user
		}
		inner = `SELECT seq FROM (` + walk("audit_events_by_target", "target_id") + ` UNION ` +
			walk("audit_events_by_actor", "actor_id") + `) AS by_or_about LIMIT ` + lim
	}
	var n int
	err = t.queryRow(ctx, `SELECT count(*) FROM (`+inner+`) AS capped`, q.args...).Scan(&n)
	return n, t.fail(err)
}

// auditSeqAt returns the seq of the first event in order, among the
// company's events matching cond with $2 = at; 0 when none does.
func (t *Tx) auditSeqAt(ctx context.Context, cond, companyID string, at time.Time) (int64, error) {
	var seq int64
	err := t.queryRow(ctx, `SELECT seq FROM audit_events WHERE company_id = $1 AND `+cond+` LIMIT 1`,
		companyID, micros(at)).Scan(&seq)
	if err = t.fail(err); errors.Is(err, twostep.ErrNotFound) {
		return 0, nil
	}
	return seq, err
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

// AuditHeads returns companies' chain heads by id, after the given one.
func (t *Tx) AuditHeads(ctx context.Context, after string, limit int) ([]twostep.CheckpointHead, error) {
	rows, err := t.query(ctx, `SELECT id, audit_seq, audit_head FROM companies WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, t.fail(err)
	}
	defer rows.Close()
	var out []twostep.CheckpointHead
	for rows.Next() {
		var h twostep.CheckpointHead
		if err := rows.Scan(&h.CompanyID, &h.Events, &h.Head); err != nil {
			return nil, t.fail(err)
		}
		out = append(out, h)
	}
	return out, t.fail(rows.Err())
}
