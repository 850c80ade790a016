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
// once (group commit): the Update functions waiting at a moment run one
// after another in one transaction, each inside its own savepoint, and
// the transaction commits once.
//
// Each function runs on its caller's goroutine, taking its turn: the
// writer goroutine opens the transaction and the savepoints and hands the
// transaction to one caller at a time. So a function that panics or calls
// runtime.Goexit (t.Fatal in a test) ends only its own caller, as a
// function outside a batch would; its savepoint is rolled back and the
// next caller takes its turn.
//
// Every answer waits for the commit, failures too: a function that failed
// may have read what an earlier function of the batch wrote, and that
// answer holds only if the batch commits. When the commit fails (or the
// transaction breaks part way), every function run in it is answered
// with CodeUnavailable, and none of their changes is in the database:
// the callers may try again.

// maxBatch bounds the functions committed together, so that the first
// one in a batch does not wait long for the last.
const maxBatch = 64

// writeReq is one Update waiting for the writer.
type writeReq struct {
	ctx context.Context
	// turn hands the caller the batch's transaction when its turn comes;
	// ran tells the writer how the function ended; done is the answer,
	// once the batch is committed or has failed.
	turn chan *Tx
	ran  chan error
	done chan error
	// state moves from waiting to running (the writer took it) or to
	// abandoned (its caller stopped waiting first), never both.
	state atomic.Int32
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
	// failCommit, when set, stands in for a batch's commit: tests make a
	// commit fail with it.
	failCommit atomic.Pointer[error]
}

// errClosed answers an Update on a closed store.
var errClosed = errors.New("store: the database is closed")

// errAborted is what the writer hears of a function that ended its
// goroutine (a panic or runtime.Goexit) instead of returning.
var errAborted = errors.New("store: the transaction's function did not return")

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

// batchedUpdate is Update through the writer goroutine: it waits for its
// turn in a batch, runs fn here, on the caller's goroutine, and returns
// once the batch is committed.
func (d *DB) batchedUpdate(ctx context.Context, fn func(twostep.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &writeReq{ctx: ctx, turn: make(chan *Tx, 1), ran: make(chan error, 1), done: make(chan error, 1)}
	select {
	case d.batch.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-d.batch.quit:
		return errClosed
	}
	var tx *Tx
	select {
	case tx = <-r.turn:
	case err := <-r.done: // the batch failed before this turn came
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqWaiting, reqAbandoned) {
			return ctx.Err()
		}
		select { // the writer took it: its turn is coming
		case tx = <-r.turn:
		case err := <-r.done:
			return err
		}
	case <-d.batch.stopped:
		if r.state.CompareAndSwap(reqWaiting, reqAbandoned) {
			return errClosed
		}
		select {
		case tx = <-r.turn:
		case err := <-r.done:
			return err
		}
	}
	runTurn(r, tx, fn)
	return <-r.done
}

// runTurn runs fn in the batch's transaction and tells the writer how it
// ended. Should fn end the goroutine instead of returning, the writer is
// told so on the way out, and the panic (or Goexit) goes on up the
// caller's stack.
func runTurn(r *writeReq, tx *Tx, fn func(twostep.Tx) error) {
	returned := false
	defer func() {
		if !returned {
			r.ran <- errAborted
		}
	}()
	err := fn(tx)
	returned = true
	if err != nil && tx.failed != nil {
		err = txError{tx.failed}
	}
	r.ran <- err
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

// outcome is a request run in a batch and the answer it gets if the batch
// commits.
type outcome struct {
	r   *writeReq
	err error
}

// commitBatch runs the requests of batch in one transaction, commits it
// and then answers each one. When the transaction breaks part way (SQLite
// rolls back the whole transaction on some errors, such as a full disk),
// the requests run so far are answered as unavailable and the rest are
// returned to be run anew.
func (d *DB) commitBatch(batch []*writeReq) (rest []*writeReq) {
	// The transaction is the writer's, not any one caller's: a caller
	// that gives up must not roll back the others' work.
	ctx := context.Background()
	sqlTx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		err = unavailable(fmt.Errorf("begin: %w", err))
		for _, r := range batch {
			if r.state.CompareAndSwap(reqWaiting, reqRunning) {
				r.done <- err
			}
		}
		return nil
	}
	var (
		ran        []outcome // answered once the batch commits
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
			r.done <- err // nothing of it ran: this answer holds whatever happens
			continue
		}
		if _, err := sqlTx.ExecContext(ctx, "SAVEPOINT b"); err != nil {
			broken, rest = err, batch[i:]
			r.state.Store(reqWaiting) // not run: it goes round again
			break
		}
		tx := &Tx{tx: sqlTx, d: d.dialect, clock: d.clock, stmts: d.wstmts, detached: true}
		r.turn <- tx
		err := <-r.ran
		unprepared = append(unprepared, tx.unprepared...)
		if err == nil {
			if _, err = sqlTx.ExecContext(ctx, "RELEASE b"); err == nil {
				ran = append(ran, outcome{r, nil})
				continue
			}
		}
		ran = append(ran, outcome{r, err})
		if _, rerr := sqlTx.ExecContext(ctx, "ROLLBACK TO b"); rerr != nil {
			broken, rest = rerr, batch[i+1:]
			break
		}
		sqlTx.ExecContext(ctx, "RELEASE b")
	}
	if broken != nil {
		sqlTx.Rollback()
		answerAll(ran, unavailable(fmt.Errorf("transaction broke: %w", d.dialect.mapError(broken))))
		return rest
	}
	if err := d.batch.commitTx(sqlTx); err != nil {
		answerAll(ran, unavailable(fmt.Errorf("commit: %w", d.dialect.mapError(err))))
		return nil
	}
	d.batch.commits.Add(1)
	for _, o := range ran {
		o.r.done <- o.err
	}
	return nil
}

// commitTx commits a batch's transaction.
func (b *batcher) commitTx(tx *sql.Tx) error {
	if err := b.failCommit.Load(); err != nil {
		tx.Rollback()
		return *err
	}
	return tx.Commit()
}

// answerAll answers every request of a batch that did not commit alike.
func answerAll(ran []outcome, err error) {
	for _, o := range ran {
		o.r.done <- err
	}
}
