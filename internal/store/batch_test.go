package store_test

import (
	"context"
	"errors"
	"fmt"
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
	time.Sleep(100 * time.Millisecond) // let them queue
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
