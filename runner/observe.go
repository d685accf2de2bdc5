package runner

import (
	"context"
	"encoding/json"
	"fmt"
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

// logStoreLines bounds the lines of one AppendLogs call, and
// logStoreAttempts how often one is tried.
const (
	logStoreLines    = 4096
	logStoreAttempts = 3
)

// storeObserver records a pool run's progress in the store as it happens:
// a `steps:` run's, or that of one job of a `jobs:` run, whose jobs share
// one logBuffer.
type storeObserver struct {
	pool *Pool
	run  *store.Run
	// job is the key of the job observed; "" for a `steps:` run.
	job  string
	logs *logBuffer

	mu    sync.Mutex
	steps []StepResult
	// started is the job as it started, stored with its first step's
	// record (one write for both); nil once stored, and for a `steps:` run.
	started *JobResult
}

func newStoreObserver(p *Pool, run *store.Run, job string, logs *logBuffer) *storeObserver {
	return &storeObserver{pool: p, run: run, job: job, logs: logs}
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
	o.mu.Lock()
	started := o.started
	o.started = nil
	o.mu.Unlock()
	var err error
	switch {
	case started != nil:
		row := started.stored(o.run.ID, false)
		row.Steps, row.Sandbox = b, sandbox
		err = o.pool.c.Store.SaveJobs(ctx, o.run.ID, []*store.Job{row}, nil)
	case o.job != "":
		err = o.pool.c.Store.UpdateJobSteps(ctx, o.run.ID, o.job, b, sandbox)
	default:
		err = o.pool.c.Store.UpdateSteps(ctx, o.run.ID, b, sandbox)
	}
	if err != nil {
		o.pool.c.Logger.Warn("record step", "run", o.run.ID, "job", o.job, "err", err)
	}
}

func (o *storeObserver) Log(l LogLine) {
	o.logs.add(store.LogLine{Job: o.job, Step: l.Step, Stream: l.Stream, Time: l.Time.UTC(), Text: l.Text})
}

// logBuffer stores a run's log lines in batches, and publishes them once
// stored.
type logBuffer struct {
	pool *Pool
	run  string

	mu      sync.Mutex
	pending []store.LogLine
	full    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

func newLogBuffer(p *Pool, run string) *logBuffer {
	b := &logBuffer{pool: p, run: run, full: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go b.flusher()
	return b
}

func (b *logBuffer) add(l store.LogLine) {
	b.mu.Lock()
	b.pending = append(b.pending, l)
	n := len(b.pending)
	b.mu.Unlock()
	if n >= logFlushLines {
		select {
		case b.full <- struct{}{}:
		default:
		}
	}
}

func (b *logBuffer) flusher() {
	defer close(b.done)
	t := time.NewTicker(logFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			b.flush()
			return
		case <-t.C:
		case <-b.full:
		}
		b.flush()
	}
}

// flush stores the waiting lines, then publishes them with their Seq. A
// step that prints fast leaves many lines waiting while one batch commits;
// they go in slices of logStoreLines, each with its own deadline, so that a
// big backlog is never one transaction too long to finish. A slice the
// store refuses is tried again a few times before it is given up.
func (b *logBuffer) flush() {
	b.mu.Lock()
	lines := b.pending
	b.pending = nil
	b.mu.Unlock()
	for len(lines) > 0 {
		n := min(len(lines), logStoreLines)
		b.store(lines[:n])
		lines = lines[n:]
	}
}

// store appends lines to the run's log, retrying a failure with a growing
// pause, and publishes them once stored.
func (b *logBuffer) store(lines []store.LogLine) {
	var err error
	for attempt, pause := 1, 100*time.Millisecond; attempt <= logStoreAttempts; attempt, pause = attempt+1, pause*4 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = b.pool.c.Store.AppendLogs(ctx, b.run, lines)
		cancel()
		if err == nil {
			b.pool.c.Logs.Publish(b.run, lines)
			return
		}
		if attempt < logStoreAttempts {
			time.Sleep(pause)
		}
	}
	b.pool.c.Logger.Error("store log lines", "run", b.run, "lines", len(lines), "attempts", logStoreAttempts, "err", err)
}

// close stores the last lines.
func (b *logBuffer) close() {
	close(b.stop)
	<-b.done
}

// jobsObserver records the progress of a pool's `jobs:` run in the store: its
// jobs, and through a storeObserver for each, their steps and lines.
type jobsObserver struct {
	pool *Pool
	run  *store.Run
	logs *logBuffer
	// slot is the pool slot the run executes in; reported wakes it when an
	// agent reports on one of its jobs to this process.
	slot     *runSlot
	reported chan struct{}
}

func newJobsObserver(p *Pool, run *store.Run, slot *runSlot) *jobsObserver {
	o := &jobsObserver{pool: p, run: run, logs: newLogBuffer(p, run.ID), slot: slot, reported: make(chan struct{}, 1)}
	p.mu.Lock()
	p.reported[run.ID] = o.reported
	p.mu.Unlock()
	return o
}

func (o *jobsObserver) JobsChanged(changed []JobResult, removed []string) {
	if len(changed)+len(removed) == 0 {
		return
	}
	rows := make([]*store.Job, 0, len(changed))
	for i := range changed {
		// A job that started is stored as running by its own observer,
		// with its first step.
		if j := &changed[i]; j.Status != workflows.StatusRunning {
			rows = append(rows, j.stored(o.run.ID, true))
		}
	}
	if len(rows)+len(removed) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := o.pool.c.Store.SaveJobs(ctx, o.run.ID, rows, removed); err != nil {
		o.pool.c.Logger.Error("record jobs", "run", o.run.ID, "err", err)
	}
}

func (o *jobsObserver) Job(job JobResult) Observer {
	obs := newStoreObserver(o.pool, o.run, job.Key, o.logs)
	obs.started = &job
	return obs
}

func (o *jobsObserver) StartJob(j JobResult, group string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return o.pool.c.Store.StartJob(ctx, o.run.ID, j.Key, group, j.Runner, j.StartedAt.UTC())
}

// close stores the last lines of every job.
func (o *jobsObserver) close() {
	o.logs.close()
	o.pool.mu.Lock()
	delete(o.pool.reported, o.run.ID)
	o.pool.mu.Unlock()
}

// Offer stores what a runner on another host needs to run job with j, and
// wakes the claims waiting in this process.
func (o *jobsObserver) Offer(j JobResult, job *Job, group string) error {
	w, spec := job.Workflow, job.spec()
	offer, err := json.Marshal(Offer{Workflow: w.Name, File: w.File, Revision: w.Revision, Source: string(w.Source),
		JobID: spec.ID, Cell: OfferCell{Key: job.Cell.Key, Index: job.Cell.Index, Values: job.Cell.Values},
		Needs: job.Needs, Secrets: spec.Secrets, RunAttempt: job.Attempt, URL: job.URL, MaxLogBytes: o.pool.c.Executor.MaxLogBytes})
	if err != nil {
		return fmt.Errorf("offer job %s: %w", j.Key, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := o.pool.c.Store.OfferJob(ctx, o.run.ID, j.Key, offer, group, j.Reason, o.pool.c.Now().UTC()); err != nil {
		return err
	}
	o.pool.offered.Ring()
	return nil
}

// Offered reads the run's jobs.
func (o *jobsObserver) Offered() ([]JobResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stored, err := o.pool.c.Store.Jobs(ctx, o.run.ID)
	if err != nil {
		return nil, err
	}
	jobs := make([]JobResult, len(stored))
	for i, j := range stored {
		jobs[i] = ViewJob(j)
	}
	return jobs, nil
}

// CancelOffer stops an offered job through the store, where its runner
// hears of it.
func (o *jobsObserver) CancelOffer(key, status, reason string) (JobResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	j, err := o.pool.c.Store.CancelJob(ctx, o.run.ID, key, status, reason, o.pool.c.Now().UTC())
	if err != nil {
		return JobResult{}, err
	}
	return ViewJob(j), nil
}

func (o *jobsObserver) Reported() <-chan struct{} { return o.reported }

// Idle gives the run's slot to the pool while it only waits for jobs on
// other hosts, up to maxIdleRuns such runs, and takes one back when a slot
// is free.
func (o *jobsObserver) Idle(idle bool) bool {
	p := o.pool
	if idle {
		p.mu.Lock()
		if !o.slot.held || p.idle >= maxIdleRuns {
			p.mu.Unlock()
			return false
		}
		p.idle++
		o.slot.held = false
		p.mu.Unlock()
		<-p.slots
		p.Wake()
		return true
	}
	select {
	case p.slots <- struct{}{}:
		p.mu.Lock()
		p.idle--
		o.slot.held = true
		p.mu.Unlock()
		return true
	default:
		return false
	}
}
