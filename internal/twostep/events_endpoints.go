package twostep

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// EventEndpoint is an operator's URL that receives events as Standard
// Webhooks (https://www.standardwebhooks.com): signed POSTs, one event
// each, in order per company, retried for DeliveryWindow.
type EventEndpoint struct {
	ID        string
	URL       string
	CompanyID string      // "" for every company
	Types     []EventType // empty for every type
	CreatedAt time.Time
	// SealedSecret is the signing secret, sealed with the outbox key: it
	// is needed in clear to sign, so it cannot be kept as a hash.
	SealedSecret string
	// AfterSeq is how far the feed has been queued for this endpoint.
	AfterSeq int64
	// The deliverer that holds the endpoint, until when.
	LeaseOwner string
	LeaseUntil time.Time
}

// EndpointInput is what a new endpoint is made from.
type EndpointInput struct {
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	CompanyID string   `json:"company_id"`
}

// EndpointStore keeps event endpoints and their deliveries.
type EndpointStore interface {
	CreateEventEndpoint(ctx context.Context, e EventEndpoint) error
	EventEndpoint(ctx context.Context, id string) (EventEndpoint, error)
	// EventEndpoints lists every endpoint, oldest first.
	EventEndpoints(ctx context.Context) ([]EventEndpoint, error)
	DeleteEventEndpoint(ctx context.Context, id string) error
	// LeaseEventEndpoint gives the endpoint to owner until the given time,
	// when it is free at now or already owner's, and says whether it did.
	LeaseEventEndpoint(ctx context.Context, id, owner string, now, until time.Time) (bool, error)
	// QueueDeliveries makes pending deliveries, due at the given time, of
	// the events the endpoint wants with Seq in (e.AfterSeq, upTo], and
	// moves its AfterSeq to upTo, while its AfterSeq is still e's and
	// owner holds it; else ErrConflict, and nothing changes.
	QueueDeliveries(ctx context.Context, e EventEndpoint, owner string, upTo int64, at time.Time) error
	// DueDeliveries returns up to limit pending deliveries, oldest first,
	// of the companies whose oldest pending delivery is due at now, with
	// their events ("" data for an event no longer kept).
	DueDeliveries(ctx context.Context, endpointID string, now time.Time, limit int) ([]DueDelivery, error)
	// SaveDeliveries stores tries' outcomes, in one statement, of the
	// deliveries that are still pending; the rest stay as they are.
	SaveDeliveries(ctx context.Context, ds []EventDelivery) error
	// EventDeliveries returns an endpoint's deliveries newest first, with
	// Seq < before (0 for the newest).
	EventDeliveries(ctx context.Context, endpointID string, before int64, limit int) ([]EventDelivery, error)
}

// Endpoints need an operator key: they see every company's events.
var errOperatorOnly = &Error{Code: CodeForbidden, Message: "event endpoints can be managed only with an operator API key (one not limited to a company)"}

// maxEndpoints bounds the endpoints of one Twostep: each is polled.
const maxEndpoints = 100

// secretPrefix marks a Standard Webhooks signing secret.
const secretPrefix = "whsec_"

// CreateEventEndpoint adds an endpoint that receives the events from now
// on, and returns it with its signing secret, shown this once.
func (s *Events) CreateEventEndpoint(ctx context.Context, c Caller, in EndpointInput) (EventEndpoint, string, error) {
	if !c.operator() {
		return EventEndpoint{}, "", errOperatorOnly
	}
	e := EventEndpoint{CompanyID: strings.TrimSpace(in.CompanyID)}
	var err error
	if e.URL, err = checkEndpointURL(in.URL); err != nil {
		return EventEndpoint{}, "", err
	}
	for _, t := range in.Events {
		typ, err := ParseEventType("events", t)
		if err != nil {
			return EventEndpoint{}, "", err
		}
		if !slices.Contains(e.Types, typ) {
			e.Types = append(e.Types, typ)
		}
	}
	if e.ID, err = newID(s.rand, "whe_"); err != nil {
		return EventEndpoint{}, "", err
	}
	raw := make([]byte, 32)
	if _, err := io.ReadFull(s.rand, raw); err != nil {
		return EventEndpoint{}, "", err
	}
	secret := secretPrefix + base64.StdEncoding.EncodeToString(raw)
	if e.SealedSecret, err = s.sealer.seal(s.rand, secret, "endpoint/"+e.ID); err != nil {
		return EventEndpoint{}, "", err
	}
	err = s.update(ctx, func(tx eventsTx) error {
		if e.CompanyID != "" {
			if _, err := tx.Company(ctx, e.CompanyID); errors.Is(err, ErrNotFound) {
				return Invalid("company_id", "company_id must be the id of a company")
			} else if err != nil {
				return err
			}
		}
		all, err := tx.EventEndpoints(ctx)
		if err != nil {
			return err
		}
		if len(all) >= maxEndpoints {
			return &Error{Code: CodeConflict, Message: "there are already 100 event endpoints; delete one first"}
		}
		if e.CreatedAt, err = tx.Now(ctx); err != nil {
			return err
		}
		if e.AfterSeq, err = tx.LastEventSeq(ctx); err != nil {
			return err
		}
		return tx.CreateEventEndpoint(ctx, e)
	})
	if err != nil {
		return EventEndpoint{}, "", err
	}
	return e, secret, nil
}

// checkEndpointURL allows https URLs, and http ones to this machine (for
// development): events carry names and email addresses.
func checkEndpointURL(raw string) (string, error) {
	bad := func(why string) (string, error) { return "", Invalid("url", "url %s", why) }
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 2000 {
		return bad("must be an https:// URL of at most 2000 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" || u.Opaque != "" {
		return bad("must be an https:// URL")
	}
	if u.User != nil || u.Fragment != "" {
		return bad("must not hold a user name, password or #fragment")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !LoopbackHost(u.Hostname()) {
			return bad("must be https://, or http:// to a loopback address (localhost, 127.0.0.1, [::1])")
		}
	default:
		return bad("must be an https:// URL")
	}
	return u.String(), nil
}

// LoopbackHost reports a host that is this machine: localhost or a
// loopback IP (an IPv4-mapped one too).
func LoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Unmap().IsLoopback()
}

// EventEndpoints lists the endpoints.
func (s *Events) EventEndpoints(ctx context.Context, c Caller) ([]EventEndpoint, error) {
	if !c.operator() {
		return nil, errOperatorOnly
	}
	var out []EventEndpoint
	err := s.view(ctx, func(tx eventsTx) error {
		var err error
		out, err = tx.EventEndpoints(ctx)
		return err
	})
	return out, err
}

// DeleteEventEndpoint removes an endpoint and its deliveries: nothing
// more is sent to it.
func (s *Events) DeleteEventEndpoint(ctx context.Context, c Caller, id string) error {
	if !c.operator() {
		return errOperatorOnly
	}
	return s.update(ctx, func(tx eventsTx) error {
		if _, err := tx.EventEndpoint(ctx, id); errors.Is(err, ErrNotFound) {
			return NotFound("event endpoint")
		} else if err != nil {
			return err
		}
		return tx.DeleteEventEndpoint(ctx, id)
	})
}

// deliveryCursor is where a page of the delivery log ends: the next page
// has the deliveries of older events.
type deliveryCursor struct {
	Before int64 `json:"b"`
}

// DeliveryPage is a page of an endpoint's delivery log.
type DeliveryPage struct {
	Deliveries []EventDelivery
	Next       string // "" on the last page
}

// EventDeliveries reads an endpoint's delivery log, newest first.
func (s *Events) EventDeliveries(ctx context.Context, c Caller, id, cursor string, limit int) (DeliveryPage, error) {
	if !c.operator() {
		return DeliveryPage{}, errOperatorOnly
	}
	limit, err := checkLimit(limit)
	if err != nil {
		return DeliveryPage{}, err
	}
	var before deliveryCursor
	if cursor != "" {
		if err := DecodeCursor(cursor, &before); err != nil {
			return DeliveryPage{}, err
		}
	}
	var page DeliveryPage
	err = s.view(ctx, func(tx eventsTx) error {
		if _, err := tx.EventEndpoint(ctx, id); errors.Is(err, ErrNotFound) {
			return NotFound("event endpoint")
		} else if err != nil {
			return err
		}
		ds, err := tx.EventDeliveries(ctx, id, before.Before, limit+1)
		if len(ds) > limit {
			ds = ds[:limit]
			page.Next = EncodeCursor(deliveryCursor{ds[limit-1].Seq})
		}
		page.Deliveries = ds
		return err
	})
	return page, err
}
