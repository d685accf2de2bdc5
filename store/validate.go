package store

import (
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// ValidateDispatch checks what a Store relies on in item, and sets the event
// id of runs that have none to their new event's. A Store refuses an item
// that fails it (its Err), without storing anything of it.
func ValidateDispatch(item *Dispatch) error {
	if item.Event == nil {
		// Runs for existing events (reruns).
		for _, r := range item.Runs {
			if r.ID == "" || r.Workflow == "" || r.EventID == "" {
				return workflows.Errorf(workflows.EInvalid, "a run for an existing event needs an id, a workflow and an event id")
			}
		}
		return nil
	}
	if item.Event.ID == "" {
		return workflows.Errorf(workflows.EInvalid, "an event with an id is required")
	}
	for _, r := range item.Runs {
		if r.ID == "" || r.Workflow == "" {
			return workflows.Errorf(workflows.EInvalid, "event %s: a run needs an id and a workflow", item.Event.ID)
		}
		if r.EventID == "" {
			r.EventID = item.Event.ID
		}
		if r.EventID != item.Event.ID {
			return workflows.Errorf(workflows.EInvalid, "run %s: event id %s, want %s", r.ID, r.EventID, item.Event.ID)
		}
	}
	return nil
}

// CheckJobs checks what a Store relies on in SaveJobs's jobs of run runID:
// each has a key, an id and a status, its RunID (when set) is runID, and no
// key comes twice. A Store refuses a SaveJobs that fails it without storing
// anything.
func CheckJobs(runID string, jobs []*Job) error {
	keys := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		switch {
		case j.Key == "" || j.ID == "" || j.Status == "":
			return workflows.Errorf(workflows.EInvalid, "save jobs of %s: job %q needs a key, an id and a status", runID, j.Key)
		case j.RunID != "" && j.RunID != runID:
			return workflows.Errorf(workflows.EInvalid, "save jobs of %s: job %s belongs to run %s", runID, j.Key, j.RunID)
		case keys[j.Key]:
			return workflows.Errorf(workflows.EInvalid, "save jobs of %s: job %s comes twice", runID, j.Key)
		}
		keys[j.Key] = true
	}
	return nil
}

// CheckFinish checks that run can Finish with its Status, a final one
// (skipped is for runs that never started), and returns when it finished:
// its FinishedAt, or now() when that is zero.
func CheckFinish(run *Run, now func() time.Time) (time.Time, error) {
	switch run.Status {
	case workflows.StatusSucceeded, workflows.StatusFailed, workflows.StatusCancelled, workflows.StatusTimedOut:
	default:
		return time.Time{}, workflows.Errorf(workflows.EInvalid, "finish %s: %q is not a final status", run.ID, run.Status)
	}
	if run.FinishedAt.IsZero() {
		return now(), nil
	}
	return run.FinishedAt, nil
}
