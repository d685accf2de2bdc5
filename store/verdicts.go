package store

import (
	"maps"
	"slices"

	"github.com/hookflow/hookflow/workflows"
)

// SkipCounter stores an event's skip verdicts compactly: the first
// workflows.SkipsListed by name, the rest counted by reason.
type SkipCounter struct {
	listed int
	counts map[string]int
}

// Count takes one skip for reason and reports whether it was counted; when it
// was not, the caller stores it as a named verdict.
func (c *SkipCounter) Count(reason string) bool {
	if c.listed < workflows.SkipsListed {
		c.listed++
		return false
	}
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[reason]++
	return true
}

// Append appends a counted verdict per reason to verdicts, in reason order.
func (c *SkipCounter) Append(verdicts []Verdict) []Verdict {
	for _, reason := range slices.Sorted(maps.Keys(c.counts)) {
		verdicts = append(verdicts, Verdict{Reason: reason, Count: c.counts[reason]})
	}
	return verdicts
}
