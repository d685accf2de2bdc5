package store

import (
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

func TestValidateDispatch(t *testing.T) {
	event := func() *Event { return &Event{ID: "evt-1", Trigger: "webhook"} }
	for _, tc := range []struct {
		name  string
		item  *Dispatch
		valid bool
	}{
		{"EventWithRuns", &Dispatch{Event: event(), Runs: []*Run{{ID: "run-1", Workflow: "deploy"}}}, true},
		{"EventWithoutRuns", &Dispatch{Event: event()}, true},
		{"EventWithoutID", &Dispatch{Event: &Event{Trigger: "webhook"}}, false},
		{"RunWithoutID", &Dispatch{Event: event(), Runs: []*Run{{Workflow: "deploy"}}}, false},
		{"RunWithoutWorkflow", &Dispatch{Event: event(), Runs: []*Run{{ID: "run-1"}}}, false},
		{"RunOfAnotherEvent", &Dispatch{Event: event(), Runs: []*Run{{ID: "run-1", Workflow: "deploy", EventID: "evt-2"}}}, false},
		{"Rerun", &Dispatch{Runs: []*Run{{ID: "run-2", Workflow: "deploy", EventID: "evt-1"}}}, true},
		{"RerunWithoutEventID", &Dispatch{Runs: []*Run{{ID: "run-2", Workflow: "deploy"}}}, false},
		{"RerunWithoutID", &Dispatch{Runs: []*Run{{Workflow: "deploy", EventID: "evt-1"}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateDispatch(tc.item)
			if tc.valid && err != nil {
				t.Fatalf("ValidateDispatch: %v", err)
			}
			if !tc.valid && workflows.ErrorCode(err) != workflows.EInvalid {
				t.Fatalf("ValidateDispatch = %v, want an %s error", err, workflows.EInvalid)
			}
		})
	}
	t.Run("FillsEventID", func(t *testing.T) {
		r := &Run{ID: "run-1", Workflow: "deploy"}
		if err := ValidateDispatch(&Dispatch{Event: event(), Runs: []*Run{r}}); err != nil || r.EventID != "evt-1" {
			t.Fatalf("ValidateDispatch: %v; run's EventID %q, want evt-1", err, r.EventID)
		}
	})
}

func TestCheckFinish(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	given := now.Add(-time.Minute)
	for _, status := range []string{"succeeded", "failed", "cancelled", "timed_out"} {
		t.Run(status, func(t *testing.T) {
			if at, err := CheckFinish(&Run{ID: "r", Status: status}, clock); err != nil || !at.Equal(now) {
				t.Fatalf("CheckFinish without FinishedAt = %v, %v; want %v", at, err, now)
			}
			if at, err := CheckFinish(&Run{ID: "r", Status: status, FinishedAt: given}, clock); err != nil || !at.Equal(given) {
				t.Fatalf("CheckFinish = %v, %v; want %v", at, err, given)
			}
		})
	}
	for _, status := range []string{"", "queued", "running", "skipped", "done"} {
		t.Run("refuses "+status, func(t *testing.T) {
			if _, err := CheckFinish(&Run{ID: "r", Status: status}, clock); workflows.ErrorCode(err) != workflows.EInvalid {
				t.Fatalf("CheckFinish(%q) = %v, want an %s error", status, err, workflows.EInvalid)
			}
		})
	}
}
