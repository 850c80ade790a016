package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/twostep"
)

// InsertEvent adds an event to the feed. On SQLite its row id is its seq;
// on PostgreSQL its seq waits for SequenceEvents.
func (t *Tx) InsertEvent(ctx context.Context, e twostep.Event) error {
	_, err := t.exec(ctx, `INSERT INTO events (id, company_id, type, time, data) VALUES ($1, $2, $3, $4, $5)`,
		e.ID, e.CompanyID, e.Type, micros(e.Time), string(e.Data))
	return t.fail(err)
}

const eventColumns = `seq, id, company_id, type, time, data`

// Events reads the feed after a seq, oldest first, of one company or all.
func (t *Tx) Events(ctx context.Context, companyID string, after int64, limit int) ([]twostep.Event, error) {
	q, args := `SELECT `+eventColumns+` FROM events WHERE seq IS NOT NULL AND seq > $1 ORDER BY seq LIMIT $2`, []any{after, limit}
	if companyID != "" {
		q, args = `SELECT `+eventColumns+` FROM events WHERE company_id = $1 AND seq IS NOT NULL AND seq > $2 ORDER BY seq LIMIT $3`,
			[]any{companyID, after, limit}
	}
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, t.fail(err)
	}
	defer rows.Close()
	var out []twostep.Event
	for rows.Next() {
		var (
			e    twostep.Event
			at   int64
			data string
		)
		if err := rows.Scan(&e.Seq, &e.ID, &e.CompanyID, &e.Type, &at, &data); err != nil {
			return nil, t.fail(err)
		}
		e.Time, e.Data = fromMicros(at), json.RawMessage(data)
		out = append(out, e)
	}
	return out, t.fail(rows.Err())
}

// LastEventSeq is the newest seq in the feed.
func (t *Tx) LastEventSeq(ctx context.Context) (int64, error) {
	q := `SELECT COALESCE(MAX(seq), 0) FROM events`
	if t.d.sequencesEvents {
		q = `SELECT last_seq FROM event_sequence WHERE id = 1`
	}
	var n int64
	err := t.queryRow(ctx, q).Scan(&n)
	return n, t.fail(err)
}

// Unsequenced reports events waiting for their seq: never on SQLite.
func (t *Tx) Unsequenced(ctx context.Context) (bool, error) {
	if !t.d.sequencesEvents {
		return false, nil
	}
	var some bool
	err := t.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE seq IS NULL)`).Scan(&some)
	return some, t.fail(err)
}

// SequenceEvents numbers committed events in the order of insertion, on
// PostgreSQL. The sequence's row is taken first, in a statement of its
// own: once it is this transaction's, the next statement's snapshot holds
// every event committed before, and sequencers take turns, so that the
// numbers become visible in order.
func (t *Tx) SequenceEvents(ctx context.Context, limit int) (int, error) {
	if !t.d.sequencesEvents {
		return 0, nil
	}
	var last int64
	if err := t.queryRow(ctx, `SELECT last_seq FROM event_sequence WHERE id = 1 FOR UPDATE`).Scan(&last); err != nil {
		return 0, t.fail(err)
	}
	res, err := t.exec(ctx, `
		UPDATE events SET seq = b.s
		FROM (SELECT n, $1 + row_number() OVER (ORDER BY n) AS s
			FROM (SELECT n FROM events WHERE seq IS NULL ORDER BY n LIMIT $2) q) b
		WHERE events.n = b.n`, last, limit)
	if err != nil {
		return 0, t.fail(err)
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return 0, t.fail(err)
	}
	_, err = t.exec(ctx, `UPDATE event_sequence SET last_seq = $1 WHERE id = 1`, last+n)
	return int(n), t.fail(err)
}

// CreateEventEndpoint stores an endpoint.
func (t *Tx) CreateEventEndpoint(ctx context.Context, e twostep.EventEndpoint) error {
	_, err := t.exec(ctx, `
		INSERT INTO event_endpoints (id, url, company_id, types, sealed_secret, created_at, after_seq)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		e.ID, e.URL, e.CompanyID, joinTypes(e.Types), e.SealedSecret, micros(e.CreatedAt), e.AfterSeq)
	return t.fail(err)
}

func joinTypes(ts []twostep.EventType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, " ")
}

const selectEndpoint = `SELECT id, url, company_id, types, sealed_secret, created_at, after_seq, lease_owner, lease_until
	FROM event_endpoints`

func scanEndpoint(r rowScanner) (twostep.EventEndpoint, error) {
	var (
		e              twostep.EventEndpoint
		types          string
		created, lease int64
	)
	err := r.Scan(&e.ID, &e.URL, &e.CompanyID, &types, &e.SealedSecret, &created, &e.AfterSeq, &e.LeaseOwner, &lease)
	for _, t := range strings.Fields(types) {
		e.Types = append(e.Types, twostep.EventType(t))
	}
	e.CreatedAt, e.LeaseUntil = fromMicros(created), fromMicros(lease)
	return e, err
}

// EventEndpoint reads one endpoint.
func (t *Tx) EventEndpoint(ctx context.Context, id string) (twostep.EventEndpoint, error) {
	e, err := scanEndpoint(t.queryRow(ctx, selectEndpoint+` WHERE id = $1`, id))
	return e, t.fail(err)
}

// EventEndpoints lists the endpoints, oldest first.
func (t *Tx) EventEndpoints(ctx context.Context) ([]twostep.EventEndpoint, error) {
	rows, err := t.query(ctx, selectEndpoint+` ORDER BY created_at, id`)
	if err != nil {
		return nil, t.fail(err)
	}
	defer rows.Close()
	var out []twostep.EventEndpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, t.fail(err)
		}
		out = append(out, e)
	}
	return out, t.fail(rows.Err())
}

// DeleteEventEndpoint deletes an endpoint and, by cascade, its deliveries.
func (t *Tx) DeleteEventEndpoint(ctx context.Context, id string) error {
	if _, err := t.exec(ctx, `DELETE FROM event_deliveries WHERE endpoint_id = $1`, id); err != nil {
		return t.fail(err)
	}
	return t.execOne(ctx, `DELETE FROM event_endpoints WHERE id = $1`, id)
}

// LeaseEventEndpoint gives the endpoint to owner while it is free or his.
func (t *Tx) LeaseEventEndpoint(ctx context.Context, id, owner string, now, until time.Time) (bool, error) {
	res, err := t.exec(ctx, `
		UPDATE event_endpoints SET lease_owner = $2, lease_until = $3
		WHERE id = $1 AND (lease_owner = $2 OR lease_until <= $4)`, id, owner, micros(until), micros(now))
	if err != nil {
		return false, t.fail(err)
	}
	n, err := res.RowsAffected()
	return n == 1, t.fail(err)
}

// QueueDeliveries makes the pending deliveries of the events the endpoint
// wants with seq after its position, up to upTo, and moves it there,
// while the position is still e's and the lease owner's; else
// ErrConflict. The endpoint's filters are applied here, in one statement.
func (t *Tx) QueueDeliveries(ctx context.Context, e twostep.EventEndpoint, owner string, upTo int64, at time.Time) error {
	err := t.execOne(ctx, `UPDATE event_endpoints SET after_seq = $2 WHERE id = $1 AND after_seq = $3 AND lease_owner = $4`,
		e.ID, upTo, e.AfterSeq, owner)
	if errors.Is(err, twostep.ErrNotFound) {
		return twostep.ErrConflict
	}
	if err != nil {
		return err
	}
	q := `
		INSERT INTO event_deliveries (endpoint_id, seq, event_id, company_id, type, status, next_attempt_at, created_at)
		SELECT $1, seq, id, company_id, type, 'pending', $2, $2 FROM events
		WHERE seq IS NOT NULL AND seq > $3 AND seq <= $4`
	args := []any{e.ID, micros(at), e.AfterSeq, upTo}
	if e.CompanyID != "" {
		args = append(args, e.CompanyID)
		q += ` AND company_id = $` + strconv.Itoa(len(args))
	}
	if len(e.Types) > 0 {
		marks := make([]string, len(e.Types))
		for i, typ := range e.Types {
			args = append(args, typ)
			marks[i] = "$" + strconv.Itoa(len(args))
		}
		q += ` AND type IN (` + strings.Join(marks, ", ") + `)`
	}
	_, err = t.exec(ctx, q+` ON CONFLICT DO NOTHING`, args...)
	return t.fail(err)
}

const deliveryColumns = `d.endpoint_id, d.seq, d.event_id, d.company_id, d.type, d.status, d.attempts,
	d.next_attempt_at, d.first_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error, d.latency_ms, d.created_at`

func scanDelivery(r rowScanner, more ...any) (twostep.EventDelivery, error) {
	var (
		d                             twostep.EventDelivery
		next, first, last, created, l int64
	)
	err := r.Scan(append([]any{&d.EndpointID, &d.Seq, &d.EventID, &d.CompanyID, &d.Type, &d.Status, &d.Attempts,
		&next, &first, &last, &d.LastStatusCode, &d.LastError, &l, &created}, more...)...)
	d.NextAttemptAt, d.FirstAttemptAt, d.LastAttemptAt, d.CreatedAt = fromMicros(next), fromMicros(first), fromMicros(last), fromMicros(created)
	d.Latency = time.Duration(l) * time.Millisecond
	return d, err
}

// DueDeliveries reads the pending deliveries, oldest first, of the
// companies none of whose pending deliveries waits for a retry: a
// company's deliveries stay in order behind the one that failed. The
// companies that wait are few, and read once (by the waiting index),
// not probed for again at every pending row.
func (t *Tx) DueDeliveries(ctx context.Context, endpointID string, now time.Time, limit int) ([]twostep.DueDelivery, error) {
	rows, err := t.query(ctx, `
		SELECT `+deliveryColumns+`, COALESCE(e.time, 0), COALESCE(e.data, '')
		FROM event_deliveries d LEFT JOIN events e ON e.seq = d.seq
		WHERE d.endpoint_id = $1 AND d.status = 'pending'
			AND d.company_id NOT IN (SELECT w.company_id FROM event_deliveries w
				WHERE w.endpoint_id = $1 AND w.status = 'pending' AND w.next_attempt_at > $2)
		ORDER BY d.seq LIMIT $3`, endpointID, micros(now), limit)
	if err != nil {
		return nil, t.fail(err)
	}
	defer rows.Close()
	var out []twostep.DueDelivery
	for rows.Next() {
		var (
			at   int64
			data string
		)
		d, err := scanDelivery(rows, &at, &data)
		if err != nil {
			return nil, t.fail(err)
		}
		due := twostep.DueDelivery{EventDelivery: d, Time: fromMicros(at)}
		if data != "" {
			due.Data = json.RawMessage(data)
		}
		out = append(out, due)
	}
	return out, t.fail(rows.Err())
}

// saveBatch bounds the deliveries one statement saves (10 parameters
// each).
const saveBatch = 100

// SaveDeliveries stores tries' outcomes while the deliveries are pending,
// a batch per statement: a delivered batch of an endpoint is one round
// trip, not one per event. The values' columns are column1… in both
// databases; the casts give PostgreSQL their types.
func (t *Tx) SaveDeliveries(ctx context.Context, ds []twostep.EventDelivery) error {
	for len(ds) > 0 {
		n := min(len(ds), saveBatch)
		var (
			rows []string
			args []any
		)
		for _, d := range ds[:n] {
			k := len(args)
			rows = append(rows, fmt.Sprintf("(CAST($%d AS TEXT), CAST($%d AS BIGINT), CAST($%d AS TEXT), CAST($%d AS BIGINT), "+
				"CAST($%d AS BIGINT), CAST($%d AS BIGINT), CAST($%d AS BIGINT), CAST($%d AS BIGINT), CAST($%d AS TEXT), CAST($%d AS BIGINT))",
				k+1, k+2, k+3, k+4, k+5, k+6, k+7, k+8, k+9, k+10))
			args = append(args, d.EndpointID, d.Seq, string(d.Status), d.Attempts, micros(d.NextAttemptAt), micros(d.FirstAttemptAt),
				micros(d.LastAttemptAt), d.LastStatusCode, d.LastError, d.Latency.Milliseconds())
		}
		_, err := t.exec(ctx, `
			UPDATE event_deliveries SET status = v.column3, attempts = v.column4, next_attempt_at = v.column5,
				first_attempt_at = v.column6, last_attempt_at = v.column7, last_status_code = v.column8,
				last_error = v.column9, latency_ms = v.column10
			FROM (VALUES `+strings.Join(rows, ", ")+`) AS v
			WHERE event_deliveries.endpoint_id = v.column1 AND event_deliveries.seq = v.column2
				AND event_deliveries.status = 'pending'`, args...)
		if err != nil {
			return t.fail(err)
		}
		ds = ds[n:]
	}
	return nil
}

// EventDeliveries reads an endpoint's deliveries newest first.
func (t *Tx) EventDeliveries(ctx context.Context, endpointID string, before int64, limit int) ([]twostep.EventDelivery, error) {
	if before == 0 {
		before = 1<<63 - 1
	}
	rows, err := t.query(ctx, `SELECT `+deliveryColumns+` FROM event_deliveries d
		WHERE d.endpoint_id = $1 AND d.seq < $2 ORDER BY d.seq DESC LIMIT $3`, endpointID, before, limit)
	if err != nil {
		return nil, t.fail(err)
	}
	defer rows.Close()
	var out []twostep.EventDelivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, t.fail(err)
		}
		out = append(out, d)
	}
	return out, t.fail(rows.Err())
}
