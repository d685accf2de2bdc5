package client_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/client"
	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// TestTypesKnowEveryField decodes the server's view of a run, with every
// field set, into the client's, refusing fields it does not know: a field the
// API's view gains must be added to the client's too, or the CLI would never
// show it.
func TestTypesKnowEveryField(t *testing.T) {
	t0 := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	code := 2
	steps, err := json.Marshal([]runner.StepResult{{Index: 1, ID: "build", Name: "Build", Outcome: workflows.OutcomeFailure,
		ExitCode: &code, Outputs: map[string]any{"k": "v"}, Attempts: 2, Error: "exit status 2", Summary: "# done", Sandbox: "isolated",
		StartedAt: t0, FinishedAt: t0.Add(time.Second)}})
	if err != nil {
		t.Fatal(err)
	}
	run := &store.Run{ID: "r", Seq: 1, Workflow: "w", Revision: "rev", EventID: "e", Item: json.RawMessage(`{"n":1}`), Attempt: 2,
		RerunOf: "r0", Group: "g", CancelInProgress: true, PendingLatest: true, CooldownKey: "c", CooldownPeriod: time.Minute,
		OnInterrupt: "requeue", Status: workflows.StatusRunning, Reason: "why", QueuedAt: t0, StartedAt: t0, FinishedAt: t0,
		Node: "n", LeaseUntil: t0, CancelRequested: true, Sandbox: "process", Steps: steps}
	for name, tc := range map[string]struct {
		server any
		client any
	}{
		"run":              {api.ViewRun(run), &client.Run{}},
		"run unstarted":    {api.ViewRun(&store.Run{ID: "r", Status: workflows.StatusQueued, QueuedAt: t0}), &client.Run{}},
		"run with jobs":    {withJobs(api.ViewRun(run), steps, t0), &client.Run{}},
		"run with trigger": {withTrigger(api.ViewRun(run)), &client.Run{}},
		"run with reports": {withReports(api.ViewRun(run), t0), &client.Run{}},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(tc.server)
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(tc.client); err != nil {
				t.Errorf("%s: %v", b, err)
			}
		})
	}
}

// withReports is v with a report, every field set.
func withReports(v *api.RunView, t0 time.Time) *api.RunView {
	v.Reports = []*store.Report{{Seq: 1, RunID: "r", Job: "build", Kind: "commit_status", Target: 0, State: "failure",
		RunStatus: "failed", Status: "queued", Attempts: 2, Error: "503", CreatedAt: t0, NextAt: t0, SentAt: t0,
		EventID: "e", Workflow: "w", Plan: json.RawMessage(`{}`)}}
	return v
}

// withTrigger is v with a trigger, every field set.
func withTrigger(v *api.RunView) *api.RunView {
	v.Trigger = &api.TriggerView{Label: "github push", Trigger: "webhook", Provider: "github", Event: "push", Repo: "acme/shop", Branch: "main",
		Tag: "v1", Commit: "9fceb02d0ae598e95dc970b74767f19372d61af8", CommitURL: "https://github.com/acme/shop/commit/9fceb02",
		Sender: "octocat", Inputs: map[string]any{"env": "prod"}, Schedule: "0 3 * * *", Actor: "api token 1 from 127.0.0.1"}
	return v
}

// withJobs is v with one job, every field set.
func withJobs(v *api.RunView, steps json.RawMessage, t0 time.Time) *api.RunView {
	v.Jobs = []runner.JobResult{runner.ViewJob(&store.Job{Key: "deploy (a)", ID: "deploy", JobIndex: 1, Cell: 0,
		Name: "Deploy (a)", Needs: []string{"build"}, Matrix: json.RawMessage(`{"host":"a"}`), Status: workflows.StatusFailed,
		Reason: "why", RunsOn: []string{"local"}, Runner: "n", ContinueOnError: true, StartedAt: t0, FinishedAt: t0,
		Outputs: json.RawMessage(`{"o":1}`), Steps: steps, Sandbox: "process"})}
	return v
}
