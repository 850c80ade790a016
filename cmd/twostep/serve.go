package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/twostep/twostep/api"
	"github.com/twostep/twostep/internal/config"
	"github.com/twostep/twostep/internal/delivery"
	"github.com/twostep/twostep/internal/metrics"
	"github.com/twostep/twostep/internal/twostep"
	"github.com/twostep/twostep/internal/web"
)

// serve runs the service until the context ends (SIGINT or SIGTERM), then
// shuts down gracefully: it stops accepting, lets running requests finish
// for up to shutdownGrace, lets the outbox worker finish its sends, and
// closes the database.
func (e *env) serve(args []string) error {
	fs, load := e.flags("serve")
	migrate := fs.Bool("migrate", false, "apply database migrations before serving (for a single instance; run `twostep migrate` in deployments)")
	cfg, err := parse(fs, load, args, 0)
	if err != nil {
		return err
	}
	log := e.jsonLogger(cfg)
	if *migrate {
		if err := e.runMigrations(cfg, log); err != nil {
			return err
		}
	}
	return e.run(cfg, log, nil, nil)
}

func (e *env) jsonLogger(cfg config.Config) *slog.Logger {
	return slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
}

// run is the server's body, shared by serve and demo: the store, the
// service, the senders and their outbox worker, and HTTP. setup, if not
// nil, runs on the open app before HTTP starts and may return the demo's
// sign-in target; ready, if not nil, is called once the server listens.
func (e *env) run(cfg config.Config, log *slog.Logger, setup func(a *app) (*web.Demo, error), ready func(base string)) error {
	dev, err := cfg.CheckSenders()
	if err != nil {
		return usageError{err.Error()}
	}
	a, err := e.open(cfg, log, true)
	if err != nil {
		return err
	}
	defer a.db.Close()
	if len(dev) > 0 {
		log.Warn("dev senders are on: every code they send is shown at /dev/inbox to anyone who can reach this address; for local development only",
			"variables", dev, "addr", cfg.Addr)
	}
	senders, err := delivery.Open(cfg.Email, cfg.SMS, delivery.Options{WebhookKey: a.secrets.WebhookKey})
	if err != nil {
		return err
	}
	defer senders.Close()
	m := metrics.New(a.svc.OutboxDepth)
	host := ""
	if u, err := url.Parse(cfg.PublicURL); err == nil {
		host = u.Hostname()
	}
	worker := delivery.NewWorker(a.svc, senders.ByChannel, log, m,
		delivery.WorkerOptions{MaxBackoff: cfg.DeliveryMaxBackoff, SendTimeout: cfg.DeliveryTimeout, Host: host, BaseURL: cfg.PublicURL})
	a.svc.SetCourier(worker)
	wctx, stopWorker := context.WithCancel(context.WithoutCancel(e.ctx))
	workerDone := make(chan struct{})
	go func() { worker.Run(wctx); close(workerDone) }()
	defer func() { stopWorker(); <-workerDone }()

	events := delivery.NewEventDeliverer(a.svc, log, m, delivery.EventOptions{MaxBackoff: cfg.DeliveryMaxBackoff,
		SendTimeout: cfg.DeliveryTimeout, Owner: instanceName()})
	eventsDone := make(chan struct{})
	go func() { events.Run(wctx); close(eventsDone) }()
	defer func() { stopWorker(); <-eventsDone }()

	pctx, stopPruner := context.WithCancel(e.ctx)
	prunerDone := make(chan struct{})
	go func() { prune(pctx, a.svc, log, m); close(prunerDone) }()
	defer func() { stopPruner(); <-prunerDone }()

	var demo *web.Demo
	if setup != nil {
		if demo, err = setup(a); err != nil {
			return err
		}
	}
	srv, err := web.New(web.Config{Service: a.svc, Ready: a.db, Log: log, Metrics: m, Inbox: senders.Inbox, OpenAPI: api.OpenAPI,
		PublicURL: cfg.PublicURL, Demo: demo, TrustedProxies: cfg.TrustedProxies})
	if err != nil {
		return err
	}
	return listenAndServe(e.ctx, cfg.Addr, srv, log, cfg.PublicURL, a.db.Dialect(), func(addr string) {
		if ready != nil {
			ready("http://" + addr)
		}
	})
}

// pruneEvery is how often an instance deletes what no longer matters.
const pruneEvery = time.Minute

// prune deletes what no longer matters, now and then every pruneEvery
// (with a little jitter, so that instances started together spread out),
// until ctx ends.
func prune(ctx context.Context, svc *twostep.Service, log *slog.Logger, m *metrics.Metrics) {
	for {
		got, err := svc.Prune(ctx)
		if err != nil && ctx.Err() == nil {
			log.Warn("pruning", "err", err)
		}
		for kind, n := range got {
			m.Pruned(string(kind), n)
			if n > 0 {
				log.Info("pruned", "kind", kind, "rows", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pruneEvery + rand.N(pruneEvery/4)):
		}
	}
}

// instanceName names this process among the instances sharing a
// database, in the leases it holds: the host, the process id and a
// random part, so that a restarted process is a new one.
func instanceName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%08x", host, os.Getpid(), rand.Uint32())
}

// nextPort is addr with the port after its own: a suggestion for a busy one.
func nextPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n >= 65535 {
		return "127.0.0.1:8081"
	}
	return net.JoinHostPort(host, strconv.Itoa(n+1))
}

// shutdownGrace is how long running requests get to finish at shutdown.
const shutdownGrace = 15 * time.Second

// listenAndServe serves h on addr until ctx ends. The listening line names
// the real address, so that addr may use port 0; listening is then told it.
func listenAndServe(ctx context.Context, addr string, h http.Handler, log *slog.Logger, publicURL, database string, listening func(addr string)) error {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%s is in use by another program: stop that program, or choose another port with --addr (or TWOSTEP_ADDR), such as --addr %s", addr, nextPort(addr))
	} else if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second, // slowloris
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	log.Info("listening", "addr", ln.Addr().String(), "public_url", publicURL, "database", database)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	listening(ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}
