package twostep_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

// TestEventFeedOfAService: the feed holds every audit event under its id
// and the approvals, oldest first, and a company's key sees its own.
func TestEventFeedOfAService(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		s := newSignIn(t, url, smsFirst, anna)
		v := s.start(t)
		if _, r := s.verify(t, v.ID, s.code(t, v.ID)); r != twostep.ResultApproved {
			t.Fatal("not approved")
		}
		other := s.company(t, "Other")
		if _, err := s.svc.SequenceEvents(s.ctx); err != nil {
			t.Fatal(err)
		}
		page, err := s.svc.Feed(s.ctx, s.platform, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		var types []twostep.EventType
		for _, e := range page.Events {
			types = append(types, e.Type)
		}
		want := []twostep.EventType{"settings.general_changed", "settings.general_changed", "settings.general_changed",
			"user.created", "challenge.approved"}
		if !slices.Equal(types, want) {
			t.Fatalf("feed %v, want %v", types, want)
		}
		log := s.events(t, s.co.ID)
		approved := string(page.Events[4].Data)
		if page.Events[3].ID != log[0].ID || page.Events[4].CompanyID != s.co.ID ||
			!strings.Contains(approved, `"challenge_id":"`+v.ID+`"`) || !strings.Contains(approved, `"method":"sms"`) {
			t.Fatalf("feed: user.created %s (audit %s), approval %s", page.Events[3].ID, log[0].ID, approved)
		}
		// Read on from the cursor: nothing new, and the cursor stays.
		again, err := s.svc.Feed(s.ctx, s.platform, page.Next, 2)
		if err != nil || len(again.Events) != 0 || again.Next != page.Next {
			t.Fatalf("reading on: %+v %v", again, err)
		}
		scoped := twostep.Caller{KeyID: "key_other", Scope: other.ID}
		if p, err := s.svc.Feed(s.ctx, scoped, "", 0); err != nil || len(p.Events) != 0 {
			t.Fatalf("another company's key: %+v %v", p, err)
		}
		_, err = s.svc.Feed(s.ctx, s.platform, "not a cursor", 0)
		wantCode(t, err, twostep.CodeInvalidValue, "after")
	})
}

// TestEventDeliveryGivesUpAfterADay: an event that an endpoint keeps
// refusing is tried with backoff, its company's next event waiting behind
// it, until a day after it was queued; then it is failed and the next
// goes.
func TestEventDeliveryGivesUpAfterADay(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		f := newFixture(t, url)
		ep, secret, err := f.svc.CreateEventEndpoint(f.ctx, f.platform, twostep.EndpointInput{URL: "https://siem.example.com/in"})
		if err != nil || !strings.HasPrefix(secret, "whsec_") {
			t.Fatalf("endpoint: %v %q", err, secret)
		}
		co := f.company(t, "Acme")
		change := func(name string) {
			t.Helper()
			if _, err := f.svc.UpdateSettings(f.ctx, f.platform, co.ID, patch(t, `{"responsible_contact":{"name":"`+name+`"}}`)); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.SequenceEvents(f.ctx); err != nil {
				t.Fatal(err)
			}
		}
		if ok, err := f.svc.LeaseEventEndpoint(f.ctx, ep.ID, "me", 48*time.Hour); !ok || err != nil {
			t.Fatalf("lease: %v %v", ok, err)
		}
		next := func() []twostep.OutgoingEvent {
			t.Helper()
			w, err := f.svc.NextEvents(f.ctx, ep.ID, "me", 10)
			if err != nil || w.Secret != secret || w.URL != ep.URL {
				t.Fatalf("next events: %+v %v", w, err)
			}
			return w.Events
		}
		try := func(ev twostep.OutgoingEvent, status int) {
			t.Helper()
			tr := twostep.DeliveryTry{Delivery: ev.Delivery, StatusCode: status, Latency: time.Millisecond, RetryIn: time.Minute}
			if status >= 300 {
				tr.Err = "the endpoint answered " + fmt.Sprint(status)
			}
			if err := f.svc.RecordDeliveries(f.ctx, []twostep.DeliveryTry{tr}); err != nil {
				t.Fatal(err)
			}
		}
		change("Rita")
		evs := next()
		if len(evs) != 1 {
			t.Fatalf("%d events to send, want the change", len(evs))
		}
		first := evs[0]
		try(first, 503)
		if evs := next(); len(evs) != 0 {
			t.Fatalf("while it waits for its retry: %d due", len(evs))
		}
		// 23 hours on, a second change waits behind the first's retry.
		f.clock.Advance(23 * time.Hour)
		change("Rita Berg")
		evs = next()
		if len(evs) != 2 || evs[0].ID != first.ID || evs[0].Delivery.Attempts != 1 {
			t.Fatalf("after the backoff: %d due, want the first then the second", len(evs))
		}
		try(evs[0], 503)
		// A day after it was queued, the first is given up without another
		// try, and the second goes.
		f.clock.Advance(2 * time.Hour)
		evs = next()
		if len(evs) != 1 || evs[0].ID == first.ID {
			t.Fatalf("a day later: %+v, want only the second", evs)
		}
		try(evs[0], 204)
		page, err := f.svc.EventDeliveries(f.ctx, f.platform, ep.ID, "", 0)
		if err != nil || len(page.Deliveries) != 2 || page.Deliveries[0].Status != twostep.EventDelivered ||
			page.Deliveries[1].Status != twostep.EventFailed || page.Deliveries[1].Attempts != 2 || page.Deliveries[1].LastStatusCode != 503 ||
			page.Deliveries[1].LastError != "not delivered within 24 hours" {
			t.Fatalf("the log: %+v %v", page.Deliveries, err)
		}
		// Another deliverer cannot queue while the lease is this one's.
		change("R. Berg")
		_, err = f.svc.NextEvents(f.ctx, ep.ID, "another", 10)
		if !errors.Is(err, twostep.ErrConflict) {
			t.Fatalf("queueing by one who does not hold the lease: %v, want ErrConflict", err)
		}
		if evs := next(); len(evs) != 1 {
			t.Fatalf("the holder then queues the new event: %d", len(evs))
		}
	})
}
