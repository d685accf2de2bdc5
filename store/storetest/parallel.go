package storetest

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
)

var parallelTests = []test{
	{"ClaimEachRunOnce", func(t *testing.T, h *harness) {
		const runs, claimers = 200, 8
		var batch []*store.Dispatch
		want := make(map[string]bool)
		for range runs {
			d := h.newDispatch(t0, h.newRun("deploy"))
			batch = append(batch, d)
			want[d.Runs[0].ID] = true
		}
		h.dispatch(t0, batch...)

		claimed := make([][]string, claimers)
		var wg sync.WaitGroup
		for i := range claimers {
			wg.Go(func() {
				node := fmt.Sprintf("n%d", i)
				for {
					r, err := h.s.Claim(h.ctx, node, time.Minute, t0)
					if err != nil {
						t.Errorf("Claim(%s): %v", node, err)
						return
					}
					if r == nil {
						return
					}
					if r.Node != node || r.Status != "running" {
						t.Errorf("Claim(%s) returned a run on %q, %s", node, r.Node, r.Status)
					}
					claimed[i] = append(claimed[i], r.ID)
				}
			})
		}
		wg.Wait()

		seen := make(map[string]int)
		for _, ids := range claimed {
			for _, id := range ids {
				seen[id]++
			}
		}
		for id, n := range seen {
			if n != 1 || !want[id] {
				t.Errorf("run %s claimed %d times (queued: %v)", id, n, want[id])
			}
		}
		if len(seen) != runs {
			t.Fatalf("%d runs claimed, want %d", len(seen), runs)
		}
		h.wantDepth(0)
	}},
	{"ClaimKeepsGroupRulesAcrossGoroutines", func(t *testing.T, h *harness) {
		const groups, perGroup, claimers = 8, 10, 8
		var batch []*store.Dispatch
		for i := range groups * perGroup {
			batch = append(batch, h.newDispatch(t0, h.newRun("deploy", inGroup(fmt.Sprint("g", i%groups)))))
		}
		h.dispatch(t0, batch...)

		var (
			mu      sync.Mutex
			active  = make(map[string]bool)  // groups with a claimed, unfinished run
			lastSeq = make(map[string]int64) // per group, the seq claimed last
			done    int
		)
		var wg sync.WaitGroup
		for i := range claimers {
			wg.Go(func() {
				node := fmt.Sprintf("n%d", i)
				for {
					r, err := h.s.Claim(h.ctx, node, time.Minute, t0)
					if err != nil {
						t.Errorf("Claim(%s): %v", node, err)
						return
					}
					mu.Lock()
					if r == nil {
						finished := done == groups*perGroup
						mu.Unlock()
						if finished {
							return
						}
						runtime.Gosched() // every runnable run is held by another claimer
						continue
					}
					if active[r.Group] {
						t.Errorf("run %s claimed while group %s has a running run", r.ID, r.Group)
					}
					if r.Seq <= lastSeq[r.Group] {
						t.Errorf("group %s: run seq %d claimed after seq %d", r.Group, r.Seq, lastSeq[r.Group])
					}
					active[r.Group], lastSeq[r.Group] = true, r.Seq
					mu.Unlock()

					running, err := h.s.ListRuns(h.ctx, store.RunFilter{Status: "running"})
					if err != nil {
						t.Errorf("ListRuns: %v", err)
						return
					}
					inGroup := make(map[string]int)
					for _, o := range running {
						if inGroup[o.Group]++; inGroup[o.Group] > 1 {
							t.Errorf("group %s has %d running runs", o.Group, inGroup[o.Group])
						}
					}

					// Mark the group free before the store does, so that a
					// claim the store allows never sees it busy.
					mu.Lock()
					active[r.Group] = false
					done++
					mu.Unlock()
					if err := h.s.Finish(h.ctx, node, &store.Run{ID: r.ID, Status: "succeeded", FinishedAt: t0}); err != nil {
						t.Errorf("Finish(%s): %v", r.ID, err)
						return
					}
				}
			})
		}
		wg.Wait()
		h.wantDepth(0)
	}},
	{"DispatchFromManyGoroutines", func(t *testing.T, h *harness) {
		const writers, each = 16, 10
		batches := make([][]*store.Dispatch, writers)
		for i := range batches {
			for range each {
				batches[i] = append(batches[i], h.newDispatch(t0, h.newRun("deploy")))
			}
		}
		var wg sync.WaitGroup
		for _, batch := range batches {
			wg.Go(func() {
				for _, d := range batch {
					if err := h.s.Dispatch(h.ctx, []*store.Dispatch{d}, 0, t0); err != nil || d.Err != nil {
						t.Errorf("Dispatch %s: %v, %v", d.Event.ID, err, d.Err)
					}
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		h.wantDepth(writers * each)

		// Claims follow the order the store gave, whatever order the writers
		// raced in; each writer's own runs keep their order.
		var last int64
		pos := make(map[string]int)
		for range writers * each {
			r := h.claim("n1", t0)
			if r == nil || r.Seq <= last {
				t.Fatalf("Claim = %v after seq %d, want a run with a higher seq", r, last)
			}
			last = r.Seq
			pos[r.ID] = len(pos)
		}
		for _, batch := range batches {
			for j := 1; j < len(batch); j++ {
				if pos[batch[j-1].Runs[0].ID] > pos[batch[j].Runs[0].ID] {
					t.Fatalf("a writer's runs were claimed out of order")
				}
			}
		}
	}},
	{"DedupAcrossGoroutines", func(t *testing.T, h *harness) {
		const writers = 16
		ds := make([]*store.Dispatch, writers)
		for i := range ds {
			ds[i] = h.newDispatch(t0, h.newRun("deploy"))
			ds[i].Event.DedupKey = "delivery-1"
		}
		var wg sync.WaitGroup
		for _, d := range ds {
			wg.Go(func() {
				if err := h.s.Dispatch(h.ctx, []*store.Dispatch{d}, 0, t0); err != nil || d.Err != nil {
					t.Errorf("Dispatch: %v, %v", err, d.Err)
				}
			})
		}
		wg.Wait()
		var stored []string
		for _, d := range ds {
			if d.Duplicate == nil {
				stored = append(stored, d.Event.ID)
			}
		}
		if len(stored) != 1 {
			t.Fatalf("%d events stored for one dedup key, want 1", len(stored))
		}
		for _, d := range ds {
			if d.Duplicate != nil && d.Duplicate.ID != stored[0] {
				t.Fatalf("Duplicate = %s, want %s", d.Duplicate.ID, stored[0])
			}
		}
		h.wantDepth(1)
	}},
}
