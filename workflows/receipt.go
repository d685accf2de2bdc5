package workflows

// Receipt is what the sender of an event is told once it is stored (SPEC §3).
type Receipt struct {
	EventID   string   `json:"event_id"`
	Runs      []RunRef `json:"runs"`
	Skipped   []Skip   `json:"skipped"`
	Duplicate bool     `json:"duplicate,omitempty"`
}

// RunRef names a run in a receipt.
type RunRef struct {
	ID       string `json:"id"`
	Workflow string `json:"workflow"`
	Status   string `json:"status"`
}

// Skip is a workflow that did not run, and why.
type Skip struct {
	Workflow string `json:"workflow"`
	Reason   string `json:"reason"`
}
