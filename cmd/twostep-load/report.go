package main

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// print writes one run's details as soon as it ends.
func (r result) print(out io.Writer, signIn, storage bool) {
	fmt.Fprintf(out, "\n== %s, %d clients, %d event endpoints, %s ==\n", r.engine, r.clients, r.endpoints, r.duration)
	if signIn {
		fmt.Fprintf(out, "sign-ins: %d = %.1f/s; p50/p99 ms: create %.2f/%.2f, delivery %.2f/%.2f, verify %.2f/%.2f\n",
			r.signIns, r.rate(), r.create.pct(50), r.create.pct(99), r.deliv.pct(50), r.deliv.pct(99), r.verif.pct(50), r.verif.pct(99))
		who := "server"
		if r.rssOwn {
			who = "load program with in-process server"
		}
		fmt.Fprintf(out, "RSS (%s): %.1f MiB at start, %.1f MiB idle after the set-up, peak under load %.1f MiB\n", who, r.rssStart, r.rssIdle, r.rssPeak)
		fmt.Fprintf(out, "errors: %d%s\n", r.errorCount(), r.errorText())
		if r.endpoints > 0 {
			fmt.Fprintf(out, "events delivered in the measured time: %d = %.1f/s over %d endpoints\n",
				r.eventsDelivered, float64(r.eventsDelivered)/r.duration.Seconds(), r.endpoints)
		}
		fmt.Fprintf(out, "machine load average before/after: %s / %s (on %d cores)\n", r.loadAvg[0], r.loadAvg[1], runtime.NumCPU())
		if r.warmupErrors > 0 {
			fmt.Fprintf(out, "errors during warm-up (not counted above): %d\n", r.warmupErrors)
		}
		if r.budgetOut {
			fmt.Fprintln(out, "WARNING: the users' hourly code budget (10 per user) ran out before the end; raise -users")
		}
		if r.smsDropped > 0 {
			fmt.Fprintf(out, "WARNING: the SMS stand-in got %d codes nobody waited for (duplicate sends?)\n", r.smsDropped)
		}
		if r.serverErrors > 0 {
			fmt.Fprintf(out, "server log: %d ERROR lines, first:\n  %s\n", r.serverErrors, strings.Join(r.serverErrorSample, "\n  "))
		}
	}
	if storage {
		r.storage.print(out, "storage limit", r.duration)
		if r.storageNormal != nil {
			r.storageNormal.print(out, "for reference, with synchronous=NORMAL", r.duration)
		}
	}
	if signIn && storage && r.storage.signIns > 0 {
		fmt.Fprintf(out, "ratio: full sign-in / storage limit = %.3f\n", r.rate()/r.storageRate())
	}
}

func (r result) errorCount() int {
	n := 0
	for _, v := range r.errors {
		n += v
	}
	return n
}

// errorText lists the errors by kind, most frequent first.
func (r result) errorText() string {
	if len(r.errors) == 0 {
		return ""
	}
	kinds := make([]string, 0, len(r.errors))
	for k := range r.errors {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return r.errors[kinds[i]] > r.errors[kinds[j]] })
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, r.errors[k]))
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// printTable writes the summary of every run.
func printTable(out io.Writer, results []result, signIn, storage bool) {
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	var head []string
	head = append(head, "engine", "clients", "endpoints", "seconds")
	if signIn {
		head = append(head, "sign-ins/s", "events/s out", "create p50", "p99", "delivery p50", "p99", "verify p50", "p99", "errors", "RSS start MiB", "RSS idle MiB", "RSS peak MiB")
	}
	if storage {
		head = append(head, "storage limit/s")
	}
	if signIn && storage {
		head = append(head, "ratio")
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, r := range results {
		row := []string{r.engine, fmt.Sprint(r.clients), fmt.Sprint(r.endpoints), fmt.Sprintf("%.0f", r.duration.Seconds())}
		if signIn {
			row = append(row, fmt.Sprintf("%.1f", r.rate()), fmt.Sprintf("%.1f", float64(r.eventsDelivered)/r.duration.Seconds()),
				fmt.Sprintf("%.2f", r.create.pct(50)), fmt.Sprintf("%.2f", r.create.pct(99)),
				fmt.Sprintf("%.2f", r.deliv.pct(50)), fmt.Sprintf("%.2f", r.deliv.pct(99)),
				fmt.Sprintf("%.2f", r.verif.pct(50)), fmt.Sprintf("%.2f", r.verif.pct(99)),
				fmt.Sprint(r.errorCount()), fmt.Sprintf("%.1f", r.rssStart), fmt.Sprintf("%.1f", r.rssIdle), fmt.Sprintf("%.1f", r.rssPeak))
		}
		if storage {
			row = append(row, fmt.Sprintf("%.1f", r.storageRate()))
		}
		if signIn && storage {
			ratio := 0.0
			if r.storage.signIns > 0 {
				ratio = r.rate() / r.storageRate()
			}
			row = append(row, fmt.Sprintf("%.3f", ratio))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
	fmt.Fprintln(out, "(latencies in ms; delivery = code at the SMS stand-in − create answer; RSS sampled every 100 ms)")
}

func (s storageResult) print(out io.Writer, what string, d time.Duration) {
	rate := float64(s.signIns) / d.Seconds()
	fmt.Fprintf(out, "%s: %d sign-ins = %.1f/s (%.1f write transactions/s); p50/p99 ms: create tx %.2f/%.2f, deliver tx %.2f/%.2f, verify tx %.2f/%.2f; errors %d\n",
		what, s.signIns, rate, 3*rate, s.tx[0].pct(50), s.tx[0].pct(99), s.tx[1].pct(50), s.tx[1].pct(99),
		s.tx[2].pct(50), s.tx[2].pct(99), s.errors)
}
