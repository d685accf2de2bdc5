package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/runner/sandbox"
	"github.com/hookflow/hookflow/workflows"
)

// runStep runs one step with its retries and fills sr with the outcome, its
// outputs masked. It returns the outputs as the action gave them, for later
// steps of the run to read.
func (x *Executor) runStep(ctx context.Context, job *Job, step *workflows.Step, scope *workflows.Scope, ws string, log *runLog, sr *StepResult, obs Observer) map[string]any {
	w, spec := job.Workflow, job.spec()
	fail := func(err error) {
		sr.Outcome, sr.Error = workflows.OutcomeFailure, log.Mask(err.Error())
		log.Systemf(sr.Index, "step %s failed: %s", sr.ID, sr.Error)
	}
	log.Systemf(sr.Index, "step %s: %s", sr.ID, sr.Name)

	env, err := renderEnv(step.Env, scope)
	if err != nil {
		fail(fmt.Errorf("env: %w", err))
		return nil
	}
	action, err := x.buildAction(step, scope)
	if err != nil {
		fail(err)
		return nil
	}
	dir := step.WorkingDirectory
	if dir == "" && step.Run != "" {
		dir = cmp.Or(spec.Defaults.WorkingDirectory, w.Defaults.WorkingDirectory)
	}
	dir = resolveIn(ws, dir)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		fail(fmt.Errorf("working directory %s does not exist", dir))
		return nil
	}

	tmp := filepath.Join(ws, ".hookflow", fmt.Sprintf("step-%d", sr.Index+1))
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		fail(fmt.Errorf("workspace: %w", err))
		return nil
	}
	files := stepFiles{output: filepath.Join(tmp, "output"), env: filepath.Join(tmp, "env"), summary: filepath.Join(tmp, "summary")}
	s := &actions.Step{
		Workspace:   ws,
		Dir:         dir,
		OutputFile:  files.output,
		EnvFile:     files.env,
		SummaryFile: files.summary,
		TempDir:     tmp,
		Mask:        log.mask,
		Env:         x.processEnv(job, scope.Env, env, ws, files),
		Render:      func(text string) (string, error) { return renderText(scope, text) },
		KillGrace:   x.KillGrace,
		Workflow:    w.Name,
		StepID:      step.Key(),
	}
	if !spec.Implicit {
		s.Job = spec.ID
	}

	policy := x.SandboxDefaults.Merge(w.Sandbox).Merge(spec.Sandbox).Merge(step.Sandbox)
	if step.Run != "" {
		policy.Writable = workflows.ResolvePaths(policy.Writable, job.Vars)
		confined, err := x.sandbox().Confine(policy, ws)
		if err != nil {
			fail(err)
			return nil
		}
		s.Sandbox, sr.Sandbox = confined, confined.String()
		// Start calls back from this goroutine, inside action.Run.
		confined.OnStart(func(t sandbox.Trace) {
			sr.Process = &t
			obs.StepStarted(*sr)
		})
		// The action has stopped every process it started when it returns.
		defer func() { sr.Process = nil }()
	} else {
		// An action reads files in the server's process, where the sandbox
		// that masks these paths for processes does not reach.
		s.Hidden = x.sandbox().Hidden(policy)
	}

	attempts := 1
	if step.Retry != nil {
		attempts = step.Retry.Attempts
	}
	for attempt := 1; ; attempt++ {
		sr.Attempts = attempt
		if err := files.reset(); err != nil {
			fail(fmt.Errorf("workspace: %w", err))
			return nil
		}
		res, err := x.attempt(ctx, step, action, s, log, sr.Index)
		code := res.ExitCode
		sr.ExitCode = &code
		sr.Outputs, _ = log.mask.MaskValue(res.Outputs).(map[string]any)
		sr.Summary = log.Mask(res.Summary)
		if err == nil {
			sr.Outcome, sr.Error = workflows.OutcomeSuccess, ""
			// What the step put in $HOOKFLOW_ENV is the job's env from now on.
			maps.Copy(scope.Env, res.Env)
			return res.Outputs
		}
		if ctx.Err() != nil {
			stopped(ctx, log, sr)
			return res.Outputs
		}
		if attempt >= attempts || !actions.IsRetryable(err) {
			fail(err)
			return res.Outputs
		}
		delay := step.Retry.DelayBefore(attempt + 1)
		log.Systemf(sr.Index, "attempt %d of %d failed: %s; retrying in %s", attempt, attempts, log.Mask(err.Error()), delay)
		select {
		case <-ctx.Done():
			stopped(ctx, log, sr)
			return res.Outputs
		case <-time.After(delay):
		}
	}
}

// stopped records that ctx stopped the step, saying who or what did (the
// cause the run's context was cancelled with, or the timeout that ran out),
// whatever error the action made of it.
func stopped(ctx context.Context, log *runLog, sr *StepResult) {
	why := log.Mask(actions.StopCause(ctx).Error())
	sr.Outcome, sr.Error = workflows.OutcomeCancelled, "step stopped: "+why
	log.Systemf(sr.Index, "step %s stopped: %s", sr.ID, why)
}

// attempt runs the action once, bounded by the step's timeout.
func (x *Executor) attempt(ctx context.Context, step *workflows.Step, action actions.Action, s *actions.Step, log *runLog, index int) (actions.Result, error) {
	if step.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, time.Duration(step.Timeout), errStepTimeout)
		defer cancel()
	}
	stdout, stderr := log.Writer(index, Stdout), log.Writer(index, Stderr)
	s.Stdout, s.Stderr = stdout, stderr
	res, err := action.Run(ctx, s)
	stdout.Flush()
	stderr.Flush()
	if err != nil && errors.Is(context.Cause(ctx), errStepTimeout) {
		// A step's own timeout is a failure of the step, not of the run: the
		// run goes on to its failure() steps, and retries may apply.
		return res, actions.Retryable(fmt.Errorf("step timed out after %s", time.Duration(step.Timeout)))
	}
	return res, err
}

var errStepTimeout = errors.New("step timeout")

// processEnv is the complete environment of a step's processes (SPEC §2.2):
// the declared env, workflow then step, and hookflow's own variables. Nothing
// of the server's environment is passed on.
func (x *Executor) processEnv(job *Job, workflowEnv, stepEnv map[string]string, ws string, files stepFiles) []string {
	vars := map[string]string{}
	for k, v := range workflowEnv {
		vars[k] = v
	}
	for k, v := range stepEnv {
		vars[k] = v
	}
	path := x.Path
	if path == "" {
		path = DefaultPath
	}
	for k, v := range map[string]string{
		"PATH":                  path,
		"HOME":                  filepath.Join(ws, ".hookflow", "home"),
		"LANG":                  "C.UTF-8",
		"HOOKFLOW_RUN_ID":       job.ID,
		"HOOKFLOW_WORKFLOW":     job.Workflow.Name,
		"HOOKFLOW_WORKSPACE":    ws,
		"HOOKFLOW_OUTPUT":       files.output,
		"HOOKFLOW_ENV":          files.env,
		"HOOKFLOW_STEP_SUMMARY": files.summary,
		"HOOKFLOW_EVENT":        filepath.Join(ws, ".hookflow", "event.json"),
		"HOOKFLOW_EVENT_TYPE":   job.Event.Type,
	} {
		if _, declared := vars[k]; !declared || strings.HasPrefix(k, "HOOKFLOW_") {
			vars[k] = v
		}
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// stepFiles are the files a step's processes write what they report to:
// $HOOKFLOW_OUTPUT, $HOOKFLOW_ENV and $HOOKFLOW_STEP_SUMMARY.
type stepFiles struct{ output, env, summary string }

// reset makes each file exist and be empty, before an attempt.
func (f stepFiles) reset() error {
	for _, p := range []string{f.output, f.env, f.summary} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// resolveIn resolves a path relative to the workspace.
func resolveIn(ws, p string) string {
	if p == "" {
		return ws
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(ws, p)
}

// renderText renders the ${{ }} templates in text, which an action read while
// it runs, with scope.
func renderText(scope *workflows.Scope, text string) (string, error) {
	t, err := workflows.ParseTemplate(text)
	if err != nil {
		return "", err
	}
	return t.RenderString(scope)
}
