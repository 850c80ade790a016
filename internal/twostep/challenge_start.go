package twostep

import (
	"context"
	"errors"
	"time"
)

// ChallengeResult is what starting a challenge gives: Required false when
// 2FA is off for the user and app, and then nothing was sent. VerifyToken
// opens the hosted page; it is made when the challenge has a return URL
// and is shown only now.
type ChallengeResult struct {
	Required bool
	ChallengeView
	VerifyToken string
	// RememberedUntil is set when a remembered device let the sign-in
	// skip the second step (Required false). The sign-in is then recorded
	// as an approved challenge (method remembered_device), and Result is
	// its signed result, as the hosted page would hand it over.
	RememberedUntil time.Time
	Result          string
}

// CreateChallenge starts a sign-in's second step for a user and app: on
// the user's authenticator app if they have one, sending nothing;
// otherwise on the channel the company's policy picks, checking the
// lockout and the send limits, with the code queued in the same
// transaction.
func (s *SignIns) CreateChallenge(ctx context.Context, c Caller, companyID, userID string, in NewChallenge) (ChallengeResult, error) {
	return s.startChallenge(ctx, c, companyID, userID, in, false)
}

// startChallenge is CreateChallenge; with force it requires the second
// step even when 2FA is off for the user and app, as the console's own
// sign-in does.
func (s *SignIns) startChallenge(ctx context.Context, c Caller, companyID, userID string, in NewChallenge, force bool) (ChallengeResult, error) {
	var (
		out ChallengeResult
		err error
	)
	ch := Challenge{CompanyID: companyID, UserID: userID, Status: StatusPending, Console: force}
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
		if !force {
			d, ok, err := s.rememberedDevice(ctx, tx, co, u, app, in.DeviceToken, now)
			if err != nil {
				return err
			}
			if ok {
				ch.CreatedAt, ch.Status, ch.ApprovedAt, ch.Method = now, StatusApproved, now, MethodRememberedDevice
				ch.VerifyTokenHash = "" // no page to show
				if err := tx.CreateChallenge(ctx, ch); err != nil {
					return err
				}
				if err := s.emitChallenge(ctx, tx, EventChallengeApproved, ch, u, now, challengeData{Method: MethodRememberedDevice}); err != nil {
					return err
				}
				out = ChallengeResult{Required: false, RememberedUntil: d.Until(co.Settings.RememberDeviceDays.For(app))}
				out.ChallengeView = ch.view(now, s.policy(co, u), l, Delivery{}, s.cooldown)
				if s.signer != nil {
					claims := resultClaims(ch, u)
					claims.AuthTime, claims.AMR = d.AuthTime.Unix(), []string{} // when the user last passed the second step
					out.Result = s.signer.Sign(claims)
				}
				return nil
			}
		}
		p, err := s.policyFor(ctx, tx, co, u, ch)
		if err != nil {
			return err
		}
		method, err := p.firstMethod(now)
		if err != nil {
			return err
		}
		ch.CreatedAt, ch.Method, ch.EnrollmentRequired = now, method, p.strength.enrollmentRequired()
		if !method.sent() {
			// An authenticator app or a recovery code: nothing to send.
			if err := tx.CreateChallenge(ctx, ch); err != nil {
				return err
			}
			out.Required, out.ChallengeView = true, ch.view(now, p, l, Delivery{}, s.cooldown)
			return nil
		}
		channel := Channel(method)
		if channel == ChannelSMS && smsCapSpent {
			channel = ChannelEmail // errSMSCapSpent comes only when there is an address
		}
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
	if err == nil && queued != nil {
		s.dispatch(queued)
	}
	return out, err
}

// errSMSCapSpent ends a transaction that counted an SMS when the
// company's daily SMS cap (or the operator's over every company) was
// already spent, and the user has an email address: updateSend runs it
// again with the code going by email.
var errSMSCapSpent = errors.New("the daily SMS cap is spent")
