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
	// Skips of thousands of workflows come in long runs of one reason: they
	// are counted here and added to counts when the reason changes.
	last    string
	lastRun int
}

// Count takes one skip for reason and reports whether it was counted; when it
// was not, the caller stores it as a named verdict.
func (c *SkipCounter) Count(reason string) bool {
	if c.listed < workflows.SkipsListed {
		c.listed++
		return false
	}
	if c.lastRun > 0 && reason == c.last {
		c.lastRun++
		return true
	}
	c.flush()
	c.last, c.lastRun = reason, 1
	return true
}

func (c *SkipCounter) flush() {
	if c.lastRun == 0 {
		return
	}
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[c.last] += c.lastRun
	c.lastRun = 0
}

// Append appends a counted verdict per reason to verdicts, in reason order.
func (c *SkipCounter) Append(verdicts []Verdict) []Verdict {
	c.flush()
	for _, reason := range slices.Sorted(maps.Keys(c.counts)) {
		verdicts = append(verdicts, Verdict{Reason: reason, Count: c.counts[reason]})
	}
	return verdicts
}
