package postgres

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// BenchmarkDispatch measures the durable path of webhooks on 1 and 3 nodes:
// events with one run each, one commit per batch, every node committing
// batches one after another as its dispatcher does.
func BenchmarkDispatch(b *testing.B) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, n := range []int{1, 3} {
		for _, size := range []int{1, 64} {
			b.Run(fmt.Sprintf("nodes=%d/batch=%d", n, size), func(b *testing.B) {
				stores := nodes(b, n)
				var next atomic.Int64
				b.ResetTimer()
				var wg sync.WaitGroup
				for _, s := range stores {
					wg.Go(func() {
						for {
							first := int(next.Add(int64(size))) - size
							if first >= b.N {
								return
							}
							batch := make([]*store.Dispatch, 0, size)
							for i := first; i < min(first+size, b.N); i++ {
								batch = append(batch, storetest.BenchDispatch(i, now))
							}
							if err := s.Dispatch(b.Context(), batch, 0, now); err != nil {
								b.Errorf("Dispatch: %v", err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkClaim measures claiming on 1 and 3 nodes, each with 4 claimers
// (the default max_parallel_runs), from a queue of ungrouped runs, and from
// one where most runs wait behind a running run of their group (each claimed
// run is then finished, to free its group). It reports claims a second and
// the latency of a Claim that gets a run.
func BenchmarkClaim(b *testing.B) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	const claimers = 4
	for _, n := range []int{1, 3} {
		for _, tc := range []struct {
			name   string
			groups int // 0: no groups
		}{
			{"free", 0},
			{"grouped=16", 16},
		} {
			b.Run(fmt.Sprintf("nodes=%d/%s", n, tc.name), func(b *testing.B) {
				stores := nodes(b, n)
				storetest.FillQueue(b, stores[0], b.N, tc.groups, now)

				var (
					claimed   atomic.Int64
					mu        sync.Mutex
					latencies []time.Duration
				)
				b.ResetTimer()
				var wg sync.WaitGroup
				for i, s := range stores {
					for c := range claimers {
						node := fmt.Sprintf("n%d-%d", i, c)
						wg.Go(func() {
							var mine []time.Duration
							defer func() { mu.Lock(); latencies = append(latencies, mine...); mu.Unlock() }()
							for claimed.Load() < int64(b.N) {
								start := time.Now()
								r, err := s.Claim(b.Context(), node, time.Minute, now)
								took := time.Since(start)
								if err != nil {
									b.Errorf("Claim: %v", err)
									return
								}
								if r == nil {
									// Every runnable run is held by another claimer: wait,
									// as a pool waits for a wake-up.
									time.Sleep(time.Millisecond)
									continue
								}
								mine = append(mine, took)
								claimed.Add(1)
								if tc.groups > 0 {
									if err := s.Finish(b.Context(), node, &store.Run{ID: r.ID, Status: "succeeded", FinishedAt: now}); err != nil {
										b.Errorf("Finish: %v", err)
										return
									}
								}
							}
						})
					}
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
				slices.Sort(latencies)
				if len(latencies) > 0 {
					b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "p50-µs")
					b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "p99-µs")
				}
			})
		}
	}
}

// BenchmarkProgress measures the records a one-step run makes as it goes.
func BenchmarkProgress(b *testing.B) { storetest.BenchProgress(b, nodes(b, 1)[0]) }
