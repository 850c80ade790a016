package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestMeterLine(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	m := newMeter(&bytes.Buffer{}, "Verifying the audit log", "events", 5_000_000, func() time.Time { return at })
	for _, tc := range []struct {
		done    int64
		elapsed time.Duration
		want    string
	}{
		{0, 0, "Verifying the audit log: 0 of 5,000,000 events (0%), 0s so far"},
		{1_200_000, 4 * time.Second, "Verifying the audit log: 1,200,000 of 5,000,000 events (24%), 300,000 a second, about 13s left, 4s so far"},
		{5_000_000, 10 * time.Second, "Verifying the audit log: 5,000,000 of 5,000,000 events (100%), 500,000 a second, 10s so far"},
	} {
		if got := m.line(tc.done, tc.elapsed); got != tc.want {
			t.Errorf("line(%d, %v) =\n  %q, want\n  %q", tc.done, tc.elapsed, got, tc.want)
		}
	}
	// No total: no share and no time left. No unit: a step and a clock.
	m.total = 0
	if got, want := m.line(2500, 2*time.Second), "Verifying the audit log: 2,500 events, 1,250 a second, 2s so far"; got != want {
		t.Errorf("without a total: %q, want %q", got, want)
	}
	m.unit, m.step = "", "0007_audit_by_time (7 of 9)"
	if got, want := m.line(0, 95*time.Second), "Verifying the audit log: 0007_audit_by_time (7 of 9), 1m35s so far"; got != want {
		t.Errorf("a step: %q, want %q", got, want)
	}
}

// TestMeterRedrawsInPlaceAndClears: each drawing overwrites the last (a
// shorter line pads out the longer one) and closing leaves a clean line
// for the result.
func TestMeterRedrawsInPlaceAndClears(t *testing.T) {
	var out bytes.Buffer
	m := newMeter(&out, "Migrating the database", "", 0, time.Now)
	go m.run()
	m.set("0010_a_long_migration_name (10 of 12)")
	m.set("0011_short (11 of 12)")
	m.close()
	draws := strings.Split(out.String(), "\r")
	if len(draws) < 4 || !strings.HasPrefix(draws[1], "Migrating the database: 0010_a_long_migration_name (10 of 12)") {
		t.Fatalf("drawings: %q", draws)
	}
	if len(draws[2]) != len(draws[1]) {
		t.Errorf("the shorter line does not cover the longer one: %q over %q", draws[2], draws[1])
	}
	if last := draws[len(draws)-1]; last != "" || strings.TrimSpace(draws[len(draws)-2]) != "" {
		t.Errorf("close leaves %q", out.String()[strings.LastIndex(out.String(), "\r")-20:])
	}
}

// TestMeterIsSilentOffATerminal: a pipe or a log gets no meter at all.
func TestMeterIsSilentOffATerminal(t *testing.T) {
	var errOut bytes.Buffer
	e := &env{ctx: context.Background(), stdout: &bytes.Buffer{}, stderr: &errOut}
	m := e.meter("Verifying the audit log", "events", 10)
	if m != nil {
		t.Fatal("a meter on a buffer")
	}
	m.add(5)
	m.set("step")
	var out bytes.Buffer
	m.above(&out, "ok co_1: 5 events\n")
	m.close()
	e.meterFile("Backing up", "/nonexistent", 1<<30)()
	if errOut.Len() != 0 || out.String() != "ok co_1: 5 events\n" {
		t.Fatalf("off a terminal: stderr %q, stdout %q", errOut.String(), out.String())
	}
}
