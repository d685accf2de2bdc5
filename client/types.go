package client

import (
	"encoding/json"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// Where the API answers with a type of the store or the domain, so does this
// package; its views of runs and steps are its own, for the server's (package
// api, runner) would bring the whole server along. Fields a view does not
// know are ignored, so that an older client reads a newer server; times not
// yet reached are zero.

// Answer keeps the JSON the server answered, as it sent it, for those who
// show it as it is (`hookflow runs show -o json`).
type Answer struct{ raw json.RawMessage }

// JSON is the answer as the server sent it; nil for a value that is not a
// whole answer, such as a run in a RunList.
func (a Answer) JSON() json.RawMessage { return a.raw }

func (a *Answer) keep(raw json.RawMessage) { a.raw = raw }

// Run is a run (SPEC §8).
type Run struct {
	Answer `json:"-"`

	ID       string `json:"id"`
	Workflow string `json:"workflow"`
	Revision string `json:"revision"`
	// Status is queued, running, succeeded, failed, cancelled, timed_out or
	// skipped.
	Status string `json:"status"`
	// Reason says why a run ended as it did; while CancelRequested, who asked.
	Reason  string `json:"reason"`
	EventID string `json:"event_id"`
	Attempt int    `json:"attempt"`
	// RerunOf is the run this one repeats.
	RerunOf string `json:"rerun_of,omitempty"`
	// Item is the item of a for_each workflow's run.
	Item            json.RawMessage `json:"item,omitempty"`
	Group           string          `json:"group,omitempty"`
	Node            string          `json:"node"`
	Sandbox         string          `json:"sandbox"`
	QueuedAt        time.Time       `json:"queued_at"`
	StartedAt       time.Time       `json:"started_at"`
	FinishedAt      time.Time       `json:"finished_at"`
	CancelRequested bool            `json:"cancel_requested,omitempty"`
	// Trigger is what started the run, where the server says.
	Trigger *Trigger `json:"trigger,omitempty"`
	Steps   []Step   `json:"steps"`
	// Jobs are a `jobs:` run's jobs, each matrix cell one; only GetRun
	// fills them.
	Jobs []Job `json:"jobs,omitempty"`
	// Reports are the run's commit statuses and notices, oldest first;
	// only GetRun fills them.
	Reports []Report `json:"reports,omitempty"`
}

// Report is one commit status or notice of a run (SPEC §13).
type Report struct {
	Seq int64 `json:"seq"`
	// Job is the job of a per-job commit status.
	Job string `json:"job,omitempty"`
	// Kind is commit_status, slack, webhook or email; Target the index of
	// a notice's notify entry.
	Kind   string `json:"kind"`
	Target int    `json:"target"`
	// State is what it says: pending, success, failure or error (a commit
	// status); failure, success, recovered or cancelled (a notice).
	State     string `json:"state"`
	RunStatus string `json:"run_status"`
	// Status is queued, sent, failed, skipped or superseded; Error says
	// why the last attempt failed.
	Status    string    `json:"status"`
	Attempts  int       `json:"attempts"`
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	NextAt    time.Time `json:"next_at"`
	SentAt    time.Time `json:"sent_at"`
}

// Trigger is what started a run: the kind of event (webhook, cron,
// dispatch, replay), what the delivery said of itself, and who started the
// run by hand.
type Trigger struct {
	// Label is the trigger in a few words: "github push", "cron".
	Label     string         `json:"label"`
	Trigger   string         `json:"trigger"`
	Provider  string         `json:"provider,omitempty"`
	Event     string         `json:"event,omitempty"`
	Repo      string         `json:"repo,omitempty"`
	Branch    string         `json:"branch,omitempty"`
	Tag       string         `json:"tag,omitempty"`
	Commit    string         `json:"commit,omitempty"`
	CommitURL string         `json:"commit_url,omitempty"`
	Sender    string         `json:"sender,omitempty"`
	Inputs    map[string]any `json:"inputs,omitempty"`
	Schedule  string         `json:"schedule,omitempty"`
	Actor     string         `json:"actor,omitempty"`
}

// Job is one job of a `jobs:` run, or one cell of a matrix job.
type Job struct {
	// Key names the job in its run, and selects its log.
	Key             string         `json:"key"`
	ID              string         `json:"id"`
	Name            string         `json:"name"`
	Needs           []string       `json:"needs"`
	Matrix          map[string]any `json:"matrix,omitempty"`
	Status          string         `json:"status"`
	Reason          string         `json:"reason"`
	RunsOn          []string       `json:"runs_on"`
	Runner          string         `json:"runner,omitempty"`
	ContinueOnError bool           `json:"continue_on_error,omitempty"`
	StartedAt       time.Time      `json:"started_at"`
	FinishedAt      time.Time      `json:"finished_at"`
	Outputs         map[string]any `json:"outputs,omitempty"`
	Steps           []Step         `json:"steps"`
	Sandbox         string         `json:"sandbox,omitempty"`
}

// Step is one step of a run.
type Step struct {
	Index   int    `json:"index"`
	ID      string `json:"id"`
	Name    string `json:"name"`
	Outcome string `json:"outcome"`
	// ExitCode is nil while the step runs and for a step whose action never
	// ran.
	ExitCode *int           `json:"exit_code,omitempty"`
	Outputs  map[string]any `json:"outputs,omitempty"`
	Attempts int            `json:"attempts"`
	Error    string         `json:"error,omitempty"`
	// Summary is the Markdown the step wrote to $HOOKFLOW_STEP_SUMMARY.
	Summary    string    `json:"summary,omitempty"`
	Sandbox    string    `json:"sandbox,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
}

// RunList is a page of runs, newest first.
type RunList struct {
	Answer `json:"-"`

	Runs []*Run `json:"runs"`
	// Next is the Page.Before of the next page; empty on the last.
	Next string `json:"next"`
}

// Event is a stored delivery and what every workflow made of it.
type Event struct {
	Answer `json:"-"`
	store.Event
}

// EventList is a page of events, newest first.
type EventList struct {
	Answer `json:"-"`

	Events []*store.Event `json:"events"`
	// Next is the Page.Before of the next page; empty on the last.
	Next string `json:"next"`
}

// Receipt is what the server made of an event it stored (SPEC §3): the runs
// it queued and the workflows it skipped.
type Receipt struct {
	Answer `json:"-"`
	workflows.Receipt
}

// LogLine is one line of a run's log; its Stream is stdout, stderr, or system
// for hookflow's own lines.
type LogLine = store.LogLine
