package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// Report is one message of the outbox (SPEC §13): a commit status or a
// notice about a run, or one of its jobs, waiting to be sent or sent.
type Report struct {
	Seq   int64  `json:"seq"`
	RunID string `json:"-"`
	// Job is the job's key for a per-job commit status; empty otherwise.
	Job string `json:"job,omitempty"`
	// Kind is commit_status, slack, webhook or email.
	Kind string `json:"kind"`
	// Target is the index of the notify entry a notice is for.
	Target int `json:"target"`
	// State is what the report says: pending, success, failure or error
	// for a commit status; failure, success, recovered or cancelled for a
	// notice.
	State string `json:"state"`
	// RunStatus is the run's (or job's) status the report tells of.
	RunStatus string `json:"run_status"`
	// Status is queued until the report is sent, failed (given up) or
	// superseded (a newer commit status of the same run and job went
	// instead).
	Status    string    `json:"status"`
	Attempts  int       `json:"attempts"`
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	NextAt    time.Time `json:"next_at,omitzero"`
	SentAt    time.Time `json:"sent_at,omitzero"`

	// Set by ClaimReports, for the sender: the run's event, workflow and
	// plan.
	EventID  string          `json:"-"`
	Workflow string          `json:"-"`
	Plan     json.RawMessage `json:"-"`
}

// Report kinds and statuses.
const (
	ReportCommitStatus = "commit_status"

	ReportQueued     = "queued"
	ReportSent       = "sent"
	ReportFailed     = "failed"
	ReportSuperseded = "superseded"
	// ReportSkipped: there was nothing to send it to, such as a commit
	// status of a run whose event names no commit.
	ReportSkipped = "skipped"
)

// Reports is the outbox of reports on runs. Triggers in the schema record
// every status change of a run that has a Report plan, and of its jobs, in
// the transaction that makes it; PlanReports turns those changes into
// reports; a sender claims them, sends them and settles them. A report is
// sent at least once: a crash between sending and settling sends it again
// once its lease ends.
type Reports interface {
	// PlanReports turns up to limit recorded changes, oldest first, into
	// queued reports (see Plan), in one transaction, and returns how many
	// changes it took. Nodes sharing a store take turns.
	PlanReports(ctx context.Context, limit int, now time.Time) (int, error)
	// ClaimReports leases up to limit queued reports that are due at now to
	// node until now+lease, counting an attempt for each, oldest first. A
	// commit status waits while an older one of the same run and job is
	// still queued, so that statuses reach the forge in order.
	ClaimReports(ctx context.Context, node string, limit int, lease time.Duration, now time.Time) ([]*Report, error)
	// SettleReport records how node's attempt at report r went: r.Status
	// is sent, failed, skipped, or queued to try again at r.NextAt; r.Error says
	// why. A commit status to try again becomes superseded when a newer
	// one of its run and job is queued. It is ErrConflict when node no
	// longer holds r (its lease ended and another node took it).
	SettleReport(ctx context.Context, node string, r *Report, now time.Time) error
	// ReleaseReports gives up node's leases: on its start, a node's
	// attempts in flight are dead, and their reports are due again at once.
	ReleaseReports(ctx context.Context, node string) error
	// RunReports lists run id's reports, oldest first.
	RunReports(ctx context.Context, id string) ([]*Report, error)
}

// Change is a status change of a run, or of one of its jobs, that a
// trigger recorded, with what PlanReports needs of its run.
type Change struct {
	Seq      int64
	RunID    string
	Job      string
	Status   string
	At       time.Time
	Workflow string
	Group    string
	Plan     json.RawMessage
}

// PlanTx is a backend's side of PlanReports, within its transaction.
type PlanTx interface {
	// Changes returns up to limit recorded changes, oldest first, locked
	// against other planners.
	Changes(limit int) ([]*Change, error)
	// Streak returns the streak kept under key; the zero Streak when none.
	Streak(key string) (workflows.Streak, error)
	PutStreak(key string, s workflows.Streak) error
	// Queue stores r, queued, and supersedes the older queued commit
	// statuses of r's run and job that no node holds.
	Queue(r *Report) error
	// Done deletes the changes up to seq.
	Done(seq int64) error
}

// Plan applies PlanReports' rules through tx. For each change, oldest
// first: a commit status when the plan asks for one (for a job's change,
// only with per_job); and for a finished run, each notify entry's notice,
// if its streak (per workflow, concurrency group and entry) says so.
func Plan(tx PlanTx, limit int, now time.Time) (int, error) {
	changes, err := tx.Changes(limit)
	if err != nil {
		return 0, fmt.Errorf("plan reports: %w", err)
	}
	for _, c := range changes {
		if err := planChange(tx, c, now); err != nil {
			return 0, fmt.Errorf("plan reports of run %s: %w", c.RunID, err)
		}
	}
	if len(changes) > 0 {
		if err := tx.Done(changes[len(changes)-1].Seq); err != nil {
			return 0, fmt.Errorf("plan reports: %w", err)
		}
	}
	return len(changes), nil
}

func planChange(tx PlanTx, c *Change, now time.Time) error {
	plan, err := workflows.ParsePlan(c.Plan)
	if err != nil {
		// Written by Dispatch from a loaded workflow, a plan always reads;
		// one that does not must not hold up every later report.
		return nil
	}
	queue := func(kind string, target int, state string) error {
		return tx.Queue(&Report{RunID: c.RunID, Job: c.Job, Kind: kind, Target: target, State: state,
			RunStatus: c.Status, Status: ReportQueued, CreatedAt: now, NextAt: now})
	}
	if r := plan.Report; r != nil && r.CommitStatus && (c.Job == "" || r.PerJob) {
		if state := CommitState(c.Status, c.Job != ""); state != "" {
			if err := queue(ReportCommitStatus, 0, state); err != nil {
				return err
			}
		}
	}
	if c.Job != "" || !workflows.Finished(c.Status) {
		return nil
	}
	for i, n := range plan.Notify {
		key := c.Workflow + "\x00" + c.Group + "\x00" + strconv.Itoa(i)
		before, err := tx.Streak(key)
		if err != nil {
			return err
		}
		notice, after := n.Notice(c.Status, before, c.At)
		if after != before {
			if err := tx.PutStreak(key, after); err != nil {
				return err
			}
		}
		if notice != "" {
			if err := queue(n.Kind(), i, notice); err != nil {
				return err
			}
		}
	}
	return nil
}

// CommitState is the commit status that tells of a run's (or a job's)
// status: pending while queued or running, then success, failure or error.
// A skipped job is a success, as forges count skipped checks; a skipped
// run never started (cancelled, or superseded, before start).
func CommitState(status string, job bool) string {
	switch status {
	case workflows.StatusQueued, workflows.StatusRunning:
		return "pending"
	case workflows.StatusSucceeded:
		return "success"
	case workflows.StatusFailed, workflows.StatusTimedOut:
		return "failure"
	case workflows.StatusSkipped:
		if job {
			return "success"
		}
		return "error"
	case workflows.StatusCancelled:
		return "error"
	}
	return ""
}
