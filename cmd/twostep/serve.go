package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/twostep/twostep/api"
	"github.com/twostep/twostep/internal/web"
)

// serve runs the service until the context ends (SIGINT or SIGTERM), then
// shuts down gracefully: it stops accepting, lets running requests finish
// for up to shutdownGrace, and closes the database.
func (e *env) serve(args []string) error {
	fs, load := e.flags("serve")
	migrate := fs.Bool("migrate", false, "apply database migrations before serving (for a single instance; run `twostep migrate` in deployments)")
	cfg, err := parse(fs, load, args, 0)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))

	if *migrate {
		if err := e.runMigrations(cfg, log); err != nil {
			return err
		}
	}
	a, err := e.open(cfg, log, true)
	if err != nil {
		return err
	}
	defer a.db.Close()

	srv := web.New(web.Config{Service: a.svc, Ready: a.db, Log: log, OpenAPI: api.OpenAPI})
	return listenAndServe(e.ctx, cfg.Addr, srv, log, cfg.PublicURL, a.db.Dialect())
}

// shutdownGrace is how long running requests get to finish at shutdown.
const shutdownGrace = 15 * time.Second

// listenAndServe serves h on addr until ctx ends. The listening line names
// the real address, so that addr may use port 0.
func listenAndServe(ctx context.Context, addr string, h http.Handler, log *slog.Logger, publicURL, database string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
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
