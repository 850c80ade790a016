package twostep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MessageKind says what a message carries.
type MessageKind string

const (
	KindCode      MessageKind = "code"       // a challenge's one-time code
	KindSetupLink MessageKind = "setup_link" // an invited admin's set-up link
	KindResetLink MessageKind = "reset_link" // an admin's password reset link
	KindNotice    MessageKind = "notice"     // a notification (notify.go); nothing sealed
)

// OutboxMessage is a code, or a console email's link, waiting to be sent.
// Its secret is sealed with a key from the secret file and dropped once
// the message is sent or has failed.
type OutboxMessage struct {
	ID            int64
	Kind          MessageKind
	ChallengeID   string // "" for a console email
	CompanyID     string
	UserID        string
	App           App
	Send          int // which send of the challenge, 1…SendsPerChallenge
	Channel       Channel
	Destination   string
	CompanyName   string
	SealedCode    string
	CodeExpiresAt time.Time
	Status        DeliveryStatus
	Attempts      int
	NextAttemptAt time.Time
	LeaseUntil    time.Time // while a worker holds it
	LastError     string
	ProviderID    string
	CreatedAt     time.Time
	SentAt        time.Time
	Notice        string // a notification's Notice, in JSON
}

// sealBinding ties a sealed code to its message: a link's to its kind,
// user and time, a code's to its challenge, send and channel.
func (m OutboxMessage) sealBinding() string {
	if m.Kind == KindSetupLink || m.Kind == KindResetLink {
		return fmt.Sprintf("%s/%s/%d", m.Kind, m.UserID, m.CreatedAt.UnixMicro())
	}
	return fmt.Sprintf("%s/%d/%s", m.ChallengeID, m.Send, m.Channel)
}

// Message is what a sender needs to deliver one code or console link.
type Message struct {
	ID          int64
	Kind        MessageKind
	ChallengeID string
	Channel     Channel
	To          string
	Code        string // the code; a link's token
	CompanyName string
	App         App
	ExpiresAt   time.Time
	TTL         time.Duration // the code's whole lifetime, for "valid for 5 minutes"
	Attempt     int           // 1 for the first try
	CreatedAt   time.Time
	Notice      *Notice // a notification's text
}

// MaxDeliveryAttempts bounds the tries of one message. The code's expiry
// bounds them first in practice: a code is not sent after it expires.
const MaxDeliveryAttempts = 25

// ClaimMessages leases up to limit due messages for this worker and opens
// their codes. A message whose code expires before it could be sent fails
// at once: a late code is no use to anyone.
func (s *Outbox) ClaimMessages(ctx context.Context, limit int, lease time.Duration) ([]Message, error) {
	var out []Message
	err := s.update(ctx, func(tx Tx) error {
		out = out[:0]
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		claimed, err := tx.ClaimMessages(ctx, now, now.Add(lease), limit)
		if err != nil {
			return err
		}
		for _, m := range claimed {
			if !now.Before(m.CodeExpiresAt) {
				if err := s.failMessage(ctx, tx, m, now, "the code expired before it could be sent"); err != nil {
					return err
				}
				continue
			}
			if m.Kind == KindNotice {
				var n Notice
				if err := json.Unmarshal([]byte(m.Notice), &n); err != nil {
					if err := s.failMessage(ctx, tx, m, now, "the notice does not read: "+err.Error()); err != nil {
						return err
					}
					continue
				}
				out = append(out, Message{ID: m.ID, Kind: m.Kind, Channel: m.Channel, To: m.Destination,
					CompanyName: m.CompanyName, App: m.App, ExpiresAt: m.CodeExpiresAt, Attempt: m.Attempts,
					CreatedAt: m.CreatedAt, Notice: &n})
				continue
			}
			code, err := s.sealer.open(m.SealedCode, m.sealBinding())
			if err != nil {
				if err := s.failMessage(ctx, tx, m, now, err.Error()); err != nil {
					return err
				}
				continue
			}
			ttl := s.codeTTL
			if m.Kind != KindCode {
				ttl = m.CodeExpiresAt.Sub(m.CreatedAt)
			}
			out = append(out, Message{ID: m.ID, Kind: m.Kind, ChallengeID: m.ChallengeID, Channel: m.Channel, To: m.Destination, Code: code,
				CompanyName: m.CompanyName, App: m.App, ExpiresAt: m.CodeExpiresAt, TTL: ttl,
				Attempt: m.Attempts, CreatedAt: m.CreatedAt})
		}
		return nil
	})
	return out, err
}

// MessageSent records that a provider accepted a message.
func (s *Outbox) MessageSent(ctx context.Context, id int64, providerID string) error {
	return s.update(ctx, func(tx Tx) error {
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		if err := tx.FinishMessage(ctx, id, DeliverySent, providerID, "", now); !errors.Is(err, ErrNotFound) {
			return err
		}
		return nil // cancelled or recorded meanwhile
	})
}

// MessageFailed records a failed try. A temporary failure is tried again
// after retryIn, unless the tries are used up or the code would expire
// first; then, as after a permanent failure, the message fails for good.
func (s *Outbox) MessageFailed(ctx context.Context, id int64, reason string, permanent bool, retryIn time.Duration) error {
	reason = clip(reason, 300)
	return s.update(ctx, func(tx Tx) error {
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		m, err := tx.Message(ctx, id)
		if err != nil {
			return err
		}
		if m.Status != DeliveryQueued {
			return nil // cancelled or finished meanwhile
		}
		next := now.Add(retryIn)
		if permanent || m.Attempts >= MaxDeliveryAttempts || !next.Before(m.CodeExpiresAt) {
			return s.failMessage(ctx, tx, m, now, reason)
		}
		return tx.RetryMessage(ctx, id, next, reason)
	})
}

// failMessage ends a message as failed. A challenge whose SMS failed offers
// email when the policy has it as backup, and the failure is audited: a
// failed delivery fails closed, and the admins should know.
func (s *Outbox) failMessage(ctx context.Context, tx Tx, m OutboxMessage, now time.Time, reason string) error {
	if err := tx.FinishMessage(ctx, m.ID, DeliveryFailed, "", reason, now); errors.Is(err, ErrNotFound) {
		return nil // cancelled or recorded meanwhile: nothing to record
	} else if err != nil {
		return err
	}
	switch m.Kind {
	case KindNotice:
		return nil // the audit log records notifications sent, not those that could not be
	case KindSetupLink, KindResetLink:
		return s.accounts.linkFailed(ctx, tx, m, now, reason)
	}
	ch, err := tx.ChallengeForUpdate(ctx, m.ChallengeID)
	if err != nil {
		return err
	}
	if m.Channel == ChannelSMS && !ch.SMSFailed {
		next := ch
		next.SMSFailed = true
		if err := tx.UpdateChallenge(ctx, ch, next); err != nil {
			return err
		}
	}
	u, err := tx.User(ctx, m.CompanyID, m.UserID)
	if err != nil {
		return err
	}
	if err := s.audit(ctx, tx, Caller{}, AuditEvent{
		CompanyID: m.CompanyID, Time: now, Actor: systemActor, Action: ActionDeliveryFailed,
		TargetID: u.ID, TargetName: u.Name, App: m.App,
		Details: details(map[string]any{"channel": m.Channel, "reason": reason}),
	}); err != nil {
		return err
	}
	return s.emitChallenge(ctx, tx, EventChallengeDeliveryFailed, ch, u, now, challengeData{Channel: string(m.Channel), Reason: reason})
}

// OutboxDepth counts the messages waiting to be sent.
func (s *Outbox) OutboxDepth(ctx context.Context) (int, error) {
	var n int
	err := s.view(ctx, func(tx Tx) error {
		var err error
		n, err = tx.OutboxDepth(ctx)
		return err
	})
	return n, err
}

// clip cuts s to at most n bytes of valid UTF-8 on one line, without
// control characters: it may hold what a provider or an endpoint answered,
// which a database's text column may refuse.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "")
	}
	return s
}
