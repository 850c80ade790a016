package twostep

import (
	"cmp"
	"context"
	"errors"
	"time"
)

// updateSend runs send, a write transaction that sends a code, with
// smsCapSpent false; when it ends in errSMSCapSpent (countSent found the
// company's SMS cap spent), it runs send again with smsCapSpent true, so
// that the code goes by email.
func (s *SignIns) updateSend(ctx context.Context, send func(tx Tx, smsCapSpent bool) error) error {
	err := s.update(ctx, func(tx Tx) error { return send(tx, false) })
	if errors.Is(err, errSMSCapSpent) {
		err = s.update(ctx, func(tx Tx) error { return send(tx, true) })
	}
	return err
}

// checkSendLimits checks and counts one send of a code on channel against
// the limits per user, per destination and per client IP in the last
// hour.
func (s *SignIns) checkSendLimits(ctx context.Context, tx Tx, p policy, ch Challenge, channel Channel, now time.Time) error {
	limits := []rateLimit{
		{rateKey("user", ch.UserID), "this user", SendsPerUser},
		{rateKey("dest", destinationKey(channel, p.destination(channel))), "this address", SendsPerDestination},
	}
	if ch.IP != "" {
		limits = append(limits, rateLimit{rateKey("ip", ipKey(ch.IP)), "this IP address", SendsPerIP})
	}
	full, retry, err := hit(ctx, tx, limits, now, sendWindow)
	if err != nil {
		return err
	}
	if full != nil {
		return tooMany("too many codes were sent to "+full.what+" in the last hour", retry)
	}
	return nil
}

// countSent counts a queued code in the company's day: in its statistics
// and, for an SMS, against its daily SMS cap. When the cap is spent, the
// code goes by email if the user has an address (errSMSCapSpent: the
// caller starts over with email) or not at all.
//
// These are the two rows that every send of a company writes, so they
// are written last, just before the commit: a row stays locked from its
// write to the commit, and every other sign-in of the company waits for
// it meanwhile.
func (s *SignIns) countSent(ctx context.Context, tx Tx, co Company, p policy, channel Channel, now time.Time) error {
	if channel == ChannelSMS {
		keep := now.Add(untilTomorrow(now) + time.Hour) // the day's count matters to its end
		ok, err := tx.CountUpTo(ctx, smsDayKey(co.ID, now), co.Settings.SMSDailyCap, keep)
		if err == nil && ok && s.smsGlobalCap > 0 {
			// The operator's cap over every company: one row that every
			// SMS of the deployment writes, so it comes last.
			ok, err = tx.CountUpTo(ctx, smsGlobalDayKey(now), s.smsGlobalCap, keep)
		}
		if err != nil {
			return err
		}
		if !ok && p.email == "" {
			return tooMany("the daily SMS limit is reached", untilTomorrow(now))
		}
		if !ok {
			return errSMSCapSpent
		}
	}
	return tx.AddStats(ctx, co.ID, DayStats{Day: statsDay(now), Sent: 1})
}

// newCode makes a new code for the challenge on channel. It returns the
// challenge holding the code's hash, the outbox message carrying the
// sealed code, and the code; the caller stores the first two in its
// transaction and passes the code on only to the worker.
func (s *SignIns) newCode(co Company, p policy, ch Challenge, channel Channel, now time.Time) (Challenge, OutboxMessage, string, error) {
	code, err := newCode(s.rand)
	if err != nil {
		return ch, OutboxMessage{}, "", Internal(err)
	}
	next := ch
	next.Channel, next.Destination = channel, p.destination(channel)
	next.Method = Method(channel) // a sent code is what the challenge expects now
	next.CodeHash = codeHash(s.codeKey, ch.ID, code)
	next.CodeAttempts = 0
	next.CodeExpiresAt = now.Add(s.codeTTL)
	if end := ch.ends(); next.CodeExpiresAt.After(end) {
		next.CodeExpiresAt = end // no code outlives its sign-in
	}
	next.LastSentAt = now
	next.Sends++
	m := OutboxMessage{ChallengeID: ch.ID, CompanyID: ch.CompanyID, UserID: ch.UserID, App: ch.App,
		Send: next.Sends, Channel: channel, Destination: next.Destination, CompanyName: co.Name,
		CodeExpiresAt: next.CodeExpiresAt, Status: DeliveryQueued, NextAttemptAt: now, CreatedAt: now}
	if m.SealedCode, err = s.sealer.seal(s.rand, code, m.sealBinding()); err != nil {
		return ch, m, "", Internal(err)
	}
	return next, m, code, nil
}

// enqueue stores m in the outbox. With a courier in this process, the
// message is leased to it on the way in and returned, with its code, to
// be handed over once the transaction commits: the worker then sends it
// without a transaction of its own to claim it. Should this process die
// first, the lease runs out and any worker claims the message.
func (s *core) enqueue(ctx context.Context, tx Tx, m OutboxMessage, code string, now time.Time) (*Message, error) {
	if s.courier != nil {
		m.Attempts, m.LeaseUntil = 1, now.Add(s.courier.Lease())
	}
	id, err := tx.EnqueueMessage(ctx, m)
	if err != nil || s.courier == nil {
		return nil, err
	}
	ttl := s.codeTTL
	if m.Kind != "" && m.Kind != KindCode {
		ttl = m.CodeExpiresAt.Sub(m.CreatedAt)
	}
	return &Message{ID: id, Kind: cmp.Or(m.Kind, KindCode), ChallengeID: m.ChallengeID, Channel: m.Channel, To: m.Destination, Code: code,
		CompanyName: m.CompanyName, App: m.App, ExpiresAt: m.CodeExpiresAt, TTL: ttl,
		Attempt: 1, CreatedAt: m.CreatedAt}, nil
}

// dispatch tells the courier, if any, of a committed message: handing it
// over when it was leased to it.
func (s *core) dispatch(m *Message) {
	switch {
	case s.courier == nil:
	case m != nil:
		s.courier.Take(*m)
	default:
		s.courier.Notify()
	}
}
