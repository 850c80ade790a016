package twostep

import (
	"context"
	"time"
)

// Nothing Twostep keeps grows forever: what stops mattering is deleted in
// the background, a batch at a time, by every instance at once if need
// be (a batch skips rows another instance is deleting). The audit log is
// kept; `twostep audit checkpoint` anchors it.

// PruneKind names a kind of row that pruning deletes.
type PruneKind string

// The kinds of rows pruning deletes, and when each stops mattering.
const (
	// PruneChallenges: a challenge ChallengeRetention after it started (it
	// takes codes for ChallengeLifetime; the rest is the admins' recent
	// sign-ins). Its outbox messages go with it.
	PruneChallenges PruneKind = "challenges"
	// PruneOutbox: a message outboxRetention after it was sent, failed or
	// was cancelled; its challenge no longer shows its delivery by then.
	PruneOutbox PruneKind = "outbox"
	// PruneSessions: a console session once it is idle past SessionIdle
	// or past its end.
	PruneSessions PruneKind = "sessions"
	// PruneSetupLinks: a set-up link once it expired or was used.
	PruneSetupLinks PruneKind = "setup_links"
	// PruneRateLimits: a rate-limit log once its newest hit left the
	// window.
	PruneRateLimits PruneKind = "rate_limits"
	// PruneCounters: a daily count after its day.
	PruneCounters PruneKind = "counters"
	// PruneLockouts: a user's lockout row without failures or a lock; it
	// is made again at the next wrong code.
	PruneLockouts PruneKind = "lockouts"
	// PruneStats: daily statistics older than statsRetention.
	PruneStats PruneKind = "daily_stats"
	// PruneAuthenticators: an authenticator app never confirmed within
	// UnconfirmedLifetime.
	PruneAuthenticators PruneKind = "unconfirmed_authenticators"
	// PruneEnrollments: an enrolment link once it expired.
	PruneEnrollments PruneKind = "enrollments"
	// PruneDevices: a remembered device once it expired.
	PruneDevices PruneKind = "devices"
	// PruneCeremonies: a WebAuthn ceremony never finished.
	PruneCeremonies PruneKind = "ceremonies"
	// PruneEvents: an event of the feed EventRetention after it happened.
	PruneEvents PruneKind = "events"
	// PruneDeliveries: an endpoint's delivery, delivered or given up on,
	// EventRetention after its last try.
	PruneDeliveries PruneKind = "event_deliveries"
)

// Retention of what pruning deletes by age.
const (
	ChallengeRetention = 30 * 24 * time.Hour
	outboxRetention    = time.Hour
	statsRetention     = 400 * 24 * time.Hour
	EventRetention     = 30 * 24 * time.Hour
)

// Pruning's bounds: rows per transaction, and transactions per kind and
// run, so that one run is short and the next goes on.
const (
	pruneBatch   = 500
	pruneBatches = 20
)

// PruneStore deletes rows that no longer matter.
type PruneStore interface {
	// Prune deletes up to limit rows of kind that stopped mattering before
	// the given time, skipping rows another transaction holds, and says
	// how many it deleted.
	Prune(ctx context.Context, kind PruneKind, before time.Time, limit int) (int, error)
}

// Prune deletes, a batch per transaction, what stopped mattering, and
// returns how many rows of each kind went. One call is bounded; a
// backlog takes several.
func (s *Outbox) Prune(ctx context.Context) (map[PruneKind]int, error) {
	var now time.Time
	if err := s.view(ctx, func(tx Tx) error {
		var err error
		now, err = tx.Now(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	cutoffs := []struct {
		kind   PruneKind
		before time.Time
	}{
		{PruneChallenges, now.Add(-ChallengeRetention)},
		{PruneOutbox, now.Add(-outboxRetention)},
		{PruneSessions, now.Add(-SessionIdle)},
		{PruneSetupLinks, now},
		{PruneRateLimits, now},
		{PruneCounters, now},
		{PruneLockouts, now},
		{PruneStats, now.Add(-statsRetention)},
		{PruneAuthenticators, now.Add(-UnconfirmedLifetime)},
		{PruneEnrollments, now},
		{PruneDevices, now},
		{PruneCeremonies, now},
		{PruneEvents, now.Add(-EventRetention)},
		{PruneDeliveries, now.Add(-EventRetention)},
	}
	out := map[PruneKind]int{}
	for _, c := range cutoffs {
		for range pruneBatches {
			var n int
			err := s.update(ctx, func(tx Tx) error {
				var err error
				n, err = tx.Prune(ctx, c.kind, c.before, pruneBatch)
				return err
			})
			if err != nil {
				return out, err
			}
			out[c.kind] += n
			if n < pruneBatch {
				break
			}
		}
	}
	return out, nil
}
