package delivery_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/delivery"
	"github.com/twostep/twostep/internal/metrics"
	"github.com/twostep/twostep/internal/providertest"
	"github.com/twostep/twostep/internal/twostep"
)

// fakeEvents is the service as the deliverer sees it, for one endpoint
// with one batch of work; it records what the deliverer reports.
type fakeEvents struct {
	mu       sync.Mutex
	work     twostep.EndpointWork
	handed   bool
	tries    []twostep.DeliveryTry
	released bool
}

func (f *fakeEvents) SequenceEvents(context.Context) (int, error) { return 0, nil }
func (f *fakeEvents) FreeEventEndpoints(context.Context, string) ([]string, error) {
	return []string{"whe_1"}, nil
}
func (f *fakeEvents) LeaseEventEndpoint(_ context.Context, _, _ string, d time.Duration) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d == 0 {
		f.released = true
	}
	return true, nil
}
func (f *fakeEvents) NextEvents(context.Context, string, string, int) (twostep.EndpointWork, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.handed {
		return twostep.EndpointWork{URL: f.work.URL, Secret: f.work.Secret}, nil
	}
	f.handed = true
	return f.work, nil
}
func (f *fakeEvents) RecordDeliveries(_ context.Context, tries []twostep.DeliveryTry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tries = append(f.tries, tries...)
	return nil
}

// TestEventDelivererSendsInOrderPerCompany: each company's events go in
// order, signed; a company whose event fails sends none of its later ones
// in the batch, while the other company's go on; the outcomes are
// reported with status and latency; the lease is let go at the end.
func TestEventDelivererSendsInOrderPerCompany(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	var (
		mu  sync.Mutex
		got []string
		bad []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get("webhook-id")
		if err := delivery.VerifyEvent(secret, id, r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"),
			body, time.Now(), time.Minute); err != nil || string(body) != `{"n":"`+id+`"}` {
			mu.Lock()
			bad = append(bad, id)
			mu.Unlock()
		}
		mu.Lock()
		got = append(got, id)
		mu.Unlock()
		if id == "b1" {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	ev := func(seq int64, id, company string) twostep.OutgoingEvent {
		return twostep.OutgoingEvent{ID: id, Body: []byte(`{"n":"` + id + `"}`),
			Delivery: twostep.EventDelivery{EndpointID: "whe_1", Seq: seq, EventID: id, CompanyID: company, Status: twostep.EventPending}}
	}
	f := &fakeEvents{work: twostep.EndpointWork{URL: srv.URL, Secret: secret, Events: []twostep.OutgoingEvent{
		ev(1, "a1", "co_a"), ev(2, "b1", "co_b"), ev(3, "a2", "co_a"), ev(4, "b2", "co_b"), ev(5, "a3", "co_a")}}}
	m := metrics.New(func(context.Context) (int, error) { return 0, nil })
	d := delivery.NewEventDeliverer(f, slog.New(slog.DiscardHandler), m, delivery.EventOptions{Poll: 10 * time.Millisecond,
		SendTimeout: time.Second, MaxBackoff: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	providertest.WaitFor(t, 10*time.Second, "four tries reported", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.tries) == 4
	})
	cancel()
	<-done

	mu.Lock()
	defer mu.Unlock()
	var a []string
	for _, id := range got {
		if id[0] == 'a' {
			a = append(a, id)
		}
	}
	if !slices.Equal(a, []string{"a1", "a2", "a3"}) || slices.Contains(got, "b2") || len(bad) > 0 {
		t.Fatalf("received %v (bad signatures or bodies: %v); want a1 a2 a3 in order, b1 once and not b2", got, bad)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, tr := range f.tries {
		want := tr.Delivery.EventID != "b1"
		if tr.OK() != want || tr.Latency <= 0 || (tr.Delivery.EventID == "b1" && (tr.StatusCode != 500 || tr.RetryIn <= 0)) {
			t.Errorf("the try of %s: %+v", tr.Delivery.EventID, tr)
		}
	}
	if !f.released {
		t.Error("the lease was not let go when the deliverer stopped")
	}
}
