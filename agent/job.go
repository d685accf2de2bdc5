package agent

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/runner/sandbox"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// A job's lines go to the server in batches: every sendInterval, or as soon
// as batchLines are waiting; a batch holds at most batchLines lines and
// batchBytes of them.
const (
	sendInterval = 200 * time.Millisecond
	batchLines   = 500
	batchBytes   = 1 << 20
)

// errDropped ends the reports on a job that the server no longer holds for
// the agent.
var errDropped = errors.New("the server no longer holds the job for this agent")

// heldJob is a job the agent holds: running, or ended and waiting for what
// it must report to arrive. As the job's runner.Observer, it keeps the lines
// in the spool and the steps in memory; its sender reports them.
type heldJob struct {
	ref   store.JobRef
	lease time.Duration
	spool *spool
	log   *slog.Logger
	// cancel ends the job's execution, with a cause; nil for a job that an
	// earlier life of the agent ran.
	cancel context.CancelCauseFunc
	// dropped is set once the server said the job is no longer the
	// agent's: nothing more is reported.
	dropped atomic.Bool
	// stopped is set once the server said to stop the job.
	stopped atomic.Bool
	// more is signalled when a batch of lines is waiting.
	more chan struct{}

	mu sync.Mutex
	// steps are the job's steps so far; stepsVersion counts their changes,
	// stepsSent is the version the server has.
	steps                   []runner.StepResult
	stepsVersion, stepsSent int
	// processes trace the processes of running steps, by step index.
	processes map[int]sandbox.Trace
	lostLines bool
}

func newHeldJob(ref store.JobRef, lease time.Duration, sp *spool, log *slog.Logger) *heldJob {
	if lease <= 0 {
		lease = defaultLease
	}
	return &heldJob{ref: ref, lease: lease, spool: sp, more: make(chan struct{}, 1),
		processes: map[int]sandbox.Trace{},
		log:       log.With("run", ref.Run, "job", ref.Job, "attempt", ref.Attempt)}
}

// defaultLease is the lease of an assignment that states none.
const defaultLease = 30 * time.Second

// drop makes the agent forget the job: its execution is cancelled with
// cause, and nothing more is reported.
func (j *heldJob) drop(cause error) {
	if j.dropped.Swap(true) {
		return
	}
	j.log.Warn("dropping the job", "reason", cause)
	if j.cancel != nil {
		j.cancel(cause)
	}
}

func (j *heldJob) StepStarted(r runner.StepResult) { j.recordStep(r) }

func (j *heldJob) StepFinished(r runner.StepResult) { j.recordStep(r) }

// recordStep keeps r for the next report, and where its processes run for an
// agent that restarts after a crash to end them.
func (j *heldJob) recordStep(r runner.StepResult) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for len(j.steps) <= r.Index {
		j.steps = append(j.steps, runner.StepResult{Index: len(j.steps)})
	}
	j.steps[r.Index] = r
	j.stepsVersion++
	before := len(j.processes)
	if r.Process != nil && r.Outcome == workflows.OutcomeRunning {
		j.processes[r.Index] = *r.Process
	} else {
		delete(j.processes, r.Index)
	}
	if len(j.processes) == 0 && before == 0 {
		return
	}
	traces := slices.Collect(maps.Values(j.processes))
	if err := j.spool.writeProcesses(traces); err != nil {
		j.log.Warn("keep the traces of a step's processes", "err", err)
	}
}

// Log keeps line in the spool, for the sender.
func (j *heldJob) Log(line runner.LogLine) {
	if err := j.spool.append(line); err != nil {
		j.mu.Lock()
		first := !j.lostLines
		j.lostLines = true
		j.mu.Unlock()
		if first {
			j.log.Error("keep a log line in the spool; the lines that cannot be kept are lost", "err", err)
		}
		return
	}
	if j.spool.unsent() >= batchLines {
		select {
		case j.more <- struct{}{}:
		default:
		}
	}
}

// stepsToSend returns the steps when the server does not have them as they
// are, and their version.
func (j *heldJob) stepsToSend() ([]runner.StepResult, int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.stepsVersion == j.stepsSent {
		return nil, j.stepsVersion
	}
	return slices.Clone(j.steps), j.stepsVersion
}

func (j *heldJob) stepsDelivered(version int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.stepsSent = max(j.stepsSent, version)
}

// sendPending reports the lines the server does not have, and the steps
// when they changed, in batches. It returns nil once there is nothing left
// to send, errDropped when the server no longer holds the job for the agent.
func (j *heldJob) sendPending(ctx context.Context, c *conn) error {
	for {
		if j.dropped.Load() {
			return errDropped
		}
		from := j.spool.ackedCount()
		lines, err := j.spool.lines(from, batchLines, batchBytes)
		if err != nil {
			return err
		}
		steps, version := j.stepsToSend()
		if len(lines) == 0 && steps == nil {
			return nil
		}
		if lines == nil {
			lines = []runner.LogLine{}
		}
		var resp runner.ProgressResponse
		_, err = c.post(ctx, runner.AgentProgressPath, runner.ProgressRequest{JobRef: j.ref, From: from, Lines: lines,
			Steps: steps, Sandbox: runner.RunSandbox(steps)}, &resp, requestTimeout)
		if conflict(err) {
			j.drop(errDropped)
			return errDropped
		}
		if err != nil {
			return err
		}
		if len(lines) > 0 && resp.Stored == from {
			return errors.New("the server stored none of the lines sent")
		}
		if err := j.spool.setAcked(max(resp.Stored, 0)); err != nil {
			j.log.Warn("keep the count of lines the server stored", "err", err)
		}
		j.stepsDelivered(version)
	}
}

// sender reports the job's progress while it runs, until ctx ends.
// Failures are retried with backoff; the lines wait in the spool.
func (a *Agent) sender(ctx context.Context, j *heldJob) {
	t := time.NewTicker(sendInterval)
	defer t.Stop()
	b := a.backoff()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-j.more:
		}
		err := j.sendPending(ctx, a.conn)
		switch {
		case err == nil:
			b.reset()
		case errors.Is(err, errDropped), ctx.Err() != nil:
			return
		default:
			a.logFailure(j.log, "send the job's progress", err)
			if !b.wait(ctx) {
				return
			}
		}
	}
}

// conclude reports the end of a job: its lines, then its result, or, when
// res is nil, its release for reason. It tries until the server has them,
// says the job is no longer the agent's, or ctx ends; in that last case the
// spool keeps them for the agent's next start.
func (a *Agent) conclude(ctx context.Context, j *heldJob, res *runner.Result, reason string) {
	defer a.unhold(j)
	delivered := a.retry(ctx, j, "send the job's log", func() error { return j.sendPending(ctx, a.conn) })
	if delivered && !j.dropped.Load() {
		var what string
		var do func() error
		if res != nil {
			what = "report the job's result"
			do = func() error {
				_, err := a.conn.post(ctx, runner.AgentFinishPath, runner.FinishRequest{JobRef: j.ref, Result: *res}, nil, requestTimeout)
				return err
			}
		} else {
			what = "hand back the job"
			do = func() error {
				_, err := a.conn.post(ctx, runner.AgentReleasePath, runner.ReleaseRequest{JobRef: j.ref, Reason: reason}, nil, requestTimeout)
				return err
			}
		}
		delivered = a.retry(ctx, j, what, do)
		switch {
		case !delivered:
		case j.dropped.Load():
		case res != nil:
			j.log.Info("finished job", "status", res.Status, "lines", j.spool.count())
		default:
			j.log.Info("handed back job", "reason", reason, "lines", j.spool.count())
		}
	}
	if !delivered && !j.dropped.Load() {
		j.spool.close()
		j.log.Warn("the job's report stays in the spool until the agent next starts", "spool", j.spool.dir)
		return
	}
	if err := j.spool.remove(); err != nil {
		j.log.Error("remove the job's spool", "err", err)
	}
}

// retry calls do until it succeeds or answers 409, backing off between
// failures. It returns false when ctx ended first.
func (a *Agent) retry(ctx context.Context, j *heldJob, what string, do func() error) bool {
	b := a.backoff()
	for {
		err := do()
		switch {
		case err == nil:
			return true
		case conflict(err), errors.Is(err, errDropped):
			j.drop(errDropped)
			return true
		case j.dropped.Load():
			return true
		case ctx.Err() != nil:
			return false
		}
		a.logFailure(j.log, what, err)
		if !b.wait(ctx) {
			return false
		}
	}
}

// logFailure logs a failed request: a refused token as an error, with the
// server's message, anything else as a warning.
func (a *Agent) logFailure(log *slog.Logger, what string, err error) {
	if refused(err) {
		log.Error(what+": the server refused the agent's token", "err", err)
		return
	}
	log.Warn(what, "err", err)
}
