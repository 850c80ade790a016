// Package metrics holds Twostep's Prometheus metrics, in a registry of
// their own that /metrics serves. Labels are few and bounded: apps,
// channels, outcomes — never companies or users.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the service's counters, gauges and histograms.
type Metrics struct {
	registry *prometheus.Registry
	// ChallengesCreated counts challenges that sent a code, by app and
	// first channel.
	ChallengesCreated *prometheus.CounterVec
	// Verifications counts code checks by result: approved, rejected (a
	// wrong code, counted) or refused (void, expired, used or locked, not
	// counted).
	Verifications *prometheus.CounterVec
	// Sends counts delivery tries by channel and outcome: sent, retry or
	// failed.
	Sends *prometheus.CounterVec
	// DeliveryLatency is the time from queueing a code to its provider
	// accepting it.
	DeliveryLatency *prometheus.HistogramVec
	// requests counts HTTP requests by route pattern and status;
	// requestDuration times them by route pattern.
	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	// pruned counts the rows pruning deleted, by kind.
	pruned *prometheus.CounterVec
	// EventPosts counts the POSTs of events to endpoints by outcome:
	// delivered or retry (an error, or an answer that was not 2xx).
	EventPosts *prometheus.CounterVec
}

// New makes the metrics. outboxDepth, called at each scrape, counts the
// messages waiting to be sent.
func New(outboxDepth func(context.Context) (int, error)) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		ChallengesCreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twostep_challenges_created_total", Help: "Challenges that sent a code, by app and channel.",
		}, []string{"app", "channel"}),
		Verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twostep_verifications_total", Help: "Code checks by result: approved, rejected or refused.",
		}, []string{"result"}),
		Sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "twostep_sends_total", Help: "Delivery tries by channel and outcome: sent, retry or failed.",
		}, []string{"channel", "outcome"}),
		DeliveryLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "twostep_delivery_latency_seconds", Help: "Time from queueing a code to its provider accepting it.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"channel"}),
	}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "twostep_http_requests_total", Help: "HTTP requests by route pattern and status code.",
	}, []string{"route", "code"})
	m.requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "twostep_http_request_duration_seconds", Help: "Time to answer HTTP requests, by route pattern.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
	}, []string{"route"})
	m.EventPosts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "twostep_event_posts_total", Help: "POSTs of events to event endpoints, by outcome: delivered or retry.",
	}, []string{"outcome"})
	for _, o := range []string{"delivered", "retry"} {
		m.EventPosts.WithLabelValues(o)
	}
	m.pruned = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "twostep_pruned_rows_total", Help: "Rows deleted once they no longer mattered, by kind.",
	}, []string{"kind"})
	// Every series a dashboard or an alert may look for exists from the
	// start, at 0: a rate over a series that appears only at its first
	// event misses that event.
	for _, app := range []string{"web", "manager"} {
		for _, ch := range []string{"sms", "email"} {
			m.ChallengesCreated.WithLabelValues(app, ch)
		}
	}
	for _, r := range []string{"approved", "rejected", "refused"} {
		m.Verifications.WithLabelValues(r)
	}
	for _, ch := range []string{"sms", "email"} {
		for _, o := range []string{"sent", "retry", "failed"} {
			m.Sends.WithLabelValues(ch, o)
		}
		m.DeliveryLatency.WithLabelValues(ch)
	}
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "twostep_outbox_depth", Help: "Messages waiting in the outbox.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := outboxDepth(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	m.registry.MustRegister(m.ChallengesCreated, m.Verifications, m.Sends, m.DeliveryLatency, depth, m.requests, m.requestDuration, m.pruned, m.EventPosts,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Routes makes the request series of every route exist from the start.
func (m *Metrics) Routes(patterns []string) {
	if m == nil {
		return
	}
	for _, p := range append(patterns, "unmatched") {
		m.requestDuration.WithLabelValues(p)
	}
}

// ObserveRequest counts one HTTP request of a route pattern.
func (m *Metrics) ObserveRequest(route string, status int, took time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.requestDuration.WithLabelValues(route).Observe(took.Seconds())
}

// Pruned counts n rows of a kind that pruning deleted.
func (m *Metrics) Pruned(kind string, n int) {
	if m == nil {
		return
	}
	m.pruned.WithLabelValues(kind).Add(float64(n))
}
