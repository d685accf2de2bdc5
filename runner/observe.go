package runner

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/hookflow/hookflow/runner/sandbox"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// logFlushInterval is how long a log line may wait before it is stored and
// shown to followers; batching keeps a chatty step from costing a write per line.
const logFlushInterval = 100 * time.Millisecond

// logFlushLines stores a batch early when this many lines are waiting.
const logFlushLines = 512

// storeObserver records a pool run's progress in the store as it happens:
// a `steps:` run's, or that of one job of a `jobs:` run.
type storeObserver struct {
	pool *Pool
	run  *store.Run
	// job is the key of the job observed; "" for a `steps:` run.
	job string

	mu      sync.Mutex
	pending []store.LogLine
	steps   []StepResult
	full    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

func newStoreObserver(p *Pool, run *store.Run, job string) *storeObserver {
	o := &storeObserver{pool: p, run: run, job: job, full: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
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
	var err error
	if o.job != "" {
		err = o.pool.c.Store.UpdateJobSteps(ctx, o.run.ID, o.job, b, sandbox)
	} else {
		err = o.pool.c.Store.UpdateSteps(ctx, o.run.ID, b, sandbox)
	}
	if err != nil {
		o.pool.c.Logger.Warn("record step", "run", o.run.ID, "job", o.job, "err", err)
	}
}

func (o *storeObserver) Log(l LogLine) {
	o.mu.Lock()
	o.pending = append(o.pending, store.LogLine{Job: o.job, Step: l.Step, Stream: l.Stream, Time: l.Time.UTC(), Text: l.Text})
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

// jobsObserver records the progress of a pool's `jobs:` run in the store: its
// jobs, and through a storeObserver for each, their steps and lines.
type jobsObserver struct {
	pool *Pool
	run  *store.Run

	mu   sync.Mutex
	jobs map[string]*storeObserver
}

func newJobsObserver(p *Pool, run *store.Run) *jobsObserver {
	return &jobsObserver{pool: p, run: run, jobs: map[string]*storeObserver{}}
}

func (o *jobsObserver) JobsChanged(changed []JobResult, removed []string) {
	if len(changed)+len(removed) == 0 {
		return
	}
	rows := make([]*store.Job, len(changed))
	for i := range changed {
		j := &changed[i]
		// A running job's steps are its observer's to record.
		rows[i] = j.stored(o.run.ID, j.Status != workflows.StatusRunning)
		if workflows.Finished(j.Status) {
			o.closeJob(j.Key)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := o.pool.c.Store.SaveJobs(ctx, o.run.ID, rows, removed); err != nil {
		o.pool.c.Logger.Error("record jobs", "run", o.run.ID, "err", err)
	}
}

func (o *jobsObserver) Job(job JobResult) Observer {
	key := job.Key
	o.mu.Lock()
	defer o.mu.Unlock()
	j := o.jobs[key]
	if j == nil {
		j = newStoreObserver(o.pool, o.run, key)
		o.jobs[key] = j
	}
	return j
}

// closeJob stores the last lines of a finished job.
func (o *jobsObserver) closeJob(key string) {
	o.mu.Lock()
	j := o.jobs[key]
	delete(o.jobs, key)
	o.mu.Unlock()
	if j != nil {
		j.close()
	}
}

// close stores the last lines of every job.
func (o *jobsObserver) close() {
	o.mu.Lock()
	jobs := o.jobs
	o.jobs = nil
	o.mu.Unlock()
	for _, j := range jobs {
		j.close()
	}
}

func (o *jobsObserver) StartJob(j JobResult, group string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return o.pool.c.Store.StartJob(ctx, o.run.ID, j.Key, group, j.Runner, j.StartedAt.UTC())
}
