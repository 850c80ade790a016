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
// Each function runs on its caller's goroutine. The callers take turns by
// passing the open batch (its transaction and what has run in it) from
// one to the next, like a baton: the caller that finds no batch open
// begins one, and the one that finds nobody waiting after it commits the
// batch, answers everyone in it and hands a new batch to whoever queued
// meanwhile. So a function that panics or calls runtime.Goexit (t.Fatal
// in a test) ends only its own caller, as a function outside a batch
// would: on the way out its savepoint is rolled back and the baton passed
// on.
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

// writeReq is one Update waiting for its turn.
type writeReq struct {
	ctx context.Context
	fn  func(twostep.Tx) error
	// turn hands the caller the open batch when its turn comes; done is
	// the answer, once the batch is committed or has failed.
	turn chan *batch
	done chan error
	// state moves from waiting to running (its turn came) or to
	// abandoned (its caller stopped waiting first), never both.
	state atomic.Int32
}

const (
	reqWaiting int32 = iota
	reqRunning
	reqAbandoned
)

// batcher is the queue of updates waiting for the SQLite writer.
type batcher struct {
	mu      sync.Mutex
	waiting []*writeReq // in the order they came
	open    bool        // a batch is open: someone holds it
	closed  bool
	idle    sync.WaitGroup // the open batch, for Close to wait for
	commits atomic.Int64
	// failCommit, when set, stands in for a batch's commit: tests make a
	// commit fail with it.
	failCommit atomic.Pointer[error]
}

// batch is one open transaction, the callers whose turns it has still to
// give, and what has run in it so far: the baton the callers pass.
type batch struct {
	tx         *sql.Tx
	queue      []*writeReq // its members still to run, in order
	ran        []outcome   // answered once the batch commits
	broken     error       // the transaction broke; it cannot commit
	unprepared []string
}

// outcome is a request run in a batch and the answer it gets if the batch
// commits.
type outcome struct {
	r   *writeReq
	err error
}

// errClosed answers an Update on a closed store.
var errClosed = errors.New("store: the database is closed")

// errAborted is the outcome of a function that ended its goroutine (a
// panic or runtime.Goexit) instead of returning.
var errAborted = errors.New("store: the transaction's function did not return")

// startBatcher sets d up for group commits.
func (d *DB) startBatcher() { d.batch = &batcher{} }

// stopBatcher lets the open batch finish and refuses the updates still
// waiting, and every later one, with errClosed.
func (d *DB) stopBatcher() {
	b := d.batch
	if b == nil {
		return
	}
	b.mu.Lock()
	b.closed = true
	waiting := b.waiting
	b.waiting = nil
	b.mu.Unlock()
	refuse(waiting, errClosed)
	b.idle.Wait()
}

// batchedUpdate is Update with group commit: it waits for its turn in a
// batch (or opens one), runs fn here, on the caller's goroutine, and
// returns once the batch is committed.
func (d *DB) batchedUpdate(ctx context.Context, fn func(twostep.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b := d.batch
	r := &writeReq{ctx: ctx, fn: fn, turn: make(chan *batch, 1), done: make(chan error, 1)}
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return errClosed
	case !b.open:
		b.open = true
		b.idle.Add(1)
		b.mu.Unlock()
		r.state.Store(reqRunning)
		bt, err := d.begin()
		if err != nil {
			d.endBatches(err)
			return err
		}
		d.takeTurn(bt, r) // those who queue meanwhile make the next batch
		return <-r.done
	}
	b.waiting = append(b.waiting, r)
	b.mu.Unlock()
	select {
	case bt := <-r.turn:
		d.takeTurn(bt, r)
	case err := <-r.done: // closed, or the batches failed to begin
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqWaiting, reqAbandoned) {
			return ctx.Err()
		}
		select { // its turn came first
		case bt := <-r.turn:
			d.takeTurn(bt, r)
		case err := <-r.done:
			return err
		}
	}
	return <-r.done
}

// begin opens a batch's transaction. It is the writer's, not any one
// caller's: a caller that gives up must not roll back the others' work.
func (d *DB) begin() (*batch, error) {
	tx, err := d.db.BeginTx(context.Background(), nil)
	if err != nil {
		return nil, unavailable(fmt.Errorf("begin: %w", d.dialect.mapError(err)))
	}
	return &batch{tx: tx}, nil
}

// takeTurn runs r's function in the batch, inside a savepoint, and then
// passes the batch on. Should the function end the goroutine instead of
// returning, its savepoint is rolled back and the batch passed on all the
// same, on the way out; the panic (or Goexit) goes on up the caller's
// stack.
func (d *DB) takeTurn(bt *batch, r *writeReq) {
	ctx := context.Background()
	if err := r.ctx.Err(); err != nil {
		r.done <- err // nothing of it ran: this answer holds whatever happens
		d.pass(bt)
		return
	}
	if _, err := bt.tx.ExecContext(ctx, "SAVEPOINT b"); err != nil {
		bt.broken = err
		bt.ran = append(bt.ran, outcome{r, err})
		d.pass(bt)
		return
	}
	tx := &Tx{tx: bt.tx, d: d.dialect, clock: d.clock, stmts: d.wstmts, detached: true}
	err := errAborted
	defer func() {
		bt.unprepared = append(bt.unprepared, tx.unprepared...)
		if err == nil {
			if _, rerr := bt.tx.ExecContext(ctx, "RELEASE b"); rerr != nil {
				err = rerr
			}
		}
		if err != nil {
			if _, rerr := bt.tx.ExecContext(ctx, "ROLLBACK TO b"); rerr != nil {
				bt.broken = rerr
			} else {
				bt.tx.ExecContext(ctx, "RELEASE b")
			}
		}
		bt.ran = append(bt.ran, outcome{r, err})
		d.pass(bt)
	}()
	err = r.fn(tx)
	if err != nil && tx.failed != nil {
		err = txError{tx.failed}
	}
}

// pass hands the batch to its next member whose caller still waits, or,
// when there is none (or the batch is broken), commits it, answers
// everyone in it and opens the next batch for those who queued meanwhile.
// A batch's members are those waiting when it opened, as many as
// maxBatch: one that joined while it ran would delay the commit that
// everyone before it waits for.
func (d *DB) pass(bt *batch) {
	if bt.broken == nil {
		if next := takeLive(&bt.queue); next != nil {
			next.turn <- bt
			return
		}
	}
	d.finish(bt)
	var next *writeReq
	var members []*writeReq
	for next == nil {
		if members = d.nextMembers(); len(members) == 0 {
			return // no one waits: no batch is open now
		}
		next = takeLive(&members) // nil when all of them gave up
	}
	nb, err := d.begin()
	if err != nil {
		next.done <- err
		refuse(members, err)
		d.endBatches(err)
		return
	}
	nb.queue = members
	next.turn <- nb
}

// nextMembers takes the requests waiting now, as many as a batch holds,
// as the next batch's members; with none waiting, no batch is open any
// more (decided under the lock that new requests look at it under).
func (d *DB) nextMembers() []*writeReq {
	b := d.batch
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(len(b.waiting), maxBatch)
	members := b.waiting[:n:n]
	b.waiting = b.waiting[n:]
	if n == 0 {
		b.open = false
		b.idle.Done()
	}
	return members
}

// takeLive takes the first request of queue whose caller still waits.
func takeLive(queue *[]*writeReq) *writeReq {
	for len(*queue) > 0 {
		r := (*queue)[0]
		*queue = (*queue)[1:]
		if r.state.CompareAndSwap(reqWaiting, reqRunning) {
			return r
		}
	}
	return nil
}

// finish commits a batch (or, broken, rolls it back) and answers everyone
// who ran in it.
func (d *DB) finish(bt *batch) {
	ctx := context.Background()
	defer d.wstmts.prepare(ctx, bt.unprepared) // once the connection is free again
	if bt.broken != nil {
		bt.tx.Rollback()
		answerAll(bt.ran, unavailable(fmt.Errorf("transaction broke: %w", d.dialect.mapError(bt.broken))))
		return
	}
	if err := d.batch.commitTx(bt.tx); err != nil {
		answerAll(bt.ran, unavailable(fmt.Errorf("commit: %w", d.dialect.mapError(err))))
		return
	}
	d.batch.commits.Add(1)
	for _, o := range bt.ran {
		o.r.done <- o.err
	}
}

// endBatches answers every waiting request with err, when no batch can
// begin, and closes the open one.
func (d *DB) endBatches(err error) {
	b := d.batch
	b.mu.Lock()
	waiting := b.waiting
	b.waiting = nil
	b.open = false
	b.mu.Unlock()
	refuse(waiting, err)
	b.idle.Done()
}

// refuse answers the requests whose callers still wait with err: they
// never get a turn.
func refuse(reqs []*writeReq, err error) {
	for _, r := range reqs {
		if r.state.CompareAndSwap(reqWaiting, reqRunning) {
			r.done <- err
		}
	}
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
