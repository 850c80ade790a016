package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/twostep/twostep/internal/metrics"
	"github.com/twostep/twostep/internal/twostep"
)

// Events is what the event deliverer needs of the service: the feed's
// sequencer, the endpoints and their leases, and each endpoint's work
// and outcomes. The service decides what an outcome means.
type Events interface {
	SequenceEvents(ctx context.Context) (int, error)
	FreeEventEndpoints(ctx context.Context, owner string) ([]string, error)
	LeaseEventEndpoint(ctx context.Context, id, owner string, d time.Duration) (bool, error)
	NextEvents(ctx context.Context, id, owner string, limit int) (twostep.EndpointWork, error)
	RecordDeliveries(ctx context.Context, tries []twostep.DeliveryTry) error
}

// EventOptions tune the deliverer; zero values take the defaults.
type EventOptions struct {
	Poll        time.Duration // how often to look for new events (250ms)
	MaxBackoff  time.Duration // the longest wait between tries (30s)
	SendTimeout time.Duration // the longest an endpoint gets to answer (15s)
	// Lease is how long an instance holds an endpoint without renewing
	// it (2×SendTimeout + 5s, and no less): another takes over after a
	// crash.
	Lease     time.Duration
	Batch     int // deliveries fetched at a time per endpoint (200)
	Companies int // companies delivered to at once per endpoint (4)
	// Owner names this instance in leases; it must differ between
	// instances ("" takes a random one).
	Owner string
}

// EventDeliverer POSTs events to their endpoints. Every instance runs one;
// each endpoint is served by the instance that holds its lease, so an
// event goes out once in the normal case and at least once when an
// instance dies. Each endpoint has its own loop: a slow or dead one holds
// up only itself, and sign-ins never wait for any.
type EventDeliverer struct {
	events  Events
	log     *slog.Logger
	metrics *metrics.Metrics
	opt     EventOptions
	client  *http.Client

	mu      sync.Mutex
	serving map[string]bool
}

// NewEventDeliverer returns a deliverer over events; owner names this
// instance in leases and must differ between instances.
func NewEventDeliverer(events Events, log *slog.Logger, m *metrics.Metrics, opt EventOptions) *EventDeliverer {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&opt.Poll, 250*time.Millisecond)
	def(&opt.MaxBackoff, 30*time.Second)
	def(&opt.SendTimeout, 15*time.Second)
	// A send starts by half the lease and ends within SendTimeout, so
	// the lease must outlast two of them.
	opt.Lease = max(opt.Lease, 2*opt.SendTimeout+5*time.Second)
	if opt.Owner == "" {
		opt.Owner = fmt.Sprintf("deliverer-%016x", rand.Uint64())
	}
	if opt.Batch <= 0 {
		opt.Batch = 200
	}
	if opt.Companies <= 0 {
		opt.Companies = 4
	}
	return &EventDeliverer{events: events, log: log, metrics: m, opt: opt, serving: map[string]bool{},
		client: &http.Client{
			Timeout: opt.SendTimeout,
			// A redirect is an answer that is not 2xx, and the signed
			// body goes only where the operator said.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 8,
				IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second},
		}}
}

// discoverEvery is how often the endpoints are listed for leases to take.
const discoverEvery = time.Second

// Run sequences the feed and serves the endpoints until ctx ends.
func (w *EventDeliverer) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	var discovered time.Time
	for {
		if _, err := w.events.SequenceEvents(ctx); err != nil && ctx.Err() == nil {
			w.log.Error("events: sequencing failed", "err", err)
		}
		if time.Since(discovered) >= discoverEvery {
			discovered = time.Now()
			w.discover(ctx, &wg)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(w.opt.Poll / 2):
		}
	}
}

// discover starts serving the endpoints whose leases are free.
func (w *EventDeliverer) discover(ctx context.Context, wg *sync.WaitGroup) {
	ids, err := w.events.FreeEventEndpoints(ctx, w.opt.Owner)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("events: listing endpoints failed", "err", err)
		}
		return
	}
	for _, id := range ids {
		w.mu.Lock()
		busy := w.serving[id]
		w.mu.Unlock()
		if busy {
			continue
		}
		asked := time.Now()
		ok, err := w.events.LeaseEventEndpoint(ctx, id, w.opt.Owner, w.opt.Lease)
		if err != nil || !ok {
			continue
		}
		w.mu.Lock()
		w.serving[id] = true
		w.mu.Unlock()
		wg.Go(func() {
			defer func() {
				w.mu.Lock()
				delete(w.serving, id)
				w.mu.Unlock()
			}()
			w.serve(ctx, id, asked)
		})
	}
}

// maxIdleWait bounds the wait after a batch whose every try failed: long
// enough that a dead endpoint is not asked at every poll, short enough
// that a company whose event is due meanwhile waits little for it.
const maxIdleWait = 2 * time.Second

// serve delivers one endpoint's events while this instance holds its
// lease, taken when leased was read (before asking: the lease counts from
// the database's clock during the call), renewing it as it goes, and lets
// it go at the end, so that another instance takes over at once on a
// restart.
func (w *EventDeliverer) serve(ctx context.Context, id string, leased time.Time) {
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		w.events.LeaseEventEndpoint(rctx, id, w.opt.Owner, 0)
	}()
	renewed := leased
	for ctx.Err() == nil {
		if time.Since(renewed) > w.opt.Lease/4 {
			asked := time.Now()
			ok, err := w.events.LeaseEventEndpoint(ctx, id, w.opt.Owner, w.opt.Lease)
			if err != nil || !ok {
				return // another instance has it, or the database is away: discovery tries again
			}
			renewed = asked
		}
		wait := w.opt.Poll
		work, err := w.events.NextEvents(ctx, id, w.opt.Owner, w.opt.Batch)
		switch {
		case errors.Is(err, twostep.ErrNotFound), errors.Is(err, twostep.ErrConflict):
			return // deleted, or another instance has it
		case err != nil:
			if ctx.Err() == nil {
				w.log.Error("events: reading an endpoint's work failed", "endpoint", id, "err", err)
			}
		case len(work.Events) > 0:
			// The sends end well inside the lease, so that no other
			// instance takes the endpoint over while they run.
			tries := w.sendAll(ctx, work, renewed.Add(w.opt.Lease/2))
			// The outcomes are saved within the lease, or not at all (and
			// the events go again): never after another instance took over.
			rctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), renewed.Add(w.opt.Lease-time.Second))
			if err := w.events.RecordDeliveries(rctx, tries); err != nil {
				w.log.Error("events: recording deliveries failed; they will be sent again", "endpoint", id, "err", err)
			}
			cancel()
			if next, failed := soonestRetry(tries); failed {
				// Every try failed: the endpoint is likely down. Look again
				// when the first retry is due, within maxIdleWait.
				wait = min(max(wait, next), maxIdleWait)
			} else if len(work.Events) == w.opt.Batch {
				continue // there may be more now
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

// soonestRetry is the shortest backoff among tries, and whether every one
// of them failed.
func soonestRetry(tries []twostep.DeliveryTry) (time.Duration, bool) {
	var soonest time.Duration
	for i, t := range tries {
		if t.OK() {
			return 0, false
		}
		if i == 0 || t.RetryIn < soonest {
			soonest = t.RetryIn
		}
	}
	return soonest, len(tries) > 0
}

// sendAll POSTs the work's events: each company's in order, stopping at
// its first failure, and up to opt.Companies companies at once. No send
// starts after by or once ctx ends; one that has started runs to its end
// (at most the send timeout), so that its outcome is recorded.
func (w *EventDeliverer) sendAll(ctx context.Context, work twostep.EndpointWork, by time.Time) []twostep.DeliveryTry {
	var (
		order  []string
		groups = map[string][]twostep.OutgoingEvent{}
	)
	for _, ev := range work.Events {
		c := ev.Delivery.CompanyID
		if _, ok := groups[c]; !ok {
			order = append(order, c)
		}
		groups[c] = append(groups[c], ev)
	}
	var (
		mu    sync.Mutex
		tries []twostep.DeliveryTry
		wg    sync.WaitGroup
		sem   = make(chan struct{}, w.opt.Companies)
	)
	for _, c := range order {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			for _, ev := range groups[c] {
				if time.Now().After(by) || ctx.Err() != nil {
					return
				}
				t := w.post(context.WithoutCancel(ctx), work, ev)
				if w.metrics != nil {
					outcome := "delivered"
					if !t.OK() {
						outcome = "retry"
					}
					w.metrics.EventPosts.WithLabelValues(outcome).Inc()
				}
				mu.Lock()
				tries = append(tries, t)
				mu.Unlock()
				if !t.OK() {
					return // the company's next events wait behind this one
				}
			}
		})
	}
	wg.Wait()
	return tries
}

// post sends one event, signed for this try.
func (w *EventDeliverer) post(ctx context.Context, work twostep.EndpointWork, ev twostep.OutgoingEvent) twostep.DeliveryTry {
	t := twostep.DeliveryTry{Delivery: ev.Delivery, RetryIn: backoff(ev.Delivery.Attempts+1, w.opt.MaxBackoff)}
	start := time.Now()
	sig, err := SignEvent(work.Secret, ev.ID, start, ev.Body)
	if err != nil {
		t.Err = err.Error()
		return t
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, work.URL, bytes.NewReader(ev.Body))
	if err != nil {
		t.Err = err.Error()
		return t
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Twostep-Webhooks/1")
	req.Header.Set("webhook-id", ev.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(start.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := w.client.Do(req)
	t.Latency = time.Since(start)
	if err != nil {
		t.Err = err.Error()
		return t
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	t.StatusCode = resp.StatusCode
	if !t.OK() {
		t.Err = "the endpoint answered " + resp.Status
	}
	return t
}
