// Package store keeps Twostep's state in SQLite or PostgreSQL through
// database/sql. Both databases share one set of queries, written with $n
// placeholders and plain SQL that both understand; sqlite.go and
// postgres.go hold the few differences: opening, row locks and the mapping
// of driver errors to the sentinels of package twostep.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twostep/twostep/internal/twostep"
)

// DB is a Twostep store on one database.
type DB struct {
	dialect *dialect
	db      *sql.DB // read-write; on SQLite a single connection, the one writer
	rdb     *sql.DB // read-only transactions; on PostgreSQL the same pool as db
	clock   func() time.Time
	// Prepared statements, per pool: parsing a statement again for every
	// call cost a fifth of the SQLite writer's time.
	wstmts, rstmts *stmtCache
	offset         *clockOffset
	batch          *batcher // SQLite's writer goroutine; nil on PostgreSQL
	dsn            string   // SQLite's connection string, for a backup's own connection
}

// clockOffset is how far the database's clock is ahead of this process's.
// Every instance takes its time from the database, so that instances with
// drifting clocks still agree on when a code expires or a lock ends;
// reading the offset every so often instead of asking the database for
// the time in every transaction saves a round trip per transaction.
type clockOffset struct {
	mu     sync.Mutex
	offset time.Duration
	read   time.Time // when it was last read; zero for never
}

// offsetTTL is how long a measured clock offset is trusted.
const offsetTTL = 10 * time.Second

// get returns the offset if it is fresh.
func (c *clockOffset) get(local time.Time) (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset, !c.read.IsZero() && local.Sub(c.read) < offsetTTL
}

// set records an offset read at local.
func (c *clockOffset) set(local time.Time, offset time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset, c.read = offset, local
}

// stmtCache keeps one prepared statement per query text; database/sql
// keeps it prepared on each connection that has used it. A statement is
// prepared after the transaction that first ran it has ended: preparing
// on the pool inside a transaction would wait for a free connection, and
// SQLite's writer pool has only the one the transaction holds.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db, m: map[string]*sql.Stmt{}} }

// lookup returns the prepared statement of query, if there is one yet.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[query]
}

// prepare prepares the queries not yet prepared. A query that will not
// prepare is left out; running it reports why.
func (c *stmtCache) prepare(ctx context.Context, queries []string) {
	for _, q := range queries {
		if c.lookup(q) != nil {
			continue
		}
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if _, ok := c.m[q]; ok {
			st.Close()
		} else {
			c.m[q] = st
		}
		c.mu.Unlock()
	}
}

// close closes the prepared statements.
func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = map[string]*sql.Stmt{}
}

// dialect holds what differs between the databases.
type dialect struct {
	name string
	// lockRow is appended to a SELECT to hold the row until the
	// transaction ends. SQLite needs nothing: a write transaction holds the
	// whole database.
	lockRow string
	// skipLocked ends a subquery that claims rows, so that workers on
	// several instances skip each other's rows instead of waiting.
	skipLocked string
	// mapError turns driver errors into twostep.ErrConflict and friends.
	mapError func(error) error
	// retryable reports errors after which the whole transaction may be
	// run again (deadlocks, serialisation failures).
	retryable func(error) bool
	// lockMigrations serialises concurrent migrators inside a transaction.
	lockMigrations string
	// versionTableExists counts the tables named schema_migrations.
	versionTableExists string
	// indexedBy names the index a query must use, on SQLite, which plans
	// without statistics; "" where the planner has them.
	indexedBy func(index string) string
	// seqOnlyWalks: a walk down an index that skips rows must read only
	// the index and fetch the rows it keeps afterwards (SQLite, which
	// reads each row of a WITHOUT ROWID table before testing it), rather
	// than read the rows as it goes (PostgreSQL, which tests index columns
	// in the index and reads only the rows that pass).
	seqOnlyWalks bool
	// readTx are the options of a read-only transaction, which sees one
	// snapshot throughout: a challenge and its delivery read together
	// must not straddle another transaction's commit.
	readTx *sql.TxOptions
	// now reads the database's clock; "" means the database runs in this
	// process, whose clock is the database's.
	now string
	// sequencesEvents: events get their place in the feed after they
	// commit (PostgreSQL, whose writers commit out of insertion order),
	// not as they are inserted (SQLite's one writer).
	sequencesEvents bool
}

// Open opens the database named by url: "sqlite:PATH" or "postgres://…".
// It does not migrate; see Migrate and CheckSchema.
func Open(ctx context.Context, url string) (*DB, error) {
	var (
		d   *DB
		err error
	)
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		d, err = openSQLite(strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//"))
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		d, err = openPostgres(url)
	default:
		return nil, fmt.Errorf("database URL must start with sqlite: or postgres://")
	}
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.db.PingContext(pctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("connect to %s: %w", d.dialect.name, err)
	}
	return d, nil
}

// Dialect names the database: "sqlite" or "postgres".
func (d *DB) Dialect() string { return d.dialect.name }

// SetClock replaces the database's clock, for tests that must move time
// without sleeping. Call it before the store is used.
func (d *DB) SetClock(now func() time.Time) { d.clock = now }

// Close closes the database.
func (d *DB) Close() error {
	d.stopBatcher()
	d.wstmts.close()
	d.rstmts.close()
	err := d.db.Close()
	if d.rdb != d.db {
		err = errors.Join(err, d.rdb.Close())
	}
	return err
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	return d.dialect.mapError(d.db.PingContext(ctx))
}

// maxAttempts bounds the reruns of a transaction after a deadlock.
const maxAttempts = 3

// Update runs fn in a read-write transaction. A transaction that fails on a
// deadlock or serialisation error is run again from the start.
func (d *DB) Update(ctx context.Context, fn func(twostep.Tx) error) error {
	if d.batch != nil {
		return d.batchedUpdate(ctx, fn)
	}
	return d.retry(ctx, func() error { return d.run(ctx, d.db, d.wstmts, nil, fn) })
}

// View runs fn in a read-only transaction.
func (d *DB) View(ctx context.Context, fn func(twostep.Tx) error) error {
	return d.retry(ctx, func() error { return d.run(ctx, d.rdb, d.rstmts, d.dialect.readTx, fn) })
}

// retry runs a transaction up to maxAttempts times while it fails in a
// way that running it again can cure, waiting a little longer each time.
func (d *DB) retry(ctx context.Context, run func() error) error {
	for attempt := 1; ; attempt++ {
		err := run()
		if err == nil || attempt == maxAttempts || !d.dialect.retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt*attempt) * 20 * time.Millisecond):
		}
	}
}

// txError marks an error of the transaction machinery itself, so Update
// can tell a retryable database error from one fn made up.
type txError struct{ err error }

func (e txError) Error() string { return e.err.Error() }
func (e txError) Unwrap() error { return e.err }

func (d *DB) run(ctx context.Context, db *sql.DB, stmts *stmtCache, opts *sql.TxOptions, fn func(twostep.Tx) error) error {
	sqlTx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return txError{d.dialect.mapError(fmt.Errorf("begin: %w", err))}
	}
	tx := &Tx{tx: sqlTx, d: d.dialect, clock: d.clock, stmts: stmts, offset: d.offset}
	defer func() { stmts.prepare(ctx, tx.unprepared) }()
	returned := false
	defer func() {
		if !returned { // fn panicked or called runtime.Goexit
			sqlTx.Rollback() // else the connection stays in the transaction
		}
	}()
	err = fn(tx)
	returned = true
	if err != nil {
		sqlTx.Rollback()
		if tx.failed != nil {
			return txError{tx.failed}
		}
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return txError{d.dialect.mapError(fmt.Errorf("commit: %w", err))}
	}
	return nil
}

// Tx is one transaction; it implements twostep.Tx.
type Tx struct {
	tx     *sql.Tx
	d      *dialect
	stmts  *stmtCache
	offset *clockOffset
	clock  func() time.Time
	now    time.Time // the transaction's time, once read
	// failed is the last raw database error, kept so that a deadlock the
	// service wrapped in its own error can still be retried.
	failed error
	// unprepared lists the queries run without a prepared statement.
	unprepared []string
	// detached runs the statements without their context's cancellation
	// (in a batch, where one caller's cancel must not undo the others).
	detached bool
}

// Now returns the database's time, the same for the whole transaction,
// in UTC and to the microsecond, as times are stored.
func (t *Tx) Now(ctx context.Context) (time.Time, error) {
	if !t.now.IsZero() {
		return t.now, nil
	}
	var now time.Time
	switch {
	case t.clock != nil:
		now = t.clock()
	case t.d.now == "":
		now = time.Now()
	default:
		local := time.Now()
		offset, fresh := t.offset.get(local)
		if !fresh {
			var db time.Time
			if err := t.queryRow(ctx, t.d.now).Scan(&db); err != nil {
				return time.Time{}, t.fail(err)
			}
			// The database read its clock about halfway through the
			// round trip.
			after := time.Now()
			local = local.Add(after.Sub(local) / 2)
			offset = db.Sub(local)
			t.offset.set(after, offset)
			local = after
		}
		now = local.Add(offset)
	}
	t.now = now.UTC().Truncate(time.Microsecond)
	return t.now, nil
}

var _ twostep.Tx = (*Tx)(nil)

// stmt returns query prepared, for this transaction; nil when it is not
// prepared yet, and then the transaction notes it to prepare afterwards.
func (t *Tx) stmt(ctx context.Context, query string) *sql.Stmt {
	ctx = t.context(ctx)
	st := t.stmts.lookup(query)
	if st == nil {
		if t.stmts != nil {
			t.unprepared = append(t.unprepared, query)
		}
		return nil
	}
	return t.tx.StmtContext(ctx, st)
}

// context is ctx, without its cancellation in a detached transaction.
func (t *Tx) context(ctx context.Context) context.Context {
	if t.detached {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// exec, query and queryRow run a prepared statement in the transaction.
func (t *Tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = t.context(ctx)
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

func (t *Tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = t.context(ctx)
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

func (t *Tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = t.context(ctx)
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

// exec runs a statement that must touch exactly one row, else ErrNotFound.
func (t *Tx) execOne(ctx context.Context, query string, args ...any) error {
	res, err := t.exec(ctx, query, args...)
	if err != nil {
		return t.fail(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return t.fail(err)
	}
	if n != 1 {
		return twostep.ErrNotFound
	}
	return nil
}

// fail maps a driver error and remembers it for the retry decision.
func (t *Tx) fail(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return twostep.ErrNotFound
	}
	mapped := t.d.mapError(err)
	if t.d.retryable(err) {
		t.failed = err
	}
	return mapped
}

// micros and fromMicros convert times to and from their stored form.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// nullIfEmpty stores "" as NULL, for optional columns under a unique index.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// escapeLike escapes the wildcards of a LIKE pattern; queries use ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
