package twostep

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// Events are what Twostep tells the world: every audit event, and two
// things of sign-ins that are not audited (an approval, a code that
// could not be delivered). Each commits with its change, in the same
// transaction, and goes out twice: in the pull feed (GET /v1/events) and
// to the event endpoints that want it (events_delivery.go).

// EventType names an event.
type EventType string

// The event types that are not audit actions; every audit action is an
// event type of the same name too.
const (
	EventChallengeApproved       EventType = "challenge.approved"
	EventChallengeDeliveryFailed EventType = "challenge.delivery_failed"
)

// EventTypes lists every event type.
func EventTypes() []EventType {
	out := make([]EventType, 0, len(Actions)+2)
	for _, a := range Actions {
		out = append(out, EventType(a))
	}
	return append(out, EventChallengeApproved, EventChallengeDeliveryFailed)
}

// ParseEventType checks an event type's name.
func ParseEventType(field, s string) (EventType, error) {
	if t := EventType(s); slices.Contains(EventTypes(), t) {
		return t, nil
	}
	return "", Invalid(field, "%q is not a known event type", s)
}

// Event is one entry of the feed. Seq is its place in the feed: the order
// in which events committed, the same for every reader; a reader that has
// seen Seq s has seen every event before it.
type Event struct {
	Seq       int64
	ID        string // an audit event's id, for one of those
	CompanyID string
	Type      EventType
	Time      time.Time
	Data      json.RawMessage
}

// EventStore keeps the feed.
type EventStore interface {
	// InsertEvent adds e to the feed; the store gives it its Seq when the
	// transaction commits (on PostgreSQL, when SequenceEvents next runs).
	InsertEvent(ctx context.Context, e Event) error
	// Events returns up to limit events with Seq > after, oldest first,
	// of one company ("" for all).
	Events(ctx context.Context, companyID string, after int64, limit int) ([]Event, error)
	// LastEventSeq is the newest event's Seq (0 for none).
	LastEventSeq(ctx context.Context) (int64, error)
	// Unsequenced reports events that wait for their Seq.
	Unsequenced(ctx context.Context) (bool, error)
	// SequenceEvents gives up to limit committed events their Seq, in the
	// order they were inserted, and says how many it did. It holds the
	// sequence until the transaction ends, so that sequencers take turns.
	SequenceEvents(ctx context.Context, limit int) (int, error)
}

// eventsTx is all the Events part's transactions touch: the feed, the
// endpoints, the clock and a company's existence.
type eventsTx interface {
	Now(ctx context.Context) (time.Time, error)
	Company(ctx context.Context, id string) (Company, error)
	EventStore
	EndpointStore
}

// update and view run the Events part's transactions on eventsTx alone.
func (s *Events) update(ctx context.Context, fn func(eventsTx) error) error {
	return s.core.update(ctx, func(tx Tx) error { return fn(tx) })
}

func (s *Events) view(ctx context.Context, fn func(eventsTx) error) error {
	return s.core.view(ctx, func(tx Tx) error { return fn(tx) })
}

// FeedPage is one page of the feed and where the next begins.
type FeedPage struct {
	Events []Event
	// Next is the cursor to read on from: after the last event of this
	// page, or where the caller was when there is nothing new.
	Next string
}

// feedCursor is the position in the feed a cursor holds.
type feedCursor struct {
	Seq int64 `json:"s"`
}

// Feed returns the events the caller may see after the cursor, oldest
// first: every company's for an operator key, its own for a company's.
func (s *Events) Feed(ctx context.Context, c Caller, cursor string, limit int) (FeedPage, error) {
	limit, err := checkLimit(limit)
	if err != nil {
		return FeedPage{}, err
	}
	var after feedCursor
	if cursor != "" {
		if err := DecodeCursor(cursor, &after); err != nil {
			return FeedPage{}, Invalid("after", "after is not valid; use next_cursor from the previous page")
		}
	}
	page := FeedPage{Next: cursor}
	err = s.view(ctx, func(tx eventsTx) error {
		var err error
		page.Events, err = tx.Events(ctx, c.Scope, after.Seq, limit)
		return err
	})
	if n := len(page.Events); n > 0 {
		page.Next = EncodeCursor(feedCursor{page.Events[n-1].Seq})
	}
	return page, err
}

// auditData is an audit event as an event's data: the audit log's API
// shape without the company, time and id, which the event carries.
type auditData struct {
	Actor     Actor           `json:"actor"`
	Action    Action          `json:"action"`
	Target    *eventTarget    `json:"target,omitempty"`
	App       App             `json:"app,omitempty"`
	Details   json.RawMessage `json:"details,omitempty"`
	IP        string          `json:"ip,omitempty"`
	UserAgent string          `json:"user_agent,omitempty"`
}

type eventTarget struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
}

// emitAudit adds an audit event to the feed, under the audit event's id.
func emitAudit(ctx context.Context, tx EventStore, e AuditEvent) error {
	d := auditData{Actor: e.Actor, Action: e.Action, App: e.App, Details: e.Details, IP: e.IP, UserAgent: e.UserAgent}
	if e.TargetID != "" {
		d.Target = &eventTarget{UserID: e.TargetID, Name: e.TargetName}
	}
	return tx.InsertEvent(ctx, Event{ID: e.ID, CompanyID: e.CompanyID, Type: EventType(e.Action), Time: e.Time, Data: details(d)})
}

// challengeData is a sign-in event's data.
type challengeData struct {
	ChallengeID string `json:"challenge_id"`
	UserID      string `json:"user_id"`
	ExternalID  string `json:"external_id,omitempty"`
	App         App    `json:"app"`
	Method      Method `json:"method,omitempty"`
	Channel     string `json:"channel,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// emitChallenge adds a sign-in's event to the feed.
func (s *core) emitChallenge(ctx context.Context, tx EventStore, t EventType, ch Challenge, u User, at time.Time, d challengeData) error {
	id, err := newID(s.rand, prefixEvent)
	if err != nil {
		return err
	}
	d.ChallengeID, d.UserID, d.ExternalID, d.App = ch.ID, ch.UserID, u.ExternalID, ch.App
	return tx.InsertEvent(ctx, Event{ID: id, CompanyID: ch.CompanyID, Type: t, Time: at, Data: details(d)})
}
