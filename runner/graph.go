package runner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// JobsObserver is told about the jobs of a `jobs:` run as they change.
// JobsChanged is called from the goroutine running RunJobs; the Observer that
// Job returns is called as Execute calls one, from the goroutine executing
// that job.
type JobsObserver interface {
	// JobsChanged tells of jobs added or changed, as copies, and of the keys
	// of jobs removed: a matrix job's stand-in once its cells are known.
	// Changes come in batches, each job in order: a job is told of before
	// its Observer is first called, as running once it has started, and as
	// finished after its last step finished.
	JobsChanged(changed []JobResult, removed []string)
	// Job returns the Observer of the steps and log lines of job j.
	Job(j JobResult) Observer
	// StartJob tells of job j starting while it holds concurrency group
	// group, in place of JobsChanged, and reports whether it may: not while
	// another job of the group runs, in any run. A job holds its group until
	// JobsChanged tells of it finished.
	StartJob(j JobResult, group string) (bool, error)
}

// JobOffers is implemented by a JobsObserver whose run may hand jobs to
// runners on other hosts (SPEC §12): the jobs whose runs_on labels the
// Executor's Labels lack. Without it, every job runs here. Its methods are
// called from the goroutine running RunJobs.
type JobOffers interface {
	// Offer hands queued job j, stored before, to the runners that have its
	// labels: one of them claims it, holding concurrency group group while
	// it runs job. An offer made before is kept. It is a store.ErrConflict
	// when j is no longer queued: a runner claimed it already.
	Offer(j JobResult, job *Job, group string) error
	// Offered returns the run's jobs as the store has them, to learn which
	// of those offered have been claimed and which have ended.
	Offered() ([]JobResult, error)
	// CancelOffer stops offered job key: unclaimed, it ends at once with
	// status and reason; claimed, its runner is asked to stop, for reason.
	// It returns the job as it is then.
	CancelOffer(key, status, reason string) (JobResult, error)
	// Reported returns a channel that receives when a runner reported on one
	// of the run's jobs to this process, to look sooner than the next poll.
	Reported() <-chan struct{}
	// Idle(true) tells that the run executes nothing here for now, only
	// waits for jobs on other hosts: the node may give its slot to another
	// run; it reports whether it did. Idle(false) asks for a slot back
	// before the run executes a job here, and reports whether it got one.
	Idle(idle bool) bool
}

// groupPoll is how often a job waiting for its concurrency group, or for a
// slot of the node, asks again.
const groupPoll = time.Second

// offerPoll is how often a run looks at the jobs it offered to other hosts
// when nothing tells it sooner.
const offerPoll = time.Second

// RunJobs executes the jobs of run, a `jobs:` workflow's run (SPEC §11): each
// job once the jobs it needs have finished, each matrix cell as a job of its
// own, at most limit at once (0: no bound), and returns the run's result with
// its Jobs.
//
// prior are the jobs an earlier execution of the run left, for a run that
// resumes after a crash: those finished stay as they are, and are not run
// again; those left running were interrupted, and end `failed`
// ("interrupted"), or run again when the workflow sets on_interrupt: requeue.
//
// Cancelling ctx cancels the run: running jobs are stopped, and no job starts
// any more. When the cause is ErrInterrupted (the server is shutting down),
// the jobs it stopped are not reported as finished: they stay running for the
// next execution of the run to find, and the result is `failed`
// ("interrupted").
func (x *Executor) RunJobs(ctx context.Context, run *Job, prior []JobResult, limit int, obs JobsObserver) Result {
	w := run.Workflow
	ctx, cancel := context.WithTimeoutCause(ctx, time.Duration(w.Timeout), runTimedOut(w))
	defer cancel()
	r := &jobsRun{x: x, run: run, obs: obs, limit: limit, budget: newLogBudget(x.MaxLogBytes),
		byID: map[string]*jobNode{}, saved: map[string]bool{}, done: make(chan cellDone),
		offered: map[string]*cellState{}, slot: true}
	r.offers, _ = obs.(JobOffers)
	res := Result{StartedAt: x.now(), Steps: []StepResult{}}
	r.restore(prior)
	stopped := ctx.Done()
	for {
		// Starting may end jobs without running them (after a cancel), which
		// may decide others: until nothing changes.
		for r.advance(ctx); r.start(ctx); r.advance(ctx) {
		}
		r.flush()
		if r.running == 0 && !r.waiting {
			break
		}
		var retry, poll <-chan time.Time
		var reported <-chan struct{}
		if r.waiting {
			retry = time.After(groupPoll)
		}
		if len(r.offered) > 0 {
			poll, reported = time.After(offerPoll), r.offers.Reported()
			if r.slot && r.local == 0 && r.offers.Idle(true) {
				r.slot = false
			}
		}
		select {
		case d := <-r.done:
			r.finished(d)
		case <-retry:
		case <-poll:
			r.pollOffers()
		case <-reported:
			r.pollOffers()
		case <-stopped:
			// Once: the cells running here stop through their contexts.
			stopped = nil
			r.stopOffers(ctx)
		}
	}
	var failure *JobResult // the job that failed the run: the first to end failed
	for _, n := range r.nodes {
		for _, c := range n.cells {
			res.Jobs = append(res.Jobs, c.JobResult)
			if failed(c.Status) && !c.ContinueOnError && (failure == nil || c.FinishedAt.Before(failure.FinishedAt)) {
				failure = &c.JobResult
			}
		}
	}
	res.FinishedAt = x.now()
	var timeout *timeoutCause
	switch {
	case r.interrupted(ctx):
		res.Status, res.Reason = workflows.StatusFailed, "interrupted"
	case ctx.Err() != nil && errors.As(context.Cause(ctx), &timeout):
		res.Status, res.Reason = workflows.StatusTimedOut, timeout.Error()
	case ctx.Err() != nil:
		res.Status, res.Reason = workflows.StatusCancelled, "cancelled"
		if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
			res.Status, res.Reason = workflows.StatusCancelled, cause.Error()
		}
	case failure != nil:
		res.Status, res.Reason = workflows.StatusFailed, fmt.Sprintf("job %s %s", failure.Key, failure.Status)
		if failure.Reason != "" {
			res.Reason += ": " + failure.Reason
		}
	default:
		res.Status = workflows.StatusSucceeded
	}
	return res
}

// jobsRun is one execution of a `jobs:` run. Only the goroutine running
// RunJobs uses it; the goroutines executing jobs report on done.
type jobsRun struct {
	x      *Executor
	run    *Job
	obs    JobsObserver
	limit  int
	budget *logBudget

	nodes []*jobNode // in file order
	byID  map[string]*jobNode
	// running counts the cells executing, here or on other hosts; local
	// those executing here, which limit bounds.
	running int
	local   int
	// offers, when the observer can offer jobs, and offered, the cells
	// offered to runners on other hosts and not yet seen ended; slot is
	// false while the run gave its node's slot away (JobOffers.Idle).
	offers  JobOffers
	offered map[string]*cellState
	slot    bool
	// pending are the changes not yet told to obs, told together (one write
	// to the store) before RunJobs waits; saved are the keys told before.
	pending []JobResult
	removed []string
	saved   map[string]bool
	// waiting is true while a queued job waits for its concurrency group.
	waiting bool
	done    chan cellDone
}

// jobNode is one job of the workflow and its cells.
type jobNode struct {
	spec *workflows.Job
	// cells are nil until the job's needs have finished and its matrix is
	// known; until then one stand-in, keyed by the job id, is stored.
	cells    []*cellState
	expanded bool
	finished bool
	// need is the job as the jobs that need it see it.
	need    workflows.NeedState
	ok      bool // the jobs that need it may run by default
	running int
}

// cellState is a job's cell: the job as executed once.
type cellState struct {
	JobResult
	cell   workflows.Cell
	cancel context.CancelCauseFunc
	// stop is, for a cell offered to other hosts, the status and reason it
	// was asked to stop with; asked again until it has ended.
	stop *[2]string
}

// cellDone is a cell's Execute result; stopped is true when the server's
// shutdown stopped it.
type cellDone struct {
	c       *cellState
	res     Result
	stopped bool
}

// restore builds the graph, taking over what prior says of each job.
func (r *jobsRun) restore(prior []JobResult) {
	var changed []JobResult
	for _, spec := range r.run.Workflow.Jobs {
		n := &jobNode{spec: spec}
		r.nodes = append(r.nodes, n)
		r.byID[spec.ID] = n
		var rows []JobResult
		for _, j := range prior {
			if j.ID == spec.ID {
				rows = append(rows, j)
			}
		}
		// A job whose one row is still queued starts over: it is a stand-in,
		// or a job that never started or was put back in the queue. One
		// offered to other hosts stays: a runner may claim it any time.
		if len(rows) == 0 || len(rows) == 1 && rows[0].Key == spec.ID && rows[0].Status == workflows.StatusQueued && !rows[0].offered {
			changed = append(changed, r.standIn(spec))
			continue
		}
		n.expanded = true
		for _, row := range rows {
			r.saved[row.Key] = true
			c := &cellState{JobResult: row, cell: workflows.Cell{Key: row.Key, Index: row.cell, Values: row.Matrix}}
			switch {
			case c.Status == workflows.StatusRunning && c.held && r.offers != nil,
				c.Status == workflows.StatusQueued && c.offered && r.offers != nil:
				// A runner on another host runs it still, or may claim it any
				// time; or its lease expires and the store takes it back.
				c.Reason = waitingReason(c.RunsOn)
				r.track(n, c)
			case c.Status == workflows.StatusRunning:
				r.interruptedBefore(c)
				changed = append(changed, c.JobResult)
			}
			n.cells = append(n.cells, c)
		}
		for _, c := range n.cells {
			r.failFast(c)
		}
	}
	r.notify(changed, nil)
}

// notify queues changes for obs; a later change of a job replaces an earlier
// one not yet told.
func (r *jobsRun) notify(changed []JobResult, removed []string) {
	for _, j := range changed {
		if i := slices.IndexFunc(r.pending, func(p JobResult) bool { return p.Key == j.Key }); i >= 0 {
			r.pending[i] = j
		} else {
			r.pending = append(r.pending, j)
		}
	}
	for _, key := range removed {
		r.pending = slices.DeleteFunc(r.pending, func(p JobResult) bool { return p.Key == key })
		if r.saved[key] {
			r.removed = append(r.removed, key)
			delete(r.saved, key)
		}
	}
}

// flush tells obs of the changes queued.
func (r *jobsRun) flush() {
	if len(r.pending)+len(r.removed) == 0 {
		return
	}
	r.obs.JobsChanged(r.pending, r.removed)
	for _, j := range r.pending {
		r.saved[j.Key] = true
	}
	r.pending, r.removed = nil, nil
}

// standIn is the row that stands for a job until its cells are known.
func (r *jobsRun) standIn(spec *workflows.Job) JobResult {
	return JobResult{Key: spec.ID, ID: spec.ID, Name: spec.ID, Needs: needsOf(spec), Status: workflows.StatusQueued,
		RunsOn: []string{}, Steps: []StepResult{}, ContinueOnError: spec.ContinueOnError, jobIndex: spec.Index}
}

// interruptedBefore decides, by the workflow's on_interrupt, what becomes of
// a job that an earlier execution of the run left running.
func (r *jobsRun) interruptedBefore(c *cellState) {
	if r.run.Workflow.OnInterrupt == workflows.InterruptRequeue {
		c.Status, c.Reason, c.StartedAt, c.Runner, c.Steps = workflows.StatusQueued, "", time.Time{}, "", []StepResult{}
		return
	}
	c.Status, c.Reason, c.FinishedAt = workflows.StatusFailed, "interrupted", r.x.now()
	for i := range c.Steps {
		if c.Steps[i].Outcome == workflows.OutcomeRunning {
			c.Steps[i].Outcome, c.Steps[i].Error = workflows.OutcomeFailure, "interrupted"
		}
	}
}

// advance decides every job it can: a job whose needs have all finished
// runs, with its cells queued, or is skipped; a job whose cells have all
// finished is finished. It repeats until nothing changes.
func (r *jobsRun) advance(ctx context.Context) {
	if r.interrupted(ctx) {
		return
	}
	for progress := true; progress; {
		progress = false
		for _, n := range r.nodes {
			switch {
			case n.finished:
			case !n.expanded && r.ready(n):
				r.expand(ctx, n)
				progress = true
			case n.expanded && n.running == 0 && !n.hasQueued():
				r.finish(n)
				progress = true
			}
		}
	}
}

// ready reports whether every job n needs has finished.
func (r *jobsRun) ready(n *jobNode) bool {
	for _, id := range n.spec.Needs {
		if need := r.byID[id]; need == nil || !need.finished {
			return false
		}
	}
	return true
}

func (n *jobNode) hasQueued() bool {
	return slices.ContainsFunc(n.cells, func(c *cellState) bool { return c.Status == workflows.StatusQueued })
}

// expand evaluates a ready job's `if` and matrix: its cells are queued, or
// the job ends without running.
func (r *jobsRun) expand(ctx context.Context, n *jobNode) {
	n.expanded = true
	spec := n.spec
	end := func(status, reason string) {
		j := r.standIn(spec)
		j.Status, j.Reason = status, reason
		n.cells = []*cellState{{JobResult: j, cell: workflows.Cell{Key: spec.ID}}}
		r.notify([]JobResult{j}, nil)
	}
	job := r.jobOf(n, workflows.Cell{Key: spec.ID})
	scope, err := jobScope(job)
	if err != nil {
		end(workflows.StatusFailed, err.Error())
		return
	}
	for _, id := range spec.Needs {
		switch need := r.byID[id]; {
		case need.need.Result == workflows.ResultCancelled:
			scope.Status.Cancelled = true
		case !need.ok && need.need.Result == workflows.ResultFailure:
			scope.Status.Failed = true
		}
	}
	if ctx.Err() != nil {
		end(workflows.StatusSkipped, "cancelled before start")
		return
	}
	if spec.If == nil || !spec.If.UsesStatus() {
		for _, id := range spec.Needs {
			if need := r.byID[id]; !need.ok {
				end(workflows.StatusSkipped, fmt.Sprintf("needs: job %s ended %s", id, need.need.Result))
				return
			}
		}
	}
	if spec.If != nil {
		run, err := spec.If.Bool(scope)
		if err != nil {
			end(workflows.StatusFailed, "if: "+err.Error())
			return
		}
		if !run {
			end(workflows.StatusSkipped, "if: false")
			return
		}
	}
	cells, err := spec.Cells(scope)
	if err != nil {
		end(workflows.StatusFailed, "matrix: "+err.Error())
		return
	}
	if len(cells) == 0 {
		end(workflows.StatusSkipped, "matrix: no combination")
		return
	}
	var changed []JobResult
	var removed []string
	for _, cell := range cells {
		// A cell's values as the store gives them back, so that a run that
		// resumes reads them as this one does (numbers as float64).
		values, err := NormaliseItem(cell.Values)
		if err != nil {
			end(workflows.StatusFailed, "matrix: "+err.Error())
			return
		}
		cell.Values, _ = values.(map[string]any)
		c := &cellState{cell: cell, JobResult: r.standIn(spec)}
		c.Key, c.Matrix, c.cell, c.JobResult.cell = cell.Key, cell.Values, cell, cell.Index
		scope.Matrix = cell.Values
		c.Name = cellName(spec, cell, scope)
		if c.RunsOn, err = runsOn(spec, scope); err != nil {
			c.Status, c.Reason = workflows.StatusFailed, err.Error()
		}
		n.cells = append(n.cells, c)
		changed = append(changed, c.JobResult)
	}
	if cells[0].Key != spec.ID {
		removed = []string{spec.ID}
	}
	r.notify(changed, removed)
}

// cellName is how a cell is shown: the job's name (its id when it has none)
// with the cell's values, as its key has them.
func cellName(spec *workflows.Job, cell workflows.Cell, scope *workflows.Scope) string {
	name := spec.ID
	if spec.Name != nil {
		if s, err := spec.Name.RenderString(scope); err == nil && s != "" {
			name = s
		}
	}
	return name + strings.TrimPrefix(cell.Key, spec.ID)
}

// runsOn renders a cell's runs_on labels.
func runsOn(spec *workflows.Job, scope *workflows.Scope) ([]string, error) {
	if len(spec.RunsOn) == 0 {
		return slices.Clone(workflows.DefaultRunsOn), nil
	}
	labels := make([]string, 0, len(spec.RunsOn))
	for _, t := range spec.RunsOn {
		s, err := t.RenderString(scope)
		if err != nil {
			return nil, fmt.Errorf("runs_on: %w", err)
		}
		labels = append(labels, s)
	}
	return labels, nil
}

// start starts queued cells while the run's and each job's bounds allow, and
// reports whether it ended any without running it.
func (r *jobsRun) start(ctx context.Context) (ended bool) {
	r.waiting = false
	if r.interrupted(ctx) {
		return false
	}
	for _, n := range r.nodes {
		if !n.expanded || n.finished {
			continue
		}
		for _, c := range n.cells {
			if c.Status != workflows.StatusQueued || r.offered[c.Key] != nil {
				continue
			}
			if ctx.Err() != nil {
				c.Status, c.Reason, c.FinishedAt = workflows.StatusSkipped, "cancelled before start", r.x.now()
				r.notify([]JobResult{c.JobResult}, nil)
				ended = true
				continue
			}
			if r.limit > 0 && r.local >= r.limit && r.runsHere(c) {
				continue
			}
			if s := n.spec.Strategy; s != nil && s.MaxParallel > 0 && n.running >= s.MaxParallel {
				break
			}
			ended = !r.startCell(ctx, n, c) && workflows.Finished(c.Status) || ended
		}
	}
	return ended
}

// startCell executes one cell in a goroutine of its own, once its
// concurrency group, if it has one, is free, and reports whether it started.
func (r *jobsRun) startCell(ctx context.Context, n *jobNode, c *cellState) bool {
	if !r.saved[c.Key] || n.spec.Concurrency != nil {
		// Its steps and StartJob update the stored row.
		r.flush()
	}
	job := r.jobOf(n, c.cell)
	group, err := r.group(job)
	if err != nil {
		c.Status, c.Reason, c.FinishedAt = workflows.StatusFailed, err.Error(), r.x.now()
		r.notify([]JobResult{c.JobResult}, nil)
		r.failFast(c)
		return false
	}
	if !r.runsHere(c) {
		return r.offer(n, c, job, group)
	}
	if !r.slot {
		if !r.offers.Idle(false) {
			r.waiting = true
			return false
		}
		r.slot = true
	}
	waiting := c.Reason
	c.Status, c.Reason, c.StartedAt, c.Runner = workflows.StatusRunning, "", r.x.now(), r.run.Runner
	c.Steps = []StepResult{}
	if n.spec.Concurrency == nil {
		r.notify([]JobResult{c.JobResult}, nil)
	} else if ok, err := r.obs.StartJob(c.JobResult, group); !ok {
		c.Status, c.StartedAt, c.Runner = workflows.StatusQueued, time.Time{}, ""
		c.Reason = fmt.Sprintf("waiting for concurrency group %s", group)
		if err != nil {
			c.Reason += ": " + err.Error()
		}
		if c.Reason != waiting {
			r.notify([]JobResult{c.JobResult}, nil)
		}
		r.waiting = true
		return false
	}
	cellCtx, cancel := context.WithCancelCause(ctx)
	c.cancel = cancel
	n.running++
	r.running++
	r.local++
	obs := r.obs.Job(c.JobResult)
	go func() {
		res := r.x.Execute(cellCtx, job, obs)
		stopped := errors.Is(context.Cause(cellCtx), ErrInterrupted)
		cancel(nil)
		r.done <- cellDone{c, res, stopped}
	}()
	return true
}

// group renders the concurrency group of job; "" when it has none.
func (r *jobsRun) group(job *Job) (string, error) {
	c := job.Spec.Concurrency
	if c == nil {
		return "", nil
	}
	scope, err := jobScope(job)
	if err != nil {
		return "", err
	}
	group, err := c.Group.RenderString(scope)
	if err != nil {
		return "", fmt.Errorf("concurrency: %w", err)
	}
	return group, nil
}

// jobOf is the Job that executes cell of n.
func (r *jobsRun) jobOf(n *jobNode, cell workflows.Cell) *Job {
	job := *r.run
	job.Spec, job.Cell, job.logs = n.spec, cell, r.budget
	job.Needs = make(map[string]workflows.NeedState, len(n.spec.Needs))
	for _, id := range n.spec.Needs {
		if need := r.byID[id]; need != nil {
			job.Needs[id] = need.need
		}
	}
	return &job
}

// finished records a cell's end; a failure cancels the job's other cells
// when its strategy is fail_fast.
func (r *jobsRun) finished(d cellDone) {
	c, n := d.c, r.byID[d.c.ID]
	n.running--
	r.running--
	if r.offered[c.Key] != nil {
		delete(r.offered, c.Key)
	} else {
		r.local--
	}
	if d.stopped {
		// It stays running in the store, for the next execution to find.
		return
	}
	c.Status, c.Reason, c.Steps, c.Outputs, c.FinishedAt = d.res.Status, d.res.Reason, d.res.Steps, d.res.Outputs, d.res.FinishedAt
	c.Sandbox = RunSandbox(d.res.Steps)
	r.notify([]JobResult{c.JobResult}, nil)
	r.failFast(c)
}

// failFast cancels the other cells of the job of c, a cell that ended, when
// c failed and its job's strategy is fail_fast.
func (r *jobsRun) failFast(c *cellState) {
	n := r.byID[c.ID]
	if !failed(c.Status) || c.ContinueOnError || len(n.cells) < 2 || !n.spec.FailFast() {
		return
	}
	cause := fmt.Errorf("cancelled: %s %s (fail_fast)", c.Key, c.Status)
	for _, other := range n.cells {
		if r.offered[other.Key] != nil {
			r.cancelOffer(other, workflows.StatusCancelled, cause.Error())
			continue
		}
		switch other.Status {
		case workflows.StatusRunning:
			if other.cancel != nil {
				other.cancel(cause)
			}
		case workflows.StatusQueued:
			other.Status, other.Reason, other.FinishedAt = workflows.StatusCancelled, cause.Error(), r.x.now()
			r.notify([]JobResult{other.JobResult}, nil)
		}
	}
}

// finish ends a job whose cells have all ended, with the result and outputs
// the jobs that need it read. A cell's outputs that are set replace those of
// the cells before it.
func (r *jobsRun) finish(n *jobNode) {
	n.finished = true
	n.need = workflows.NeedState{Outputs: map[string]any{}, Result: workflows.ResultSuccess}
	n.ok = true
	skipped := true
	for _, c := range n.cells {
		for k, v := range c.Outputs {
			if v != "" && v != nil {
				n.need.Outputs[k] = v
			}
		}
		switch c.Status {
		case workflows.StatusFailed, workflows.StatusTimedOut:
			n.need.Result = workflows.ResultFailure
			n.ok = n.ok && c.ContinueOnError
		case workflows.StatusCancelled:
			if n.need.Result != workflows.ResultFailure {
				n.need.Result = workflows.ResultCancelled
			}
			n.ok = false
		}
		skipped = skipped && c.Status == workflows.StatusSkipped
	}
	if skipped {
		n.need.Result, n.ok = workflows.ResultSkipped, false
	}
}

// interrupted reports whether the server's shutdown stopped the run.
func (r *jobsRun) interrupted(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), ErrInterrupted)
}

// failed reports whether a job status fails the run (unless the job
// continues on error).
func failed(status string) bool {
	return status == workflows.StatusFailed || status == workflows.StatusTimedOut
}

func needsOf(spec *workflows.Job) []string {
	if spec.Needs == nil {
		return []string{}
	}
	return slices.Clone(spec.Needs)
}

// runsHere reports whether c runs on this node: it has c's labels, or its
// observer cannot offer jobs to other hosts.
func (r *jobsRun) runsHere(c *cellState) bool {
	if r.offers == nil {
		return true
	}
	labels := r.x.Labels
	if len(labels) == 0 {
		labels = workflows.DefaultRunsOn
	}
	return HasLabels(labels, c.RunsOn)
}

// offer hands c, a cell this node lacks the labels of, to the runners on
// other hosts, and reports whether it did.
func (r *jobsRun) offer(n *jobNode, c *cellState, job *Job, group string) bool {
	c.Reason = waitingReason(c.RunsOn)
	err := r.offers.Offer(c.JobResult, job, group)
	if err != nil && !errors.Is(err, store.ErrConflict) { // a conflict: claimed already
		c.Status, c.Reason, c.FinishedAt = workflows.StatusFailed, "offer to runners: "+err.Error(), r.x.now()
		r.notify([]JobResult{c.JobResult}, nil)
		r.failFast(c)
		return false
	}
	r.track(n, c)
	return true
}

// waitingReason is the reason of a job that waits for a runner with labels.
func waitingReason(labels []string) string {
	return fmt.Sprintf("waiting for a runner with labels [%s]", strings.Join(labels, ", "))
}

// track counts c as executing on another host until it is seen ended.
func (r *jobsRun) track(n *jobNode, c *cellState) {
	r.offered[c.Key] = c
	n.running++
	r.running++
}

// pollOffers takes in what the runners on other hosts did with the cells
// offered to them: those ended are finished here too.
func (r *jobsRun) pollOffers() {
	jobs, err := r.offers.Offered()
	if err != nil {
		r.x.logger().Warn("read the jobs offered to other hosts", "run", r.run.ID, "err", err)
		return
	}
	for _, j := range jobs {
		c := r.offered[j.Key]
		if c == nil {
			continue
		}
		c.Runner, c.StartedAt = j.Runner, j.StartedAt
		if workflows.Finished(j.Status) {
			r.finished(cellDone{c: c, res: Result{Status: j.Status, Reason: j.Reason, Steps: j.Steps,
				Outputs: j.Outputs, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt}})
			continue
		}
		c.Status, c.Reason = j.Status, j.Reason
		if c.stop != nil {
			// Asked again: a job taken back from a runner that died is
			// offered anew, and a new claim forgets the request.
			r.cancelOffer(c, c.stop[0], c.stop[1])
		}
	}
}

// stopOffers acts on the cells offered to other hosts once the run's ctx
// ended: on a cancel or timeout they are stopped; when the server shuts
// down they stay with their runners, for the run's next execution to find.
func (r *jobsRun) stopOffers(ctx context.Context) {
	keys := slices.Sorted(maps.Keys(r.offered))
	for _, key := range keys {
		c := r.offered[key]
		if c == nil {
			continue // ended meanwhile: a sibling's fail_fast finished it
		}
		if r.interrupted(ctx) {
			delete(r.offered, key)
			r.byID[c.ID].running--
			r.running--
			continue
		}
		reason := "cancelled"
		if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
			reason = cause.Error()
		}
		status := workflows.StatusCancelled
		var timeout *timeoutCause
		switch {
		case c.Status == workflows.StatusQueued && errors.As(context.Cause(ctx), &timeout):
			// It never ran for want of a runner: say so.
			status, reason = workflows.StatusFailed, c.Reason+"; "+timeout.Error()
		case c.Status == workflows.StatusQueued:
			status, reason = workflows.StatusSkipped, "cancelled before start"
		}
		r.cancelOffer(c, status, reason)
	}
}

// cancelOffer asks for c, offered to other hosts, to stop, and finishes it
// if that ended it.
func (r *jobsRun) cancelOffer(c *cellState, status, reason string) {
	c.stop = &[2]string{status, reason}
	j, err := r.offers.CancelOffer(c.Key, status, reason)
	if err != nil {
		r.x.logger().Warn("stop a job offered to other hosts", "run", r.run.ID, "job", c.Key, "err", err)
		return
	}
	if workflows.Finished(j.Status) && r.offered[c.Key] != nil {
		c.Runner, c.StartedAt = j.Runner, j.StartedAt
		r.finished(cellDone{c: c, res: Result{Status: j.Status, Reason: j.Reason, Steps: j.Steps,
			Outputs: j.Outputs, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt}})
	}
}
