package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions/builtin"
	"github.com/hookflow/hookflow/agent"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// BenchmarkAgents runs one-job runs of `run: "true"` on four in-process
// agents of a live server on 127.0.0.1 (SPEC §12). "latency" runs one job at
// a time and reports, at the 50th and 99th percentiles, how long a job
// offered to the agents waits until one claims it, and until its step
// starts; "throughput" dispatches 200 runs at once per iteration and
// reports jobs a second through the four agents.
func BenchmarkAgents(b *testing.B) {
	a := startApp(b, map[string]string{"one.yaml": `
on: {dispatch: {}}
sandbox: {level: process}
jobs:
  one:
    runs_on: [pool]
    steps: [{run: "true"}]
`})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); wg.Wait() })
	for i := range 4 {
		name := fmt.Sprint("bench-", i)
		var added struct {
			Token string `json:"token"`
		}
		if code := a.call(b, http.MethodPost, "/api/v1/agents", map[string]any{"name": name, "labels": []string{"pool"}}, &added); code != http.StatusCreated {
			b.Fatalf("add agent: %d", code)
		}
		ag, err := agent.New(agent.Config{Servers: []string{a.url}, Token: added.Token, Name: name,
			DataDir: filepath.Join(b.TempDir(), name), Actions: builtin.Registry(),
			SandboxDefaults: workflows.Sandbox{Level: workflows.LevelProcess}, Version: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() { ag.Run(ctx) })
	}

	b.Run("latency", func(b *testing.B) {
		var claim, start []time.Duration
		for b.Loop() {
			id := benchDispatch(b, a)
			benchWait(b, a, []string{id})
			j := benchJob(b, a, id)
			claim = append(claim, j.StartedAt.Sub(j.OfferedAt))
			start = append(start, benchStepStart(b, a, id).Sub(j.OfferedAt))
		}
		reportPercentiles(b, "claim", claim)
		reportPercentiles(b, "start", start)
	})
	b.Run("throughput", func(b *testing.B) {
		const runs = 200
		jobs := 0
		var elapsed time.Duration
		for b.Loop() {
			began := time.Now()
			ids := make([]string, runs)
			for i := range ids {
				ids[i] = benchDispatch(b, a)
			}
			benchWait(b, a, ids)
			elapsed += time.Since(began)
			jobs += runs
		}
		b.ReportMetric(float64(jobs)/elapsed.Seconds(), "jobs/s")
	})
}

func benchDispatch(b *testing.B, a *testApp) string {
	b.Helper()
	var run api.RunView
	if code := a.call(b, http.MethodPost, "/api/v1/workflows/one/dispatch", map[string]any{}, &run); code != http.StatusAccepted {
		b.Fatalf("dispatch: %d", code)
	}
	return run.ID
}

// benchWait waits until every run in ids succeeded.
func benchWait(b *testing.B, a *testApp, ids []string) {
	b.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for _, id := range ids {
		for {
			r, err := a.store.GetRun(context.Background(), id)
			if err != nil {
				b.Fatal(err)
			}
			if api.Finished(r.Status) {
				if r.Status != workflows.StatusSucceeded {
					b.Fatalf("run %s %s: %s", id, r.Status, r.Reason)
				}
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("run %s still %s", id, r.Status)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
}

// benchJob returns the one job of run id as stored.
func benchJob(b *testing.B, a *testApp, id string) *store.Job {
	b.Helper()
	jobs, err := a.store.Jobs(context.Background(), id)
	if err != nil || len(jobs) != 1 {
		b.Fatalf("jobs of %s: %d, %v", id, len(jobs), err)
	}
	return jobs[0]
}

// benchStepStart returns when the step of run id's one job started.
func benchStepStart(b *testing.B, a *testApp, id string) time.Time {
	b.Helper()
	v, err := api.ViewRunJobs(context.Background(), a.store, mustRun(b, a, id))
	if err != nil || len(v.Jobs) != 1 || len(v.Jobs[0].Steps) != 1 {
		b.Fatalf("run %s: %+v, %v", id, v, err)
	}
	return v.Jobs[0].Steps[0].StartedAt
}

func mustRun(b *testing.B, a *testApp, id string) *store.Run {
	b.Helper()
	r, err := a.store.GetRun(context.Background(), id)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// reportPercentiles reports the 50th and 99th percentiles of ds, in
// milliseconds, as name-p50-ms and name-p99-ms.
func reportPercentiles(b *testing.B, name string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, name+"-p50-ms")
	b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds())/1000, name+"-p99-ms")
}
