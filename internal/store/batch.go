package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/twostep/twostep/internal/twostep"
)

// SQLite has one writer, and with synchronous=FULL each commit waits for
// the disk. The batcher makes the writer commit for several callers at
// once (group commit): it runs the Update functions waiting at that
// moment one after another in one transaction, each inside its own
// savepoint, and commits once. A function that fails is rolled back to
// its savepoint and fails alone; a commit that fails fails them all, and
// none of them is then in the database. Callers see what they saw
// before: Update returns once its changes are durable, or with an error
// and no changes.

// maxBatch bounds the functions committed together, so that the first
// one in a batch does not wait long for the last.
const maxBatch = 64

// writeReq is one Update waiting for the writer.
type writeReq struct {
	ctx  context.Context
	fn   func(twostep.Tx) error
	done chan error // the outcome, once durable or failed
	// state moves from waiting to running (the writer took it) or to
	// abandoned (its caller stopped waiting first), never both.
	state atomic.Int32
	panic any // what fn panicked with, to panic again in the caller
}

const (
	reqWaiting int32 = iota
	reqRunning
	reqAbandoned
)

// batcher is the writer goroutine's queue.
type batcher struct {
	reqs    chan *writeReq
	quit    chan struct{} // closed by Close
	stopped chan struct{} // closed when the writer has stopped
	once    sync.Once
	commits atomic.Int64
}

// errClosed answers an Update on a closed store.
var errClosed = errors.New("store: the database is closed")

// startBatcher starts d's writer goroutine.
func (d *DB) startBatcher() {
	d.batch = &batcher{reqs: make(chan *writeReq, maxBatch), quit: make(chan struct{}), stopped: make(chan struct{})}
	go d.writeLoop()
}

// stopBatcher ends the writer goroutine once its batch in hand is done;
// the updates still waiting then fail with errClosed.
func (d *DB) stopBatcher() {
	if d.batch == nil {
		return
	}
	d.batch.once.Do(func() { close(d.batch.quit) })
	<-d.batch.stopped
}

// batchedUpdate is Update through the writer goroutine.
func (d *DB) batchedUpdate(ctx context.Context, fn func(twostep.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case d.batch.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-d.batch.quit:
		return errClosed
	}
	var err error
	select {
	case err = <-r.done:
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqWaiting, reqAbandoned) {
			return ctx.Err()
		}
		err = <-r.done // it is running: its outcome is what happened
	case <-d.batch.stopped:
		if r.state.CompareAndSwap(reqWaiting, reqAbandoned) {
			return errClosed
		}
		err = <-r.done
	}
	if r.panic != nil {
		panic(r.panic)
	}
	return err
}

// writeLoop takes the waiting requests, up to maxBatch, and commits them
// together, until the store is closed.
func (d *DB) writeLoop() {
	defer close(d.batch.stopped)
	batch := make([]*writeReq, 0, maxBatch)
	for {
		var first *writeReq
		select {
		case first = <-d.batch.reqs:
		case <-d.batch.quit:
			return
		}
		batch = append(batch[:0], first)
	more:
		for len(batch) < maxBatch {
			select {
			case r := <-d.batch.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		for len(batch) > 0 {
			batch = d.commitBatch(batch)
		}
	}
}

// commitBatch runs the requests of batch in one transaction and reports
// each one's outcome. When the transaction breaks part way (SQLite rolls
// back the whole transaction on some errors, such as a full disk), the
// requests run so far fail and the rest are returned to be run anew.
func (d *DB) commitBatch(batch []*writeReq) (rest []*writeReq) {
	// The transaction is the writer's, not any one caller's: a caller
	// that gives up must not roll back the others' work.
	ctx := context.Background()
	sqlTx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		err = txError{d.dialect.mapError(fmt.Errorf("begin: %w", err))}
		for _, r := range batch {
			if r.state.CompareAndSwap(reqWaiting, reqRunning) {
				r.done <- err
			}
		}
		return nil
	}
	var (
		ok         []*writeReq // run without error, waiting for the commit
		broken     error
		unprepared []string
	)
	// Statements are prepared once the connection is free again.
	defer func() { d.wstmts.prepare(ctx, unprepared) }()
	for i, r := range batch {
		if !r.state.CompareAndSwap(reqWaiting, reqRunning) {
			continue // its caller stopped waiting
		}
		if err := r.ctx.Err(); err != nil {
			r.done <- err
			continue
		}
		if _, err := sqlTx.ExecContext(ctx, "SAVEPOINT b"); err != nil {
			broken, rest = err, batch[i:]
			r.state.Store(reqWaiting) // not run: it goes round again
			break
		}
		err := d.runOne(sqlTx, r, &unprepared)
		if err == nil {
			if _, err = sqlTx.ExecContext(ctx, "RELEASE b"); err == nil {
				ok = append(ok, r)
				continue
			}
		}
		r.done <- err
		if _, rerr := sqlTx.ExecContext(ctx, "ROLLBACK TO b"); rerr != nil {
			broken, rest = rerr, batch[i+1:]
			break
		}
		sqlTx.ExecContext(ctx, "RELEASE b")
	}
	if broken != nil {
		sqlTx.Rollback()
		err := txError{d.dialect.mapError(fmt.Errorf("transaction broke: %w", broken))}
		for _, r := range ok {
			r.done <- err
		}
		return rest
	}
	if err := sqlTx.Commit(); err != nil {
		err = txError{d.dialect.mapError(fmt.Errorf("commit: %w", err))}
		for _, r := range ok {
			r.done <- err
		}
		return nil
	}
	d.batch.commits.Add(1)
	for _, r := range ok {
		r.done <- nil
	}
	return nil
}

// runOne runs one request's function in the batch's transaction. Its
// statements run without its context's cancellation: SQLite answers an
// interrupted write by rolling back the whole transaction, the other
// callers' work with it.
func (d *DB) runOne(sqlTx *sql.Tx, r *writeReq, unprepared *[]string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.panic = p
			err = errors.New("store: the transaction's function panicked")
		}
	}()
	tx := &Tx{tx: sqlTx, d: d.dialect, clock: d.clock, stmts: d.wstmts, detached: true}
	defer func() { *unprepared = append(*unprepared, tx.unprepared...) }()
	if err := r.fn(tx); err != nil {
		if tx.failed != nil {
			return txError{tx.failed}
		}
		return err
	}
	return nil
}
