package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// Pool claims queued runs from the store and executes them, at most MaxParallel
// at once (SPEC §5). It wakes as soon as Wake is called, and also polls, to
// pick up runs queued by other nodes or freed by a finished group.
type Pool struct {
	c PoolConfig // with defaults filled in

	wake    chan struct{}
	mu      sync.Mutex
	running map[string]context.CancelCauseFunc
	// reported wakes the runs this pool executes when an agent reports on
	// one of their jobs to this process; offered rings when it offers one.
	reported map[string]chan struct{}
	offered  *Bell
	// slots bound the runs executing here; idle counts the `jobs:` runs
	// that gave theirs away while they wait for jobs on other hosts.
	slots chan struct{}
	idle  int
	wg    sync.WaitGroup
}

// AgentReconnectGrace is how long, beyond a lease, an agent has to reach a
// node that starts before the jobs it holds are taken back: the longest an
// agent waits between two tries.
const AgentReconnectGrace = 30 * time.Second

// maxIdleRuns bounds the `jobs:` runs of a node that wait, without a slot,
// for jobs on other hosts; beyond it, a waiting run keeps its slot.
const maxIdleRuns = 64

// runSlot is the slot a run executes in; held is false while a `jobs:` run
// gave it away (Idle).
type runSlot struct{ held bool }

// PoolConfig configures a Pool.
type PoolConfig struct {
	Store    store.Store
	Executor *Executor
	// Workflows returns the active workflow set.
	Workflows func() *workflows.Set
	Secrets   func(names []string) map[string]string
	// Vars are the configuration variables every job reads as vars.NAME.
	Vars    map[string]string
	Logs    *Broker
	Metrics *Metrics
	// Node names this process in run records and leases.
	Node        string
	MaxParallel int
	// Lease is how long a claimed run stays this node's without a heartbeat.
	Lease time.Duration
	// Poll is how often the store is asked for work without a wake-up.
	Poll time.Duration
	// RecoverEvery is how often the pool recovers the runs of nodes that
	// stopped renewing their leases, when other nodes share the store (SPEC
	// §10); 0 recovers only at start, for a store this process has alone.
	RecoverEvery time.Duration
	// QueueTimeout is how long a job offered to runners on other hosts waits
	// for one to claim it (SPEC §12); 0 means DefaultQueueTimeout.
	QueueTimeout time.Duration
	// ShutdownGrace is how long running runs may go on after Run's ctx ends.
	ShutdownGrace time.Duration
	// BaseURL is the server's public URL, for run.url.
	BaseURL string
	// Handoff, when set, holds the events and items of the runs the
	// Dispatcher of this process queued (the same Handoff as its), typed: a
	// run found there is not read back from the store.
	Handoff *Handoff
	Logger  *slog.Logger
	Now     func() time.Time
}

// Defaults of PoolConfig.
const (
	DefaultMaxParallel   = 4
	DefaultLease         = 30 * time.Second
	DefaultPoll          = time.Second
	DefaultShutdownGrace = 30 * time.Second
)

// ErrInterrupted is the cause given to runs stopped by a shutdown; their steps
// read "step stopped: the server is shutting down".
var ErrInterrupted = errors.New("the server is shutting down")

// NewPool returns a pool; call Run to start it.
func NewPool(c PoolConfig) *Pool {
	if c.Node == "" {
		// Recovering dead nodes' runs asks for those of node "": no live run
		// may have that name.
		c.Node = "node"
	}
	if c.MaxParallel <= 0 {
		c.MaxParallel = DefaultMaxParallel
	}
	if c.Lease <= 0 {
		c.Lease = DefaultLease
	}
	if c.Poll <= 0 {
		c.Poll = DefaultPoll
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = DefaultShutdownGrace
	}
	if c.QueueTimeout <= 0 {
		c.QueueTimeout = DefaultQueueTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Secrets == nil {
		c.Secrets = func([]string) map[string]string { return nil }
	}
	if c.Logs == nil {
		c.Logs = NewBroker()
	}
	p := &Pool{c: c, wake: make(chan struct{}, 1), running: map[string]context.CancelCauseFunc{},
		reported: map[string]chan struct{}{}, offered: NewBell(), slots: make(chan struct{}, c.MaxParallel)}
	return p
}

// Wake makes the pool look for work now. It never blocks.
func (p *Pool) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Offered returns a channel that is closed when this pool next offers a job
// to runners on other hosts.
func (p *Pool) Offered() <-chan struct{} { return p.offered.Wait() }

// Reported wakes run runID, if this pool executes it, to look at its jobs
// that run on other hosts: one of them was reported on. It never blocks.
func (p *Pool) Reported(runID string) {
	p.mu.Lock()
	ch := p.reported[runID]
	p.mu.Unlock()
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Running reports how many runs this pool is executing.
func (p *Pool) Running() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.running)
}

// Cancel stops run id if this pool is executing it, and reports whether it was.
// cause says who or what stopped it: it becomes the run's reason and its
// running step's error ("step stopped: " + cause).
func (p *Pool) Cancel(id string, cause error) bool {
	p.mu.Lock()
	cancel, ok := p.running[id]
	p.mu.Unlock()
	if ok {
		cancel(cause)
	}
	return ok
}

// CancelRequested stops the runs among ids that this pool executes and whose
// cancel was requested through the store, each with the reason the store
// recorded; other ids are passed over. Whoever requests a cancel in this
// process calls it, as do the heartbeat and, when the store tells of cancels
// on other nodes (store.CancelNotifier), the pool itself. It reads the
// store, and returns once the runs were told to stop.
func (p *Pool) CancelRequested(ids ...string) {
	for _, id := range ids {
		p.mu.Lock()
		_, ok := p.running[id]
		p.mu.Unlock()
		if !ok {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r, err := p.c.Store.GetRun(ctx, id)
		cancel()
		reason := "cancelled"
		switch {
		case err != nil:
			p.c.Logger.Warn("cancel requested; cannot read by whom", "run", id, "err", err)
		case !r.CancelRequested:
			continue
		case r.Reason != "":
			reason = r.Reason
		}
		p.Cancel(id, errors.New(reason))
	}
}

// followCancels stops the runs whose cancel the store announces, until ctx
// ends.
func (p *Pool) followCancels(ctx context.Context, n store.CancelNotifier) {
	for id := range n.CancelRequests(ctx, p.c.Logger) {
		p.CancelRequested(id)
	}
}

// Run recovers the runs this node left behind, once it has killed what their
// steps left running (killLeftovers), then claims and executes runs until ctx
// is done. It then lets running runs finish for the shutdown grace, cancels
// the rest (they end `failed`, "interrupted"), and returns when all have been
// recorded.
func (p *Pool) Run(ctx context.Context) error {
	now := p.c.Now().UTC()
	// Agents that ran jobs while no node answered get a lease, and the time
	// their backoff may wait between tries, to report.
	if err := p.c.Store.ExtendJobLeases(ctx, now.Add(p.c.Lease+AgentReconnectGrace)); err != nil {
		return fmt.Errorf("extend the leases of jobs on other hosts: %w", err)
	}
	p.killLeftovers(ctx, p.c.Node, now)
	recovered, err := p.c.Store.Recover(ctx, p.c.Node, now)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	for _, r := range recovered {
		p.c.Logger.Warn("recovered run", "run", r.ID, "workflow", r.Workflow, "status", r.Status)
	}
	runCtx, stopRuns := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopRuns(ErrInterrupted)
	if n, ok := p.c.Store.(store.CancelNotifier); ok {
		listenCtx, stopListening := context.WithCancel(runCtx)
		listening := make(chan struct{})
		go func() { defer close(listening); p.followCancels(listenCtx, n) }()
		defer func() { stopListening(); <-listening }()
	}
	go p.heartbeat(runCtx)
	if p.c.RecoverEvery > 0 {
		go p.recoverDead(runCtx)
	}

	slots := p.slots
	ticker := time.NewTicker(p.c.Poll)
	defer ticker.Stop()
	for ctx.Err() == nil {
		// Claim while there are free slots and work to claim.
		for ctx.Err() == nil {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				continue
			}
			run, err := p.c.Store.Claim(ctx, p.c.Node, p.c.Lease, p.c.Now().UTC())
			if err != nil || run == nil {
				<-slots
				if err != nil && ctx.Err() == nil {
					p.c.Logger.Error("claim", "err", err)
				}
				break
			}
			p.start(runCtx, run, slots)
		}
		select {
		case <-ctx.Done():
		case <-p.wake:
		case <-ticker.C:
			p.c.Handoff.expire()
		}
	}

	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(p.c.ShutdownGrace):
		stopRuns(ErrInterrupted)
		<-done
	}
	return nil
}

// start executes run in its own goroutine.
func (p *Pool) start(ctx context.Context, run *store.Run, slots chan struct{}) {
	slot := &runSlot{held: true}
	ctx, cancel := context.WithCancelCause(ctx)
	p.mu.Lock()
	p.running[run.ID] = cancel
	p.mu.Unlock()
	p.c.Metrics.running(1)
	p.wg.Add(1)
	go func() {
		defer func() {
			p.mu.Lock()
			delete(p.running, run.ID)
			p.mu.Unlock()
			cancel(nil)
			p.c.Metrics.running(-1)
			if slot.held {
				<-slots
			} else {
				p.mu.Lock()
				p.idle--
				p.mu.Unlock()
			}
			p.wg.Done()
			// A finished run may free its concurrency group for the next one.
			p.Wake()
		}()
		p.execute(ctx, run, slot)
	}()
}

// heartbeat renews the leases of this node's runs and stops those whose cancel
// was requested through the store, should nothing have told the pool sooner.
func (p *Pool) heartbeat(ctx context.Context) {
	t := time.NewTicker(p.c.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.recoverJobs(ctx)
		p.mu.Lock()
		ids := make([]string, 0, len(p.running))
		for id := range p.running {
			ids = append(ids, id)
		}
		p.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		cancel, err := p.c.Store.Renew(ctx, p.c.Node, ids, p.c.Now().UTC().Add(p.c.Lease))
		if err != nil {
			p.c.Logger.Error("renew leases", "err", err)
			continue
		}
		p.CancelRequested(cancel...)
	}
}

// recoverJobs takes back the jobs whose runners on other hosts stopped
// renewing their leases, and fails those nobody claimed within the queue
// timeout; the runs this pool executes hear of theirs at once.
func (p *Pool) recoverJobs(ctx context.Context) {
	jobs, err := p.c.Store.RecoverJobs(ctx, p.c.Now().UTC(), p.c.QueueTimeout)
	if err != nil {
		if ctx.Err() == nil {
			p.c.Logger.Error("recover the jobs of runners on other hosts", "err", err)
		}
		return
	}
	for _, j := range jobs {
		p.c.Logger.Warn("recovered a job from a runner on another host", "run", j.RunID, "job", j.Key,
			"status", j.Status, "reason", j.Reason)
		p.Reported(j.RunID)
	}
	if len(jobs) > 0 {
		p.offered.Ring()
	}
}

// recoverDead recovers, every RecoverEvery, the runs of nodes that died: their
// leases expired, since only a live node renews them (SPEC §5). A requeued run
// may be claimed at once.
func (p *Pool) recoverDead(ctx context.Context) {
	t := time.NewTicker(p.c.RecoverEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// No node name: this node's runs are alive, and renewed.
		now := p.c.Now().UTC()
		p.killLeftovers(ctx, "", now)
		recovered, err := p.c.Store.Recover(ctx, "", now)
		if err != nil {
			if ctx.Err() == nil {
				p.c.Logger.Error("recover the runs of dead nodes", "err", err)
			}
			continue
		}
		for _, r := range recovered {
			p.c.Logger.Warn("recovered a run whose lease expired", "run", r.ID, "workflow", r.Workflow,
				"node", r.Node, "status", r.Status)
		}
		if len(recovered) > 0 {
			p.Wake()
		}
	}
}

// killLeftovers ends the step processes that runs left `running` by a server
// process that died may still have on this machine, before Recover(node, now)
// lets them run again or ends them: a requeued run must not run beside what
// is left of its earlier attempt, nor an interrupted one go on acting. It
// takes the runs Recover takes: those of node (none when it is ""), and
// those of any node whose lease expired before now, since a predecessor of
// this process may have had another name (the PID in the default one) and
// other nodes may share this machine. The runs this pool executes are
// skipped; a trace of another machine or boot names nothing here, and Kill
// leaves it alone.
func (p *Pool) killLeftovers(ctx context.Context, node string, now time.Time) {
	runs, err := p.c.Store.ListRuns(ctx, store.RunFilter{Status: workflows.StatusRunning})
	if err != nil {
		if ctx.Err() == nil {
			p.c.Logger.Error("list running runs to end their leftover processes", "err", err)
		}
		return
	}
	for _, r := range runs {
		expired := !r.LeaseUntil.IsZero() && r.LeaseUntil.Before(now)
		if !expired && (node == "" || r.Node != node) {
			continue
		}
		p.mu.Lock()
		_, live := p.running[r.ID]
		p.mu.Unlock()
		if live {
			continue
		}
		p.killSteps(r.ID, "", r.Steps)
		jobs, err := p.c.Store.Jobs(ctx, r.ID)
		if err != nil {
			p.c.Logger.Error("read a run's jobs to end their leftover processes", "run", r.ID, "err", err)
		}
		// Every job's: a job's first step may record its process before
		// its row says running. Kill leaves a trace that names no live
		// process of its own alone.
		for _, j := range jobs {
			p.killSteps(r.ID, j.Key, j.Steps)
		}
	}
}

// killSteps ends the processes that the steps recorded in steps left running.
func (p *Pool) killSteps(run, job string, recorded json.RawMessage) {
	var steps []storedStep
	if json.Unmarshal(recorded, &steps) != nil {
		return
	}
	for _, s := range steps {
		if s.Process == nil {
			continue
		}
		found, err := s.Process.Kill()
		if found {
			p.c.Logger.Warn("killed the processes a step left running", "run", run, "job", job, "step", s.ID, "pid", s.Process.PID)
		}
		if err != nil {
			p.c.Logger.Error("end the processes a step left running", "run", run, "job", job, "step", s.ID, "err", err)
		}
	}
}

// execute runs one claimed run and records its result.
func (p *Pool) execute(ctx context.Context, run *store.Run, slot *runSlot) {
	defer p.c.Handoff.drop(run.ID) // in case it ends before its job is made
	if run.CancelRequested {
		p.finish(run, Result{Status: workflows.StatusCancelled, Reason: "cancelled", StartedAt: p.c.Now(), FinishedAt: p.c.Now()})
		return
	}
	job, err := p.job(ctx, run)
	if err != nil {
		p.finish(run, Result{Status: workflows.StatusFailed, Reason: err.Error(), StartedAt: p.c.Now(), FinishedAt: p.c.Now()})
		return
	}
	if !job.spec().Implicit {
		p.executeJobs(ctx, run, job, slot)
		return
	}
	logs := newLogBuffer(p, run.ID)
	res := p.c.Executor.Execute(ctx, job, newStoreObserver(p, run, "", logs))
	logs.close()
	if errors.Is(context.Cause(ctx), ErrInterrupted) {
		res.Status, res.Reason = workflows.StatusFailed, "interrupted"
		if run.OnInterrupt == workflows.InterruptRequeue {
			// Leave it running with its lease: Recover on the next start (or on
			// another node, when the lease expires) puts it back in the queue.
			p.c.Logger.Warn("run interrupted; it will be queued again", "run", run.ID)
			return
		}
	}
	p.finish(run, res)
}

// executeJobs executes a `jobs:` run, resuming it where an earlier execution
// left it, and records its result. A run the server's shutdown interrupts is
// left running: Recover queues it again (it has jobs), and its next execution
// decides about the jobs it finds running.
func (p *Pool) executeJobs(ctx context.Context, run *store.Run, job *Job, slot *runSlot) {
	stored, err := p.c.Store.Jobs(ctx, run.ID)
	if err != nil {
		p.finish(run, Result{Status: workflows.StatusFailed, Reason: "read the run's jobs: " + err.Error(), StartedAt: p.c.Now(), FinishedAt: p.c.Now()})
		return
	}
	prior := make([]JobResult, len(stored))
	for i, j := range stored {
		prior[i] = ViewJob(j)
	}
	job.Runner = p.c.Node
	obs := newJobsObserver(p, run, slot)
	res := p.c.Executor.RunJobs(ctx, job, prior, p.c.MaxParallel, obs)
	obs.close()
	if errors.Is(context.Cause(ctx), ErrInterrupted) {
		p.c.Logger.Warn("run interrupted; it resumes when the server starts again", "run", run.ID)
		return
	}
	var sandboxes []StepResult
	for _, j := range res.Jobs {
		sandboxes = append(sandboxes, StepResult{Sandbox: j.Sandbox})
	}
	run.Sandbox = RunSandbox(sandboxes)
	p.finish(run, res)
}

// job makes what a run needs from the active workflow set and its event and
// item: those the Handoff holds for it, else those the store keeps.
func (p *Pool) job(ctx context.Context, run *store.Run) (*Job, error) {
	w, ok := p.c.Workflows().Lookup(run.Workflow)
	if !ok {
		return nil, fmt.Errorf("workflow %s is no longer loaded", run.Workflow)
	}
	ev, item, handed := p.c.Handoff.take(run.ID, run.EventID)
	if !handed {
		var err error
		if ev, item, err = p.load(ctx, run); err != nil {
			return nil, err
		}
	}
	return &Job{ID: run.ID, Workflow: w, Event: ev, Item: item, Inputs: ev.Inputs,
		Secrets: p.c.Secrets(w.Secrets), Vars: p.c.Vars, Attempt: run.Attempt, URL: p.c.BaseURL + "/ui/runs/" + run.ID}, nil
}

// load reads a run's event from the store and decodes it, with its item.
func (p *Pool) load(ctx context.Context, run *store.Run) (*workflows.Event, any, error) {
	stored, err := p.c.Store.GetEvent(ctx, run.EventID)
	if err != nil {
		return nil, nil, fmt.Errorf("event %s: %w", run.EventID, err)
	}
	ev, err := decodeEvent(stored.Data)
	if err != nil {
		return nil, nil, fmt.Errorf("event %s: %w", run.EventID, err)
	}
	var item any
	if len(run.Item) > 0 {
		if item, err = decodeItem(run.Item); err != nil {
			return nil, nil, fmt.Errorf("item: %w", err)
		}
	}
	return ev, item, nil
}

// finish records a run's result; a failure to record is logged, and the run is
// then recovered by Recover like any run of a dead node.
func (p *Pool) finish(run *store.Run, res Result) {
	steps, _ := json.Marshal(res.Steps)
	run.Status, run.Reason, run.Steps = res.Status, res.Reason, steps
	run.FinishedAt = res.FinishedAt.UTC()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.c.Store.Finish(ctx, p.c.Node, run); err != nil {
		p.c.Logger.Error("record run result", "run", run.ID, "err", err)
	}
	p.c.Logs.End(run.ID)
	p.c.Metrics.finished(run.Workflow, res)
	p.c.Logger.Info("run finished", "run", run.ID, "workflow", run.Workflow, "status", res.Status, "reason", res.Reason)
}
