package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twostep/twostep/internal/store"
	"github.com/twostep/twostep/internal/storetest"
	"github.com/twostep/twostep/internal/twostep"
)

// BenchmarkGroupCommit runs small updates from 16 goroutines at once
// through the SQLite writer: the group commit's own cost per update.
func BenchmarkGroupCommit(b *testing.B) {
	db := storetest.Open(b, storetest.SQLiteURL(b))
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(8) // 16 goroutines on 2 CPUs
	before := store.Commits(db)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			err := db.Update(ctx, func(tx twostep.Tx) error {
				_, err := tx.CountUpTo(ctx, fmt.Sprint("bench:", i%64), 1<<30, time.Now().Add(time.Hour))
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/float64(store.Commits(db)-before), "updates/commit")
}
