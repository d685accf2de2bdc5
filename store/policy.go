package store

import (
	"fmt"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// CancelInProgressReason is the reason recorded on a running run whose cancel
// was requested by newer, a run of its group with cancel_in_progress.
func CancelInProgressReason(newer string) string {
	return "cancelled by a newer run " + newer + " (cancel_in_progress)"
}

// SupersededReason is the reason recorded on a queued run that newer, a run
// of its group with pending: latest, superseded.
func SupersededReason(newer string) string {
	return "superseded by run " + newer
}

// HasCooldown reports whether r has a cooldown: a key and a period.
func (r *Run) HasCooldown() bool { return r.CooldownKey != "" && r.CooldownPeriod > 0 }

// cooldownKeys returns the keys of the runs that have a cooldown.
func cooldownKeys(runs []*Run) []string {
	var keys []string
	for _, r := range runs {
		if r.HasCooldown() {
			keys = append(keys, r.CooldownKey)
		}
	}
	return keys
}

// applyCooldowns sets the status of runs, in order: skipped, with a reason,
// when a run with its cooldown key was queued less than its period before
// now; queued otherwise, and then its key's clock restarts at now, for the
// runs after it too. last holds, by key, when the last run with the key that
// was not itself skipped was queued; applyCooldowns keeps it so.
//
// Cooldowns are decided at dispatch time, so "ran" means "was queued".
func applyCooldowns(runs []*Run, last map[string]time.Time, now time.Time) {
	for _, r := range runs {
		r.Status, r.Reason, r.FinishedAt = workflows.StatusQueued, "", time.Time{}
		if !r.HasCooldown() {
			continue
		}
		if at, ok := last[r.CooldownKey]; ok {
			if ago := now.Sub(at); ago < r.CooldownPeriod {
				r.Status, r.FinishedAt = workflows.StatusSkipped, now
				r.Reason = fmt.Sprintf("cooldown: key %s ran %s ago", r.CooldownKey, ago)
				continue
			}
		}
		last[r.CooldownKey] = now
	}
}

// checkQueueLimit fails with ErrQueueFull when n more queued runs on top of
// depth would exceed limit (0: none). Runs that cooldowns will skip count
// too: the contract checks the limit before cooldowns.
func checkQueueLimit(depth, n, limit int) error {
	if limit > 0 && n > 0 && depth+n > limit {
		return fmt.Errorf("%d queued, limit %d: %w", depth, limit, ErrQueueFull)
	}
	return nil
}

// NotChanged explains why a change (op) to run id matched no row, from what
// reading the run gave: its status and node, or err (ErrNotFound when there
// is no such run). It is ErrNotFound, or ErrConflict when the run is not in a
// state that allows the change.
func NotChanged(op, id, status, node string, err error) error {
	switch {
	case err != nil:
		return fmt.Errorf("%s %s: %w", op, id, err)
	case status == workflows.StatusRunning:
		return fmt.Errorf("%s %s: run is running on node %s: %w", op, id, node, ErrConflict)
	}
	return fmt.Errorf("%s %s: run is %s: %w", op, id, status, ErrConflict)
}
