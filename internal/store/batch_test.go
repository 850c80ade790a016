package store_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

// TestConcurrentUpdatesFailAlone runs many updates at once, every third
// of which fails after writing: on SQLite they share commits, and still
// each failed one leaves nothing behind and each other one is all there.
func TestConcurrentUpdatesFailAlone(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		db := newTestStore(t, url)
		ctx := context.Background()
		errRefused := errors.New("refused")
		const n = 60
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = db.Update(ctx, func(tx twostep.Tx) error {
					if err := tx.CreateCompany(ctx, company(fmt.Sprintf("co_%02d", i))); err != nil {
						return err
					}
					if i%3 == 0 {
						return errRefused
					}
					return nil
				})
			})
		}
		wg.Wait()
		for i, err := range errs {
			want := error(nil)
			if i%3 == 0 {
				want = errRefused
			}
			if !errors.Is(err, want) && err != want {
				t.Fatalf("update %d: %v, want %v", i, err, want)
			}
			err = db.View(ctx, func(tx twostep.Tx) error {
				_, err := tx.Company(ctx, fmt.Sprintf("co_%02d", i))
				return err
			})
			if i%3 == 0 && !errors.Is(err, twostep.ErrNotFound) {
				t.Fatalf("failed update %d left its company: %v", i, err)
			}
			if i%3 != 0 && err != nil {
				t.Fatalf("update %d lost: %v", i, err)
			}
		}
	})
}

// TestUpdatesShareCommits holds the SQLite writer in one slow update while
// others queue: they must then go to the disk together, in fewer commits
// than updates.
func TestUpdatesShareCommits(t *testing.T) {
	db := newTestStore(t, storetest.SQLiteURL(t))
	ctx := context.Background()
	started, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		db.Update(ctx, func(tx twostep.Tx) error {
			close(started)
			<-release
			return tx.CreateCompany(ctx, company("co_slow"))
		})
	})
	<-started
	before := store.Commits(db)
	const n = 30
	for i := range n {
		wg.Go(func() {
			if err := db.Update(ctx, func(tx twostep.Tx) error {
				return tx.CreateCompany(ctx, company(fmt.Sprintf("co_%02d", i)))
			}); err != nil {
				t.Error(err)
			}
		})
	}
	waitQueued(t, db, n)
	close(release)
	wg.Wait()
	if commits := store.Commits(db) - before; commits < 1 || commits > 3 {
		t.Fatalf("%d updates queued behind one took %d commits, want them grouped", n, commits)
	}
}

// TestUpdateGivenUpWhileQueuedNeverRuns cancels an update waiting behind
// a slow one: it returns at once and its function never runs; a panic in
// an update comes back to its caller and the writer carries on.
func TestUpdateGivenUpWhileQueuedNeverRuns(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		db := newTestStore(t, url)
		ctx := context.Background()
		if db.Dialect() == "sqlite" {
			started, release := make(chan struct{}), make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				db.Update(ctx, func(tx twostep.Tx) error { close(started); <-release; return nil })
			})
			<-started
			cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			ran := false
			err := db.Update(cctx, func(tx twostep.Tx) error { ran = true; return nil })
			close(release)
			wg.Wait()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("queued update past its deadline: %v", err)
			}
			db.Update(ctx, func(tx twostep.Tx) error { return nil }) // the writer has passed it by now
			if ran {
				t.Fatal("an update given up while queued ran")
			}
		}
		func() {
			defer func() {
				if p := recover(); p != "boom" {
					t.Fatalf("recovered %v, want the update's panic", p)
				}
			}()
			db.Update(ctx, func(tx twostep.Tx) error {
				tx.CreateCompany(ctx, company("co_panic"))
				panic("boom")
			})
		}()
		mustUpdate(t, db, func(tx twostep.Tx) error { return tx.CreateCompany(ctx, company("co_after")) })
		err := db.View(ctx, func(tx twostep.Tx) error { _, err := tx.Company(ctx, "co_panic"); return err })
		if !errors.Is(err, twostep.ErrNotFound) {
			t.Fatalf("a panicking update left its company: %v", err)
		}
	})
}

// TestUpdateAfterClose answers an update on a closed store with an
// error, and closing twice is harmless.
func TestUpdateAfterClose(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		db, err := store.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		db.Close()
		if err := db.Update(context.Background(), func(twostep.Tx) error { return nil }); err == nil {
			t.Fatal("update on a closed store succeeded")
		}
	})
}

// waitQueued waits, for at most 10 seconds, until n updates wait for the
// SQLite writer.
func waitQueued(t *testing.T, db *store.DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for store.Queued(db) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d updates queued within 10s, want %d", store.Queued(db), n)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// holdWriter starts an update that holds the SQLite writer until the
// returned function is called, and waits until it does hold it. The
// updates queued meanwhile join its batch; the test waits for the
// holding update's answer at its end.
func holdWriter(t *testing.T, db *store.DB) (release func()) {
	t.Helper()
	started, done := make(chan struct{}), make(chan struct{})
	held := make(chan struct{})
	go func() {
		defer close(done)
		db.Update(context.Background(), func(tx twostep.Tx) error { close(started); <-held; return nil })
	}()
	<-started
	t.Cleanup(func() { <-done })
	return func() { close(held) }
}

// TestGoexitInAnUpdateEndsOnlyItsCaller runs an update whose function
// calls runtime.Goexit, as t.Fatal does: its caller's goroutine ends, its
// writes are undone, and the updates after it still run.
func TestGoexitInAnUpdateEndsOnlyItsCaller(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		db := newTestStore(t, url)
		ctx := context.Background()
		exited := make(chan struct{})
		go func() {
			defer close(exited)
			db.Update(ctx, func(tx twostep.Tx) error {
				tx.CreateCompany(ctx, company("co_goexit"))
				runtime.Goexit()
				return nil
			})
			t.Error("Update returned after its function called Goexit")
		}()
		<-exited
		done := make(chan error, 1)
		go func() {
			done <- db.Update(ctx, func(tx twostep.Tx) error { return tx.CreateCompany(ctx, company("co_next")) })
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("an update after a Goexit did not finish within 10s: the writer hangs")
		}
		err := db.View(ctx, func(tx twostep.Tx) error { _, err := tx.Company(ctx, "co_goexit"); return err })
		if !errors.Is(err, twostep.ErrNotFound) {
			t.Fatalf("the update that called Goexit left its company: %v", err)
		}
	})
}

// TestFailuresAreAnsweredAfterTheCommit puts a failing update and a slow
// one in one batch: the failed one's answer waits until the batch is
// committed, since its failure may rest on what the batch wrote.
func TestFailuresAreAnsweredAfterTheCommit(t *testing.T) {
	db := newTestStore(t, storetest.SQLiteURL(t))
	ctx := context.Background()
	release := holdWriter(t, db)
	errRefused := errors.New("refused")
	failed := make(chan error, 1)
	go func() { failed <- db.Update(ctx, func(tx twostep.Tx) error { return errRefused }) }()
	waitQueued(t, db, 1)
	slowRunning, slowGo := make(chan struct{}), make(chan struct{})
	slow := make(chan error, 1)
	go func() {
		slow <- db.Update(ctx, func(tx twostep.Tx) error {
			close(slowRunning)
			<-slowGo
			return tx.CreateCompany(ctx, company("co_slow"))
		})
	}()
	waitQueued(t, db, 2)
	release()
	<-slowRunning // the failed update has run; the batch is not committed yet
	select {
	case err := <-failed:
		t.Fatalf("a failed update was answered (%v) before its batch committed", err)
	default:
	}
	close(slowGo)
	if err := <-failed; !errors.Is(err, errRefused) {
		t.Fatalf("failed update: %v, want its own error", err)
	}
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
}

// TestFailedCommitAnswersEveryoneUnavailable makes a batch's commit fail:
// every update in it, the ones that failed on their own too, is answered
// unavailable (503), and none of their changes is there.
func TestFailedCommitAnswersEveryoneUnavailable(t *testing.T) {
	db := newTestStore(t, storetest.SQLiteURL(t))
	ctx := context.Background()
	release := holdWriter(t, db)
	store.FailCommits(db, errors.New("disk I/O error"))
	const n = 6
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- db.Update(ctx, func(tx twostep.Tx) error {
				if err := tx.CreateCompany(ctx, company(fmt.Sprintf("co_%d", i))); err != nil {
					return err
				}
				if i%2 == 0 {
					return errors.New("refused")
				}
				return nil
			})
		}()
	}
	waitQueued(t, db, n)
	release() // the holding update's own commit fails too; it is not checked here
	for range n {
		err := <-errs
		var e *twostep.Error
		if !errors.As(err, &e) || e.Code != twostep.CodeUnavailable {
			t.Fatalf("an update of a batch whose commit failed: %v, want unavailable", err)
		}
	}
	store.FailCommits(db, nil)
	for i := range n {
		err := db.View(ctx, func(tx twostep.Tx) error { _, err := tx.Company(ctx, fmt.Sprintf("co_%d", i)); return err })
		if !errors.Is(err, twostep.ErrNotFound) {
			t.Fatalf("company %d of a batch that did not commit: %v", i, err)
		}
	}
	mustUpdate(t, db, func(tx twostep.Tx) error { return tx.CreateCompany(ctx, company("co_after")) })
}
