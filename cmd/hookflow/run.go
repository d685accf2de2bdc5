package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/hookflow/hookflow/actions/builtin"
	"github.com/hookflow/hookflow/intake"
	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/workflows"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", "WORKFLOW [--event FILE] [--provider P] [--header K=V]... [--input K=V]... [--var K=V]... [--workflows DIR]", stderr)
	eventFile := fs.String("event", "", "payload file to run with, taken as the webhook endpoint takes it")
	provider := fs.String("provider", "", "provider that shapes the event (default: the workflow's webhook provider)")
	dir := fs.String("workflows", "workflows", "folder of workflow files")
	var headers, inputs, varFlags pairs
	fs.Var(&headers, "header", "request header K=V (repeatable), e.g. X-GitHub-Event=push")
	fs.Var(&inputs, "input", "dispatch input K=V (repeatable)")
	fs.Var(&varFlags, "var", "configuration variable K=V, vars.K (repeatable; over HOOKFLOW_VAR_K)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return usageError(stderr, "run", err)
	}
	if len(pos) != 1 {
		return usageError(stderr, "run", errors.New("name one workflow: hookflow run WORKFLOW --event FILE"))
	}
	if !colourOn(stdout) {
		// The steps' colour is for terminals; a pipe or NO_COLOR gets plain text.
		plain := &plainWriter{w: stdout}
		defer plain.Flush()
		stdout = plain
	}
	set, ok := loadSet(*dir, stderr)
	if !ok {
		return exitFail
	}
	w, ok := set.Lookup(pos[0])
	if !ok {
		return usageError(stderr, "run", fmt.Errorf("no workflow %q in %s", pos[0], *dir))
	}

	entry, err := runEntry(w, *eventFile, *provider, headers.Map(), inputs.Map())
	if err != nil {
		return usageError(stderr, "run", err)
	}
	vars := localVars(varFlags)
	dec, code := explain(ctx, set, vars, entry, "run", *eventFile, stderr)
	if dec == nil {
		return code
	}
	if dec.Challenge != "" {
		fmt.Fprintf(stderr, "hookflow run: the payload is a Slack url_verification handshake, answered with its challenge; nothing runs\n")
		return exitFail
	}
	verdict := dec.Verdicts[0]
	if !verdict.Run {
		fmt.Fprintf(stderr, "hookflow run: %s would not run: %s\n", w.Name, verdict.Reason)
		return exitFail
	}
	items := verdict.Items
	if items == nil {
		items = []any{nil}
	}
	// A run on the server reads its event and item as stored; read them
	// the same way, so that a template renders alike here and there.
	ev, err := runner.NormaliseEvent(dec.Event)
	if err != nil {
		fmt.Fprintf(stderr, "hookflow run: %s\n", err)
		return exitFail
	}
	for i, item := range items {
		if items[i], err = runner.NormaliseItem(item); err != nil {
			fmt.Fprintf(stderr, "hookflow run: %s\n", err)
			return exitFail
		}
	}
	ws, err := os.MkdirTemp("", "hookflow-run-")
	if err != nil {
		fmt.Fprintf(stderr, "hookflow run: %s\n", err)
		return exitFail
	}
	defer os.RemoveAll(ws)

	x := &runner.Executor{Actions: builtin.Registry(), WorkspaceRoot: ws, Path: os.Getenv("PATH")}
	code = exitOK
	for _, item := range items {
		job := &runner.Job{
			ID: ulid.Make().String(), Workflow: w, Event: ev, Item: item, Inputs: ev.Inputs,
			Secrets: secretsFromEnv(w.Secrets), Vars: vars, Attempt: 1,
		}
		var res runner.Result
		if w.Jobs[0].Implicit {
			res = x.Execute(ctx, job, &terminal{w: stdout, mu: &sync.Mutex{}, steps: w.Steps})
		} else {
			res = x.RunJobs(ctx, job, nil, 0, &terminalJobs{w: stdout, workflow: w})
		}
		printSummary(stdout, job, res)
		if res.Status != workflows.StatusSucceeded {
			code = exitFail
		}
	}
	return code
}

// runEntry is how a local run's event enters: a delivery of the payload file
// to the workflow's first webhook trigger when a file is given, else a start
// by hand.
func runEntry(w *workflows.Workflow, file, provider string, headers, inputs map[string]string) (intake.Entry, error) {
	given := make(map[string]any, len(inputs))
	for k, v := range inputs {
		given[k] = v
	}
	if file == "" {
		if len(w.On.Webhook) > 0 && w.On.Dispatch == nil {
			return nil, errors.New("--event FILE is required for a webhook workflow")
		}
		return &intake.Manual{Workflow: w.Name, Inputs: given, Actor: "cli", AnyTrigger: true}, nil
	}
	path, method := "", "POST"
	if len(w.On.Webhook) > 0 {
		path, method = w.On.Webhook[0].Path, w.On.Webhook[0].Methods[0]
	}
	d, err := fileDelivery(path, file, method, headers)
	if err != nil {
		return nil, err
	}
	d.Workflow, d.Provider, d.Inputs = w.Name, provider, given
	return d, nil
}

// terminal prints a run's progress as it happens, or one job's, each line
// after prefix.
type terminal struct {
	mu     *sync.Mutex // shared by the jobs of a run
	w      io.Writer
	prefix string
	steps  []*workflows.Step
}

// terminalJobs prints the progress of a `jobs:` run, each job's lines
// prefixed with its key.
type terminalJobs struct {
	mu       sync.Mutex
	w        io.Writer
	workflow *workflows.Workflow
	groups   map[string]string // concurrency group → the key of the job holding it
}

func (t *terminalJobs) StartJob(j runner.JobResult, group string) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if holder, held := t.groups[group]; held && holder != j.Key {
		return false, nil
	}
	if t.groups == nil {
		t.groups = map[string]string{}
	}
	t.groups[group] = j.Key
	fmt.Fprintf(t.w, "==> job %s: running\n", j.Key)
	return true, nil
}

func (t *terminalJobs) JobsChanged(changed []runner.JobResult, removed []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, j := range changed {
		if workflows.Finished(j.Status) {
			for group, holder := range t.groups {
				if holder == j.Key {
					delete(t.groups, group)
				}
			}
		}
		if j.Status == workflows.StatusQueued {
			continue
		}
		line := fmt.Sprintf("==> job %s: %s", j.Key, j.Status)
		if j.Reason != "" {
			line += " (" + j.Reason + ")"
		}
		fmt.Fprintln(t.w, line)
	}
}

func (t *terminalJobs) Job(j runner.JobResult) runner.Observer {
	var steps []*workflows.Step
	if spec, ok := t.workflow.Job(j.ID); ok {
		steps = spec.Steps
	}
	return &terminal{mu: &t.mu, w: t.w, prefix: "[" + j.Key + "] ", steps: steps}
}

func (t *terminal) StepStarted(r runner.StepResult) {}

func (t *terminal) StepFinished(r runner.StepResult) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r.Outcome == workflows.OutcomeSkipped || r.Outcome == workflows.OutcomeCancelled && r.StartedAt.IsZero() {
		fmt.Fprintf(t.w, "%s==> %s: %s\n", t.prefix, r.ID, r.Outcome)
		return
	}
	fmt.Fprintf(t.w, "%s==> %s: %s in %s\n", t.prefix, r.ID, r.Outcome, r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond))
}

func (t *terminal) Log(l runner.LogLine) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case l.Stream == runner.System:
		fmt.Fprintf(t.w, "%s==> %s\n", t.prefix, l.Text)
	case l.Stream == runner.Stderr:
		fmt.Fprintf(t.w, "%s%s ! %s\n", t.prefix, t.stepKey(l.Step), l.Text)
	default:
		fmt.Fprintf(t.w, "%s%s | %s\n", t.prefix, t.stepKey(l.Step), l.Text)
	}
}

func (t *terminal) stepKey(i int) string {
	if i >= 0 && i < len(t.steps) {
		return t.steps[i].Key()
	}
	return "run"
}

// printLocalSteps shows each step's outcome: an http step by its response's
// status line, any other by its exit code and outputs.
func printLocalSteps(w io.Writer, indent string, steps []runner.StepResult, specs []*workflows.Step) {
	for _, s := range steps {
		line := fmt.Sprintf("%s%-10s %-20s ", indent, s.Outcome, s.ID)
		if s.Index >= 0 && s.Index < len(specs) && specs[s.Index].Uses == "http" {
			line += httpStatusLine(s)
		} else {
			line += "exit " + exitText(s.ExitCode)
			if len(s.Outputs) > 0 {
				b, _ := json.Marshal(s.Outputs)
				line += " outputs " + string(b)
			}
		}
		fmt.Fprintln(w, line)
		if s.Summary != "" {
			fmt.Fprintf(w, "%s  summary:\n", indent)
			for l := range strings.Lines(s.Summary) {
				fmt.Fprintf(w, "%s    %s", indent, l)
			}
			if !strings.HasSuffix(s.Summary, "\n") {
				fmt.Fprintln(w)
			}
		}
	}
}

// httpStatusLine is an http step's response status, such as "HTTP 503
// Service Unavailable", or why there was none; its body stays in the log
// and the outputs.
func httpStatusLine(s runner.StepResult) string {
	var code int
	switch v := s.Outputs["status"].(type) {
	case int:
		code = v
	case int64:
		code = int(v)
	case float64:
		code = int(v)
	}
	if code == 0 {
		if s.Error != "" {
			return "no response: " + oneLine(s.Error)
		}
		return "no response"
	}
	return strings.TrimSpace(fmt.Sprintf("HTTP %d %s", code, http.StatusText(code)))
}

func printSummary(w io.Writer, job *runner.Job, res runner.Result) {
	fmt.Fprintf(w, "\nrun %s of %s: %s in %s\n", job.ID, job.Workflow.Name, res.Status, res.FinishedAt.Sub(res.StartedAt).Round(time.Millisecond))
	printLocalSteps(w, "  ", res.Steps, job.Workflow.Steps)
	for _, j := range res.Jobs {
		line := fmt.Sprintf("  job %s: %s", j.Key, j.Status)
		if j.Reason != "" {
			line += " (" + j.Reason + ")"
		}
		if len(j.Outputs) > 0 {
			b, _ := json.Marshal(j.Outputs)
			line += " outputs " + string(b)
		}
		fmt.Fprintln(w, line)
		var specs []*workflows.Step
		if spec, ok := job.Workflow.Job(j.ID); ok {
			specs = spec.Steps
		}
		printLocalSteps(w, "    ", j.Steps, specs)
	}
	if res.Reason != "" {
		fmt.Fprintf(w, "  reason: %s\n", res.Reason)
	}
}
