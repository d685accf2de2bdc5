package sqlite

import (
	"fmt"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// BenchmarkDispatch measures the durable path of a webhook: events with one
// run each, stored with synchronous=FULL, one commit per batch.
func BenchmarkDispatch(b *testing.B) {
	for _, size := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s := benchStore(b)
			now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			n := 0
			for b.Loop() {
				batch := make([]*store.Dispatch, size)
				for i := range batch {
					batch[i] = storetest.BenchDispatch(n, now)
					n++
				}
				if err := s.Dispatch(b.Context(), batch, 0, now); err != nil {
					b.Fatalf("Dispatch: %v", err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkClaim measures claiming from a queue of ungrouped runs, and from
// one where most runs wait behind a running run of their group.
func BenchmarkClaim(b *testing.B) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		groups int // 0: no groups
	}{
		{"free", 0},
		{"grouped=16", 16},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := benchStore(b)
			storetest.FillQueue(b, s, b.N, tc.groups, now)

			b.ResetTimer()
			for range b.N {
				r, err := s.Claim(b.Context(), "n1", time.Minute, now)
				if err != nil || r == nil {
					b.Fatalf("Claim = %v, %v", r, err)
				}
				if tc.groups > 0 { // let the group's next run go
					if err := s.Finish(b.Context(), "n1", &store.Run{ID: r.ID, Status: "succeeded", FinishedAt: now}); err != nil {
						b.Fatalf("Finish: %v", err)
					}
				}
			}
		})
	}
}

// benchStore opens a Store in sync durability on a temporary file.
func benchStore(b *testing.B) *Store {
	b.Helper()
	s, err := Open(b.Context(), b.TempDir()+"/bench.db", Options{Durability: "sync"})
	return storetest.Closing(b, s, err)
}

// BenchmarkProgress measures the records a one-step run makes as it goes.
func BenchmarkProgress(b *testing.B) { storetest.BenchProgress(b, benchStore(b)) }
