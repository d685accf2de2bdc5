package workflows

// SkipsListed is how many skipped workflows a receipt, and the verdicts stored
// with an event, name one by one. Beyond it skips are counted by reason, so
// that an event on a path with thousands of workflows is answered and stored
// in a few kilobytes; `hookflow match` still explains every workflow.
const SkipsListed = 20

// Receipt is what the sender of an event is told once it is stored (SPEC §3).
type Receipt struct {
	EventID string   `json:"event_id"`
	Runs    []RunRef `json:"runs"`
	Skipped []Skip   `json:"skipped"`
	// SkippedMore counts, by reason, the skipped workflows beyond the first
	// SkipsListed, which Skipped does not name.
	SkippedMore map[string]int `json:"skipped_more,omitempty"`
	Duplicate   bool           `json:"duplicate,omitempty"`
}

// AddSkip records a skipped workflow: named while fewer than SkipsListed are,
// counted by reason after.
func (rc *Receipt) AddSkip(workflow, reason string) { rc.AddSkips(workflow, reason, 1) }

// AddSkips records n workflows skipped for reason; workflow names the one
// skipped workflow when n is 1 and is ignored otherwise.
func (rc *Receipt) AddSkips(workflow, reason string, n int) {
	if n == 1 && len(rc.Skipped) < SkipsListed && len(rc.SkippedMore) == 0 {
		rc.Skipped = append(rc.Skipped, Skip{Workflow: workflow, Reason: reason})
		return
	}
	if rc.SkippedMore == nil {
		rc.SkippedMore = map[string]int{}
	}
	rc.SkippedMore[reason] += n
}

// SkippedCount is how many workflows the receipt says were skipped.
func (rc *Receipt) SkippedCount() int {
	n := len(rc.Skipped)
	for _, c := range rc.SkippedMore {
		n += c
	}
	return n
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
