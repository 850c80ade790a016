package twostep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"
)

// slide applies a sliding-window limit to a log of recent hits: it drops
// hits older than the window and, when fewer than limit remain, records
// now. Otherwise it reports how long until the oldest hit leaves the
// window. The store keeps the log and holds it locked while this decides,
// so concurrent senders are counted exactly.
func slide(hits []time.Time, now time.Time, limit int, window time.Duration) (kept []time.Time, ok bool, retryAfter time.Duration) {
	start := now.Add(-window)
	for _, h := range hits {
		if h.After(start) {
			kept = append(kept, h)
		}
	}
	if len(kept) >= limit {
		return kept, false, kept[len(kept)-limit].Add(window).Sub(now)
	}
	return append(kept, now), true, 0
}

// rateLimit is one limit that a hit counts against: at most limit hits
// of key in any window. what names the key's owner in the error.
type rateLimit struct {
	key, what string
	limit     int
}

// hit counts one hit at now against every limit, all or none, in tx. It
// returns the first limit that is full and how long until it takes a hit
// again, or nil. Keys are locked in sorted order, so that two transactions
// never wait for each other; reading and saving them are one statement
// each, whatever the number of limits.
func hit(ctx context.Context, tx Tx, limits []rateLimit, now time.Time, window time.Duration) (*rateLimit, time.Duration, error) {
	keys := sortKeys(limits)
	hits, err := tx.RateHits(ctx, keys...)
	if err != nil {
		return nil, 0, err
	}
	for i, l := range limits {
		kept, ok, retry := slide(hits[i], now, l.limit, window)
		if !ok {
			return &limits[i], retry, nil
		}
		hits[i] = kept
	}
	return nil, 0, tx.SaveRateHits(ctx, keys, hits, now.Add(window))
}

// unhit takes back a hit that hit counted at at, from every limit of a
// window: a try that turned out not to count.
func unhit(ctx context.Context, tx Tx, limits []rateLimit, at time.Time, window time.Duration) error {
	keys := sortKeys(limits)
	hits, err := tx.RateHits(ctx, keys...)
	if err != nil {
		return err
	}
	for i, hs := range hits {
		if j := slices.IndexFunc(hs, at.Equal); j >= 0 {
			hits[i] = slices.Delete(hs, j, j+1)
		}
	}
	return tx.SaveRateHits(ctx, keys, hits, at.Add(window))
}

// sortKeys sorts limits by key, the order their rows are locked in, and
// returns the keys.
func sortKeys(limits []rateLimit) []string {
	sort.Slice(limits, func(i, j int) bool { return limits[i].key < limits[j].key })
	keys := make([]string, len(limits))
	for i, l := range limits {
		keys[i] = l.key
	}
	return keys
}

// rateKey names one thing that sends are counted for. Destinations and IPs
// are hashed: the table of counters need not hold addresses.
func rateKey(kind, value string) string {
	if kind == "user" {
		return "user:" + value
	}
	sum := sha256.Sum256([]byte(value))
	return kind + ":" + hex.EncodeToString(sum[:16])
}

// ipKey is what a per-IP limit counts: the address, or for IPv6 its /64,
// which one subscriber usually holds whole (RFC 6177), so that rotating
// through it buys nothing.
func ipKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.WithZone("").Prefix(64)
		return p.String()
	}
	return a.String()
}

// destinationKey is what a per-destination limit counts: a phone number,
// or an email address in lower case, since mail to Anna@ and anna@ lands
// in one mailbox.
func destinationKey(channel Channel, destination string) string {
	if channel == ChannelEmail {
		return strings.ToLower(destination)
	}
	return destination
}

// smsDayKey names a company's SMS count for one UTC day.
func smsDayKey(companyID string, now time.Time) string {
	return "sms:" + companyID + ":" + now.UTC().Format(time.DateOnly)
}

// smsGlobalDayKey names the SMS count of every company for one UTC day.
func smsGlobalDayKey(now time.Time) string {
	return "sms-all:" + now.UTC().Format(time.DateOnly)
}

// untilTomorrow is how long until the next UTC day begins.
func untilTomorrow(now time.Time) time.Duration {
	y, m, d := now.UTC().Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC).Sub(now)
}
