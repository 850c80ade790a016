package delivery

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/twostep/twostep/internal/metrics"
	"github.com/twostep/twostep/internal/twostep"
)

// Outbox is what the worker needs of the service: leasing due messages
// with their codes, and recording each try's outcome. The service decides
// what a failure means (retry, give up, offer email).
type Outbox interface {
	ClaimMessages(ctx context.Context, limit int, lease time.Duration) ([]twostep.Message, error)
	MessageSent(ctx context.Context, id int64, providerID string) error
	// NoticeSent records a notification sent, which the audit log shows.
	NoticeSent(ctx context.Context, id int64, providerID string) error
	MessageFailed(ctx context.Context, id int64, reason string, permanent bool, retryIn time.Duration) error
}

// WorkerOptions tune the worker; zero values take the defaults.
type WorkerOptions struct {
	Batch       int           // messages claimed at a time (16)
	Concurrency int           // messages sent at once (8)
	Lease       time.Duration // how long a claim holds a message (SendTimeout + 5s)
	Poll        time.Duration // how often to look for due messages without a wake-up (1s)
	MaxBackoff  time.Duration // the longest wait between tries (30s)
	SendTimeout time.Duration // the longest a provider gets for one message (15s)
	Host        string        // the hosted page's host, for the SMS WebOTP line
	BaseURL     string        // the public URL, for the console's links
}

// Worker sends the outbox's messages. Any number of workers, in any
// number of instances, share one outbox: a claim leases each message to
// one of them, and a lease that runs out (its worker died) frees it again,
// so every message goes out at least once.
type Worker struct {
	outbox  Outbox
	senders map[twostep.Channel]Sender
	log     *slog.Logger
	metrics *metrics.Metrics
	opt     WorkerOptions
	wake    chan struct{}
	taken   chan taken
}

// taken is a message handed to the worker as it was queued.
type taken struct {
	m  twostep.Message
	at time.Time
}

// takeQueue bounds the messages handed over and waiting for a free slot.
// Past it, a message waits for its lease to run out and is claimed then.
const takeQueue = 4096

// NewWorker returns a worker over outbox.
func NewWorker(outbox Outbox, senders map[twostep.Channel]Sender, log *slog.Logger, m *metrics.Metrics, opt WorkerOptions) *Worker {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if opt.Batch <= 0 {
		opt.Batch = 16
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = 8
	}
	def(&opt.Poll, time.Second)
	def(&opt.MaxBackoff, 30*time.Second)
	def(&opt.SendTimeout, 15*time.Second)
	// A lease outlives the longest send, so that no message is sent twice
	// while its worker is alive; a dead worker's lease frees it soon after.
	def(&opt.Lease, opt.SendTimeout+5*time.Second)
	return &Worker{outbox: outbox, senders: senders, log: log, metrics: m, opt: opt,
		wake: make(chan struct{}, 1), taken: make(chan taken, takeQueue)}
}

var _ twostep.Courier = (*Worker)(nil)

// Lease is how long a claim, or a message handed over, is the worker's.
func (w *Worker) Lease() time.Duration { return w.opt.Lease }

// Take hands the worker a message leased to it as it was queued, to send
// as soon as there is room. It never blocks.
func (w *Worker) Take(m twostep.Message) {
	select {
	case w.taken <- taken{m: m, at: time.Now()}:
	default:
		w.log.Warn("outbox: too many messages waiting; this one is sent when its lease runs out", "message", m.ID)
	}
}

// maxTakeWait is the longest a message handed over may wait for a slot:
// its send must end before its lease does, or another worker may claim
// it and send it again.
func (w *Worker) maxTakeWait() time.Duration {
	return w.opt.Lease - w.opt.SendTimeout - time.Second
}

// Notify wakes the worker: a message was just queued. It never blocks.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run sends messages until ctx ends, then lets the sends in flight finish.
func (w *Worker) Run(ctx context.Context) {
	sem := make(chan struct{}, w.opt.Concurrency)
	var inflight sync.WaitGroup
	defer inflight.Wait()
	inflight.Go(func() { w.sendTaken(ctx, sem, &inflight) })
	for {
		if ctx.Err() != nil {
			return
		}
		// Claim no more than there is room to send now.
		want := min(w.opt.Concurrency-len(sem), w.opt.Batch)
		msgs, err := w.outbox.ClaimMessages(ctx, want, w.opt.Lease)
		if err != nil && ctx.Err() == nil {
			w.log.Error("outbox: claim failed", "err", err)
		}
		for _, m := range msgs {
			sem <- struct{}{}
			inflight.Go(func() {
				defer func() { <-sem }()
				w.deliver(context.WithoutCancel(ctx), m)
			})
		}
		if len(msgs) > 0 && len(msgs) == want {
			continue // there may be more
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-time.After(w.opt.Poll):
		}
		// Wait for a free slot before claiming again.
		sem <- struct{}{}
		<-sem
	}
}

// sendTaken sends the messages handed over, sharing the slots with the
// claimed ones, until ctx ends; the messages left then are claimed once
// their leases run out.
func (w *Worker) sendTaken(ctx context.Context, sem chan struct{}, inflight *sync.WaitGroup) {
	for {
		var t taken
		select {
		case <-ctx.Done():
			return
		case t = <-w.taken:
		}
		select {
		case <-ctx.Done():
			return
		case sem <- struct{}{}:
		}
		if time.Since(t.at) > w.maxTakeWait() {
			<-sem
			w.log.Warn("outbox: a message waited too long for a slot; it is sent when its lease runs out", "message", t.m.ID)
			continue
		}
		inflight.Go(func() {
			defer func() { <-sem }()
			w.deliver(context.WithoutCancel(ctx), t.m)
		})
	}
}

// deliver sends one message and records the outcome.
func (w *Worker) deliver(ctx context.Context, m twostep.Message) {
	channel := string(m.Channel)
	sender, ok := w.senders[m.Channel]
	var (
		providerID string
		err        error
	)
	if !ok {
		err = permanent(errNoSender(m.Channel))
	} else {
		var out Outgoing
		switch m.Kind {
		case twostep.KindSetupLink, twostep.KindResetLink:
			out, err = RenderLink(m, w.opt.BaseURL)
		case twostep.KindNotice:
			out, err = RenderNotice(m)
		default:
			out, err = Render(m, w.opt.Host)
		}
		if err == nil {
			sctx, cancel := context.WithTimeout(ctx, w.opt.SendTimeout)
			providerID, err = sender.Send(sctx, out)
			cancel()
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err == nil {
		w.metrics.Sends.WithLabelValues(channel, "sent").Inc()
		w.metrics.DeliveryLatency.WithLabelValues(channel).Observe(time.Since(m.CreatedAt).Seconds())
		sent := w.outbox.MessageSent
		if m.Kind == twostep.KindNotice {
			sent = w.outbox.NoticeSent
		}
		if rerr := sent(rctx, m.ID, providerID); rerr != nil {
			w.log.Error("outbox: recording a sent message failed; it may be sent again", "message", m.ID, "err", rerr)
		}
		return
	}
	// Provider errors can echo what they were sent; keep the code out.
	reason := err.Error()
	if m.Code != "" {
		reason = strings.ReplaceAll(reason, m.Code, "******")
	}
	perm := IsPermanent(err)
	retryIn := backoff(m.Attempt, w.opt.MaxBackoff)
	outcome := "retry"
	if perm || m.Attempt >= twostep.MaxDeliveryAttempts {
		outcome = "failed"
	}
	w.metrics.Sends.WithLabelValues(channel, outcome).Inc()
	w.log.Warn("outbox: send failed", "message", m.ID, "channel", channel, "attempt", m.Attempt,
		"permanent", perm, "retry_in", retryIn.String(), "err", reason)
	if rerr := w.outbox.MessageFailed(rctx, m.ID, reason, perm, retryIn); rerr != nil {
		w.log.Error("outbox: recording a failed send failed", "message", m.ID, "err", rerr)
	}
}

// backoff is the wait after the attempt-th failed try: exponential from
// half a second, capped, with ±20% jitter so that a provider coming back
// is not hit by every retry at once.
func backoff(attempt int, max time.Duration) time.Duration {
	d := 500 * time.Millisecond << min(attempt-1, 20)
	if d > max || d <= 0 {
		d = max
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

type errNoSender twostep.Channel

func (e errNoSender) Error() string { return "no sender is configured for " + string(e) }
