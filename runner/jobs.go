package runner

import (
	"encoding/json"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// JobResult is one job of a `jobs:` run, or one cell of a matrix job, as the
// API shows it (SPEC §11).
type JobResult struct {
	// Key names the job in its run: the job id, with a matrix cell's values.
	// Logs are selected by it (?job=).
	Key    string         `json:"key"`
	ID     string         `json:"id"`
	Name   string         `json:"name"`
	Needs  []string       `json:"needs"`
	Matrix map[string]any `json:"matrix,omitempty"`
	Status string         `json:"status"`
	Reason string         `json:"reason"`
	RunsOn []string       `json:"runs_on"`
	Runner string         `json:"runner,omitempty"`
	// Attempt counts the claims of a job run on another host (SPEC §12).
	Attempt         int            `json:"attempt,omitempty"`
	ContinueOnError bool           `json:"continue_on_error,omitempty"`
	StartedAt       time.Time      `json:"started_at,omitzero"`
	FinishedAt      time.Time      `json:"finished_at,omitzero"`
	Outputs         map[string]any `json:"outputs,omitempty"`
	Steps           []StepResult   `json:"steps"`
	Sandbox         string         `json:"sandbox,omitempty"`

	jobIndex, cell int
	// offered is true for a job offered to runners on other hosts, and held
	// while one of them holds it.
	offered, held bool
}

// ViewJob decodes a stored job.
func ViewJob(j *store.Job) JobResult {
	r := JobResult{Key: j.Key, ID: j.ID, Name: j.Name, Needs: j.Needs, Status: j.Status, Reason: j.Reason,
		RunsOn: j.RunsOn, Runner: j.Runner, ContinueOnError: j.ContinueOnError, StartedAt: j.StartedAt,
		FinishedAt: j.FinishedAt, Sandbox: j.Sandbox, jobIndex: j.JobIndex, cell: j.Cell,
		Attempt: j.Attempt, offered: !j.OfferedAt.IsZero(), held: !j.LeaseUntil.IsZero()}
	if len(j.Matrix) > 0 {
		r.Matrix, _ = decodeJSONMap(j.Matrix)
	}
	if len(j.Outputs) > 0 {
		r.Outputs, _ = decodeJSONMap(j.Outputs)
	}
	if len(j.Steps) > 0 {
		_ = json.Unmarshal(j.Steps, &r.Steps)
	}
	if r.Steps == nil {
		r.Steps = []StepResult{}
	}
	if r.Needs == nil {
		r.Needs = []string{}
	}
	return r
}

// stored is r as the store keeps it; with steps false its Steps are left
// nil, so that the steps stored stay.
func (r *JobResult) stored(runID string, steps bool) *store.Job {
	j := &store.Job{RunID: runID, Key: r.Key, ID: r.ID, JobIndex: r.jobIndex, Cell: r.cell, Name: r.Name,
		Needs: r.Needs, Status: r.Status, Reason: r.Reason, RunsOn: r.RunsOn, Runner: r.Runner,
		ContinueOnError: r.ContinueOnError, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, Sandbox: r.Sandbox}
	if r.Matrix != nil {
		j.Matrix, _ = json.Marshal(r.Matrix)
	}
	if r.Outputs != nil {
		j.Outputs, _ = json.Marshal(r.Outputs)
	}
	if steps {
		j.Steps, _ = json.Marshal(r.Steps)
	}
	return j
}

// decodeJSONMap decodes a stored JSON object as expressions read values.
func decodeJSONMap(data []byte) (map[string]any, error) {
	v, err := workflows.UnmarshalJSONValue(data)
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	return m, nil
}
