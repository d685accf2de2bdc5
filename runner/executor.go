// Package runner executes workflow runs: it evaluates each step's condition,
// renders its templates, runs its action in the run's workspace with an explicit
// environment, and reports outcomes, outputs and log lines as they happen.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/mask"
	"github.com/hookflow/hookflow/runner/sandbox"
	"github.com/hookflow/hookflow/workflows"
)

// Job is one job of a run to execute: a workflow, the event that started the
// run, the values bound for it, and which of the workflow's jobs (and matrix
// cell) this is. A `steps:` workflow's run is its one job.
type Job struct {
	// ID is the run's id.
	ID       string
	Workflow *workflows.Workflow
	Event    *workflows.Event
	Item     any
	Inputs   map[string]any
	// Secrets holds the values of the secrets the workflow reads.
	Secrets map[string]string
	// Vars are the configuration variables, vars.NAME.
	Vars    map[string]string
	Attempt int
	URL     string

	// Spec is the workflow's job to execute, one of Workflow.Jobs; nil means
	// the first, the one of a `steps:` workflow.
	Spec *workflows.Job
	// Cell is Spec's matrix cell, and Needs are the results of Spec's needs.
	Cell  workflows.Cell
	Needs map[string]workflows.NeedState
	// Runner names who executes the job (job.runner).
	Runner string

	// logs is the log budget of the run the job belongs to; nil gives the
	// job a budget of its own.
	logs *logBudget
}

func (j *Job) spec() *workflows.Job {
	if j.Spec != nil {
		return j.Spec
	}
	return j.Workflow.Jobs[0]
}

// Result is a finished run, or a finished job of a run.
type Result struct {
	Status string       `json:"status"`
	Reason string       `json:"reason,omitempty"`
	Steps  []StepResult `json:"steps"`
	// Outputs are a job's `outputs:`, masked.
	Outputs map[string]any `json:"outputs,omitempty"`
	// Jobs are the jobs of a `jobs:` run.
	Jobs       []JobResult `json:"jobs,omitempty"`
	StartedAt  time.Time   `json:"started_at"`
	FinishedAt time.Time   `json:"finished_at"`
}

// StepResult is a step's outcome: `running` from the moment it starts, then
// the outcome it ended with.
type StepResult struct {
	Index   int    `json:"index"`
	ID      string `json:"id"`
	Name    string `json:"name"`
	Outcome string `json:"outcome"`
	// ExitCode is what the step's action reported when it ended (a process's
	// exit status, -1 when it could not start); nil while the step runs and
	// for a step whose action never ran.
	ExitCode *int           `json:"exit_code,omitempty"`
	Outputs  map[string]any `json:"outputs,omitempty"`
	Attempts int            `json:"attempts"`
	Error    string         `json:"error,omitempty"`
	// Summary is the Markdown the step wrote to $HOOKFLOW_STEP_SUMMARY,
	// masked and capped; the run page shows it.
	Summary string `json:"summary,omitempty"`
	// Sandbox describes how the step's processes were confined (SPEC §7);
	// empty for steps that start none.
	Sandbox string `json:"sandbox,omitempty"`
	// Process traces the process the running step started last, for a
	// server that restarts after a crash to end it; nil once the step has
	// finished. The API does not show it; the run's record keeps it.
	Process    *sandbox.Trace `json:"-"`
	StartedAt  time.Time      `json:"started_at,omitzero"`
	FinishedAt time.Time      `json:"finished_at,omitzero"`
}

// Observer is told about a run's progress as it happens. Every method is called
// from the goroutine running Execute except Log, which may also be called from
// the goroutines copying a step's output; none may block for long. StepStarted
// is called when a step starts, and again with Process set each time one of
// its attempts starts a sandboxed process.
type Observer interface {
	StepStarted(r StepResult)
	StepFinished(r StepResult)
	Log(line LogLine)
}

// Executor runs jobs. Its fields are set once; Execute may be called from many
// goroutines at once.
type Executor struct {
	// Actions are the kinds `uses:` steps may name.
	Actions *actions.Registry
	// WorkspaceRoot holds one folder per running job.
	WorkspaceRoot string
	// Path is the PATH given to step processes.
	Path string
	// MaxLogBytes caps each run's log; 0 means DefaultMaxLogBytes.
	MaxLogBytes int
	// KillGrace is how long a cancelled step's processes get between SIGTERM
	// and SIGKILL; 0 means the action's default.
	KillGrace time.Duration
	// CleanupTimeout bounds steps that run after a cancellation or timeout
	// (if: always() or cancelled()); 0 means one minute.
	CleanupTimeout time.Duration
	// Sandbox confines the processes of `run:` steps. Nil means a Host that
	// protects no server files, probed on first use.
	Sandbox *sandbox.Host
	// SandboxDefaults is the server's `sandbox:`, which workflows and steps
	// override. An empty level means process.
	SandboxDefaults workflows.Sandbox
	// Labels are this runner's (runner.labels, SPEC §12): a `jobs:` run
	// whose observer can offer jobs to other hosts (JobOffers) runs here
	// only the jobs whose runs_on they cover. Empty means [local].
	Labels []string
	Logger *slog.Logger
	Now    func() time.Time

	ownSandbox     *sandbox.Host
	ownSandboxOnce sync.Once
}

// logger is Logger, or one that discards.
func (x *Executor) logger() *slog.Logger {
	if x.Logger != nil {
		return x.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// DefaultPath is given to steps when Executor.Path is empty.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func (x *Executor) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}

// Execute runs job to the end and returns its result. Cancelling ctx cancels
// the job: the running step's processes are killed and the job is `cancelled`
// (`timed_out` when its timeout, or the run's, expired: a cause made by
// timedOut). Steps that ask for it with always() or cancelled() still run,
// each bounded by CleanupTimeout.
func (x *Executor) Execute(ctx context.Context, job *Job, obs Observer) Result {
	w, spec := job.Workflow, job.spec()
	res := Result{StartedAt: x.now(), Steps: make([]StepResult, len(spec.Steps))}
	budget := job.logs
	if budget == nil {
		budget = newLogBudget(x.MaxLogBytes)
	}
	// One masker for everything the job writes: log lines, step names,
	// outputs, errors and the reason.
	log := newRunLog(obs.Log, x.now, budget, mask.New(secretValues(job.Secrets)))
	finish := func(status, reason string) Result {
		res.Status, res.Reason, res.FinishedAt = status, log.Mask(reason), x.now()
		if reason != "" {
			what := "run"
			if !spec.Implicit {
				what = "job " + job.Cell.Key
			}
			log.Systemf(-1, "%s %s: %s", what, status, res.Reason)
		}
		return res
	}

	ws, err := x.makeWorkspace(job)
	if err != nil {
		return finish(workflows.StatusFailed, err.Error())
	}
	defer x.removeWorkspace(w, ws, &res)

	// A steps: workflow's job is the run, bounded by the workflow's timeout;
	// the run's jobs share that bound through ctx, each with its own.
	var runCtx context.Context
	var cancel context.CancelFunc
	switch {
	case spec.Implicit:
		runCtx, cancel = context.WithTimeoutCause(ctx, time.Duration(w.Timeout), runTimedOut(w))
	case spec.Timeout > 0:
		runCtx, cancel = context.WithTimeoutCause(ctx, time.Duration(spec.Timeout),
			timedOut(fmt.Sprintf("job %s timed out after %s", job.Cell.Key, time.Duration(spec.Timeout))))
	default:
		runCtx, cancel = context.WithCancel(ctx)
	}
	defer cancel()

	scope, err := jobScope(job)
	if err != nil {
		return finish(workflows.StatusFailed, err.Error())
	}

	var failed *StepResult // the step that failed the job
	for i, step := range spec.Steps {
		if runCtx.Err() != nil {
			scope.Status.Cancelled = true
		}
		sr := &res.Steps[i]
		*sr = StepResult{Index: i, ID: step.Key(), Name: log.Mask(stepName(step, scope)), Outcome: workflows.OutcomeSkipped}
		run, err := shouldRun(step, scope)
		if err != nil {
			log.Systemf(i, "if: %s", err)
			sr.Error, sr.Outcome = log.Mask(err.Error()), workflows.OutcomeFailure
			if !scope.Status.Failed {
				failed = sr
			}
			scope.Status.Failed = true
			obs.StepFinished(*sr)
			continue
		}
		if !run {
			if scope.Status.Cancelled {
				sr.Outcome = workflows.OutcomeCancelled
			}
			recordStep(scope, step, sr.Outcome, nil)
			obs.StepFinished(*sr)
			continue
		}
		stepCtx := runCtx
		if runCtx.Err() != nil {
			var stop context.CancelFunc
			stepCtx, stop = context.WithTimeoutCause(context.WithoutCancel(runCtx), x.cleanupTimeout(),
				fmt.Errorf("clean-up after a cancel is limited to %s", x.cleanupTimeout()))
			defer stop()
		}
		sr.StartedAt, sr.Outcome = x.now(), workflows.OutcomeRunning
		obs.StepStarted(*sr)
		outputs := x.runStep(stepCtx, job, step, scope, ws, log, sr, obs)
		sr.FinishedAt = x.now()
		if sr.Outcome == workflows.OutcomeFailure && !step.ContinueOnError && !scope.Status.Failed {
			scope.Status.Failed = true
			failed = sr
		}
		recordStep(scope, step, sr.Outcome, outputs)
		obs.StepFinished(*sr)
	}

	if len(spec.Outputs) > 0 {
		outputs, err := renderOutputs(spec.Outputs, scope)
		if err != nil && !scope.Status.Failed && runCtx.Err() == nil {
			scope.Status.Failed = true
			failed = &StepResult{ID: "outputs", Error: err.Error()}
		}
		res.Outputs, _ = log.mask.MaskValue(outputs).(map[string]any)
	}

	var timeout *timeoutCause
	switch {
	case errors.Is(runCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		return finish(workflows.StatusTimedOut, context.Cause(runCtx).Error())
	case ctx.Err() != nil && errors.As(context.Cause(ctx), &timeout):
		return finish(workflows.StatusTimedOut, timeout.Error())
	case ctx.Err() != nil:
		reason := "cancelled"
		if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
			reason = cause.Error()
		}
		return finish(workflows.StatusCancelled, reason)
	case scope.Status.Failed:
		return finish(workflows.StatusFailed, failedReason(failed))
	}
	return finish(workflows.StatusSucceeded, "")
}

// jobScope is the scope job's expressions and templates are evaluated in,
// with its env rendered: the workflow's, then the job's.
func jobScope(job *Job) (*workflows.Scope, error) {
	w, spec := job.Workflow, job.spec()
	scope := workflows.NewScope(job.Event)
	scope.Inputs, scope.Item, scope.Secrets = job.Inputs, job.Item, job.Secrets
	scope.BindVars(job.Vars)
	scope.Steps = map[string]workflows.StepState{}
	scope.Run = workflows.RunInfo{ID: job.ID, Attempt: job.Attempt, URL: job.URL, Workflow: w.Name}
	scope.Workflow = workflows.WorkflowInfo{Name: w.Name, File: w.File, Revision: w.Revision}
	scope.Needs, scope.Matrix = job.Needs, job.Cell.Values
	scope.Job = workflows.JobInfo{ID: spec.ID, Runner: job.Runner}
	env, err := renderEnv(w.Env, scope)
	if err != nil {
		return nil, fmt.Errorf("env: %w", err)
	}
	scope.Env = env
	jobEnv, err := renderEnv(spec.Env, scope)
	if err != nil {
		return nil, fmt.Errorf("job env: %w", err)
	}
	maps.Copy(env, jobEnv)
	return scope, nil
}

// renderOutputs renders a job's outputs in the scope its steps left.
func renderOutputs(outputs workflows.Outputs, scope *workflows.Scope) (map[string]any, error) {
	out := make(map[string]any, len(outputs))
	var errs []error
	for _, o := range outputs {
		v, err := o.Value.Render(scope)
		if err != nil {
			errs = append(errs, fmt.Errorf("outputs: %s: %w", o.Name, err))
			continue
		}
		out[o.Name] = v
	}
	return out, errors.Join(errs...)
}

// timeoutCause is the cause of a context ended by a run's or a job's
// timeout: the job ends `timed_out`, not `cancelled`.
type timeoutCause struct{ msg string }

func (e *timeoutCause) Error() string { return e.msg }

func timedOut(msg string) error { return &timeoutCause{msg} }

// runTimedOut is the cause of a run stopped by the workflow's timeout.
func runTimedOut(w *workflows.Workflow) error {
	return timedOut(fmt.Sprintf("run timed out after %s", time.Duration(w.Timeout)))
}

func (x *Executor) cleanupTimeout() time.Duration {
	if x.CleanupTimeout > 0 {
		return x.CleanupTimeout
	}
	return time.Minute
}

// shouldRun evaluates a step's `if`. As in GitHub Actions, a condition that calls
// none of the status functions runs only while the run is succeeding.
func shouldRun(step *workflows.Step, scope *workflows.Scope) (bool, error) {
	if step.If == nil || !step.If.UsesStatus() {
		if !scope.FnSuccess() {
			return false, nil
		}
	}
	if step.If == nil {
		return true, nil
	}
	return step.If.Bool(scope)
}

// recordStep makes a finished step visible to later ones as steps.<id>. They
// read its outputs as the action gave them, secrets and all, as they would
// read secrets.*; only the copy in the StepResult, which is stored and shown,
// is masked.
func recordStep(scope *workflows.Scope, step *workflows.Step, outcome string, outputs map[string]any) {
	if step.ID != "" {
		scope.Steps[step.ID] = workflows.StepState{Outputs: outputs, Outcome: outcome}
	}
}

func stepName(step *workflows.Step, scope *workflows.Scope) string {
	if step.Name != nil {
		if name, err := step.Name.RenderString(scope); err == nil && name != "" {
			return name
		}
	}
	return step.DisplayName()
}

func failedReason(s *StepResult) string {
	if s == nil {
		return "failed"
	}
	if s.Error != "" {
		return fmt.Sprintf("step %s failed: %s", s.ID, s.Error)
	}
	return fmt.Sprintf("step %s failed", s.ID)
}

// makeWorkspace creates the run's folder and the files every step reads.
func (x *Executor) makeWorkspace(job *Job) (string, error) {
	root, err := filepath.Abs(x.WorkspaceRoot)
	if err != nil {
		return "", fmt.Errorf("workspace: %w", err)
	}
	ws := filepath.Join(root, job.ID)
	if spec := job.spec(); !spec.Implicit {
		ws = filepath.Join(root, fmt.Sprintf("%s.%d.%d", job.ID, spec.Index, job.Cell.Index))
	}
	if err := os.MkdirAll(filepath.Join(ws, ".hookflow", "home"), 0o700); err != nil {
		return "", fmt.Errorf("workspace: %w", err)
	}
	data, err := json.Marshal(job.Event)
	if err != nil {
		return "", fmt.Errorf("event: %w", err)
	}
	if err := os.WriteFile(filepath.Join(ws, ".hookflow", "event.json"), data, 0o600); err != nil {
		return "", fmt.Errorf("workspace: %w", err)
	}
	return ws, nil
}

func (x *Executor) removeWorkspace(w *workflows.Workflow, ws string, res *Result) {
	keep := w.KeepWorkspace == workflows.KeepAlways ||
		w.KeepWorkspace == workflows.KeepOnFailure && res.Status != workflows.StatusSucceeded
	if keep {
		return
	}
	if err := os.RemoveAll(ws); err != nil && x.Logger != nil {
		x.Logger.Warn("remove workspace", "dir", ws, "err", err)
	}
}

func secretValues(secrets map[string]string) []string {
	values := make([]string, 0, len(secrets))
	for _, v := range secrets {
		values = append(values, v)
	}
	return values
}

// renderEnv renders env templates in order into a new map.
func renderEnv(env workflows.Env, scope *workflows.Scope) (map[string]string, error) {
	out := make(map[string]string, len(env))
	for _, v := range env {
		s, err := v.Value.RenderString(scope)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.Name, err)
		}
		out[v.Name] = s
	}
	return out, nil
}

// buildAction makes the step's action, of the kind the workflow's loader
// chose, from its rendered settings.
func (x *Executor) buildAction(step *workflows.Step, scope *workflows.Scope) (actions.Action, error) {
	kind, ok := x.Actions.Lookup(step.Action)
	if !ok {
		return nil, fmt.Errorf("unknown action %q", step.Action)
	}
	with := map[string]any{}
	if step.Params != nil {
		v, err := step.Params.Render(scope)
		if err != nil {
			return nil, fmt.Errorf("with: %w", err)
		}
		with = v.(map[string]any)
	}
	return kind.New(with)
}

// sandbox is the Host that confines steps.
func (x *Executor) sandbox() *sandbox.Host {
	if x.Sandbox != nil {
		return x.Sandbox
	}
	x.ownSandboxOnce.Do(func() { x.ownSandbox = sandbox.NewHost(sandbox.Options{}) })
	return x.ownSandbox
}

// RunSandbox sums up, for the run record, how a run's steps were confined:
// each distinct step sandbox, in step order.
func RunSandbox(steps []StepResult) string {
	var seen []string
	for _, s := range steps {
		if s.Sandbox != "" && !slices.Contains(seen, s.Sandbox) {
			seen = append(seen, s.Sandbox)
		}
	}
	return strings.Join(seen, " | ")
}
