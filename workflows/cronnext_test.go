package workflows_test

import (
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// TestNextCron is when the soonest of a workflow's schedules fires next, in
// each schedule's timezone.
func TestNextCron(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)
	src := `on:
  cron:
    - "0 3 * * *"
    - {schedule: "0 14 * * *", timezone: Europe/Berlin}
steps: [{run: "true"}]
`
	w, err := workflows.Parse("nightly.yaml", []byte(src), registry(t))
	if err != nil {
		t.Fatal(err)
	}
	// 14:00 in Berlin (UTC+1 in March before the switch) is 13:00 UTC, before 03:00 UTC tomorrow.
	if got, want := w.NextCron(now), time.Date(2026, 3, 10, 13, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("NextCron = %v, want %v", got, want)
	}
	if got, want := w.On.Cron[0].Next(now), time.Date(2026, 3, 11, 3, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Next of the UTC schedule = %v, want %v", got, want)
	}
	w.Disabled = true
	if got := w.NextCron(now); !got.IsZero() {
		t.Errorf("NextCron of a disabled workflow = %v, want none", got)
	}
}
