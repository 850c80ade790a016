package twostep

import (
	"context"
	"errors"
	"time"
)

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
func (s *SignIns) loadChallenge(ctx context.Context, tx Tx, c Caller, id string, forUpdate bool) (challengeContext, error) {
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
func (s *SignIns) present(ctx context.Context, tx Tx, cc challengeContext) (ChallengeView, error) {
	p, err := s.policyFor(ctx, tx, cc.co, cc.u, cc.ch)
	if err != nil {
		return ChallengeView{}, err
	}
	return s.presentWith(ctx, tx, cc, p)
}

// presentWith is present with the policy read already.
func (s *SignIns) presentWith(ctx context.Context, tx Tx, cc challengeContext, p policy) (ChallengeView, error) {
	var d Delivery
	if cc.ch.Sends > 0 {
		var err error
		if d, err = tx.LatestDelivery(ctx, cc.ch.ID); err != nil {
			return ChallengeView{}, err
		}
	}
	return cc.ch.view(cc.now, p, cc.lockout, d, s.cooldown), nil
}

// Challenge reads a challenge's current state. The first read after an
// approval on the hosted page that asked to remember the browser hands
// over the device token, once: the read that clears it from the
// challenge is the one that shows it.
func (s *SignIns) Challenge(ctx context.Context, c Caller, id string) (ChallengeView, error) {
	var out ChallengeView
	err := s.view(ctx, func(tx Tx) error {
		cc, err := s.loadChallenge(ctx, tx, c, id, false)
		if err != nil {
			return err
		}
		out, err = s.present(ctx, tx, cc)
		return err
	})
	if err != nil || out.DeviceTokenSealed == "" {
		return out, err
	}
	token, err := s.sealer.open(out.DeviceTokenSealed, deviceSealBinding(out.ID))
	if err != nil {
		return out, Internal(err)
	}
	err = s.update(ctx, func(tx Tx) error { return tx.TakeDeviceToken(ctx, out.ID, out.DeviceTokenSealed) })
	switch {
	case errors.Is(err, ErrConflict): // another read took it
	case err != nil:
		return out, err
	default:
		out.DeviceToken = token
	}
	out.DeviceTokenSealed = ""
	return out, nil
}

// VerifyResult says what a verification decided.
type VerifyResult string

// The verification results.
const (
	ResultApproved VerifyResult = "approved"
	ResultRejected VerifyResult = "rejected"
)

// Proof is what a verification submits: a code, and the method it is for
// ("" for the one the challenge expects).
type Proof struct {
	Code   string
	Method Method
	// Remember asks, on approval, for a remembered-device token, where
	// the company remembers devices for the app. It comes back in the
	// answer, unless KeepDeviceToken (the hosted page) keeps it sealed on
	// the challenge for the platform to read once.
	Remember        bool
	KeepDeviceToken bool
	// Passkey is the browser's answer to a passkey ceremony (method
	// webauthn), from the hosted page only.
	Passkey []byte
}

// normalize checks the code's form for its method.
func (p Proof) normalize() (string, error) {
	switch p.Method {
	case MethodRecoveryCode:
		return NormalizeRecoveryCode(p.Code)
	case MethodWebAuthn:
		if len(p.Passkey) == 0 || len(p.Passkey) > 64<<10 {
			return "", Invalid("passkey", "the passkey's answer is missing or too large")
		}
		return string(p.Passkey), nil
	}
	return NormalizeCode(p.Code)
}

// Verify checks a proof. A right one approves the challenge once, however
// many arrive together; a wrong one counts once against a sent code (void
// after GuessesPerCode) and once, whatever the method, against the user's
// consecutive failures in the app, which show the responsible contact at
// ContactAfter and lock the user and app at LockAfter. Guesses that cannot
// count — at a void, expired or used code, or while locked — are refused
// without counting.
func (s *SignIns) Verify(ctx context.Context, c Caller, id string, in Proof) (ChallengeView, VerifyResult, error) {
	var (
		out    ChallengeView
		result VerifyResult
	)
	if in.Method != "" && in.Passkey == nil {
		if _, err := ParseMethod("method", string(in.Method)); err != nil {
			return out, "", err
		}
		if _, err := in.normalize(); err != nil {
			return out, "", err
		}
	}
	var device string
	err := s.update(ctx, func(tx Tx) error {
		cc, err := s.loadChallenge(ctx, tx, c, id, true)
		if err != nil {
			return err
		}
		ch, l, now := cc.ch, cc.lockout, cc.now
		if err := cc.open(); err != nil {
			return err
		}
		if ch.over(now) {
			return errSignInOver
		}
		p, err := s.policyFor(ctx, tx, cc.co, cc.u, ch)
		if err != nil {
			return err
		}
		method := in.Method
		if method == "" {
			method = ch.expects()
		}
		// A recovery code is always a guess worth counting: a used or
		// unknown one is wrong, even when the user has none left.
		if !hasMethod(p.methods(ch, now), method) && method != MethodRecoveryCode {
			return Invalid("method", "%s cannot be used for this sign-in now", method)
		}
		code, err := Proof{Code: in.Code, Method: method, Passkey: in.Passkey}.normalize()
		if err != nil {
			return err
		}
		m := s.proofMethod(method)
		if err := m.ready(cc); err != nil {
			return err
		}
		right, err := m.check(ctx, tx, cc, code)
		if err != nil {
			return err
		}
		next := ch
		m.settle(&next, right)
		stats := DayStats{Day: statsDay(now)}
		if right {
			result = ResultApproved
			next.Status, next.ApprovedAt = StatusApproved, now
			if method.sent() {
				method = Method(ch.Channel) // the code came by the channel it went on
			}
			next.Method = method
			if in.Remember {
				token, sealed, err := s.rememberDevice(ctx, tx, cc, method)
				if err != nil {
					return err
				}
				if in.KeepDeviceToken {
					next.DeviceTokenSealed = sealed
				} else {
					device = token
				}
			}
			if err := tx.UpdateChallenge(ctx, ch, next); err != nil {
				return conflictAsUsed(err)
			}
			if err := s.emitChallenge(ctx, tx, EventChallengeApproved, next, cc.u, now, challengeData{Method: method}); err != nil {
				return err
			}
			if method == MethodRecoveryCode {
				if err := s.auditRecoveryCodeUsed(ctx, tx, cc, p.strength.factors.RecoveryCodes-1); err != nil {
					return err
				}
				p.strength.factors.RecoveryCodes--
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
			next.Failures++
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
				// A lock ends the user's remembered devices in the app.
				if _, err := tx.DeleteDevices(ctx, ch.CompanyID, ch.UserID, ch.App); err != nil {
					return err
				}
			}
			for _, a := range actions {
				if err := s.auditFailure(ctx, tx, cc, a, failed); err != nil {
					return err
				}
			}
		}
		cc.ch = next
		if out, err = s.presentWith(ctx, tx, cc, p); err != nil {
			return err
		}
		out.DeviceToken = device
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
func (s *SignIns) auditFailure(ctx context.Context, tx Tx, cc challengeContext, action Action, l Lockout) error {
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

// auditRecoveryCodeUsed records a sign-in by a recovery code, and how many
// the user has left: the person is both actor and target.
func (s *SignIns) auditRecoveryCodeUsed(ctx context.Context, tx Tx, cc challengeContext, left int) error {
	return s.audit(ctx, tx, Caller{}, AuditEvent{
		CompanyID: cc.ch.CompanyID, Time: cc.now, Action: ActionRecoveryCodeUsed, App: cc.ch.App,
		Actor:    Actor{Type: ActorUser, ID: cc.u.ID, Name: cc.u.Name},
		TargetID: cc.u.ID, TargetName: cc.u.Name,
		Details: details(map[string]any{"challenge_id": cc.ch.ID, "recovery_codes_left": left}),
		IP:      cc.ch.IP, UserAgent: cc.ch.UserAgent,
	})
}
