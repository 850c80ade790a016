package twostep

import (
	"cmp"
	"context"
	"errors"
	"time"
)

// Errors of the sign-in rules.
var (
	errAlreadyUsed = &Error{Code: CodeAlreadyUsed, Message: "this sign-in is already approved; start a new one"}
	errCodeVoid    = &Error{Code: CodeVoid, Message: "this code can no longer be used; request a new code"}
	errCodeExpired = &Error{Code: CodeExpired, Message: "this code has expired; request a new code"}
	errSignInOver  = &Error{Code: CodeExpired, Message: "this sign-in has expired; start a new one"}
	errNoChannel   = &Error{Code: CodeNoChannel, Message: "this user has no phone or email address that a code can be sent to"}
)

// lockedError answers a locked user and app, saying when the lock ends.
func lockedError(now, until time.Time) *Error {
	e := &Error{Code: CodeLocked, Message: "sign-in is paused after too many wrong codes; try again later or ask an admin to unlock it"}
	if until != lockedForever {
		e.RetryAfter = until.Sub(now)
	} else {
		e.Message = "sign-in is paused after too many wrong codes; an admin must unlock it"
	}
	return e
}

// tooMany answers a send over a limit.
func tooMany(msg string, retry time.Duration) *Error {
	return &Error{Code: CodeRateLimited, Message: msg, RetryAfter: max(retry, time.Second)}
}

// ChallengeResult is what starting a challenge gives: Required false when
// 2FA is off for the user and app, and then nothing was sent. VerifyToken
// opens the hosted page; it is made when the challenge has a return URL
// and is shown only now.
type ChallengeResult struct {
	Required bool
	ChallengeView
	VerifyToken string
}

// CreateChallenge starts a sign-in's second step for a user and app: it
// picks the channel by the company's policy, checks the lockout and the
// send limits, and queues the code in the same transaction.
func (s *Service) CreateChallenge(ctx context.Context, c Caller, companyID, userID string, in NewChallenge) (ChallengeResult, error) {
	return s.startChallenge(ctx, c, companyID, userID, in, false)
}

// startChallenge is CreateChallenge; with force it requires the second
// step even when 2FA is off for the user and app, as the console's own
// sign-in does.
func (s *Service) startChallenge(ctx context.Context, c Caller, companyID, userID string, in NewChallenge, force bool) (ChallengeResult, error) {
	var (
		out ChallengeResult
		err error
	)
	ch := Challenge{CompanyID: companyID, UserID: userID, Status: StatusPending}
	if ch.IP, err = normalizeIP(in.IP); err != nil {
		return out, err
	}
	if ch.UserAgent, err = cleanText("user_agent", in.UserAgent, 512, true); err != nil {
		return out, err
	}
	if ch.Nonce, err = checkNonce(in.Nonce); err != nil {
		return out, err
	}
	if ch.ID, err = newID(s.rand, prefixChallenge); err != nil {
		return out, Internal(err)
	}
	var queued *Message
	err = s.updateSend(ctx, func(tx Tx, smsCapSpent bool) error {
		co, _, err := s.company(ctx, tx, c, companyID, false)
		if err != nil {
			return err
		}
		u, err := s.user(ctx, tx, companyID, userID, false)
		if err != nil {
			return err
		}
		if ch.App, err = ParseApp("app", in.App); err != nil {
			return err
		}
		app := ch.App
		if ch.ReturnURL, err = s.checkReturnURL(in.ReturnURL, co.Settings); err != nil {
			return err
		}
		if !u.TwoFA.For(app) && !force {
			out = ChallengeResult{Required: false}
			return nil
		}
		if ch.ReturnURL != "" {
			if out.VerifyToken, err = s.newToken(); err != nil {
				return Internal(err)
			}
			ch.VerifyTokenHash = tokenHash(out.VerifyToken)
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		l, err := tx.LockoutForUpdate(ctx, companyID, userID, app)
		if err != nil {
			return err
		}
		if l.Locked(now) {
			return lockedError(now, l.LockedUntil)
		}
		p := s.policy(co, u)
		channel := p.first()
		if channel == "" {
			return errNoChannel
		}
		if channel == ChannelSMS && smsCapSpent {
			channel = ChannelEmail // errSMSCapSpent comes only when there is an address
		}
		ch.CreatedAt = now
		if err := s.checkSendLimits(ctx, tx, p, ch, channel, now); err != nil {
			return err
		}
		sent, m, code, err := s.newCode(co, p, ch, channel, now)
		if err != nil {
			return err
		}
		if err := tx.CreateChallenge(ctx, sent); err != nil {
			return err
		}
		if queued, err = s.enqueue(ctx, tx, m, code, now); err != nil {
			return err
		}
		if err := s.countSent(ctx, tx, co, p, channel, now); err != nil {
			return err
		}
		out.Required, out.ChallengeView = true, sent.view(now, p, l, Delivery{DeliveryQueued, channel}, s.cooldown)
		return nil
	})
	if err == nil && out.Required {
		s.dispatch(queued)
	}
	return out, err
}

// errSMSCapSpent ends a transaction that counted an SMS when the
// company's daily SMS cap (or the operator's over every company) was
// already spent, and the user has an email address: updateSend runs it
// again with the code going by email.
var errSMSCapSpent = errors.New("the daily SMS cap is spent")

// updateSend runs send, a write transaction that sends a code, with
// smsCapSpent false; when it ends in errSMSCapSpent (countSent found the
// company's SMS cap spent), it runs send again with smsCapSpent true, so
// that the code goes by email.
func (s *Service) updateSend(ctx context.Context, send func(tx Tx, smsCapSpent bool) error) error {
	err := s.update(ctx, func(tx Tx) error { return send(tx, false) })
	if errors.Is(err, errSMSCapSpent) {
		err = s.update(ctx, func(tx Tx) error { return send(tx, true) })
	}
	return err
}

// checkSendLimits checks and counts one send of a code on channel against
// the limits per user, per destination and per client IP in the last
// hour.
func (s *Service) checkSendLimits(ctx context.Context, tx Tx, p policy, ch Challenge, channel Channel, now time.Time) error {
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
func (s *Service) countSent(ctx context.Context, tx Tx, co Company, p policy, channel Channel, now time.Time) error {
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
func (s *Service) newCode(co Company, p policy, ch Challenge, channel Channel, now time.Time) (Challenge, OutboxMessage, string, error) {
	code, err := newCode(s.rand)
	if err != nil {
		return ch, OutboxMessage{}, "", Internal(err)
	}
	next := ch
	next.Channel, next.Destination = channel, p.destination(channel)
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
func (s *Service) enqueue(ctx context.Context, tx Tx, m OutboxMessage, code string, now time.Time) (*Message, error) {
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
func (s *Service) dispatch(m *Message) {
	switch {
	case s.courier == nil:
	case m != nil:
		s.courier.Take(*m)
	default:
		s.courier.Notify()
	}
}

// challengeContext is a challenge with the company, user, lockout and time
// it is read against.
type challengeContext struct {
	ch      Challenge
	co      Company
	u       User
	lockout Lockout
	now     time.Time
}

// open refuses a challenge that takes no more codes or guesses: approved
// already, or its user and app locked.
func (cc challengeContext) open() error {
	switch {
	case cc.ch.Status == StatusApproved:
		return errAlreadyUsed
	case cc.lockout.Locked(cc.now):
		return lockedError(cc.now, cc.lockout.LockedUntil)
	}
	return nil
}

// loadChallenge reads a challenge the caller may see, with its context.
func (s *Service) loadChallenge(ctx context.Context, tx Tx, c Caller, id string, forUpdate bool) (challengeContext, error) {
	var (
		cc  challengeContext
		err error
	)
	read := tx.Challenge
	if forUpdate {
		read = tx.ChallengeForUpdate
	}
	cc.ch, err = read(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && !c.canSee(cc.ch.CompanyID)) {
		return cc, NotFound("challenge")
	}
	if err != nil {
		return cc, err
	}
	if cc.co, _, err = s.company(ctx, tx, c, cc.ch.CompanyID, false); err != nil {
		return cc, err
	}
	if cc.u, err = s.user(ctx, tx, cc.ch.CompanyID, cc.ch.UserID, false); err != nil {
		return cc, err
	}
	lockout := tx.Lockout
	if forUpdate {
		lockout = tx.LockoutForUpdate
	}
	if cc.lockout, err = lockout(ctx, cc.ch.CompanyID, cc.ch.UserID, cc.ch.App); err != nil {
		return cc, err
	}
	cc.now, err = tx.Now(ctx)
	return cc, err
}

// present reads the challenge's delivery and computes what its reader sees.
func (s *Service) present(ctx context.Context, tx Tx, cc challengeContext) (ChallengeView, error) {
	d, err := tx.LatestDelivery(ctx, cc.ch.ID)
	if err != nil {
		return ChallengeView{}, err
	}
	return cc.ch.view(cc.now, s.policy(cc.co, cc.u), cc.lockout, d, s.cooldown), nil
}

// Challenge reads a challenge's current state.
func (s *Service) Challenge(ctx context.Context, c Caller, id string) (ChallengeView, error) {
	var out ChallengeView
	err := s.view(ctx, func(tx Tx) error {
		cc, err := s.loadChallenge(ctx, tx, c, id, false)
		if err != nil {
			return err
		}
		out, err = s.present(ctx, tx, cc)
		return err
	})
	return out, err
}

// VerifyResult says what a verification decided.
type VerifyResult string

// The verification results.
const (
	ResultApproved VerifyResult = "approved"
	ResultRejected VerifyResult = "rejected"
)

// Verify checks a code. A right code approves the challenge once, however
// many arrive together; a wrong one counts once against the code (void
// after GuessesPerCode) and once against the user's consecutive failures
// in the app, which show the responsible contact at ContactAfter and lock
// the user and app at LockAfter. Guesses that cannot count — at a void,
// expired or used code, or while locked — are refused without counting.
func (s *Service) Verify(ctx context.Context, c Caller, id, code string) (ChallengeView, VerifyResult, error) {
	var (
		out    ChallengeView
		result VerifyResult
	)
	code, err := NormalizeCode(code)
	if err != nil {
		return out, "", err
	}
	err = s.update(ctx, func(tx Tx) error {
		cc, err := s.loadChallenge(ctx, tx, c, id, true)
		if err != nil {
			return err
		}
		ch, l, now := cc.ch, cc.lockout, cc.now
		if err := cc.open(); err != nil {
			return err
		}
		switch {
		case ch.over(now):
			return errSignInOver
		case ch.CodeHash == "":
			return errCodeVoid
		case !now.Before(ch.CodeExpiresAt):
			return errCodeExpired
		}
		next := ch
		stats := DayStats{Day: statsDay(now)}
		if codeMatches(s.codeKey, ch.ID, code, ch.CodeHash) {
			result = ResultApproved
			next.Status, next.CodeHash, next.ApprovedAt = StatusApproved, "", now
			if err := tx.UpdateChallenge(ctx, ch, next); err != nil {
				return conflictAsUsed(err)
			}
			stats.Approved = 1
			if l.Failures > 0 {
				reset := l
				reset.Failures, reset.LockedUntil = 0, time.Time{}
				if err := tx.SaveLockout(ctx, l, reset); err != nil {
					return err
				}
				cc.lockout = reset
			}
		} else {
			result = ResultRejected
			next.CodeAttempts++
			next.Failures++
			if next.CodeAttempts >= GuessesPerCode {
				next.CodeHash = "" // void: the user asks for a new code
			}
			failed, actions := l.failed(now)
			if failed.Locked(now) {
				next.CodeHash = "" // a lock ends this code too
			}
			if err := tx.UpdateChallenge(ctx, ch, next); err != nil {
				return conflictAsVoid(err)
			}
			if err := tx.SaveLockout(ctx, l, failed); err != nil {
				return err
			}
			cc.lockout = failed
			stats.Failed = 1
			if failed.Locked(now) && !l.Locked(now) {
				stats.Locked = 1
			}
			for _, a := range actions {
				if err := s.auditFailure(ctx, tx, cc, a, failed); err != nil {
					return err
				}
			}
		}
		cc.ch = next
		if out, err = s.present(ctx, tx, cc); err != nil {
			return err
		}
		// Last, as the company's statistics row stays locked until the
		// commit (see countSent).
		return tx.AddStats(ctx, ch.CompanyID, stats)
	})
	return out, result, err
}

// conflictAsUsed and conflictAsVoid answer a guess that lost a race with
// another guess at the same code: it was decided without this one.
func conflictAsUsed(err error) error {
	if errors.Is(err, ErrConflict) {
		return errAlreadyUsed
	}
	return err
}

func conflictAsVoid(err error) error {
	if errors.Is(err, ErrConflict) {
		return errCodeVoid
	}
	return err
}

// auditFailure writes a failure threshold's event. The person who failed
// is both its actor and its target: the seed's "User" is them.
func (s *Service) auditFailure(ctx context.Context, tx Tx, cc challengeContext, action Action, l Lockout) error {
	d := map[string]any{"failed_attempts": l.Failures, "challenge_id": cc.ch.ID}
	if action == ActionTwoFALocked && l.LockedUntil != lockedForever {
		d["locked_until"] = l.LockedUntil.UTC().Format(time.RFC3339)
	}
	return s.audit(ctx, tx, Caller{}, AuditEvent{
		CompanyID: cc.ch.CompanyID, Time: cc.now, Action: action, App: cc.ch.App,
		Actor:    Actor{Type: ActorUser, ID: cc.u.ID, Name: cc.u.Name},
		TargetID: cc.u.ID, TargetName: cc.u.Name, Details: details(d),
		IP: cc.ch.IP, UserAgent: cc.ch.UserAgent,
	})
}

// Resend sends a new code for a pending challenge, on the channel asked
// for or else the current one while it is available. The new code voids
// the old one. Sends wait out the cooldown and count against every limit.
func (s *Service) Resend(ctx context.Context, c Caller, id string, asked Channel) (ChallengeView, error) {
	var out ChallengeView
	if asked != "" && asked != ChannelSMS && asked != ChannelEmail {
		return out, Invalid("channel", "channel must be %q or %q", ChannelSMS, ChannelEmail)
	}
	var queued *Message
	err := s.updateSend(ctx, func(tx Tx, smsCapSpent bool) error {
		cc, err := s.loadChallenge(ctx, tx, c, id, true)
		if err != nil {
			return err
		}
		ch, l, now := cc.ch, cc.lockout, cc.now
		if err := cc.open(); err != nil {
			return err
		}
		p := s.policy(cc.co, cc.u)
		available := p.channels(ch)
		channel := asked
		switch {
		case channel != "" && !hasChannel(available, channel):
			return Invalid("channel", "a code cannot be sent by %s for this sign-in now", channel)
		case channel == "" && hasChannel(available, ch.Channel):
			channel = ch.Channel
		case channel == "" && len(available) > 0:
			channel = available[0]
		case channel == "":
			return errNoChannel
		}
		if channel == ChannelSMS && smsCapSpent {
			channel = ChannelEmail // errSMSCapSpent comes only when there is an address
		}
		if ch.over(now) {
			return errSignInOver
		}
		if wait := ch.LastSentAt.Add(s.cooldown).Sub(now); wait > 0 {
			return tooMany("a new code can be sent after a short wait", wait)
		}
		if ch.Sends >= SendsPerChallenge {
			return tooMany("this sign-in has had all the codes it may have; start a new sign-in", sendWindow)
		}
		if err := s.checkSendLimits(ctx, tx, p, ch, channel, now); err != nil {
			return err
		}
		next, m, code, err := s.newCode(cc.co, p, ch, channel, now)
		if err != nil {
			return err
		}
		if err := tx.UpdateChallenge(ctx, ch, next); err != nil {
			return conflictAsVoid(err)
		}
		// The new code voids the old one, and a message with the old code
		// that has not gone out yet no longer goes.
		if err := tx.CancelMessages(ctx, ch.ID, now); err != nil {
			return err
		}
		if queued, err = s.enqueue(ctx, tx, m, code, now); err != nil {
			return err
		}
		if err := s.countSent(ctx, tx, cc.co, p, channel, now); err != nil {
			return err
		}
		cc.ch = next
		out = next.view(now, p, l, Delivery{DeliveryQueued, channel}, s.cooldown)
		return nil
	})
	if err == nil {
		s.dispatch(queued)
	}
	return out, err
}

// Unlock ends a user's lockout in an app early and resets the count,
// audited. A user with nothing to unlock is left alone, unaudited.
func (s *Service) Unlock(ctx context.Context, c Caller, companyID, userID string, app App) (Lockout, error) {
	var out Lockout
	err := s.update(ctx, func(tx Tx) error {
		_, actor, err := s.company(ctx, tx, c, companyID, false)
		if err != nil {
			return err
		}
		u, err := s.user(ctx, tx, companyID, userID, false)
		if err != nil {
			return err
		}
		l, err := tx.LockoutForUpdate(ctx, companyID, userID, app)
		if err != nil {
			return err
		}
		out = l
		if l.Failures == 0 && l.LockedUntil.IsZero() {
			return nil
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		next := l
		next.Failures, next.LockedUntil = 0, time.Time{}
		if err := tx.SaveLockout(ctx, l, next); err != nil {
			return err
		}
		out = next
		d := map[string]any{"failed_attempts": l.Failures, "was_locked": l.Locked(now)}
		return s.audit(ctx, tx, c, AuditEvent{CompanyID: companyID, Time: now, Actor: actor,
			Action: ActionTwoFAUnlocked, TargetID: u.ID, TargetName: u.Name, App: app, Details: details(d)})
	})
	return out, err
}

// Lockouts returns a user's lockouts, one per app, read at the database's
// time: for showing an admin who is locked.
func (s *Service) Lockouts(ctx context.Context, c Caller, companyID, userID string) (map[App]Lockout, time.Time, error) {
	out := map[App]Lockout{}
	var now time.Time
	err := s.view(ctx, func(tx Tx) error {
		if _, _, err := s.company(ctx, tx, c, companyID, false); err != nil {
			return err
		}
		if _, err := s.user(ctx, tx, companyID, userID, false); err != nil {
			return err
		}
		ls, err := tx.Lockouts(ctx, companyID, userID)
		if err != nil {
			return err
		}
		for _, l := range ls {
			out[l.App] = l
		}
		now, err = tx.Now(ctx)
		return err
	})
	return out, now, err
}
