package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/storetest"
)

// binary is the twostep command, built once for all tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "twostep-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "twostep")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building twostep:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// instance is how the tests run the binary: one database and secret file.
type instance struct {
	t      *testing.T
	dbURL  string
	secret string
	extra  []string // more variables, such as TWOSTEP_SMS
}

func newInstance(t *testing.T, dbURL string) *instance {
	return &instance{t: t, dbURL: dbURL, secret: filepath.Join(t.TempDir(), "twostep.key")}
}

// env is the environment of the binary: the parent's without TWOSTEP_*,
// plus the instance's settings and extra.
func (in *instance) env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TWOSTEP_") {
			env = append(env, kv)
		}
	}
	// Dev senders unless the test names others: serve needs providers.
	env = append(env, "TWOSTEP_DATABASE_URL="+in.dbURL, "TWOSTEP_SECRET_FILE="+in.secret, "TWOSTEP_EMAIL=dev", "TWOSTEP_SMS=dev")
	env = append(env, in.extra...)
	return append(env, extra...)
}

// command returns the binary's command with extra variables set.
func (in *instance) command(extraEnv []string, args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	cmd.Env = append(in.env(), extraEnv...)
	return cmd
}

// run runs a command to its end and returns its output and exit code.
func (in *instance) run(args ...string) (stdout, stderr string, code int) {
	in.t.Helper()
	cmd := in.command(nil, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		in.t.Fatal(err)
	}
	return o.String(), e.String(), 0
}

// mustRun runs a command and fails the test unless it exits 0.
func (in *instance) mustRun(args ...string) string {
	in.t.Helper()
	out, errOut, code := in.run(args...)
	if code != 0 {
		in.t.Fatalf("twostep %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// apiKey creates a platform key and returns it: the last line of stdout.
func (in *instance) apiKey() string {
	in.t.Helper()
	out := strings.TrimSpace(in.mustRun("apikey", "create", "--name", "platform"))
	lines := strings.Split(out, "\n")
	return lines[len(lines)-1]
}

// server is a running `twostep serve`.
type server struct {
	cmd  *exec.Cmd
	URL  string
	logs *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serve starts the server on a free port and waits until it listens.
func (in *instance) serve(args ...string) *server {
	in.t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = in.env()
	pipe, err := cmd.StderrPipe()
	if err != nil {
		in.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		in.t.Fatal(err)
	}
	s := &server{cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.logs.Write([]byte(line + "\n"))
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "listening" {
				listening <- m["addr"].(string)
			}
		}
		io.Copy(io.Discard, pipe)
		s.err = cmd.Wait()
		close(s.done)
	}()
	in.t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	select {
	case addr := <-listening:
		s.URL = "http://" + addr
	case <-s.done:
		in.t.Fatalf("serve exited before listening: %v\n%s", s.err, s.logs)
	case <-time.After(20 * time.Second):
		in.t.Fatalf("serve did not listen within 20s\n%s", s.logs)
	}
	return s
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20s of SIGTERM")
	}
	if s.err != nil {
		t.Fatalf("serve exited with %v after SIGTERM\n%s", s.err, s.logs)
	}
	if !strings.Contains(s.logs.String(), `"msg":"stopped"`) {
		t.Fatalf("no clean stop in the log:\n%s", s.logs)
	}
}

// apiClient is a small JSON client for the end-to-end tests.
type apiClient struct {
	t      *testing.T
	base   string
	key    string
	actor  string
	record *syncBuffer // if not nil, every response body is kept here
}

func (a apiClient) as(userID string) apiClient { a.actor = userID; return a }

func (a apiClient) call(method, path string, body any) (int, map[string]any) {
	a.t.Helper()
	status, m, err := a.send(method, path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	return status, m
}

// callSafe is call for load generators: a transport error is status 0.
func (a apiClient) callSafe(method, path string, body any) (int, map[string]any) {
	status, m, _ := a.send(method, path, body)
	return status, m
}

func (a apiClient) send(method, path string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+a.key)
	if a.actor != "" {
		req.Header.Set("Twostep-Actor", a.actor)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if a.record != nil {
		a.record.Write(append(raw, '\n'))
	}
	var m map[string]any
	json.Unmarshal(raw, &m)
	return res.StatusCode, m, nil
}

func (a apiClient) must(want int, method, path string, body any) map[string]any {
	a.t.Helper()
	status, m := a.call(method, path, body)
	if status != want {
		a.t.Fatalf("%s %s = %d %v; want %d", method, path, status, m, want)
	}
	return m
}

func (a apiClient) get(path string) []byte {
	a.t.Helper()
	req, _ := http.NewRequest("GET", a.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+a.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		a.t.Fatalf("GET %s = %d %s", path, res.StatusCode, b)
	}
	return b
}

// Every engine the end-to-end tests run on.
func engines(t *testing.T, fn func(t *testing.T, in *instance)) {
	storetest.Run(t, func(t *testing.T, dbURL string) { fn(t, newInstance(t, dbURL)) })
}
