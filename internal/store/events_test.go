package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

func event(id, companyID string, typ twostep.EventType) twostep.Event {
	return twostep.Event{ID: id, CompanyID: companyID, Type: typ, Time: t0, Data: []byte(`{"n":"` + id + `"}`)}
}

// feedIDs reads the feed of one company ("" for all) as ids, sequencing
// first as the deliverer does.
func feedIDs(t *testing.T, db *store.DB, companyID string) ([]string, []int64) {
	t.Helper()
	ctx := context.Background()
	mustUpdate(t, db, func(tx twostep.Tx) error { _, err := tx.SequenceEvents(ctx, 1000); return err })
	var ids []string
	var seqs []int64
	err := db.View(ctx, func(tx twostep.Tx) error {
		evs, err := tx.Events(ctx, companyID, 0, 100)
		for _, e := range evs {
			ids, seqs = append(ids, e.ID), append(seqs, e.Seq)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, seqs
}

// TestEventFeed: events are in the feed in the order they committed, the
// same for every reader, and on PostgreSQL an event whose transaction is
// still open when a later one commits comes after it, not before: a
// reader at the later one's place would otherwise never see it.
func TestEventFeed(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		db := newTestStore(t, url)
		ctx := context.Background()
		mustUpdate(t, db, func(tx twostep.Tx) error {
			return errors.Join(tx.InsertEvent(ctx, event("e1", "co_a", "user.created")),
				tx.InsertEvent(ctx, event("e2", "co_b", "user.created")))
		})
		if storetest.IsPostgres(url) {
			// e3's transaction inserts first and commits last.
			inserted, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
			go func() {
				done <- db.Update(ctx, func(tx twostep.Tx) error {
					if err := tx.InsertEvent(ctx, event("e3", "co_a", "user.updated")); err != nil {
						return err
					}
					close(inserted)
					<-release
					return nil
				})
			}()
			<-inserted
			mustUpdate(t, db, func(tx twostep.Tx) error { return tx.InsertEvent(ctx, event("e4", "co_a", "user.deleted")) })
			if ids, _ := feedIDs(t, db, ""); !slices.Equal(ids, []string{"e1", "e2", "e4"}) {
				t.Fatalf("feed while e3 is uncommitted: %v", ids)
			}
			close(release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		} else {
			mustUpdate(t, db, func(tx twostep.Tx) error {
				return errors.Join(tx.InsertEvent(ctx, event("e4", "co_a", "user.deleted")),
					tx.InsertEvent(ctx, event("e3", "co_a", "user.updated")))
			})
		}
		ids, seqs := feedIDs(t, db, "")
		if !slices.Equal(ids, []string{"e1", "e2", "e4", "e3"}) || !slices.IsSorted(seqs) {
			t.Fatalf("feed %v at %v, want e1 e2 e4 e3 in increasing seq", ids, seqs)
		}
		if a, _ := feedIDs(t, db, "co_a"); !slices.Equal(a, []string{"e1", "e4", "e3"}) {
			t.Fatalf("company a's feed %v", a)
		}
		var last int64
		db.View(ctx, func(tx twostep.Tx) error { last, _ = tx.LastEventSeq(ctx); return nil })
		if last != seqs[3] {
			t.Fatalf("last seq %d, want %d", last, seqs[3])
		}
	})
}

// TestEventDeliveries: an endpoint queues what its filters want after its
// position; a company whose oldest pending delivery waits for a retry
// waits whole, while the others go on; a finished delivery is not
// changed again; the log pages newest first.
func TestEventDeliveries(t *testing.T) {
	storetest.Run(t, func(t *testing.T, url string) {
		db := newTestStore(t, url)
		ctx := context.Background()
		mustUpdate(t, db, func(tx twostep.Tx) error {
			return errors.Join(tx.InsertEvent(ctx, event("old", "co_a", "user.created")))
		})
		_, seqs := feedIDs(t, db, "")
		all := twostep.EventEndpoint{ID: "whe_all", URL: "https://a.test", SealedSecret: "x", CreatedAt: t0, AfterSeq: seqs[0]}
		some := twostep.EventEndpoint{ID: "whe_some", URL: "https://b.test", SealedSecret: "x", CreatedAt: t0.Add(time.Second),
			CompanyID: "co_b", Types: []twostep.EventType{"user.created", "challenge.approved"}, AfterSeq: seqs[0]}
		mustUpdate(t, db, func(tx twostep.Tx) error {
			return errors.Join(tx.CreateEventEndpoint(ctx, all), tx.CreateEventEndpoint(ctx, some),
				tx.InsertEvent(ctx, event("a1", "co_a", "user.created")), tx.InsertEvent(ctx, event("b1", "co_b", "user.created")),
				tx.InsertEvent(ctx, event("a2", "co_a", "user.updated")), tx.InsertEvent(ctx, event("b2", "co_b", "user.updated")),
				tx.InsertEvent(ctx, event("b3", "co_b", "challenge.approved")))
		})
		_, seqs = feedIDs(t, db, "")
		last := seqs[len(seqs)-1]
		// Only the lease's owner queues, and only from where the endpoint is.
		mustUpdate(t, db, func(tx twostep.Tx) error {
			_, err1 := tx.LeaseEventEndpoint(ctx, all.ID, "me", t0, t0.Add(time.Minute))
			_, err2 := tx.LeaseEventEndpoint(ctx, some.ID, "me", t0, t0.Add(time.Minute))
			return errors.Join(err1, err2)
		})
		err := db.Update(ctx, func(tx twostep.Tx) error { return tx.QueueDeliveries(ctx, all, "another", last, t0) })
		if !errors.Is(err, twostep.ErrConflict) {
			t.Fatalf("queueing by one who does not hold the lease: %v, want ErrConflict", err)
		}
		mustUpdate(t, db, func(tx twostep.Tx) error {
			return errors.Join(tx.QueueDeliveries(ctx, all, "me", last, t0), tx.QueueDeliveries(ctx, some, "me", last, t0))
		})
		stale := all // its AfterSeq is behind the stored one now
		err = db.Update(ctx, func(tx twostep.Tx) error { return tx.QueueDeliveries(ctx, stale, "me", seqs[1], t0) })
		if !errors.Is(err, twostep.ErrConflict) {
			t.Fatalf("queueing from a stale position: %v, want ErrConflict", err)
		}
		due := func(id string, now time.Time) (out []string, ds []twostep.DueDelivery) {
			db.View(ctx, func(tx twostep.Tx) error {
				var err error
				ds, err = tx.DueDeliveries(ctx, id, now, 100)
				if err != nil {
					t.Fatal(err)
				}
				return nil
			})
			for _, d := range ds {
				out = append(out, d.EventID)
				if string(d.Data) != `{"n":"`+d.EventID+`"}` || !d.Time.Equal(t0) {
					t.Errorf("delivery %s carries %s at %v", d.EventID, d.Data, d.Time)
				}
			}
			return out, ds
		}
		if got, _ := due("whe_some", t0); !slices.Equal(got, []string{"b1", "b3"}) {
			t.Fatalf("the filtered endpoint's deliveries: %v", got)
		}
		got, ds := due("whe_all", t0)
		if !slices.Equal(got, []string{"a1", "b1", "a2", "b2", "b3"}) {
			t.Fatalf("deliveries: %v", got)
		}
		// a1 fails and waits a minute: a2 waits behind it, b goes on.
		retry := ds[0].EventDelivery
		retry.Attempts, retry.LastAttemptAt, retry.FirstAttemptAt, retry.NextAttemptAt, retry.LastStatusCode = 1, t0, t0, t0.Add(time.Minute), 503
		done := ds[1].EventDelivery
		done.Status, done.Attempts, done.LastStatusCode, done.LastAttemptAt, done.Latency = twostep.EventDelivered, 1, 204, t0, 12*time.Millisecond
		mustUpdate(t, db, func(tx twostep.Tx) error { return tx.SaveDeliveries(ctx, []twostep.EventDelivery{retry, done}) })
		if got, _ := due("whe_all", t0.Add(time.Second)); !slices.Equal(got, []string{"b2", "b3"}) {
			t.Fatalf("while a1 waits: %v, want b's only", got)
		}
		if got, _ := due("whe_all", t0.Add(time.Minute)); !slices.Equal(got, []string{"a1", "a2", "b2", "b3"}) {
			t.Fatalf("once a1 is due: %v", got)
		}
		again := done
		again.Status, again.Attempts = twostep.EventFailed, 7
		mustUpdate(t, db, func(tx twostep.Tx) error { return tx.SaveDeliveries(ctx, []twostep.EventDelivery{again}) })
		var log []twostep.EventDelivery
		db.View(ctx, func(tx twostep.Tx) error {
			log, err = tx.EventDeliveries(ctx, "whe_all", 0, 2)
			if err == nil && len(log) == 2 {
				more, _ := tx.EventDeliveries(ctx, "whe_all", log[1].Seq, 10)
				log = append(log, more...)
			}
			return err
		})
		if len(log) != 5 || log[0].EventID != "b3" || log[3].EventID != "b1" || log[3].Status != twostep.EventDelivered || log[3].Attempts != 1 ||
			log[3].Latency != 12*time.Millisecond || log[3].LastStatusCode != 204 || log[4].Attempts != 1 {
			t.Fatalf("the log: %+v", log)
		}
		// Leases: one owner at a time, until it runs out.
		lease := func(owner string, now time.Time) bool {
			var ok bool
			mustUpdate(t, db, func(tx twostep.Tx) error {
				var err error
				ok, err = tx.LeaseEventEndpoint(ctx, "whe_all", owner, now, now.Add(time.Minute))
				return err
			})
			return ok
		}
		if !lease("one", t0.Add(2*time.Minute)) || lease("two", t0.Add(2*time.Minute+time.Second)) ||
			!lease("one", t0.Add(2*time.Minute+2*time.Second)) || !lease("two", t0.Add(5*time.Minute)) {
			t.Fatal("leases do not take turns")
		}
		// Deleting an endpoint deletes its deliveries.
		mustUpdate(t, db, func(tx twostep.Tx) error { return tx.DeleteEventEndpoint(ctx, "whe_all") })
		if got, _ := due("whe_all", t0.Add(time.Hour)); len(got) != 0 {
			t.Fatalf("deliveries of a deleted endpoint: %v", got)
		}
	})
}
