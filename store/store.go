// Package store keeps events, runs, logs, dedup keys and cooldowns durably.
//
// Store is the contract; sqlite (the embedded default) and postgres (for several
// nodes) implement it, and storetest holds the suite every implementation must
// pass. All times are UTC and stored with at least millisecond precision.
//
// The rules both backends keep live here once: Batch applies Dispatch's
// (validation, dedup, the queue limit, cooldowns, group policies) through a
// backend's BatchTx, Reads answers the reads and list filters through its
// Querier, Registry keeps the agents, Remote applies the rules of jobs run on
// other hosts through a backend's JobTx, and rows.go maps the columns both
// schemas share. The backends hold only their SQL and driver code.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// Errors a Store returns, matched with errors.Is.
var (
	// ErrNotFound: no event or run with that id.
	ErrNotFound = &workflows.Error{Code: workflows.ENotFound, Message: "not found"}
	// ErrQueueFull: accepting the dispatch would exceed the queued-run limit.
	ErrQueueFull = &workflows.Error{Code: workflows.EOverloaded, Message: "queue full"}
	// ErrConflict: the run is not in a state that allows the change.
	ErrConflict = &workflows.Error{Code: workflows.EConflict, Message: "conflict"}
)

// Event is a stored delivery and what every workflow made of it.
type Event struct {
	ID       string `json:"id"`
	Trigger  string `json:"trigger"`
	Provider string `json:"provider,omitempty"`
	Path     string `json:"path,omitempty"`
	Type     string `json:"type,omitempty"`
	Delivery string `json:"delivery,omitempty"`
	// DedupKey, when set, makes a later dispatch with the same key (within
	// its window) a duplicate of this event.
	DedupKey   string    `json:"dedup_key,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	// Data is the workflows.Event as JSON.
	Data     json.RawMessage `json:"data"`
	Verdicts []Verdict       `json:"verdicts"`
}

// Verdict is what one workflow made of an event: runs, or a reason to skip.
// Past workflows.SkipsListed skips, an event's skips are stored counted: a
// verdict with Count set stands for that many workflows skipped for Reason,
// and names none.
type Verdict struct {
	Workflow string   `json:"workflow,omitempty"`
	Runs     []string `json:"runs,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	Count    int      `json:"count,omitempty"`
}

// Run is a stored run. The fields under "policy" are fixed when the run is
// queued and drive the queue's rules; the rest change as it runs.
type Run struct {
	ID       string          `json:"id"`
	Seq      int64           `json:"-"` // arrival order, assigned by the store
	Workflow string          `json:"workflow"`
	Revision string          `json:"revision,omitempty"`
	EventID  string          `json:"event_id"`
	Item     json.RawMessage `json:"item,omitempty"`
	Attempt  int             `json:"attempt"`
	// RerunOf is the run this one repeats, for `runs rerun`.
	RerunOf string `json:"rerun_of,omitempty"`
	// Actor says who started the run by hand (a rerun, a dispatch, a
	// replay): "ui" or "api", the client's identity and its address, never
	// a token; empty when an event started it.
	Actor string `json:"actor,omitempty"`

	// Policy.
	Group            string        `json:"group,omitempty"`
	CancelInProgress bool          `json:"-"`
	PendingLatest    bool          `json:"-"`
	CooldownKey      string        `json:"cooldown_key,omitempty"`
	CooldownPeriod   time.Duration `json:"-"`
	OnInterrupt      string        `json:"-"`

	Status string `json:"status"`
	// Reason says why a finished or skipped run ended as it did; while a
	// running run has CancelRequested, it says who asked for the cancel.
	Reason          string          `json:"reason"`
	QueuedAt        time.Time       `json:"queued_at"`
	StartedAt       time.Time       `json:"started_at,omitzero"`
	FinishedAt      time.Time       `json:"finished_at,omitzero"`
	Node            string          `json:"node,omitempty"`
	LeaseUntil      time.Time       `json:"-"`
	CancelRequested bool            `json:"cancel_requested,omitempty"`
	Sandbox         string          `json:"sandbox,omitempty"`
	Steps           json.RawMessage `json:"steps"`
	// Report is what the run reports and to whom (a workflows.ReportPlan as
	// JSON), fixed when it is queued; nil for a run that reports nothing.
	// Dispatch stores it; reads leave it out.
	Report json.RawMessage `json:"-"`
}

// Dispatch is one event with the runs it starts, stored atomically.
type Dispatch struct {
	// Event is the new event; nil to queue Runs for their existing events
	// (a rerun), with no dedup.
	Event *Event
	// Runs are the runs to queue, with ID, Workflow, EventID, QueuedAt and
	// policy set; Status is set by the store.
	Runs []*Run
	// DedupWindow is how long Event.DedupKey is remembered.
	DedupWindow time.Duration

	// Filled by Dispatch:
	// Duplicate is the earlier event with the same dedup key, if any; then
	// nothing was stored and Runs are that event's runs.
	Duplicate *Event
	// Err is this dispatch's own failure (ErrQueueFull); the others in the
	// batch are unaffected.
	Err error
	// CancelRequested lists the running runs whose cancel this dispatch
	// requested (CancelInProgress), by id, for the process that executes
	// them to stop them at once.
	CancelRequested []string
}

// Job is one job of a `jobs:` run, or one cell of a matrix job (SPEC §11),
// as the process that executes the run keeps it. A `steps:` run has no Job
// rows: its steps are the Run's.
type Job struct {
	RunID string `json:"-"`
	// Key names the job in its run, unique there: the job id, with a cell's
	// values for a matrix cell ("deploy (web-01)"). Until a matrix job's
	// cells are known, one row keyed by the job id stands for it.
	Key string `json:"key"`
	// ID is the job's id in the workflow.
	ID string `json:"id"`
	// JobIndex is the job's place in the workflow and Cell the cell's among
	// its job's; jobs are listed in that order.
	JobIndex        int             `json:"-"`
	Cell            int             `json:"-"`
	Name            string          `json:"name"`
	Needs           []string        `json:"needs,omitempty"`
	Matrix          json.RawMessage `json:"matrix,omitempty"`
	Status          string          `json:"status"`
	Reason          string          `json:"reason"`
	RunsOn          []string        `json:"runs_on"`
	Runner          string          `json:"runner,omitempty"`
	ContinueOnError bool            `json:"continue_on_error,omitempty"`
	StartedAt       time.Time       `json:"started_at,omitzero"`
	FinishedAt      time.Time       `json:"finished_at,omitzero"`
	Outputs         json.RawMessage `json:"outputs,omitempty"`
	// Steps are the job's step results, as Run.Steps are a `steps:` run's.
	Steps   json.RawMessage `json:"steps"`
	Sandbox string          `json:"sandbox,omitempty"`

	// Set by RemoteJobs, and left as they are by SaveJobs:
	// OfferedAt is when the job was first offered to runners on other hosts;
	// Offer is what they are given to execute it.
	OfferedAt time.Time       `json:"-"`
	Offer     json.RawMessage `json:"-"`
	// Attempt counts the job's claims, and LeaseUntil is when the runner
	// that holds it (Runner) loses it unless it renews; zero for a job the
	// node executing its run runs itself.
	Attempt    int       `json:"attempt,omitempty"`
	LeaseUntil time.Time `json:"-"`
	// CancelReason, when set, is why the node executing the run asked the
	// job's runner to stop it.
	CancelReason string `json:"-"`
}

// LogLine is one stored log line. Seq orders the lines of a run, from 1.
type LogLine struct {
	Seq int64 `json:"seq"`
	// Job is the Key of the job that wrote the line; empty in a `steps:` run.
	Job    string    `json:"job,omitempty"`
	Step   int       `json:"step"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
	Text   string    `json:"text"`
}

// RunFilter selects runs for ListRuns. Zero fields match everything.
type RunFilter struct {
	Workflow string
	Status   string
	EventID  string
	// Before is a cursor: only runs older than the run with this id.
	Before string
	Limit  int
}

// EventFilter selects events for ListEvents.
type EventFilter struct {
	Path   string
	Before string
	Limit  int
}

// Store keeps hookflow's state. Every method is safe for concurrent use and
// honours ctx. Methods that change state are atomic: on error nothing changed.
type Store interface {
	Agents
	RemoteJobs
	Refusals
	Reports

	// Dispatch stores each item in one transaction for the whole batch (group
	// commit), and returns only when it is durable. Per item, in order: a live
	// dedup key makes it a duplicate (Duplicate set, nothing stored); the queue
	// limit maxQueued (0: none) makes it fail with ErrQueueFull in Err; a run
	// whose cooldown key started a run within its period is stored `skipped`
	// with reason "cooldown: key K ran 3m0s ago"; a run with PendingLatest turns
	// older queued runs of its group `skipped` ("superseded by run ID"); a run
	// with CancelInProgress sets CancelRequested on the group's running runs
	// that do not have it yet, with reason "cancelled by a newer run ID
	// (cancel_in_progress)", and lists them in CancelRequested.
	// The returned error is for the batch as a whole (store unavailable).
	Dispatch(ctx context.Context, batch []*Dispatch, maxQueued int, now time.Time) error

	// Claim marks the oldest runnable queued run `running` on node with a lease
	// until now+lease, and returns it; nil when none is runnable. A queued run is
	// runnable unless its group has a running run or an older queued run.
	Claim(ctx context.Context, node string, lease time.Duration, now time.Time) (*Run, error)
	// Renew extends the leases of node's running runs in ids, and returns the
	// ids among them whose cancel has been requested. It is how a node learns
	// of a cancel requested elsewhere when nothing tells it sooner (see
	// CancelNotifier).
	Renew(ctx context.Context, node string, ids []string, until time.Time) (cancel []string, err error)
	// UpdateSteps records a running run's step results so far. It is a
	// progress write, as are UpdateJobSteps and AppendLogs: what it stored is
	// safe from a crash of this process once it returns, but may not yet be
	// on disk (no fsync, no wait for the database's WAL flush); a later write
	// that waits, such as Finish or Claim, makes it durable with its own.
	UpdateSteps(ctx context.Context, id string, steps json.RawMessage, sandbox string) error
	// Finish records a run's final status, durably, with the progress
	// written before it. The run must be running on node (ErrConflict
	// otherwise: it was recovered by another node).
	Finish(ctx context.Context, node string, run *Run) error
	// Cancel cancels run id: a queued run becomes `skipped` ("cancelled before
	// start"), and so do its jobs that have not finished (queued, or running
	// when a node died); a running one gets CancelRequested, with reason, which
	// says who asked, unless its cancel was requested before (the first reason
	// stays). A finished run is ErrConflict.
	Cancel(ctx context.Context, id, reason string) (*Run, error)
	// Recover ends runs left `running` whose lease expired before now, or that
	// node held (on start, a node's own runs are dead): each becomes `failed`
	// with reason "interrupted", or `queued` again when OnInterrupt is
	// "requeue". A run that has jobs (SaveJobs) becomes `queued` again
	// whatever OnInterrupt says: it resumes where it was, and whoever claims
	// it next decides, by its workflow's on_interrupt, what becomes of the
	// jobs it finds `running`. A run whose cancel was requested is never
	// requeued: it fails, and so do its running jobs ("interrupted"), while its
	// queued jobs become `skipped` ("cancelled before start"). It returns the
	// recovered runs.
	Recover(ctx context.Context, node string, now time.Time) ([]*Run, error)

	// SaveJobs writes jobs of run runID, in one transaction: the jobs whose
	// keys are in remove are deleted (a matrix job's stand-in once its cells
	// are known), and then each job replaces the stored job with its Key, or
	// is added. A job whose Steps is nil keeps the steps stored, and one whose
	// Sandbox is empty the sandbox stored (UpdateJobSteps writes them while it
	// runs). A job needs a Key, an ID and a Status, and a Key may come once
	// (EInvalid otherwise); there must be a run runID (ErrNotFound).
	SaveJobs(ctx context.Context, runID string, jobs []*Job, remove []string) error
	// Jobs returns run runID's jobs, by JobIndex then Cell; an empty list for
	// a `steps:` run or an unknown one.
	Jobs(ctx context.Context, runID string) ([]*Job, error)
	// StartJob marks queued job key of run runID `running` on runner from
	// now, holding concurrency group group, and reports whether it did: it
	// does not (false, nil) while a running job of a running run holds group,
	// on any node, or when the job is not queued. A job holds its group until
	// it is no longer running. Jobs without a group start through SaveJobs.
	StartJob(ctx context.Context, runID, key, group, runner string, now time.Time) (bool, error)
	// UpdateJobSteps records a running job's step results so far, a progress
	// write (see UpdateSteps); an empty sandbox keeps the one stored. It is ErrNotFound when run runID has no
	// job key.
	UpdateJobSteps(ctx context.Context, runID, key string, steps json.RawMessage, sandbox string) error

	// AppendLogs stores lines of run id, assigning their Seq: a progress
	// write (see UpdateSteps).
	AppendLogs(ctx context.Context, id string, lines []LogLine) error
	// Logs returns up to limit lines of run id with Seq > after.
	Logs(ctx context.Context, id string, after int64, limit int) ([]LogLine, error)

	GetRun(ctx context.Context, id string) (*Run, error)
	// ListRuns returns runs newest first.
	ListRuns(ctx context.Context, f RunFilter) ([]*Run, error)
	GetEvent(ctx context.Context, id string) (*Event, error)
	// GetEvents returns the stored events among ids, in any order, in one
	// query; ids not stored are left out.
	GetEvents(ctx context.Context, ids []string) ([]*Event, error)
	// LatestRuns returns up to n runs of each workflow, newest first within
	// a workflow, in one query.
	LatestRuns(ctx context.Context, n int) ([]*Run, error)
	// ListEvents returns events newest first.
	ListEvents(ctx context.Context, f EventFilter) ([]*Event, error)
	// QueueDepth counts queued runs.
	QueueDepth(ctx context.Context) (int, error)

	// Prune deletes finished runs, their jobs, their logs and their events
	// older than before, and expired dedup keys and cooldowns.
	Prune(ctx context.Context, before, now time.Time) error
	// Ping reports whether the store can be reached.
	Ping(ctx context.Context) error
	// ProbeWrite makes a tiny write of its own (one row kept for it, stamped
	// now) and returns its error: whether the store can write at all. It is
	// for readiness, which calls it rarely, while writes are failing.
	ProbeWrite(ctx context.Context, now time.Time) error
	Close() error
}

// CancelNotifier is an optional part of a Store that several nodes share: it
// tells every node at once of a cancel requested on any node, so that the node
// that executes the run stops it without waiting for its next Renew. A Store
// that one process has to itself need not implement it: the process that asks
// for a cancel can tell its own pool directly.
type CancelNotifier interface {
	// CancelRequests returns a channel that receives the id of each running
	// run whose cancel is requested (Cancel, or Dispatch's CancelInProgress),
	// on any node, until ctx ends; then the channel is closed. On every
	// (re)connection it first sends the ids of running runs whose cancel was
	// requested already, since requests made while nobody listened are lost.
	// It reconnects by itself when listening fails, telling logger (nil:
	// nobody). The same id may come more than once. The caller must keep
	// receiving until the channel is closed.
	CancelRequests(ctx context.Context, logger *slog.Logger) <-chan string
}

// IsNotFound reports whether err means "no such thing".
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
