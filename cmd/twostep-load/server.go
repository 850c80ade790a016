package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/twostep/twostep/api"
	"github.com/twostep/twostep/internal/config"
	"github.com/twostep/twostep/internal/delivery"
	"github.com/twostep/twostep/internal/metrics"
	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/twostep"
	"github.com/twostep/twostep/internal/web"
	signed "github.com/twostep/twostep/result"
)

// server is a running Twostep server under load.
type server struct {
	url    string
	key    string // an API key for every company
	pid    int    // whose RSS is the server's; this process's when in-process
	logf   string // where its log goes
	stopFn func() error
}

func (s *server) stop() error {
	if s.stopFn == nil {
		return nil
	}
	err := s.stopFn()
	s.stopFn = nil
	return err
}

// errorLines counts the lines of the server's log at level ERROR, and
// returns the first few, to show problems the answers do not.
func (s *server) errorLines() (int, []string) {
	b, err := os.ReadFile(s.logf)
	if err != nil {
		return 0, nil
	}
	var first []string
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, "level=ERROR") || strings.Contains(line, "panic") {
			n++
			if len(first) < 3 {
				first = append(first, line)
			}
		}
	}
	return n, first
}

// serverEnv is the environment of every twostep command the load program
// runs: the settings it needs and nothing of the caller's TWOSTEP_*.
func (w *workspace) serverEnv(dbURL, name, addr string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TWOSTEP_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"TWOSTEP_DATABASE_URL="+dbURL,
		"TWOSTEP_SECRET_FILE="+filepath.Join(w.dir, name+".key"),
		"TWOSTEP_ADDR="+addr,
		"TWOSTEP_RESEND_COOLDOWN=0s",
		"TWOSTEP_SMS="+w.sms.senderURL(),
		"TWOSTEP_EMAIL=dev",
		"TWOSTEP_LOG_LEVEL=warn",
	)
}

// startServer migrates dbURL, creates an API key and starts a server on
// it: the twostep binary as a child process, or with -inprocess the same
// wiring as `twostep serve` inside this process.
func (w *workspace) startServer(ctx context.Context, dbURL, name string) (*server, error) {
	if w.o.server != "" {
		return &server{url: strings.TrimRight(w.o.server, "/"), key: w.o.apiKey, pid: w.o.serverPID}, nil
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	if w.o.inprocess {
		return w.startInProcess(ctx, dbURL, name, addr)
	}
	bin, err := w.binary(ctx)
	if err != nil {
		return nil, err
	}
	env := w.serverEnv(dbURL, name, addr)
	command := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("twostep %s: %v: %s", strings.Join(args, " "), err, errOut.String())
		}
		return out.String(), nil
	}
	if _, err := command("migrate"); err != nil {
		return nil, err
	}
	out, err := command("apikey", "create", "--name", "load")
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	key := strings.TrimSpace(lines[len(lines)-1])

	logf := filepath.Join(w.dir, name+".log")
	lf, err := os.Create(logf)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env, cmd.Stdout, cmd.Stderr = env, lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); lf.Close() }()
	s := &server{url: "http://" + addr, key: key, pid: cmd.Process.Pid, logf: logf, stopFn: func() error {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			return err
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			return errors.New("the server did not stop within 30s of SIGTERM; killed")
		}
	}}
	if err := waitReady(ctx, s.url, exited); err != nil {
		s.stop()
		b, _ := os.ReadFile(logf)
		return nil, fmt.Errorf("%w\n%s", err, b)
	}
	return s, nil
}

// startInProcess runs the server as `twostep serve` wires it
// (cmd/twostep/serve.go), inside this process, so that a CPU profile of
// this process shows the server's work (and the load clients', which are
// net/http and encoding/json calls named as such).
func (w *workspace) startInProcess(ctx context.Context, dbURL, name, addr string) (*server, error) {
	logf := filepath.Join(w.dir, name+".log")
	lf, err := os.Create(logf)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewJSONHandler(lf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	secrets, _, err := config.LoadSecrets(filepath.Join(w.dir, name+".key"))
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	public := "http://" + addr
	svc := twostep.NewService(db, twostep.Options{
		AuditKey: secrets.AuditKey, CodeKey: secrets.CodeKey, OutboxKey: secrets.OutboxKey,
		CodeTTL: twostep.DefaultCodeTTL, ResendCooldown: 0,
		Signer: signed.NewSigner(secrets.SignSeed, public),
	})
	_, key, err := svc.CreateAPIKey(ctx, "load", "")
	if err != nil {
		db.Close()
		return nil, err
	}
	senders, err := delivery.Open("dev", w.sms.senderURL(), delivery.Options{WebhookKey: secrets.WebhookKey})
	if err != nil {
		db.Close()
		return nil, err
	}
	m := metrics.New(svc.OutboxDepth)
	worker := delivery.NewWorker(svc, senders.ByChannel, log, m, delivery.WorkerOptions{
		MaxBackoff: 30 * time.Second, SendTimeout: 15 * time.Second, Host: "127.0.0.1"})
	svc.SetCourier(worker)
	wctx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	workerDone := make(chan struct{})
	go func() { worker.Run(wctx); close(workerDone) }()
	events := delivery.NewEventDeliverer(svc, log, m, delivery.EventOptions{MaxBackoff: 30 * time.Second,
		SendTimeout: 15 * time.Second, Owner: "load"})
	eventsDone := make(chan struct{})
	go func() { events.Run(wctx); close(eventsDone) }()
	h, err := web.New(web.Config{Service: svc, Ready: db, Log: log, Metrics: m, Inbox: senders.Inbox,
		OpenAPI: api.OpenAPI, PublicURL: public})
	if err != nil {
		stopWorker()
		db.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		stopWorker()
		db.Close()
		return nil, err
	}
	// The same limits as cmd/twostep's listenAndServe.
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 32 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	exited := make(chan error, 1)
	go func() { exited <- hs.Serve(ln) }()
	s := &server{url: public, key: key, pid: os.Getpid(), logf: logf, stopFn: func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		err := hs.Shutdown(sctx)
		stopWorker()
		<-workerDone
		<-eventsDone
		senders.Close()
		db.Close()
		lf.Close()
		return err
	}}
	if err := waitReady(ctx, s.url, exited); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitReady polls /readyz until it answers 200.
func waitReady(ctx context.Context, base string, exited <-chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("the server exited at start: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if res, err := http.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return errors.New("the server was not ready within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freeAddr returns a local address nobody listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
