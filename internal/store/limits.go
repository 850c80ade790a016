package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twostep/twostep/internal/twostep"
)

// RateHits makes sure each key has a row, locks the rows and returns
// their hits, in one statement: the upsert that changes nothing still
// locks the rows it returns until the transaction ends. PostgreSQL takes
// the rows in the order of the VALUES list, so callers that pass their
// keys in one order never wait for each other.
func (t *Tx) RateHits(ctx context.Context, keys ...string) ([][]time.Time, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	values := make([]string, len(keys))
	args := make([]any, len(keys))
	for i, k := range keys {
		values[i] = fmt.Sprintf("($%d)", i+1)
		args[i] = k
	}
	rows, err := t.query(ctx, `
		INSERT INTO rate_limits (key) VALUES `+strings.Join(values, ", ")+`
		ON CONFLICT (key) DO UPDATE SET key = excluded.key
		RETURNING key, hits`, args...)
	if err != nil {
		return nil, t.fail(err)
	}
	defer rows.Close()
	logs := make(map[string]string, len(keys))
	for rows.Next() {
		var key, log string
		if err := rows.Scan(&key, &log); err != nil {
			return nil, t.fail(err)
		}
		logs[key] = log
	}
	if err := rows.Err(); err != nil {
		return nil, t.fail(err)
	}
	out := make([][]time.Time, len(keys))
	for i, k := range keys {
		log, ok := logs[k]
		if !ok {
			return nil, fmt.Errorf("rate_limits: no row returned for a key")
		}
		for _, f := range strings.Split(log, ",") {
			if us, err := strconv.ParseInt(f, 10, 64); err == nil {
				out[i] = append(out[i], fromMicros(us))
			}
		}
	}
	return out, nil
}

// SaveRateHits stores the hits of keys (hits[i] for keys[i]), rows that
// RateHits has locked, in one statement; the rows matter until keepUntil,
// when pruning may take them.
func (t *Tx) SaveRateHits(ctx context.Context, keys []string, hits [][]time.Time, keepUntil time.Time) error {
	if len(keys) != len(hits) {
		return fmt.Errorf("SaveRateHits: %d keys, %d lists of hits", len(keys), len(hits))
	}
	if len(keys) == 0 {
		return nil
	}
	var cases, in []string
	args := make([]any, 1, 2*len(keys)+1)
	args[0] = micros(keepUntil)
	for i, k := range keys {
		fields := make([]string, len(hits[i]))
		for j, h := range hits[i] {
			fields[j] = strconv.FormatInt(micros(h), 10)
		}
		args = append(args, k, strings.Join(fields, ","))
		cases = append(cases, fmt.Sprintf("WHEN $%d THEN $%d", len(args)-1, len(args)))
		in = append(in, fmt.Sprintf("$%d", len(args)-1))
	}
	res, err := t.exec(ctx, `UPDATE rate_limits SET hits = CASE key `+strings.Join(cases, " ")+` END, expires_at = $1
		WHERE key IN (`+strings.Join(in, ", ")+`)`, args...)
	if err != nil {
		return t.fail(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return t.fail(err)
	}
	if int(n) != len(keys) {
		return twostep.ErrNotFound
	}
	return nil
}

// CountUpTo adds one to key's count unless it has reached limit. The
// upsert decides it in one statement, so concurrent counters never pass
// the limit. A new counter matters until keepUntil, when pruning may take
// it.
func (t *Tx) CountUpTo(ctx context.Context, key string, limit int, keepUntil time.Time) (bool, error) {
	rows, err := t.query(ctx, `
		INSERT INTO counters (key, count, expires_at) SELECT $1, 1, $3 WHERE $2 > 0
		ON CONFLICT (key) DO UPDATE SET count = counters.count + 1 WHERE counters.count < $2
		RETURNING count`, key, limit, micros(keepUntil))
	if err != nil {
		return false, t.fail(err)
	}
	defer rows.Close()
	counted := rows.Next()
	return counted, t.fail(rows.Err())
}
