package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

// BenchmarkDueDeliveriesBehindADeadEndpoint is the deliverer's look at an
// endpoint that has been down a while: 20,000 pending deliveries of 100
// companies, every company's oldest waiting for its retry, so nothing is
// due. It is the cost the deliverer pays once per backoff (it looks again
// when the first retry is due), not per poll. On both databases:
//
//	TWOSTEP_TEST_POSTGRES=… go test -run '^$' -bench DueDeliveries ./internal/store/
func BenchmarkDueDeliveriesBehindADeadEndpoint(b *testing.B) {
	for _, engine := range []struct {
		name string
		url  func(testing.TB) string
	}{{"sqlite", storetest.SQLiteURL}, {"postgres", storetest.PostgresURL}} {
		b.Run(engine.name, func(b *testing.B) {
			db := storetest.Open(b, engine.url(b))
			ctx := context.Background()
			const events, companies = 20000, 100
			for start := 0; start < events; start += 1000 {
				mustUpdateB(b, db, func(tx twostep.Tx) error {
					for i := start; i < start+1000; i++ {
						if err := tx.InsertEvent(ctx, event(fmt.Sprint("e", i), fmt.Sprint("co_", i%companies), "user.updated")); err != nil {
							return err
						}
					}
					return nil
				})
			}
			mustUpdateB(b, db, func(tx twostep.Tx) error { _, err := tx.SequenceEvents(ctx, events); return err })
			ep := twostep.EventEndpoint{ID: "whe_dead", URL: "https://dead.test", SealedSecret: "x", CreatedAt: t0}
			mustUpdateB(b, db, func(tx twostep.Tx) error {
				if err := tx.CreateEventEndpoint(ctx, ep); err != nil {
					return err
				}
				if _, err := tx.LeaseEventEndpoint(ctx, ep.ID, "me", t0, t0.Add(time.Hour)); err != nil {
					return err
				}
				return tx.QueueDeliveries(ctx, ep, "me", events, t0)
			})
			// Each company's oldest waits a minute.
			var heads []twostep.EventDelivery
			db.View(ctx, func(tx twostep.Tx) error {
				due, err := tx.DueDeliveries(ctx, ep.ID, t0, events)
				seen := map[string]bool{}
				for _, d := range due {
					if !seen[d.CompanyID] {
						seen[d.CompanyID] = true
						h := d.EventDelivery
						h.Attempts, h.NextAttemptAt = 1, t0.Add(time.Minute)
						heads = append(heads, h)
					}
				}
				return err
			})
			mustUpdateB(b, db, func(tx twostep.Tx) error { return tx.SaveDeliveries(ctx, heads) })
			b.ResetTimer()
			for range b.N {
				err := db.View(ctx, func(tx twostep.Tx) error {
					due, err := tx.DueDeliveries(ctx, ep.ID, t0.Add(time.Second), 200)
					if err == nil && len(due) != 0 {
						b.Fatalf("%d due behind a dead endpoint", len(due))
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func mustUpdateB(b *testing.B, db interface {
	Update(context.Context, func(twostep.Tx) error) error
}, fn func(twostep.Tx) error) {
	b.Helper()
	if err := db.Update(context.Background(), fn); err != nil {
		b.Fatal(err)
	}
}
