package twostep

import (
	"context"
	"encoding/json"
	"time"
)

// Delivering events to endpoints. The feed is the outbox: an event
// committed with its change is in it for good. Each endpoint keeps a
// position in the feed (AfterSeq); the instance holding the endpoint's
// lease queues the events after it as pending deliveries, and POSTs them
// in Seq order per company: a company's next event waits until the one
// before it was delivered or given up on. A failed try is tried again
// after a backoff for DeliveryWindow; the other companies' deliveries
// and the other endpoints go on meanwhile.

// EventDeliveryStatus is where an event's delivery to an endpoint stands.
type EventDeliveryStatus string

// The event delivery statuses.
const (
	EventPending   EventDeliveryStatus = "pending"
	EventDelivered EventDeliveryStatus = "delivered"
	EventFailed    EventDeliveryStatus = "failed" // not delivered within DeliveryWindow
)

// DeliveryWindow is how long an event is tried at an endpoint, from when
// it was queued for it: behind a dead endpoint, the events older than
// that are given up one try each, not a day each.
const DeliveryWindow = 24 * time.Hour

// EventDelivery is one event's delivery to one endpoint, and its log.
type EventDelivery struct {
	EndpointID     string
	Seq            int64
	EventID        string
	CompanyID      string
	Type           EventType
	Status         EventDeliveryStatus
	Attempts       int
	NextAttemptAt  time.Time
	FirstAttemptAt time.Time
	LastAttemptAt  time.Time
	LastStatusCode int
	LastError      string
	Latency        time.Duration
	CreatedAt      time.Time
}

// DueDelivery is a pending delivery with its event's time and data.
type DueDelivery struct {
	EventDelivery
	Time time.Time
	Data json.RawMessage // nil when the event is no longer kept
}

// OutgoingEvent is an event ready to POST: its body is the same bytes on
// every try, and its id is the webhook-id.
type OutgoingEvent struct {
	Delivery EventDelivery
	ID       string
	Body     []byte
}

// EndpointWork is what an endpoint's deliverer has to send now: the
// pending deliveries, oldest first, of the companies not waiting for a
// retry.
type EndpointWork struct {
	URL    string
	Secret string
	Events []OutgoingEvent
}

// DeliveryTry is the outcome of one POST.
type DeliveryTry struct {
	Delivery   EventDelivery
	StatusCode int // 0 when there was no answer
	Err        string
	Latency    time.Duration
	RetryIn    time.Duration // the backoff, should the try have failed
	// NotSent: the delivery was given up without a try (its event is
	// gone, or its day has passed); it counts no attempt.
	NotSent bool
}

// OK reports a delivered event: any 2xx answer.
func (t DeliveryTry) OK() bool { return t.Err == "" && t.StatusCode >= 200 && t.StatusCode < 300 }

// sequenceBatch bounds the events one sequencing transaction numbers.
const sequenceBatch = 1000

// SequenceEvents gives the committed events their place in the feed and
// says how many it placed. On SQLite, where the one writer's order is the
// order of commit, there is nothing to do.
func (s *Events) SequenceEvents(ctx context.Context) (int, error) {
	var some bool
	if err := s.view(ctx, func(tx eventsTx) error {
		var err error
		some, err = tx.Unsequenced(ctx)
		return err
	}); err != nil || !some {
		return 0, err
	}
	total := 0
	for range 20 {
		var n int
		if err := s.update(ctx, func(tx eventsTx) error {
			var err error
			n, err = tx.SequenceEvents(ctx, sequenceBatch)
			return err
		}); err != nil {
			return total, err
		}
		total += n
		if n < sequenceBatch {
			break
		}
	}
	return total, nil
}

// FreeEventEndpoints lists the endpoints no other deliverer holds, for
// owner to take.
func (s *Events) FreeEventEndpoints(ctx context.Context, owner string) ([]string, error) {
	var ids []string
	err := s.view(ctx, func(tx eventsTx) error {
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		all, err := tx.EventEndpoints(ctx)
		for _, e := range all {
			if e.LeaseOwner == owner || !now.Before(e.LeaseUntil) {
				ids = append(ids, e.ID)
			}
		}
		return err
	})
	return ids, err
}

// LeaseEventEndpoint makes owner the one deliverer of an endpoint for d,
// if no other holds it, and says whether it is owner's. A d of 0 lets the
// endpoint go, for another instance to take at once.
func (s *Events) LeaseEventEndpoint(ctx context.Context, id, owner string, d time.Duration) (bool, error) {
	var ok bool
	err := s.update(ctx, func(tx eventsTx) error {
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		ok, err = tx.LeaseEventEndpoint(ctx, id, owner, now, now.Add(d))
		return err
	})
	return ok, err
}

// queueBatch bounds the feed's events queued for an endpoint at a time.
const queueBatch = 1000

// NextEvents queues for an endpoint the events it has not seen yet, and
// returns up to limit it may send now. An endpoint that is gone is
// ErrNotFound; one whose lease owner has lost is ErrConflict.
func (s *Events) NextEvents(ctx context.Context, id, owner string, limit int) (EndpointWork, error) {
	var (
		e    EventEndpoint
		last int64
		now  time.Time
		due  []DueDelivery
	)
	// One read when there is nothing new to queue: the endpoint, the
	// feed's end and what is due.
	read := func(tx eventsTx) error {
		var err error
		if e, err = tx.EventEndpoint(ctx, id); err != nil {
			return err
		}
		if last, err = tx.LastEventSeq(ctx); err != nil {
			return err
		}
		if now, err = tx.Now(ctx); err != nil {
			return err
		}
		due, err = tx.DueDeliveries(ctx, id, now, limit)
		return err
	}
	if err := s.view(ctx, read); err != nil {
		return EndpointWork{}, err
	}
	if last > e.AfterSeq {
		if err := s.queue(ctx, e, owner, last); err != nil {
			return EndpointWork{}, err
		}
		if err := s.view(ctx, read); err != nil {
			return EndpointWork{}, err
		}
	}
	work := EndpointWork{URL: e.URL}
	var err error
	if work.Secret, err = s.sealer.open(e.SealedSecret, "endpoint/"+e.ID); err != nil {
		return EndpointWork{}, err
	}
	var gone []DeliveryTry
	for _, d := range due {
		switch {
		case d.Data == nil:
			gone = append(gone, DeliveryTry{Delivery: d.EventDelivery, Err: "the event is no longer kept", NotSent: true})
			continue
		case !now.Before(d.CreatedAt.Add(DeliveryWindow)):
			// Behind a dead endpoint a backlog outlives its day: it is
			// given up at once, not tried one event a backoff at a time.
			gone = append(gone, DeliveryTry{Delivery: d.EventDelivery, Err: "not delivered within 24 hours", NotSent: true})
			continue
		}
		work.Events = append(work.Events, OutgoingEvent{Delivery: d.EventDelivery, ID: d.EventID, Body: eventBody(d)})
	}
	if len(gone) > 0 {
		err = s.record(ctx, gone, true)
	}
	return work, err
}

// queue turns the feed's events after the endpoint's position, up to
// last (the feed's end when the caller looked), into the endpoint's
// pending deliveries, a batch at a time.
func (s *Events) queue(ctx context.Context, e EventEndpoint, owner string, last int64) error {
	return s.update(ctx, func(tx eventsTx) error {
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		return tx.QueueDeliveries(ctx, e, owner, min(last, e.AfterSeq+queueBatch), now)
	})
}

// eventBody is an event as an endpoint receives it and the feed shows it.
func eventBody(d DueDelivery) []byte {
	b, _ := json.Marshal(EventJSON(Event{ID: d.EventID, CompanyID: d.CompanyID, Type: d.Type, Time: d.Time, Data: d.Data}))
	return b
}

// EventJSON is an event's JSON shape, in the feed and at endpoints.
func EventJSON(e Event) any {
	return struct {
		ID        string          `json:"id"`
		Type      EventType       `json:"type"`
		Time      string          `json:"time"`
		CompanyID string          `json:"company_id"`
		Data      json.RawMessage `json:"data"`
	}{e.ID, e.Type, e.Time.UTC().Format(time.RFC3339Nano), e.CompanyID, e.Data}
}

// RecordDeliveries stores the outcomes of an endpoint's tries: a 2xx
// delivers an event; anything else is tried again after its backoff,
// until DeliveryWindow after the event was queued.
func (s *Events) RecordDeliveries(ctx context.Context, tries []DeliveryTry) error {
	return s.record(ctx, tries, false)
}

// record stores tries' outcomes; with final, a try that failed is not
// tried again.
func (s *Events) record(ctx context.Context, tries []DeliveryTry, final bool) error {
	return s.update(ctx, func(tx eventsTx) error {
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		ds := make([]EventDelivery, len(tries))
		for i, t := range tries {
			d := t.Delivery
			if t.NotSent {
				d.Status, d.LastError = EventFailed, clip(t.Err, 300)
				ds[i] = d
				continue
			}
			d.Attempts++
			d.LastAttemptAt, d.LastStatusCode, d.Latency, d.LastError = now, t.StatusCode, t.Latency, clip(t.Err, 300)
			if d.FirstAttemptAt.IsZero() {
				d.FirstAttemptAt = now
			}
			switch {
			case t.OK():
				d.Status, d.LastError = EventDelivered, ""
			case final || !now.Before(d.CreatedAt.Add(DeliveryWindow)):
				d.Status = EventFailed
			default:
				d.NextAttemptAt = now.Add(t.RetryIn)
			}
			ds[i] = d
		}
		return tx.SaveDeliveries(ctx, ds)
	})
}
