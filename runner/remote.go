package runner

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// This file holds what the node executing a run and a runner on another host
// (`hookflow agent`, SPEC §12) say to each other: the job offered, the job
// claimed, and the agent protocol's messages under /api/v1/agent/.

// Offer is what the node executing a run stores with a job it offers to
// runners on other hosts: all the runner needs of the run but the event, the
// item and the secrets' values, which the node answering the claim adds.
type Offer struct {
	Workflow string `json:"workflow"`
	File     string `json:"file"`
	Revision string `json:"revision"`
	// Source is the workflow file as the node loaded it.
	Source string `json:"source"`
	// JobID is the job's id in the workflow, Cell its matrix cell.
	JobID string    `json:"job_id"`
	Cell  OfferCell `json:"cell"`
	// Needs are the results of the jobs it needs.
	Needs map[string]workflows.NeedState `json:"needs,omitempty"`
	// Secrets are the names of the secrets the job reads.
	Secrets     []string `json:"secrets,omitempty"`
	RunAttempt  int      `json:"run_attempt"`
	URL         string   `json:"url"`
	MaxLogBytes int      `json:"max_log_bytes"`
}

// OfferCell is workflows.Cell on the wire.
type OfferCell struct {
	Key    string         `json:"key"`
	Index  int            `json:"index"`
	Values map[string]any `json:"values,omitempty"`
}

// Assignment is a claimed job as its runner receives it: the claim, the
// offer, and what the node answering the claim adds.
type Assignment struct {
	store.JobRef
	Offer
	// Event is the run's event as stored, Item its for_each item.
	Event json.RawMessage `json:"event"`
	Item  json.RawMessage `json:"item,omitempty"`
	// SecretValues are the values of Offer.Secrets that the server has.
	SecretValues map[string]string `json:"secret_values,omitempty"`
	// Vars are the server's configuration variables.
	Vars map[string]string `json:"vars,omitempty"`
	// LeaseSeconds is how long the claim lasts without a renewal.
	LeaseSeconds float64 `json:"lease_seconds"`
	// Runner is the agent's registered name: job.runner, and the runner the
	// job records.
	Runner string `json:"runner"`
}

// Lease is how long the claim lasts without a renewal.
func (a *Assignment) Lease() time.Duration {
	return time.Duration(a.LeaseSeconds * float64(time.Second))
}

// Job loads the assignment's workflow from its source, with actions, and
// returns the job to execute, with runner as job.runner. The job has a log
// budget of MaxLogBytes of its own (0: DefaultMaxLogBytes).
func (a *Assignment) Job(actions workflows.ActionChecker, runner string) (*Job, error) {
	w, err := workflows.Parse(a.File, []byte(a.Source), actions)
	if err != nil {
		return nil, fmt.Errorf("workflow %s: %w", a.File, err)
	}
	w.Revision = a.Revision
	spec, ok := w.Job(a.JobID)
	if !ok {
		return nil, fmt.Errorf("workflow %s has no job %s", a.File, a.JobID)
	}
	ev, err := decodeEvent(a.Event)
	if err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	var item any
	if len(a.Item) > 0 {
		if item, err = decodeItem(a.Item); err != nil {
			return nil, fmt.Errorf("item: %w", err)
		}
	}
	return &Job{ID: a.Run, Workflow: w, Event: ev, Item: item, Inputs: ev.Inputs, Secrets: a.SecretValues, Vars: a.Vars,
		Attempt: a.RunAttempt, URL: a.URL, Spec: spec, Runner: runner,
		Cell:  workflows.Cell{Key: a.Cell.Key, Index: a.Cell.Index, Values: a.Cell.Values},
		Needs: a.Needs, logs: newLogBudget(a.MaxLogBytes)}, nil
}

// DefaultQueueTimeout is how long a job waits for a runner with its labels
// when limits.queue_timeout does not say.
const DefaultQueueTimeout = 24 * time.Hour

// HasLabels reports whether a runner with labels may run a job that runs on
// want: it has every one of them.
func HasLabels(labels, want []string) bool {
	for _, l := range want {
		if !slices.Contains(labels, l) {
			return false
		}
	}
	return true
}

// The agent protocol (SPEC §12). Every request carries the agent's token as
// a bearer token; every route is a POST with a JSON body.
const (
	// AgentClaimPath long-polls for a job: ClaimRequest → 200 Assignment, or
	// 204 when none came within the wait.
	AgentClaimPath = "/api/v1/agent/claim"
	// AgentRenewPath renews held jobs' leases: RenewRequest → RenewResponse.
	AgentRenewPath = "/api/v1/agent/renew"
	// AgentProgressPath sends log lines and steps: ProgressRequest →
	// ProgressResponse.
	AgentProgressPath = "/api/v1/agent/progress"
	// AgentFinishPath reports a job's result: FinishRequest → 204.
	AgentFinishPath = "/api/v1/agent/finish"
	// AgentReleasePath hands back a job: ReleaseRequest → 204.
	AgentReleasePath = "/api/v1/agent/release"
)

// A report about a job the agent no longer holds is answered 409 with an
// error body: the agent drops the job and what it kept of it.

// ClaimRequest asks for a job.
type ClaimRequest struct {
	// Labels are those the agent offers, a subset of those it was registered
	// with; empty means all of them.
	Labels []string `json:"labels,omitempty"`
	// Name, when set, must be the name the agent's token was registered
	// with (a token used on the wrong host is refused).
	Name    string `json:"name,omitempty"`
	Version string `json:"version"`
	// WaitSeconds is how long the server may hold the request (at most 60).
	WaitSeconds float64 `json:"wait_seconds"`
}

// RenewRequest lists the jobs the agent holds.
type RenewRequest struct {
	Jobs    []store.JobRef `json:"jobs"`
	Version string         `json:"version"`
}

// RenewResponse lists the jobs to stop.
type RenewResponse struct {
	Stop []store.JobStop `json:"stop"`
}

// ProgressRequest carries a job's log lines from line From on (counted from
// 0 in the attempt), and its steps so far when they changed.
type ProgressRequest struct {
	store.JobRef
	From    int          `json:"from"`
	Lines   []LogLine    `json:"lines"`
	Steps   []StepResult `json:"steps,omitempty"`
	Sandbox string       `json:"sandbox,omitempty"`
}

// ProgressResponse says how many of the attempt's lines are stored: the
// agent sends again from there.
type ProgressResponse struct {
	Stored int `json:"stored"`
}

// FinishRequest is a job's result; it is sent once every line is stored.
type FinishRequest struct {
	store.JobRef
	Result Result `json:"result"`
}

// ReleaseRequest hands back a job the agent cannot finish.
type ReleaseRequest struct {
	store.JobRef
	Reason string `json:"reason"`
}
