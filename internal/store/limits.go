package store

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// RateHits makes sure key has a row, locks it and returns its hits, in
// one statement: the upsert that changes nothing still locks the row it
// returns until the transaction ends.
func (t *Tx) RateHits(ctx context.Context, key string) ([]time.Time, error) {
	var log string
	err := t.queryRow(ctx, `
		INSERT INTO rate_limits (key) VALUES ($1)
		ON CONFLICT (key) DO UPDATE SET key = excluded.key
		RETURNING hits`, key).Scan(&log)
	if err != nil {
		return nil, t.fail(err)
	}
	var hits []time.Time
	for _, f := range strings.Split(log, ",") {
		if us, err := strconv.ParseInt(f, 10, 64); err == nil {
			hits = append(hits, fromMicros(us))
		}
	}
	return hits, nil
}

// SaveRateHits stores key's hits.
func (t *Tx) SaveRateHits(ctx context.Context, key string, hits []time.Time) error {
	fields := make([]string, len(hits))
	for i, h := range hits {
		fields[i] = strconv.FormatInt(micros(h), 10)
	}
	return t.execOne(ctx, `UPDATE rate_limits SET hits = $2 WHERE key = $1`, key, strings.Join(fields, ","))
}

// CountUpTo adds one to key's count unless it has reached limit. The
// upsert decides it in one statement, so concurrent counters never pass
// the limit.
func (t *Tx) CountUpTo(ctx context.Context, key string, limit int) (bool, error) {
	rows, err := t.query(ctx, `
		INSERT INTO counters (key, count) SELECT $1, 1 WHERE $2 > 0
		ON CONFLICT (key) DO UPDATE SET count = counters.count + 1 WHERE counters.count < $2
		RETURNING count`, key, limit)
	if err != nil {
		return false, t.fail(err)
	}
	defer rows.Close()
	counted := rows.Next()
	return counted, t.fail(rows.Err())
}
