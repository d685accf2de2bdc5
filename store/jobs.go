package store

import "github.com/hookflow/hookflow/workflows"

// The rules of a run's jobs that both backends keep (SPEC §11).

// RecoveredFailed returns the ids of the runs among Recover's runs that it
// failed rather than requeued: their jobs that have not finished end with
// them (EndUnfinishedJobs).
func RecoveredFailed(runs []*Run) []string {
	var ids []string
	for _, r := range runs {
		if r.Status == workflows.StatusFailed {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// EndUnfinishedJobs is the SET of the UPDATE that ends the unfinished (queued
// or running) jobs of a run that ends without running again — one Recover
// failed, or a requeued one cancelled — now being the placeholder of the
// time: a running job, whose node died, fails as interrupted; a queued one
// never starts.
func EndUnfinishedJobs(now string) string {
	return `status = CASE status WHEN 'running' THEN 'failed' ELSE 'skipped' END,
		reason = CASE status WHEN 'running' THEN 'interrupted' ELSE 'cancelled before start' END,
		finished_at = ` + now
}
