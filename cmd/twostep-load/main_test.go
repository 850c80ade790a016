package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestLoadProgramPrintsTheRatio runs the load program briefly, with the
// server in this process, on SQLite and (when TWOSTEP_TEST_POSTGRES names
// one) PostgreSQL: sign-ins must complete through the Twilio stand-in with
// no error, the storage limit must be measured, and the ratio printed.
// The figures themselves are not checked: on a shared 2-core machine they
// are noise; docs/performance.md has the real runs.
func TestLoadProgramPrintsTheRatio(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds of load per database")
	}
	dbs := "sqlite"
	if pg := os.Getenv("TWOSTEP_TEST_POSTGRES"); pg != "" {
		dbs += "," + pg
	} else if os.Getenv("TWOSTEP_TEST_REQUIRE") != "" {
		t.Fatal("TWOSTEP_TEST_REQUIRE is set but TWOSTEP_TEST_POSTGRES is not")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, log bytes.Buffer
	err := run(ctx, []string{"-inprocess", "-db", dbs, "-clients", "2", "-duration", "1500ms", "-warmup", "200ms",
		"-users", "300", "-companies", "2", "-endpoints", "0,2"}, &out, &log)
	if err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, &out, &log)
	}
	t.Logf("stdout:\n%s", &out)

	runs := regexp.MustCompile(`(?m)^== (\w+), 2 clients`).FindAllStringSubmatch(out.String(), -1)
	signIns := regexp.MustCompile(`(?m)^sign-ins: (\d+) = `).FindAllStringSubmatch(out.String(), -1)
	errs := regexp.MustCompile(`(?m)^errors: (\d+)`).FindAllStringSubmatch(out.String(), -1)
	ratios := regexp.MustCompile(`(?m)^ratio: full sign-in / storage limit = ([0-9.]+)$`).FindAllStringSubmatch(out.String(), -1)
	delivered := regexp.MustCompile(`(?m)^events delivered in the measured time: (\d+) = [0-9.]+/s over 2 endpoints$`).FindAllStringSubmatch(out.String(), -1)
	want := 1 + bytes.Count([]byte(dbs), []byte(","))
	// Per database: a run without endpoints (with the storage limit and
	// the ratio), then one with two attached.
	if len(runs) != 2*want || len(signIns) != 2*want || len(errs) != 2*want || len(ratios) != want || len(delivered) != want {
		t.Fatalf("want %d runs, each with sign-ins and errors, half with a ratio and half with events delivered; got runs %d, sign-ins %d, errors %d, ratios %d, delivered %d",
			2*want, len(runs), len(signIns), len(errs), len(ratios), len(delivered))
	}
	for i, d := range delivered {
		if n, _ := strconv.Atoi(d[1]); n == 0 {
			t.Errorf("run %d: no event reached the endpoints", i)
		}
	}
	for i := range 2 * want {
		engine := runs[i][1]
		if n, _ := strconv.Atoi(signIns[i][1]); n == 0 {
			t.Errorf("%s: no sign-in completed", engine)
		}
		if errs[i][1] != "0" {
			t.Errorf("%s: %s errors", engine, errs[i][1])
		}
		if i%2 == 0 {
			if r, _ := strconv.ParseFloat(ratios[i/2][1], 64); r <= 0 {
				t.Errorf("%s: ratio %s", engine, ratios[i/2][1])
			}
		}
	}
}
