package workflows

// Run statuses (SPEC §5).
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
	StatusTimedOut  = "timed_out"
	StatusSkipped   = "skipped"
)

// Step outcomes. A step is `running` from its start until it ends with one of
// the others; later steps only ever see the final ones.
const (
	OutcomeRunning   = "running"
	OutcomeSuccess   = "success"
	OutcomeFailure   = "failure"
	OutcomeSkipped   = "skipped"
	OutcomeCancelled = "cancelled"
)

// Finished reports whether a run or job status is final.
func Finished(status string) bool {
	return status != StatusQueued && status != StatusRunning
}
