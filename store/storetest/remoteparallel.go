package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
)

var remoteParallelTests = []test{
	{"ClaimEachJobOnce", func(t *testing.T, h *harness) {
		// Runners with overlapping labels claim at once, as agents do through
		// several nodes: each job is claimed once, by a runner with its labels.
		const runs, perRun, claimers = 10, 6, 8
		labels := []string{"l0", "l1", "l2"}
		want := make(map[string]bool)
		for range runs {
			r := h.runningRun()
			for i := range perRun {
				j := h.offered(r.ID, fmt.Sprint("job-", i), time.Duration(i)*time.Millisecond, labels[i%len(labels)])
				want[r.ID+"/"+j.Key] = true
			}
		}
		claimed := make([][]*store.Job, claimers)
		var wg sync.WaitGroup
		for i := range claimers {
			wg.Go(func() {
				runner := fmt.Sprint("agent-", i)
				mine := []string{labels[i%len(labels)], labels[(i+1)%len(labels)]}
				for {
					j, err := h.s.ClaimJob(h.ctx, runner, mine, time.Minute, t0)
					if err != nil {
						t.Errorf("ClaimJob(%s): %v", runner, err)
						return
					}
					if j == nil {
						return
					}
					if !slices.Contains(mine, j.RunsOn[0]) || j.Runner != runner || j.Attempt != 1 {
						t.Errorf("ClaimJob(%s, %v) = %s/%s on %v, by %q, attempt %d", runner, mine, j.RunID, j.Key, j.RunsOn, j.Runner, j.Attempt)
					}
					claimed[i] = append(claimed[i], j)
				}
			})
		}
		wg.Wait()
		seen := make(map[string]int)
		for _, jobs := range claimed {
			for _, j := range jobs {
				name := j.RunID + "/" + j.Key
				seen[name]++
				if stored := h.job(j.RunID, j.Key); stored.Runner != j.Runner || stored.Attempt != 1 {
					t.Errorf("job %s claimed by %s is stored as %s's, attempt %d", name, j.Runner, stored.Runner, stored.Attempt)
				}
			}
		}
		for name, n := range seen {
			if n != 1 || !want[name] {
				t.Errorf("job %s claimed %d times (offered: %v)", name, n, want[name])
			}
		}
		if len(seen) != len(want) {
			t.Fatalf("%d jobs claimed, want %d", len(seen), len(want))
		}
	}},
	{"ClaimKeepsGroupsAcrossGoroutines", func(t *testing.T, h *harness) {
		// Every run has a job in each group: at any time one job of a group
		// runs, whoever claims.
		const groups, runs, claimers = 6, 5, 8
		for range runs {
			r := h.runningRun()
			var jobs []*store.Job
			for g := range groups {
				jobs = append(jobs, newJob(fmt.Sprint("deploy-", g), g, 0, "queued"))
			}
			h.saveJobs(r.ID, jobs, nil)
			for _, j := range jobs {
				if err := h.s.OfferJob(h.ctx, r.ID, j.Key, offerOf(j.Key), "g-"+j.Key, waiting, t0); err != nil {
					t.Fatalf("OfferJob: %v", err)
				}
			}
		}
		for round := range runs {
			now := at(time.Duration(round) * time.Minute)
			var (
				mu      sync.Mutex
				running []*store.Job
				wg      sync.WaitGroup
			)
			for i := range claimers {
				wg.Go(func() {
					for {
						j, err := h.s.ClaimJob(h.ctx, fmt.Sprint("agent-", i), []string{"local"}, time.Minute, now)
						if err != nil {
							t.Errorf("ClaimJob: %v", err)
						}
						if j == nil || err != nil {
							return
						}
						mu.Lock()
						running = append(running, j)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			h.wantNoClaim("agent-x", []string{"local"}, now)
			keys := make(map[string]int)
			for _, j := range running {
				keys[j.Key]++
			}
			if len(running) != groups || len(keys) != groups {
				t.Fatalf("round %d: claimed %s, want one job of each of %d groups", round, jobKeys(running), groups)
			}
			for _, j := range running {
				h.finishJob(j, j.Runner, "succeeded", now.Add(time.Second))
			}
		}
		h.wantNoClaim("agent-x", []string{"local"}, at(time.Hour))
	}},
}
