package runner

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/hookflow/hookflow/runner/sandbox"
	"github.com/hookflow/hookflow/store"
)

// logFlushInterval is how long a log line may wait before it is stored and
// shown to followers; batching keeps a chatty step from costing a write per line.
const logFlushInterval = 100 * time.Millisecond

// logFlushLines stores a batch early when this many lines are waiting.
const logFlushLines = 512

// storeObserver records a pool run's progress in the store as it happens.
type storeObserver struct {
	pool *Pool
	run  *store.Run

	mu      sync.Mutex
	pending []store.LogLine
	steps   []StepResult
	full    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

func newStoreObserver(p *Pool, run *store.Run) *storeObserver {
	o := &storeObserver{pool: p, run: run, full: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go o.flusher()
	return o
}

func (o *storeObserver) StepStarted(r StepResult) { o.recordStep(r) }

func (o *storeObserver) StepFinished(r StepResult) {
	o.recordStep(r)
	o.pool.c.Metrics.step(r)
}

// storedStep is a step as a running run's record holds it: as the API shows
// it, and where its processes run, which only a pool that starts after a
// crash reads (see killLeftovers).
type storedStep struct {
	StepResult
	Process *sandbox.Trace `json:"process,omitempty"`
}

// recordStep stores the steps so far, so that the API shows a running run's
// progress.
func (o *storeObserver) recordStep(r StepResult) {
	o.mu.Lock()
	for len(o.steps) <= r.Index {
		o.steps = append(o.steps, StepResult{Index: len(o.steps)})
	}
	o.steps[r.Index] = r
	stored := make([]storedStep, len(o.steps))
	for i, s := range o.steps {
		stored[i] = storedStep{s, s.Process}
	}
	b, _ := json.Marshal(stored)
	sandbox := RunSandbox(o.steps)
	o.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.pool.c.Store.UpdateSteps(ctx, o.run.ID, b, sandbox); err != nil {
		o.pool.c.Logger.Warn("record step", "run", o.run.ID, "err", err)
	}
}

func (o *storeObserver) Log(l LogLine) {
	o.mu.Lock()
	o.pending = append(o.pending, store.LogLine{Step: l.Step, Stream: l.Stream, Time: l.Time.UTC(), Text: l.Text})
	n := len(o.pending)
	o.mu.Unlock()
	if n >= logFlushLines {
		select {
		case o.full <- struct{}{}:
		default:
		}
	}
}

func (o *storeObserver) flusher() {
	defer close(o.done)
	t := time.NewTicker(logFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-o.stop:
			o.flush()
			return
		case <-t.C:
		case <-o.full:
		}
		o.flush()
	}
}

// flush stores the waiting lines, then publishes them with their Seq.
func (o *storeObserver) flush() {
	o.mu.Lock()
	lines := o.pending
	o.pending = nil
	o.mu.Unlock()
	if len(lines) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := o.pool.c.Store.AppendLogs(ctx, o.run.ID, lines); err != nil {
		o.pool.c.Logger.Error("store log lines", "run", o.run.ID, "lines", len(lines), "err", err)
		return
	}
	o.pool.c.Logs.Publish(o.run.ID, lines)
}

// close stores the last lines.
func (o *storeObserver) close() {
	close(o.stop)
	<-o.done
}
