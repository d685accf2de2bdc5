package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions/actiontest"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/sqlite"
	"github.com/hookflow/hookflow/workflows"
)

// benchQueue is newQueue for benchmarks: a real SQLite store in sync
// durability (an fsync per commit), a dispatcher and an idle pool.
func benchQueue(b *testing.B, maxBatch int, src string) *queue {
	b.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "hookflow.db"), sqlite.Options{Durability: "sync"})
	if err != nil {
		b.Fatal(err)
	}
	w, err := workflows.Parse("bench.yaml", []byte(src), nil)
	if err != nil {
		b.Fatal(err)
	}
	set, err := workflows.NewSet("bench", []*workflows.Workflow{w})
	if err != nil {
		b.Fatal(err)
	}
	q := &queue{store: &readCounter{Store: st}, set: set}
	x := &Executor{Actions: actiontest.Registry(b), WorkspaceRoot: b.TempDir(), Path: os.Getenv("PATH")}
	q.pool = NewPool(PoolConfig{Store: st, Executor: x, Workflows: func() *workflows.Set { return set }, Node: "bench", MaxParallel: 4})
	q.dispatcher = NewDispatcher(DispatcherConfig{Store: st, MaxBatch: maxBatch, Notify: q.pool.Wake})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.dispatcher.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done; st.Close() })
	return q
}

// BenchmarkDispatch measures stored events a second with 1, 8 and 64
// concurrent senders, committing together (group commit) or one transaction
// per event.
func BenchmarkDispatch(b *testing.B) {
	for _, mode := range []struct {
		name  string
		batch int
	}{{"group-commit", 0}, {"tx-per-event", 1}} {
		for _, senders := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("%s/senders=%d", mode.name, senders), func(b *testing.B) {
				q := benchQueue(b, mode.batch, "name: bench\non: {dispatch: {}}\nsteps: [{run: 'true'}]\n")
				w, _ := q.set.Lookup("bench")
				var next sync.WaitGroup
				work := make(chan struct{})
				start := time.Now()
				for range senders {
					next.Add(1)
					go func() {
						defer next.Done()
						for range work {
							ev := &workflows.Event{Trigger: workflows.TriggerDispatch, ReceivedAt: time.Now()}
							if _, err := q.dispatcher.Dispatch(context.Background(), ev, []workflows.Verdict{{Workflow: w, Run: true}}, ""); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				for b.Loop() {
					work <- struct{}{}
				}
				close(work)
				next.Wait()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkQueueToStart measures, one run at a time, the time from a
// dispatch's acknowledgement to its step process starting (the step writes the
// clock to a file as its first act).
func BenchmarkQueueToStart(b *testing.B) {
	dir := b.TempDir()
	q := benchQueue(b, 0, `
name: bench
on: {dispatch: {inputs: {n: {}}}}
env: {OUT: "`+dir+`/${{ inputs.n }}"}
defaults: {shell: sh}
steps: [{run: 'date +%s%N > "$OUT"'}]
`)
	ctx, cancel := context.WithCancel(context.Background())
	poolDone := make(chan struct{})
	go func() { q.pool.Run(ctx); close(poolDone) }()
	defer func() { cancel(); <-poolDone }()
	w, _ := q.set.Lookup("bench")
	var latencies []time.Duration
	n := 0
	for b.Loop() {
		n++
		inputs := map[string]any{"n": strconv.Itoa(n)}
		ev := &workflows.Event{Trigger: workflows.TriggerDispatch, ReceivedAt: time.Now(), Inputs: inputs}
		rc, err := q.dispatcher.Dispatch(context.Background(), ev, []workflows.Verdict{{Workflow: w, Run: true}}, "")
		if err != nil {
			b.Fatal(err)
		}
		acked := time.Now()
		r := q.wait(b, rc.Runs[0].ID)
		if r.Status != workflows.StatusSucceeded {
			b.Fatalf("run %s: %s", r.Status, r.Reason)
		}
		data, err := os.ReadFile(filepath.Join(dir, strconv.Itoa(n)))
		if err != nil {
			b.Fatal(err)
		}
		ns, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		latencies = append(latencies, time.Unix(0, ns).Sub(acked))
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkQueuedRunsMemory reports the heap in use with 10,000 runs queued:
// queued runs live in the store, not in memory.
func BenchmarkQueuedRunsMemory(b *testing.B) {
	for b.Loop() {
		q := benchQueue(b, 0, "name: bench\non: {dispatch: {}}\nsteps: [{run: 'true'}]\n")
		w, _ := q.set.Lookup("bench")
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var wg sync.WaitGroup
		for range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10000 / 64 {
					ev := &workflows.Event{Trigger: workflows.TriggerDispatch, ReceivedAt: time.Now()}
					if _, err := q.dispatcher.Dispatch(context.Background(), ev, []workflows.Verdict{{Workflow: w, Run: true}}, ""); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		depth, err := q.store.QueueDepth(context.Background())
		if err != nil || depth < 9984 {
			b.Fatalf("queue depth %d, %v", depth, err)
		}
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(depth), "queued")
		b.ReportMetric(float64(after.HeapInuse)/(1<<20), "heap-MiB")
		b.ReportMetric((float64(after.HeapInuse)-float64(before.HeapInuse))/(1<<20), "heap-growth-MiB")
	}
}

// benchEvent is a webhook event the size of a GitHub push of ten commits,
// with its headers and raw body.
func benchEvent() *workflows.Event {
	commits := make([]any, 10)
	for i := range commits {
		commits[i] = map[string]any{
			"id":        fmt.Sprintf("%040x", i+1),
			"message":   "Keep the basket when the session is renewed\n\nThe cart lost its items on renewal.",
			"timestamp": "2024-09-12T09:41:17+02:00",
			"author":    map[string]any{"name": "Priya Natarajan", "email": "priya@example.com", "username": "priya-n"},
			"added":     []any{"src/cart/session.go"},
			"modified":  []any{"src/cart/cart.go", "src/cart/cart_test.go", "docs/cart.md"},
			"removed":   []any{},
		}
	}
	body := map[string]any{
		"ref": "refs/heads/main", "before": fmt.Sprintf("%040x", 0), "after": fmt.Sprintf("%040x", 10),
		"repository": map[string]any{"full_name": "acme/shop", "id": 123456789.0, "private": false,
			"clone_url": "https://github.com/acme/shop.git", "default_branch": "main"},
		"pusher":  map[string]any{"name": "priya-n", "email": "priya@example.com"},
		"sender":  map[string]any{"login": "priya-n", "id": 42.0},
		"commits": commits, "head_commit": commits[9],
	}
	raw, _ := json.Marshal(body)
	return &workflows.Event{
		Trigger: workflows.TriggerWebhook, Provider: "github", Path: "github", Method: "POST", Name: "push",
		Type: "push", Delivery: "72d3162e-cc78-11e3-81ab-4c9367dc0958", ReceivedAt: time.Now().UTC(),
		Headers: map[string]string{"Accept": "*/*", "Content-Type": "application/json",
			"User-Agent": "GitHub-Hookshot/044aadd", "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
			"X-GitHub-Event": "push", "X-GitHub-Hook-ID": "292430182", "X-Hub-Signature-256": "[redacted]"},
		Body: body, Raw: string(raw), Repo: "acme/shop", Ref: "refs/heads/main", Branch: "main",
		Commit: fmt.Sprintf("%040x", 10), Before: fmt.Sprintf("%040x", 0), CloneURL: "https://github.com/acme/shop.git",
		Sender: "priya-n", Changed: []string{"src/cart/session.go", "src/cart/cart.go", "docs/cart.md"},
	}
}

// BenchmarkJob measures what it costs to give a claimed run its event and
// for_each item: "store" reads the event back from the store and decodes it
// with the item, as a run dispatched elsewhere is; "handoff" makes them at
// dispatch as the store would give them (NormaliseEvent, NormaliseItem) and
// passes them to the pool typed, both sides counted.
func BenchmarkJob(b *testing.B) {
	for _, path := range []string{"store", "handoff"} {
		b.Run(path, func(b *testing.B) {
			q := benchQueue(b, 0, "name: bench\non: {dispatch: {}}\nfor_each: ${{ event.body.commits }}\nsteps: [{run: 'true'}]\n")
			w, _ := q.set.Lookup("bench")
			ev := benchEvent()
			v := w.Decide(workflows.NewScope(ev))
			rc, err := q.dispatcher.Dispatch(context.Background(), ev, []workflows.Verdict{v}, "")
			if err != nil {
				b.Fatal(err)
			}
			run, err := q.store.GetRun(context.Background(), rc.Runs[0].ID)
			if err != nil {
				b.Fatal(err)
			}
			data, _ := json.Marshal(ev)
			if path == "handoff" {
				h := NewHandoff(HandoffConfig{})
				q.dispatcher.c.Handoff, q.pool.c.Handoff = h, h
			}
			for b.Loop() {
				if path == "handoff" {
					q.dispatcher.handOver(ev, data, []*store.Run{run}, v.Items[:1])
				}
				if _, err := q.pool.job(context.Background(), run); err != nil {
					b.Fatal(err)
				}
			}
			if path == "handoff" && q.store.events.Load() != 0 {
				b.Fatalf("the event was read from the store %d times", q.store.events.Load())
			}
		})
	}
}

// fanOut is a workflow of n jobs: one, then n-2 that need it, then one that
// needs them all; each job runs `true`.
func fanOut(n int) string {
	var b strings.Builder
	b.WriteString("name: bench\non: {dispatch: {}}\njobs:\n  first:\n    steps: [{run: 'true'}]\n")
	var mids []string
	for i := range n - 2 {
		id := fmt.Sprintf("mid-%d", i)
		mids = append(mids, id)
		fmt.Fprintf(&b, "  %s:\n    needs: first\n    steps: [{run: 'true'}]\n", id)
	}
	fmt.Fprintf(&b, "  last:\n    needs: [%s]\n    steps: [{run: 'true'}]\n", strings.Join(mids, ", "))
	return b.String()
}

// BenchmarkJobsFanOut measures a run of 50 jobs (one, 48 that need it, one
// that needs those) on a warm pool, from dispatch to its end: "jobs" one job
// at a time, "steps" the same 50 `true` processes as the 50 steps of one job,
// and "jobs-parallel" four jobs at a time. What "jobs" takes beyond "steps",
// per job, is what a job costs beyond its step's process: ms/job-overhead.
func BenchmarkJobsFanOut(b *testing.B) {
	const n = 50
	steps := "name: bench\non: {dispatch: {}}\nsteps:\n" + strings.Repeat("  - run: 'true'\n", n)
	var perRun = map[string]float64{}
	for _, c := range []struct {
		name, src string
		parallel  int
	}{{"steps", steps, 1}, {"jobs", fanOut(n), 1}, {"jobs-parallel", fanOut(n), 4}} {
		b.Run(c.name, func(b *testing.B) {
			q := benchQueue(b, 0, c.src)
			q.pool.c.MaxParallel = c.parallel
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { q.pool.Run(ctx); close(done) }()
			b.Cleanup(func() { cancel(); <-done })
			w, _ := q.set.Lookup("bench")
			start := time.Now()
			for b.Loop() {
				ev := &workflows.Event{Trigger: workflows.TriggerDispatch, Type: "dispatch", ReceivedAt: time.Now()}
				rc, err := q.dispatcher.Dispatch(context.Background(), ev, []workflows.Verdict{w.Decide(workflows.NewScope(ev))}, "")
				if err != nil {
					b.Fatal(err)
				}
				for {
					r, err := q.store.GetRun(context.Background(), rc.Runs[0].ID)
					if err != nil {
						b.Fatal(err)
					}
					if workflows.Finished(r.Status) {
						if r.Status != workflows.StatusSucceeded {
							b.Fatalf("run %s: %s", r.Status, r.Reason)
						}
						break
					}
					time.Sleep(time.Millisecond)
				}
			}
			perRun[c.name] = float64(time.Since(start).Milliseconds()) / float64(b.N)
			b.ReportMetric(perRun[c.name], "ms/run")
			if c.name == "jobs" && perRun["steps"] > 0 {
				b.ReportMetric((perRun["jobs"]-perRun["steps"])/n, "ms/job-overhead")
			}
		})
	}
}
