package twostep

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Notifications are emails that tell people what happened to an account:
// the user, when they are locked out or their authenticators change (as
// NIST SP 800-63B-4 asks), and the company's responsible person, when a
// user is stuck. They follow from audit events, in the audit event's
// transaction, and go through the outbox like codes; at most one per
// user, kind and recipient in NoticeEvery. A notice holds no secret.

// NoticeKind names what a notification is about.
type NoticeKind string

// The notification kinds.
const (
	NoticeLocked                 NoticeKind = "locked"
	NoticeFailedAttempts         NoticeKind = "failed_attempts"
	NoticeAuthenticatorAdded     NoticeKind = "authenticator_added"
	NoticeAuthenticatorRemoved   NoticeKind = "authenticator_removed"
	NoticeRecoveryCodesGenerated NoticeKind = "recovery_codes_generated"
	NoticeRecoveryCodeUsed       NoticeKind = "recovery_code_used"
	NoticeDevicesRevoked         NoticeKind = "devices_revoked"
)

// Recipient says who a notification is for.
type Recipient string

// The recipients.
const (
	RecipientUser        Recipient = "user"
	RecipientResponsible Recipient = "responsible"
)

// NoticeEvery is the least time between two notifications of one kind
// about one user to one recipient.
const NoticeEvery = time.Hour

// noticeLifetime is how long a notification is tried: a day-old "you are
// locked" is no use.
const noticeLifetime = 24 * time.Hour

// Notice is what a notification says: enough to name the company (the
// message's), the user, the app, the time and what to do.
type Notice struct {
	Kind      NoticeKind      `json:"kind"`
	Recipient Recipient       `json:"recipient"`
	Name      string          `json:"name"` // the recipient's
	UserName  string          `json:"user_name"`
	UserEmail string          `json:"user_email,omitempty"`
	App       App             `json:"app,omitempty"`
	At        time.Time       `json:"at"`
	Details   json.RawMessage `json:"details,omitempty"` // the audit event's
	Contact   Contact         `json:"contact"`           // whom the user may ask for help
}

// NotifyResponsible says which of a user's troubles the company's
// responsible person hears of.
type NotifyResponsible struct {
	FailedAttempts bool `json:"failed_attempts"`
	Locked         bool `json:"locked"`
}

// NotifyResponsiblePatch is a partial update of NotifyResponsible.
type NotifyResponsiblePatch struct {
	FailedAttempts Optional[bool] `json:"failed_attempts"`
	Locked         Optional[bool] `json:"locked"`
}

// applyNotify applies the patch's notify_responsible to next.
func (p SettingsPatch) applyNotify(next *Settings, general func(field string, from, to any)) error {
	n, ok, err := p.NotifyResponsible.required("notify_responsible")
	if err != nil || !ok {
		return err
	}
	return applyBools([]boolField{
		{"notify_responsible.failed_attempts", n.FailedAttempts, &next.NotifyResponsible.FailedAttempts},
		{"notify_responsible.locked", n.Locked, &next.NotifyResponsible.Locked},
	}, general)
}

// noticesOf says which notifications an audit action sends.
func noticesOf(a Action, s Settings) (kind NoticeKind, toUser, toResponsible bool) {
	switch a {
	case ActionTwoFALocked:
		return NoticeLocked, true, s.NotifyResponsible.Locked
	case ActionTwoFAFailedAttempts:
		return NoticeFailedAttempts, false, s.NotifyResponsible.FailedAttempts
	case ActionAuthenticatorAdded:
		return NoticeAuthenticatorAdded, true, false
	case ActionAuthenticatorRemoved:
		return NoticeAuthenticatorRemoved, true, false
	case ActionRecoveryCodesGenerated:
		return NoticeRecoveryCodesGenerated, true, false
	case ActionRecoveryCodeUsed:
		return NoticeRecoveryCodeUsed, true, false
	case ActionDevicesRevoked:
		return NoticeDevicesRevoked, true, false
	}
	return "", false, false
}

// notify queues the notifications an audit event sends.
func (s *core) notify(ctx context.Context, tx Tx, e AuditEvent) error {
	if e.TargetID == "" {
		return nil
	}
	switch e.Action {
	case ActionTwoFALocked, ActionTwoFAFailedAttempts, ActionAuthenticatorAdded, ActionAuthenticatorRemoved,
		ActionRecoveryCodesGenerated, ActionRecoveryCodeUsed, ActionDevicesRevoked:
	default:
		return nil // no read of the company for the rest
	}
	co, err := tx.Company(ctx, e.CompanyID)
	if err != nil {
		return err
	}
	kind, toUser, toResponsible := noticesOf(e.Action, co.Settings)
	u, err := tx.User(ctx, e.CompanyID, e.TargetID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	contact := co.Settings.ResponsibleContact
	n := Notice{Kind: kind, UserName: u.Name, App: e.App, At: e.Time, Details: e.Details, Contact: contact}
	toUser = toUser && u.Email != ""
	if toUser {
		n.Recipient, n.Name = RecipientUser, u.Name
		if err := s.queueNotice(ctx, tx, co, u, n, u.Email); err != nil {
			return err
		}
	}
	// The responsible person who is the user hears it once.
	if toResponsible && contact.Email != "" && !(toUser && strings.EqualFold(contact.Email, u.Email)) {
		n.Recipient, n.Name, n.UserEmail = RecipientResponsible, contact.Name, u.Email
		if err := s.queueNotice(ctx, tx, co, u, n, contact.Email); err != nil {
			return err
		}
	}
	return nil
}

// queueNotice puts a notification in the outbox, unless one of its kind
// about the user went to the recipient within NoticeEvery.
func (s *core) queueNotice(ctx context.Context, tx Tx, co Company, u User, n Notice, to string) error {
	key := "notice:" + u.ID + ":" + string(n.Kind) + ":" + string(n.Recipient)
	hits, err := tx.RateHits(ctx, key)
	if err != nil {
		return err
	}
	if h := hits[0]; len(h) > 0 && n.At.Sub(h[len(h)-1]) < NoticeEvery {
		return nil
	}
	if err := tx.SaveRateHits(ctx, []string{key}, [][]time.Time{{n.At}}, n.At.Add(NoticeEvery)); err != nil {
		return err
	}
	body, err := json.Marshal(n)
	if err != nil {
		return err
	}
	_, err = tx.EnqueueMessage(ctx, OutboxMessage{Kind: KindNotice, CompanyID: co.ID, UserID: u.ID, App: n.App,
		Channel: ChannelEmail, Destination: to, CompanyName: co.Name, Notice: string(body),
		CodeExpiresAt: n.At.Add(noticeLifetime), Status: DeliveryQueued, NextAttemptAt: n.At, CreatedAt: n.At})
	return err
}

// NoticeSent records that a notification went out, in the audit log of
// the user's company: who was told what.
func (s *Outbox) NoticeSent(ctx context.Context, id int64, providerID string) error {
	return s.update(ctx, func(tx Tx) error {
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		m, err := tx.Message(ctx, id)
		if err != nil {
			return err
		}
		// Of two workers recording one notice, one finishes and audits it.
		if err := tx.FinishMessage(ctx, id, DeliverySent, providerID, "", now); errors.Is(err, ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		var n Notice
		if err := json.Unmarshal([]byte(m.Notice), &n); err != nil {
			return err
		}
		return s.audit(ctx, tx, Caller{}, AuditEvent{
			CompanyID: m.CompanyID, Time: now, Actor: systemActor, Action: ActionNotificationSent,
			TargetID: m.UserID, TargetName: n.UserName, App: m.App,
			Details: details(map[string]any{"notice": n.Kind, "recipient": n.Recipient, "to": m.Destination, "name": n.Name}),
		})
	})
}
