package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	_ "modernc.org/sqlite"             // the "sqlite" driver

	"github.com/twostep/twostep/internal/store"
)

// workspace holds what the runs share: a temporary directory, the Twilio
// stand-in, the built binary and the PostgreSQL schemas to drop.
type workspace struct {
	o   options
	dir string
	sms *smsStandIn

	binOnce sync.Once
	binPath string
	binErr  error

	mu      sync.Mutex
	schemas []pgSchema
}

type pgSchema struct{ base, name string }

func newWorkspace(ctx context.Context, o options) (*workspace, error) {
	dir, err := os.MkdirTemp("", "twostep-load-")
	if err != nil {
		return nil, err
	}
	w := &workspace{o: o, dir: dir}
	if w.sms, err = startSMSStandIn(o.smsAddr); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if o.server != "" {
		fmt.Fprintf(o.log, "the server at %s must run with TWOSTEP_SMS=%s and TWOSTEP_RESEND_COOLDOWN=0s\n", o.server, w.sms.senderURL())
	}
	return w, nil
}

// close drops the PostgreSQL schemas and the temporary directory, unless
// -keep asks to keep them.
func (w *workspace) close() {
	w.sms.close()
	if w.o.keep {
		fmt.Fprintf(w.o.log, "kept %s", w.dir)
		for _, s := range w.schemas {
			fmt.Fprintf(w.o.log, " and schema %s", s.name)
		}
		fmt.Fprintln(w.o.log)
		return
	}
	for _, s := range w.schemas {
		if db, err := sql.Open("pgx", s.base); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			db.ExecContext(ctx, `DROP SCHEMA `+s.name+` CASCADE`)
			cancel()
			db.Close()
		}
	}
	os.RemoveAll(w.dir)
}

// binary builds ./cmd/twostep once, unless -bin names one.
func (w *workspace) binary(ctx context.Context) (string, error) {
	w.binOnce.Do(func() {
		if w.o.bin != "" {
			w.binPath, w.binErr = filepath.Abs(w.o.bin)
			return
		}
		gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
		if err != nil || strings.TrimSpace(string(gomod)) == "" || strings.TrimSpace(string(gomod)) == os.DevNull {
			w.binErr = fmt.Errorf("run twostep-load inside the twostep module (go env GOMOD: %v), or pass -bin", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(gomod)))
		w.binPath = filepath.Join(w.dir, "twostep")
		start := time.Now()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", w.binPath, "./cmd/twostep")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			w.binErr = fmt.Errorf("go build ./cmd/twostep: %v\n%s", err, out)
			return
		}
		fmt.Fprintf(w.o.log, "built %s in %.1fs\n", w.binPath, time.Since(start).Seconds())
	})
	return w.binPath, w.binErr
}

// freshDB returns the URL of a new, empty database for one run of the
// engine that dbArg names. name tells runs apart.
func (w *workspace) freshDB(ctx context.Context, dbArg, name string) (string, error) {
	switch {
	case dbArg == "sqlite":
		return "sqlite:" + filepath.Join(w.dir, name+".db"), nil
	case strings.HasPrefix(dbArg, "sqlite:"):
		// Beside the named file, on the same file system.
		path := strings.TrimPrefix(dbArg, "sqlite:")
		return "sqlite:" + filepath.Join(filepath.Dir(path), strings.TrimSuffix(filepath.Base(path), ".db")+"-"+name+".db"), nil
	case strings.HasPrefix(dbArg, "postgres://"), strings.HasPrefix(dbArg, "postgresql://"):
		return w.freshSchema(ctx, dbArg, name)
	}
	return "", fmt.Errorf("-db %q: want sqlite, sqlite:PATH or postgres://…", dbArg)
}

// freshSchema makes a new schema on the server and returns the URL that
// puts it first on the search path, as internal/storetest does.
func (w *workspace) freshSchema(ctx context.Context, base, name string) (string, error) {
	db, err := sql.Open("pgx", base)
	if err != nil {
		return "", err
	}
	defer db.Close()
	b := make([]byte, 4)
	rand.Read(b)
	schema := "load_" + strings.ReplaceAll(name, "-", "_") + "_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		return "", fmt.Errorf("postgres: %w", err)
	}
	w.mu.Lock()
	w.schemas = append(w.schemas, pgSchema{base, schema})
	w.mu.Unlock()
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// migrate brings a fresh database's schema up to date with the store's
// own migrations.
func migrate(ctx context.Context, dbURL string) error {
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Migrate(ctx)
	return err
}

// rssMiB reads a process's resident set size from /proc; 0 when unknown.
func rssMiB(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// rssSampler records the peak RSS of a process every interval until stopped.
type rssSampler struct {
	stop chan struct{}
	done chan float64
}

func sampleRSS(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan float64, 1)}
	go func() {
		peak := rssMiB(pid)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				s.done <- max(peak, rssMiB(pid))
				return
			case <-t.C:
				peak = max(peak, rssMiB(pid))
			}
		}
	}()
	return s
}

// peak stops the sampler and returns the largest RSS it saw, in MiB.
func (s *rssSampler) peak() float64 {
	close(s.stop)
	return <-s.done
}

// loadAvg is the machine's 1-, 5- and 15-minute load average.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
