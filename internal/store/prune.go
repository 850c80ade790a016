package store

import (
	"context"
	"fmt"
	"time"

	"github.com/twostep/twostep/internal/twostep"
)

// pruneQueries find up to $2 rows of each kind that stopped mattering
// before $1, by key; Prune deletes them. On PostgreSQL the rows another
// transaction holds are skipped, so instances pruning at once never wait
// for each other or for a sign-in.
var pruneQueries = map[twostep.PruneKind]struct{ table, key, where string }{
	twostep.PruneChallenges:     {"challenges", "id", "created_at < $1"},
	twostep.PruneOutbox:         {"outbox", "id", "status <> 'queued' AND finished_at < $1"},
	twostep.PruneSessions:       {"sessions", "token_hash", "(seen_at < $1 OR expires_at < $1)"},
	twostep.PruneSetupLinks:     {"admin_setup_links", "token_hash", "(expires_at < $1 OR used_at > 0)"},
	twostep.PruneRateLimits:     {"rate_limits", "key", "expires_at < $1"},
	twostep.PruneCounters:       {"counters", "key", "expires_at < $1"},
	twostep.PruneLockouts:       {"lockouts", "(user_id, app)", "failures = 0 AND locked_until < $1"},
	twostep.PruneStats:          {"daily_stats", "(company_id, day, shard)", "day < $1"},
	twostep.PruneAuthenticators: {"authenticators", "id", "confirmed_at = 0 AND created_at < $1"},
	twostep.PruneEnrollments:    {"enrollments", "token_hash", "expires_at < $1"},
	twostep.PruneDevices:        {"devices", "token_hash", "expires_at < $1"},
	twostep.PruneCeremonies:     {"ceremonies", "id", "expires_at < $1"},
	// The feed is in time order: only its oldest rows are looked at.
	twostep.PruneEvents:     {"events", "seq", "seq IN (SELECT seq FROM events WHERE seq IS NOT NULL ORDER BY seq LIMIT $2) AND time < $1"},
	twostep.PruneDeliveries: {"event_deliveries", "(endpoint_id, seq)", "status <> 'pending' AND last_attempt_at < $1"},
}

// Prune deletes up to limit rows of kind that stopped mattering before
// the given time.
func (t *Tx) Prune(ctx context.Context, kind twostep.PruneKind, before time.Time, limit int) (int, error) {
	q, ok := pruneQueries[kind]
	if !ok {
		return 0, fmt.Errorf("prune: unknown kind %q", kind)
	}
	var cutoff any = micros(before)
	if kind == twostep.PruneStats {
		cutoff = before.UTC().Format(time.DateOnly) // days are stored as text
	}
	cols := q.key
	if cols[0] == '(' {
		cols = cols[1 : len(cols)-1]
	}
	res, err := t.exec(ctx, `DELETE FROM `+q.table+` WHERE `+q.key+` IN (
		SELECT `+cols+` FROM `+q.table+` WHERE `+q.where+` LIMIT $2`+t.d.skipLocked+`)`, cutoff, limit)
	if err != nil {
		return 0, t.fail(err)
	}
	n, err := res.RowsAffected()
	return int(n), t.fail(err)
}
