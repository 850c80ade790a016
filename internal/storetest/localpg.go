package storetest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// LocalPostgres is a PostgreSQL server of the test's own, in a temporary
// directory on a free port, that the test may stop and start: fault tests
// restart it under load without disturbing the shared server other tests
// use.
type LocalPostgres struct {
	URL  string
	t    testing.TB
	dir  string
	port int
	bin  string
}

// StartLocalPostgres makes and starts a private server. It needs
// PostgreSQL's binaries and, when run as root, the postgres user; without
// them the test skips (or fails when every optional test is required).
func StartLocalPostgres(t testing.TB) *LocalPostgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		Skip(t, "the PostgreSQL fault tests need initdb (Debian's postgresql package)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir, err := os.MkdirTemp("", "twostep-pg-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	p := &LocalPostgres{t: t, dir: dir, port: port, bin: filepath.Dir(bins[len(bins)-1]),
		URL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			Skip(t, "running as root, the PostgreSQL fault tests need the postgres user")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		os.Chown(dir, uid, gid)
	}
	p.run("initdb", "-D", p.data(), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
	p.Start()
	t.Cleanup(func() {
		p.pgctl("stop", "-m", "immediate")
		os.RemoveAll(dir)
	})
	return p
}

func (p *LocalPostgres) data() string { return filepath.Join(p.dir, "data") }

// run runs one of PostgreSQL's programs, as the postgres user when root.
func (p *LocalPostgres) run(name string, args ...string) {
	p.t.Helper()
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(p.bin, name)}, args...)...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

func (p *LocalPostgres) pgctl(args ...string) {
	p.run("pg_ctl", append([]string{"-D", p.data(), "-w", "-t", "30"}, args...)...)
}

// Start starts the server and waits until it takes connections.
func (p *LocalPostgres) Start() {
	p.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100", p.port, p.dir)
	p.pgctl("start", "-o", opts, "-l", filepath.Join(p.dir, "log"))
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p.port)); err == nil {
			c.Close()
			return
		}
	}
	p.t.Fatal("the local PostgreSQL did not start")
}

// Stop stops the server at once, ending every connection, as a crash or a
// restart does.
func (p *LocalPostgres) Stop() {
	p.t.Helper()
	p.pgctl("stop", "-m", "fast")
}
