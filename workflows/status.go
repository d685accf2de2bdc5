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

// Step outcomes.
const (
	OutcomeSuccess   = "success"
	OutcomeFailure   = "failure"
	OutcomeSkipped   = "skipped"
	OutcomeCancelled = "cancelled"
)
