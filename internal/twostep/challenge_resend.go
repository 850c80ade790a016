package twostep

import (
	"context"
)

// Resend sends a new code for a pending challenge, on the channel asked
// for or else the current one while it is available. The new code voids
// the old one. Sends wait out the cooldown and count against every limit.
func (s *SignIns) Resend(ctx context.Context, c Caller, id string, asked Channel) (ChallengeView, error) {
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
		p, err := s.policyFor(ctx, tx, cc.co, cc.u, ch)
		if err != nil {
			return err
		}
		available := p.sendable(ch, now)
		channel := asked
		switch {
		case channel != "" && !hasChannel(available, channel):
			return Invalid("channel", "a code cannot be sent by %s for this sign-in now", channel)
		case channel == "" && hasChannel(available, ch.Channel):
			channel = ch.Channel
		case channel == "" && len(available) > 0:
			channel = available[0]
		case channel == "" && p.strength.required:
			return Invalid("channel", "this app accepts only an authenticator app, a passkey or a recovery code")
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
