package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/providertest"
	"github.com/twostep/twostep/internal/storetest"
)

// TestDemo runs `twostep demo` as the README's first command does and
// walks the flow it prints: start a challenge, read the code in the dev
// inbox, verify it.
func TestDemo(t *testing.T) {
	tmp := t.TempDir()
	cmd := exec.Command(binary, "demo", "--addr", "127.0.0.1:0")
	cmd.Env = append((&instance{t: t}).env(), "TMPDIR="+tmp)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}
	}
	defer stop()

	var out strings.Builder
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var key string
	deadline := time.After(30 * time.Second)
	for key == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo ended early:\n%s", out.String())
			}
			out.WriteString(l + "\n")
			if strings.HasPrefix(l, "tsk_") {
				key = l
			}
		case <-deadline:
			t.Fatalf("demo printed no key within 30s:\n%s", out.String())
		}
	}
	text := out.String()
	base := regexp.MustCompile(`running at (http://\S+) `).FindStringSubmatch(text)[1]
	inbox := regexp.MustCompile(`Dev inbox.*?(http://\S+)`).FindStringSubmatch(text)[1]
	start := regexp.MustCompile(`curl -s -X POST (\S+/challenges)`).FindStringSubmatch(text)[1]
	a := apiClient{t: t, base: "", key: key}
	ch := a.must(201, "POST", start, map[string]any{"app": "web"})

	var code string
	providertest.WaitFor(t, 10*time.Second, "the code in the dev inbox", func() bool {
		res, err := http.Get(inbox + "?format=json")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var got struct{ Messages []struct{ Text string } }
		json.NewDecoder(res.Body).Decode(&got)
		if len(got.Messages) > 0 {
			code = providertest.Code(got.Messages[0].Text)
		}
		return code != ""
	})
	got := a.must(200, "POST", base+"/v1/challenges/"+ch["id"].(string)+"/verify", map[string]any{"code": code})
	if got["result"] != "approved" {
		t.Fatalf("verify: %v", got)
	}
	res, err := http.Get(inbox)
	if err != nil || res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("dev inbox page: %v %v", res, err)
	}

	// The hosted page, as the demo's step 2 has it: /dev/try opens a
	// sign-in; the code from the inbox goes back to /dev/return, which
	// checks the signed result.
	try := regexp.MustCompile(`(http://\S+/dev/try)`).FindStringSubmatch(text)[1]
	// A browser: its cookie is the demo platform's session, which the
	// result must match.
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err = client.Get(try)
	if err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("/dev/try: %v %v", res, err)
	}
	page := base + res.Header.Get("Location")
	code = ""
	providertest.WaitFor(t, 10*time.Second, "the second code", func() bool {
		res, err := http.Get(inbox + "?format=json")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var got struct{ Messages []struct{ Text string } }
		json.NewDecoder(res.Body).Decode(&got)
		if len(got.Messages) > 1 {
			code = providertest.Code(got.Messages[0].Text)
		}
		return code != ""
	})
	req, _ := http.NewRequest("POST", page, strings.NewReader("code="+code))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err = client.Do(req)
	if err != nil || res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "/dev/return?twostep_result=") {
		t.Fatalf("the hosted page: %v %v", res, err)
	}
	res, err = client.Get(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	back, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(back), "The signed result verified") {
		t.Fatalf("/dev/return: %s", back)
	}
	if !strings.Contains(text, "/admin/setup/") {
		t.Fatalf("the demo prints no admin set-up link:\n%s", text)
	}

	// Stopped, the demo takes its temporary folder with it.
	if left, _ := os.ReadDir(tmp); len(left) != 1 {
		t.Fatalf("while running, the demo's folder is not in TMPDIR: %v", left)
	}
	stop()
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("the demo left %v behind in TMPDIR", left)
	}
}

// TestBusyPortSaysWhatToDo starts the server on a port another program
// holds: it must say so, and how to choose another.
func TestBusyPortSaysWhatToDo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	in := newInstance(t, storetest.SQLiteURL(t))
	in.mustRun("migrate")
	_, stderr, code := in.run("serve", "--addr", ln.Addr().String())
	if code == 0 || !strings.Contains(stderr, ln.Addr().String()+" is in use by another program") || !strings.Contains(stderr, "--addr") {
		t.Fatalf("serve on a busy port: exit %d, %s", code, stderr)
	}
}
