package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// meter shows long work going on, on a terminal: how much is done, how
// fast, and the time left when the total is known. Its line redraws in
// place twice a second, so that a step that reports nothing for a while
// (one big migration) still shows its clock. Off a terminal (a log, a
// pipe, cron) it writes nothing at all: a nil *meter does nothing.
type meter struct {
	w           io.Writer
	what, unit  string // "Verifying the audit log", "events"
	total       int64  // 0 when not known
	start       time.Time
	now         func() time.Time
	mu          sync.Mutex
	done        int64
	step        string // what is going on now, when there is more to say
	width       int    // of the line last drawn, to clear it
	stop, ended chan struct{}
}

// meterEvery is how often the meter redraws.
const meterEvery = 500 * time.Millisecond

// meter starts a meter on stderr when stderr is a terminal; nil when not.
func (e *env) meter(what, unit string, total int64) *meter {
	if !isTerminal(e.stderr) {
		return nil
	}
	m := newMeter(e.stderr, what, unit, total, time.Now)
	go m.run()
	return m
}

func newMeter(w io.Writer, what, unit string, total int64, now func() time.Time) *meter {
	return &meter{w: w, what: what, unit: unit, total: total, start: now(), now: now,
		stop: make(chan struct{}), ended: make(chan struct{})}
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// add counts n more done.
func (m *meter) add(n int64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.done += n
	m.mu.Unlock()
}

// set says what is going on now ("0007_audit_by_time, 3 of 9").
func (m *meter) set(step string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.step = step
	m.mu.Unlock()
	m.draw()
}

// close stops the meter and clears its line, for the result to follow.
func (m *meter) close() {
	if m == nil {
		return
	}
	close(m.stop)
	<-m.ended
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintf(m.w, "\r%*s\r", m.width, "")
}

// above writes s to w (stdout, say) above the meter's line.
func (m *meter) above(w io.Writer, s string) {
	if m == nil {
		io.WriteString(w, s)
		return
	}
	m.mu.Lock()
	fmt.Fprintf(m.w, "\r%*s\r", m.width, "")
	m.width = 0
	io.WriteString(w, s)
	m.mu.Unlock()
	m.draw()
}

// meterFile meters a file being written towards about total bytes (0 when
// not known), by its size; stop ends it.
func (e *env) meterFile(what, path string, total int64) (stop func()) {
	m := e.meter(what, "MB", total>>20)
	if m == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(meterEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if fi, err := os.Stat(path); err == nil {
					m.mu.Lock()
					m.done = fi.Size() >> 20
					m.mu.Unlock()
				}
			}
		}
	}()
	return func() { close(done); m.close() }
}

// sqliteSize is the size of a SQLite database's files, 0 when the URL is
// not one's.
func sqliteSize(databaseURL string) int64 {
	path, ok := strings.CutPrefix(databaseURL, "sqlite:")
	if !ok {
		return 0
	}
	path, _, _ = strings.Cut(path, "?")
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func (m *meter) run() {
	defer close(m.ended)
	t := time.NewTicker(meterEvery)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.draw()
		}
	}
}

func (m *meter) draw() {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.line(m.done, m.now().Sub(m.start))
	pad := max(m.width-len(l), 0)
	fmt.Fprintf(m.w, "\r%s%*s", l, pad, "")
	m.width = len(l)
}

// line is the meter's text after elapsed with done done:
// "Verifying the audit log: 1,200,000 of 5,000,000 events (24%), 310,000 a second, about 12s left".
func (m *meter) line(done int64, elapsed time.Duration) string {
	var parts []string
	if m.step != "" {
		parts = append(parts, m.step)
	}
	if m.unit != "" {
		count := thousands(done)
		if m.total > 0 {
			count += " of " + thousands(m.total)
		}
		count += " " + m.unit
		if m.total > 0 {
			count += fmt.Sprintf(" (%d%%)", min(done*100/m.total, 100))
		}
		parts = append(parts, count)
		if secs := elapsed.Seconds(); secs >= 1 && done > 0 {
			rate := float64(done) / secs
			parts = append(parts, thousands(int64(rate))+" a second")
			if m.total > done {
				left := time.Duration(float64(m.total-done) / rate * float64(time.Second))
				parts = append(parts, "about "+left.Round(time.Second).String()+" left")
			}
		}
	}
	parts = append(parts, elapsed.Round(time.Second).String()+" so far")
	return m.what + ": " + strings.Join(parts, ", ")
}

// thousands writes n with its thousands separated: 1,200,000.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
