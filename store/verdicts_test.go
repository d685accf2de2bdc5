package store

import (
	"reflect"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// TestSkipCounter names the first skips and counts the rest by reason, runs of
// one reason and alternating reasons alike.
func TestSkipCounter(t *testing.T) {
	var c SkipCounter
	named := 0
	for i := range workflows.SkipsListed + 100 {
		reason := "branches: no match for dev"
		if i%7 == 0 || i > workflows.SkipsListed+90 {
			reason = "events: ping not in [push]"
		}
		if !c.Count(reason) {
			named++
		}
	}
	if named != workflows.SkipsListed {
		t.Errorf("%d named, want %d", named, workflows.SkipsListed)
	}
	got := c.Append([]Verdict{{Workflow: "deploy", Runs: []string{"r1"}}})
	want := []Verdict{{Workflow: "deploy", Runs: []string{"r1"}},
		{Reason: "branches: no match for dev", Count: 78},
		{Reason: "events: ping not in [push]", Count: 22}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("verdicts\n%+v\nwant\n%+v", got, want)
	}
}
