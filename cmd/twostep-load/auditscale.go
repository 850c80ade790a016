package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// The audit log at scale: -events events across -event-companies companies
// are written straight into audit_events of a freshly migrated database
// (the store's own schema and indexes), then a server on that database is
// asked for pages of 50 with filters and for a CSV export of the one big
// company's -export-events events.
//
// The generated events are realistic in shape (actions, actors, targets,
// details, ip, user agent, one year of times rising with seq) but their
// hashes are not a valid chain: the chain is not what is timed. Each
// company's audit_seq, audit_head and audit_time are set as the service
// would leave them. Generation commits every 50,000 rows; on SQLite it runs
// with synchronous=NORMAL and foreign keys off, which speeds up only the
// generation, not the server that reads afterwards. PostgreSQL gets a
// VACUUM (ANALYZE) and a CHECKPOINT afterwards, as autovacuum and the
// checkpointer would soon do; SQLite gets no ANALYZE, as the service never
// runs one.

// auditActions are the generated actions and their weights in percent.
var auditActions = []struct {
	action string
	weight int
}{
	{"user.2fa_enabled", 30}, {"user.created", 20}, {"user.2fa_disabled", 15},
	{"user.2fa_failed_attempts", 15}, {"user.2fa_locked", 5}, {"user.2fa_unlocked", 4},
	{"user.updated", 4}, {"settings.general_changed", 3}, {"settings.defaults_changed", 2},
	{"user.2fa_delivery_failed", 1}, {"user.deleted", 1},
}

const (
	auditUsersPerCompany = 50
	auditCommitRows      = 50_000 // rows per transaction
	auditSpan            = 365 * 24 * time.Hour
)

func auditCompanyID(i int) string         { return fmt.Sprintf("co_audit%05d", i) }
func auditUserID(co, u int) string        { return fmt.Sprintf("usr_audit%05d_%02d", co, u) }
func auditEventID(co int, seq int) string { return fmt.Sprintf("evt_audit%05d_%08d", co, seq) }

// auditScale generates the events, then measures pages and the export.
func (w *workspace) auditScale(ctx context.Context, dbArg string) error {
	engine := engineOf(dbArg)
	name := "audit-" + engine
	dbURL, err := w.freshDB(ctx, dbArg, name)
	if err != nil {
		return err
	}
	if err := migrate(ctx, dbURL); err != nil {
		return err
	}
	fmt.Fprintf(w.o.out, "\n== audit scale on %s: %d events across %d companies, one of them with %d ==\n",
		engine, w.o.events, w.o.eventCompanies, w.o.exportEvents)
	start := time.Now()
	if err := generateAudit(ctx, dbURL, w.o.events, w.o.eventCompanies, w.o.exportEvents, w.o.genBatch, w.o.log); err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	gen := time.Since(start)
	fmt.Fprintf(w.o.out, "generation: %.1fs (%.0f events/s)\n", gen.Seconds(), float64(w.o.events)/gen.Seconds())

	srv, err := w.startServer(ctx, dbURL, name)
	if err != nil {
		return err
	}
	defer srv.stop()
	c := newAPIClient(srv.url, srv.key, 4)
	fmt.Fprintf(w.o.out, "server RSS after start: %.1f MiB\n", rssMiB(srv.pid))

	// Pages of 50, newest first, one request at a time.
	now := time.Now().UTC()
	kinds := []struct {
		name  string
		query func(rng *rand.Rand, co int) url.Values
	}{
		{"no filter", func(*rand.Rand, int) url.Values { return url.Values{} }},
		{"action=user.2fa_locked (5%)", func(*rand.Rand, int) url.Values { return url.Values{"action": {"user.2fa_locked"}} }},
		{"action=settings.defaults_changed (2%)", func(*rand.Rand, int) url.Values {
			return url.Values{"action": {"settings.defaults_changed"}}
		}},
		{"user (1 of 50)", func(rng *rand.Rand, co int) url.Values {
			return url.Values{"user": {auditUserID(co, 1+rng.IntN(auditUsersPerCompany-1))}}
		}},
		{"since/until: 7 days, ~6 months ago", func(rng *rand.Rand, _ int) url.Values {
			from := now.Add(-time.Duration(170+rng.IntN(20)) * 24 * time.Hour).Truncate(time.Second)
			return url.Values{"since": {from.Format(time.RFC3339)}, "until": {from.Add(7 * 24 * time.Hour).Format(time.RFC3339)}}
		}},
		{"action+user+since 90 days", func(rng *rand.Rand, co int) url.Values {
			return url.Values{"action": {"user.2fa_enabled"}, "user": {auditUserID(co, 1+rng.IntN(auditUsersPerCompany-1))},
				"since": {now.Add(-90 * 24 * time.Hour).Truncate(time.Second).Format(time.RFC3339)}}
		}},
	}
	tw := tabwriter.NewWriter(w.o.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "page of 50\tcompany\trequests\tp50 ms\tp99 ms\tmax ms\tevents/page\terrors\t")
	rng := rand.New(rand.NewPCG(1, 2))
	for _, k := range kinds {
		for _, big := range []bool{false, true} {
			if !big && w.o.eventCompanies < 2 {
				continue
			}
			var (
				lat    latencies
				events int
				errs   int
			)
			for range w.o.pageRequests {
				co := 0
				if !big {
					co = 1 + rng.IntN(w.o.eventCompanies-1)
				}
				q := k.query(rng, co)
				q.Set("limit", "50")
				var page struct {
					Events []json.RawMessage `json:"events"`
				}
				t := time.Now()
				status, err := c.call(ctx, "GET", "/v1/companies/"+auditCompanyID(co)+"/audit-events?"+q.Encode(), nil, &page)
				lat = append(lat, time.Since(t))
				if err != nil || status != http.StatusOK {
					errs++
					if errs == 1 {
						fmt.Fprintf(w.o.log, "audit page %s: %d %v\n", k.name, status, err)
					}
					continue
				}
				events += len(page.Events)
			}
			which := fmt.Sprintf("typical (%d events)", (w.o.events-w.o.exportEvents)/max(w.o.eventCompanies-1, 1))
			if big {
				which = fmt.Sprintf("big (%d events)", w.o.exportEvents)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%.2f\t%.2f\t%.1f\t%d\t\n", k.name, which, len(lat), lat.pct(50), lat.pct(99),
				lat.pct(100), float64(events)/float64(max(len(lat)-errs, 1)), errs)
		}
	}
	tw.Flush()

	// The CSV export of the big company, with the server's RSS.
	if err := w.exportCSV(ctx, c, srv); err != nil {
		return err
	}
	if srv.logf != "" && !w.o.inprocess {
		srv.stop()
	}
	if n, first := srv.errorLines(); n > 0 {
		fmt.Fprintf(w.o.out, "server log: %d ERROR lines, first:\n  %s\n", n, strings.Join(first, "\n  "))
	}
	return nil
}

// exportCSV downloads the big company's export and reports its time and
// the server's peak RSS meanwhile.
func (w *workspace) exportCSV(ctx context.Context, c *apiClient, srv *server) error {
	before := rssMiB(srv.pid)
	sampler := sampleRSS(srv.pid, 50*time.Millisecond)
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/v1/companies/"+auditCompanyID(0)+"/audit-events/export?format=csv", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	res, err := (&http.Client{Transport: c.http.Transport}).Do(req) // no overall timeout: an export is long
	if err != nil {
		sampler.peak()
		return err
	}
	defer res.Body.Close()
	var first time.Duration
	rd := bufio.NewReaderSize(res.Body, 64<<10)
	var lines, bytes int64
	for {
		b, err := rd.ReadSlice('\n')
		if first == 0 && len(b) > 0 {
			first = time.Since(start)
		}
		bytes += int64(len(b))
		if err == nil {
			lines++
			continue
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != io.EOF {
			sampler.peak()
			return fmt.Errorf("export cut after %d lines: %w", lines, err)
		}
		break
	}
	took := time.Since(start)
	peak := sampler.peak()
	fmt.Fprintf(w.o.out, "CSV export of %d events (status %d): %.1fs (%.0f rows/s, %.1f MiB, first byte after %.0f ms); server RSS %.1f MiB before, peak %.1f MiB during\n",
		lines-1, res.StatusCode, took.Seconds(), float64(lines-1)/took.Seconds(), float64(bytes)/(1<<20),
		float64(first.Microseconds())/1000, before, peak)
	if w.o.inprocess {
		fmt.Fprintln(w.o.out, "(in-process: the RSS includes the load program reading the export)")
	}
	return nil
}

// generateAudit writes the events straight into the database.
func generateAudit(ctx context.Context, dbURL string, events, companies, bigEvents, auditBatch int, log io.Writer) error {
	if companies < 1 {
		return fmt.Errorf("-event-companies must be at least 1")
	}
	var (
		db      *sql.DB
		err     error
		workers = 1
	)
	if path, ok := strings.CutPrefix(dbURL, "sqlite:"); ok {
		db, err = sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(0)&_txlock=immediate")
		if err == nil {
			db.SetMaxOpenConns(1)
		}
	} else {
		db, err = sql.Open("pgx", dbURL)
		workers = 4
		if err == nil {
			db.SetMaxOpenConns(workers)
		}
	}
	if err != nil {
		return err
	}
	defer db.Close()

	counts := make([]int, companies)
	counts[0] = bigEvents
	if companies == 1 {
		counts[0] = events
	} else {
		rest := events - bigEvents
		for i := 1; i < companies; i++ {
			counts[i] = rest / (companies - 1)
			if i <= rest%(companies-1) {
				counts[i]++
			}
		}
	}
	// The secondary indexes are dropped for the generation and made again
	// after it from their own definitions, which is much faster than
	// keeping them up to date row by row.
	indexes, err := dropAuditIndexes(ctx, db, strings.HasPrefix(dbURL, "sqlite:"))
	if err != nil {
		return err
	}
	now := time.Now().UnixMicro()
	for i := range companies {
		if _, err := db.ExecContext(ctx, `INSERT INTO companies (id, name, created_at, delivery_method, sms_daily_cap, settings_updated_at)
			VALUES ($1, $2, $3, 'sms_then_email', 1000, $3)`, auditCompanyID(i), fmt.Sprintf("Audit %05d", i), now-auditSpan.Microseconds()); err != nil {
			return err
		}
	}

	var cols = []string{"company_id", "seq", "id", "time", "actor_type", "actor_id", "actor_name", "action", "target_id",
		"target_name", "app", "details", "ip", "user_agent", "hash"}
	// SQLite gets ? placeholders: modernc looks $n parameters up by name,
	// which is quadratic in a statement with 15,000 of them.
	positional := strings.HasPrefix(dbURL, "sqlite:")
	insert := func(rows int) string {
		var sb strings.Builder
		sb.WriteString("INSERT INTO audit_events (" + strings.Join(cols, ", ") + ") VALUES ")
		p := 1
		for r := range rows {
			if r > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(")
			for c := range cols {
				if c > 0 {
					sb.WriteString(", ")
				}
				if positional {
					sb.WriteString("?")
				} else {
					fmt.Fprintf(&sb, "$%d", p)
				}
				p++
			}
			sb.WriteString(")")
		}
		return sb.String()
	}
	full := insert(auditBatch)

	jobs := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		written  int
		lastLog  = time.Now()
	)
	for range workers {
		wg.Go(func() {
			args := make([]any, 0, auditBatch*len(cols))
			for co := range jobs {
				err := func() error {
					n := counts[co]
					rng := rand.New(rand.NewPCG(uint64(co), 7))
					step := auditSpan.Microseconds() / int64(max(n, 1))
					first := now - auditSpan.Microseconds()
					hash := ""
					if !positional {
						// PostgreSQL: one COPY per company.
						var err error
						if hash, err = copyAudit(ctx, db, cols, rng, co, n, first, step); err != nil {
							return err
						}
						mu.Lock()
						written += n
						mu.Unlock()
					}
					tx, err := db.BeginTx(ctx, nil)
					if err != nil {
						return err
					}
					defer func() { tx.Rollback() }()
					batches := 0
					for seq := 1; positional && seq <= n; {
						rows := min(auditBatch, n-seq+1)
						args = args[:0]
						for r := 0; r < rows; r, seq = r+1, seq+1 {
							e := auditEvent(rng, co, seq, first+int64(seq)*step)
							hash = e[14].(string)
							args = append(args, e...)
						}
						q := full
						if rows < auditBatch {
							q = insert(rows)
						}
						if _, err := tx.ExecContext(ctx, q, args...); err != nil {
							return err
						}
						if batches++; batches%max(auditCommitRows/auditBatch, 1) == 0 {
							if err := tx.Commit(); err != nil {
								return err
							}
							if tx, err = db.BeginTx(ctx, nil); err != nil {
								return err
							}
						}
						mu.Lock()
						written += rows
						if time.Since(lastLog) > 10*time.Second {
							fmt.Fprintf(log, "generated %d of %d events\n", written, events)
							lastLog = time.Now()
						}
						mu.Unlock()
					}
					if _, err := tx.ExecContext(ctx, `UPDATE companies SET audit_seq = $2, audit_head = $3, audit_time = $4 WHERE id = $1`,
						auditCompanyID(co), n, hash, first+int64(n)*step); err != nil {
						return err
					}
					return tx.Commit()
				}()
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for co := range companies {
		if ctx.Err() != nil {
			break
		}
		jobs <- co
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	for _, ix := range indexes {
		if _, err := db.ExecContext(ctx, ix); err != nil {
			return fmt.Errorf("%s: %w", ix, err)
		}
	}
	if !strings.HasPrefix(dbURL, "sqlite:") {
		// Settle: what autovacuum would soon do to ten million new rows
		// (statistics, the visibility map), and a checkpoint, so that
		// neither runs in the middle of the measurement.
		for _, q := range []string{`VACUUM (ANALYZE) audit_events`, `CHECKPOINT`} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
	}
	return ctx.Err()
}

// auditEvent makes one event's column values, in the order of cols.
func auditEvent(rng *rand.Rand, co, seq int, at int64) []any {
	pick := rng.IntN(100)
	action := auditActions[len(auditActions)-1].action
	for _, a := range auditActions {
		if pick < a.weight {
			action = a.action
			break
		}
		pick -= a.weight
	}
	admin := auditUserID(co, 0)
	target := 1 + rng.IntN(auditUsersPerCompany-1)
	actorType, actorID, actorName := "user", admin, "Admin 0"
	targetID, targetName, app, details := auditUserID(co, target), fmt.Sprintf("User %d", target), "", ""
	switch action {
	case "settings.general_changed":
		targetID, targetName, details = "", "", `{"field":"delivery_method","from":"email_only","to":"sms_then_email"}`
	case "settings.defaults_changed":
		targetID, targetName, details = "", "", `{"field":"defaults.web","from":false,"to":true}`
	case "user.2fa_enabled", "user.2fa_disabled", "user.2fa_unlocked":
		app = []string{"web", "manager"}[rng.IntN(2)]
	case "user.2fa_failed_attempts", "user.2fa_locked":
		actorID, actorName, app = targetID, targetName, "web"
		details = fmt.Sprintf(`{"challenge_id":"ch_load%08d","failed_attempts":%d}`, seq, 3+7*rng.IntN(2))
	case "user.2fa_delivery_failed":
		actorType, actorID, actorName, app = "system", "twostep", "Twostep", "web"
		details = `{"channel":"sms","reason":"twilio answered 400 (code 21211)"}`
	case "user.created", "user.updated", "user.deleted":
		if rng.IntN(2) == 0 {
			actorType, actorID, actorName = "api_key", "key_load", "platform"
		}
	}
	hash := fmt.Sprintf("%064x", uint64(co)<<32|uint64(seq))
	return []any{auditCompanyID(co), seq, auditEventID(co, seq), at, actorType, actorID, actorName, action,
		targetID, targetName, app, details, "203.0.113.7", "Mozilla/5.0 (X11; Linux x86_64) load", hash}
}

// dropAuditIndexes drops audit_events' secondary, non-unique indexes and
// returns the statements that make them again.
func dropAuditIndexes(ctx context.Context, db *sql.DB, sqlite bool) ([]string, error) {
	q := `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_events' AND sql IS NOT NULL`
	if !sqlite {
		q = `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_events' AND schemaname = current_schema()`
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	type index struct{ name, def string }
	var found []index
	for rows.Next() {
		var ix index
		if err := rows.Scan(&ix.name, &ix.def); err != nil {
			rows.Close()
			return nil, err
		}
		if !strings.Contains(strings.ToUpper(ix.def), "UNIQUE") {
			found = append(found, ix)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var defs []string
	for _, ix := range found {
		if _, err := db.ExecContext(ctx, `DROP INDEX `+ix.name); err != nil {
			return nil, err
		}
		defs = append(defs, ix.def)
	}
	return defs, nil
}

// copyAudit writes one company's n events with PostgreSQL's COPY, on the
// pgx connection under database/sql, and returns the last event's hash.
func copyAudit(ctx context.Context, db *sql.DB, cols []string, rng *rand.Rand, co, n int, first, step int64) (string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	hash := ""
	err = conn.Raw(func(dc any) error {
		pc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("not a pgx connection: %T", dc)
		}
		seq := 0
		_, err := pc.Conn().CopyFrom(ctx, pgx.Identifier{"audit_events"}, cols, pgx.CopyFromFunc(func() ([]any, error) {
			if seq++; seq > n {
				return nil, nil
			}
			e := auditEvent(rng, co, seq, first+int64(seq)*step)
			hash = e[14].(string)
			return e, nil
		}))
		return err
	})
	return hash, err
}
