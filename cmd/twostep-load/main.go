// Command twostep-load measures Twostep under load (issue 6): full
// sign-ins through the JSON API with N concurrent clients, codes delivered
// through a local Twilio stand-in; the storage limit — the same writes done
// directly on the same database engine with the same concurrency — and the
// ratio of the two; and the audit log at scale (page queries and a CSV
// export over millions of events).
//
// Run it from the module root:
//
//	go run ./cmd/twostep-load                                   # SQLite, 16 clients, 20 s, then the storage limit
//	go run ./cmd/twostep-load -db sqlite,postgres://postgres@127.0.0.1:5432/test?sslmode=disable -clients 1,16
//	go run ./cmd/twostep-load -mode audit-scale -events 1000000 -event-companies 100 -export-events 200000
//	go run ./cmd/twostep-load -inprocess -mode signin -cpuprofile cpu.out -memprofile mem.out
//	go build -o /tmp/tl ./cmd/twostep-load && go tool pprof -top -tagignore=load /tmp/tl cpu.out   # the server's share
//
// By default it builds ./cmd/twostep and starts `twostep serve` as a child
// process, so that the server's RSS is its own. Every run gets a fresh
// database: a new SQLite file in a temporary directory, or a new schema on
// the PostgreSQL server that is dropped at the end.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "twostep-load:", err)
		os.Exit(1)
	}
}

// options are the command line.
type options struct {
	dbs        []string // "sqlite", "sqlite:PATH" or "postgres://…"
	clients    []int
	endpoints  []int // event endpoints per run
	duration   time.Duration
	warmup     time.Duration
	users      int
	companies  int
	server     string // an already running server; "" starts one
	serverPID  int    // its process, for RSS, when known
	apiKey     string // the key for -server
	smsAddr    string // where the Twilio stand-in listens
	bin        string // a built twostep binary; "" builds one
	modes      map[string]bool
	inprocess  bool
	cpuProfile string
	memProfile string
	keep       bool
	// storageNormal also measures SQLite's storage limit with
	// synchronous=NORMAL, where a WAL commit does not wait for fsync.
	storageNormal bool
	timeout       time.Duration // the longest a client waits for a code

	events         int
	eventCompanies int
	exportEvents   int
	pageRequests   int
	genBatch       int

	out, log io.Writer
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("twostep-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "sqlite", `databases, comma-separated: "sqlite" (a fresh file in a temp dir), "sqlite:PATH" or "postgres://…" (a fresh schema is made on that server and dropped afterwards)`)
	clients := fs.String("clients", "16", "concurrent clients, comma-separated for several runs (e.g. 1,16)")
	endpoints := fs.String("endpoints", "0", "event endpoints attached during the sign-in load, comma-separated for several runs (e.g. 0,2): local receivers that check each signature and answer 204")
	o := options{out: stdout, log: stderr}
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "measured time of each run")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "load before the measured time, not counted")
	fs.IntVar(&o.users, "users", 5000, "users to create; each may take 10 codes an hour, so a run does at most 10×users sign-ins")
	fs.IntVar(&o.companies, "companies", 10, "companies to spread the users over")
	fs.StringVar(&o.server, "server", "", "base URL of a running server to load instead of starting one (needs -apikey; its SMS must point at -sms-addr)")
	fs.IntVar(&o.serverPID, "server-pid", 0, "with -server: the server's process id, to report its RSS")
	fs.StringVar(&o.apiKey, "apikey", "", "with -server: an API key for every company")
	fs.StringVar(&o.smsAddr, "sms-addr", "127.0.0.1:0", "where the Twilio stand-in listens (fix it for -server, whose TWOSTEP_SMS must point at it)")
	fs.StringVar(&o.bin, "bin", "", "a built twostep binary (default: go build ./cmd/twostep into a temp dir)")
	mode := fs.String("mode", "signin,storage", "what to run, comma-separated: signin, storage, audit-scale, or all")
	fs.BoolVar(&o.inprocess, "inprocess", false, "run the server inside this process (for -cpuprofile/-memprofile; RSS is then this whole process's)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "with -inprocess: write a CPU profile of the measured time")
	fs.StringVar(&o.memProfile, "memprofile", "", "with -inprocess: write a heap profile (alloc_space and inuse) after the measured time")
	fs.BoolVar(&o.storageNormal, "storage-normal", false, "on SQLite, also measure the storage limit with synchronous=NORMAL (for reference; the ratio uses FULL, the store's setting)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory and PostgreSQL schemas")
	fs.DurationVar(&o.timeout, "code-timeout", 10*time.Second, "the longest a client waits for its code")
	fs.IntVar(&o.events, "events", 10_000_000, "audit-scale: events in all")
	fs.IntVar(&o.eventCompanies, "event-companies", 1000, "audit-scale: companies they are spread over")
	fs.IntVar(&o.exportEvents, "export-events", 1_000_000, "audit-scale: events of the one big company that is exported (part of -events)")
	fs.IntVar(&o.pageRequests, "page-requests", 300, "audit-scale: requests per kind of page query")
	fs.IntVar(&o.genBatch, "gen-batch", 100, "audit-scale: rows per generated INSERT")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, d := range strings.Split(*db, ",") {
		if d = strings.TrimSpace(d); d != "" {
			o.dbs = append(o.dbs, d)
		}
	}
	for _, e := range strings.Split(*endpoints, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(e))
		if err != nil || n < 0 || n > 20 {
			return fmt.Errorf("-endpoints: %q is not a number from 0 to 20", e)
		}
		o.endpoints = append(o.endpoints, n)
	}
	for _, c := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			return fmt.Errorf("-clients: %q is not a positive number", c)
		}
		o.clients = append(o.clients, n)
	}
	o.modes = map[string]bool{}
	for _, m := range strings.Split(*mode, ",") {
		switch m = strings.TrimSpace(m); m {
		case "signin", "storage", "audit-scale":
			o.modes[m] = true
		case "all":
			o.modes["signin"], o.modes["storage"], o.modes["audit-scale"] = true, true, true
		default:
			return fmt.Errorf("-mode: unknown %q (signin, storage, audit-scale, all)", m)
		}
	}
	if (o.cpuProfile != "" || o.memProfile != "") && !o.inprocess {
		return fmt.Errorf("-cpuprofile and -memprofile need -inprocess: the child server has no pprof endpoint")
	}
	if o.server != "" && (o.apiKey == "" || len(o.dbs) > 1) {
		return fmt.Errorf("-server needs -apikey (and one -db, naming the server's engine, for the storage limit)")
	}
	if o.exportEvents > o.events {
		return fmt.Errorf("-export-events (%d) must not exceed -events (%d)", o.exportEvents, o.events)
	}

	w, err := newWorkspace(ctx, o)
	if err != nil {
		return err
	}
	defer w.close()

	var results []result
	if o.modes["signin"] || o.modes["storage"] {
		for _, dbArg := range o.dbs {
			for _, n := range o.clients {
				for _, eps := range o.endpoints {
					r := result{engine: engineOf(dbArg), clients: n, endpoints: eps, duration: o.duration}
					if o.modes["signin"] {
						if err := w.signIn(ctx, dbArg, n, &r); err != nil {
							return fmt.Errorf("sign-in load on %s with %d clients: %w", r.engine, n, err)
						}
					}
					if ctx.Err() != nil {
						return ctx.Err()
					}
					if o.modes["storage"] && eps == o.endpoints[0] {
						if err := w.storageLimit(ctx, dbArg, n, &r); err != nil {
							return fmt.Errorf("storage limit on %s with %d clients: %w", r.engine, n, err)
						}
					}
					results = append(results, r)
					r.print(o.out, o.modes["signin"], o.modes["storage"])
				}
			}
		}
		printTable(o.out, results, o.modes["signin"], o.modes["storage"])
	}
	if o.modes["audit-scale"] {
		for _, dbArg := range o.dbs {
			if err := w.auditScale(ctx, dbArg); err != nil {
				return fmt.Errorf("audit scale on %s: %w", engineOf(dbArg), err)
			}
		}
	}
	return nil
}

// engineOf names a -db value's engine.
func engineOf(db string) string {
	if strings.HasPrefix(db, "postgres") {
		return "postgres"
	}
	return "sqlite"
}
