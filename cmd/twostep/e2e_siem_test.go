package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/providertest"
	"github.com/twostep/twostep/internal/storetest"
)

// TestFeedScript runs docs/twostep-feed.sh, the SIEM recipe's pull script,
// against a real server: it copies the whole feed into its file, one event
// per line in feed order, and a second run appends only what is new.
func TestFeedScript(t *testing.T) {
	for _, tool := range []string{"sh", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the feed script needs %s: %v", tool, err)
		}
	}
	in := newInstance(t, storetest.SQLiteURL(t))
	in.mustRun("migrate")
	srv := in.serve()
	key := in.apiKey()
	a := apiClient{t: t, base: srv.URL, key: key}
	co, users := company(t, a, map[string]any{}, 3)
	out := filepath.Join(t.TempDir(), "events.jsonl")
	run := func() []string {
		t.Helper()
		cmd := exec.Command("sh", "../../docs/twostep-feed.sh")
		cmd.Env = append(os.Environ(), "TWOSTEP_URL="+srv.URL, "TWOSTEP_KEY="+key, "OUT="+out, "ONCE=1")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("twostep-feed.sh: %v\n%s", err, b)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var ids []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var e struct{ ID, Type string }
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.ID == "" || e.Type == "" {
				t.Fatalf("a line of the file: %q %v", sc.Text(), err)
			}
			ids = append(ids, e.ID)
		}
		return ids
	}
	check := func(got []string) {
		t.Helper()
		feed := settledFeed(t, a, co)
		if len(got) != len(feed) {
			t.Fatalf("the file has %d events, the feed %d", len(got), len(feed))
		}
		for i, e := range feed {
			if got[i] != e.ID {
				t.Fatalf("line %d is %s, the feed's event %d is %s", i+1, got[i], i+1, e.ID)
			}
		}
	}
	check(run())
	a.must(200, "PUT", "/v1/companies/"+co+"/users/"+users[0]+"/twofa/web", map[string]any{"enabled": false})
	check(run())
	srv.stop(t)
}

// TestSIEMRecipeVerifiesADelivery runs the Python verifier of
// docs/events-to-siem.md, with Python's own hmac, on a delivery Twostep
// made: it accepts it, and refuses it with one byte of the body changed.
func TestSIEMRecipeVerifiesADelivery(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	doc, err := os.ReadFile("../../docs/events-to-siem.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```python\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("no Python block in docs/events-to-siem.md")
	}
	in := newInstance(t, storetest.SQLiteURL(t))
	in.mustRun("migrate")
	srv := in.serve()
	a := apiClient{t: t, base: srv.URL, key: in.apiKey()}
	rcv := providertest.StartReceiver(t)
	ep := a.must(201, "POST", "/v1/event-endpoints", map[string]any{"url": rcv.URL})
	secret := ep["secret"].(string)
	rcv.SetSecret(secret)
	co := a.must(201, "POST", "/v1/companies", map[string]any{"name": "Acme"})["id"].(string)
	a.must(200, "PATCH", "/v1/companies/"+co+"/settings", map[string]any{"responsible_contact": map[string]any{"name": "Rita Berg"}})
	var d providertest.Delivery
	providertest.WaitFor(t, 20*time.Second, "a delivery", func() bool {
		ds := rcv.Deliveries()
		if len(ds) > 0 {
			d = ds[0]
		}
		return len(ds) > 0
	})
	script := string(m[1]) + `
import json, sys
args = json.load(sys.stdin)
print(verify(args["secret"], args["headers"], args["body"].encode()))
`
	verify := func(body string) string {
		t.Helper()
		args, _ := json.Marshal(map[string]any{"secret": secret, "body": body, "headers": map[string]string{
			"webhook-id": d.ID, "webhook-timestamp": d.TimestampHeader, "webhook-signature": d.Signature}})
		cmd := exec.Command(python, "-c", script)
		cmd.Stdin = strings.NewReader(string(args))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("python: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := verify(d.Body); got != "True" {
		t.Fatalf("the recipe's verifier on a real delivery: %s", got)
	}
	if got := verify(strings.Replace(d.Body, "Rita", "Ritb", 1)); got != "False" {
		t.Fatalf("the recipe's verifier on a changed body: %s", got)
	}
	srv.stop(t)
}
