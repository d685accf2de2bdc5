package store

import (
	"errors"
	"testing"
	"time"
)

func TestApplyCooldowns(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	keyed := func(id, key string, period time.Duration) *Run {
		return &Run{ID: id, CooldownKey: key, CooldownPeriod: period}
	}
	type want struct{ status, reason string }
	for _, tc := range []struct {
		name     string
		last     map[string]time.Time
		runs     []*Run
		want     []want
		wantLast map[string]time.Time
	}{
		{
			name: "NoCooldown",
			runs: []*Run{{ID: "a"}},
			want: []want{{"queued", ""}},
		},
		{
			name:     "KeyWithoutPeriodIsNoCooldown",
			last:     map[string]time.Time{"k": now},
			runs:     []*Run{keyed("a", "k", 0)},
			want:     []want{{"queued", ""}},
			wantLast: map[string]time.Time{"k": now},
		},
		{
			name:     "FirstRunOfKeyStartsTheClock",
			runs:     []*Run{keyed("a", "k", time.Minute)},
			want:     []want{{"queued", ""}},
			wantLast: map[string]time.Time{"k": now},
		},
		{
			name:     "WithinPeriodIsSkipped",
			last:     map[string]time.Time{"k": now.Add(-59 * time.Second)},
			runs:     []*Run{keyed("a", "k", time.Minute)},
			want:     []want{{"skipped", "cooldown: key k ran 59s ago"}},
			wantLast: map[string]time.Time{"k": now.Add(-59 * time.Second)},
		},
		{
			name:     "AtThePeriodRunsAgain",
			last:     map[string]time.Time{"k": now.Add(-time.Minute)},
			runs:     []*Run{keyed("a", "k", time.Minute)},
			want:     []want{{"queued", ""}},
			wantLast: map[string]time.Time{"k": now},
		},
		{
			name:     "LaterRunOfTheSameItemSeesTheFirst",
			runs:     []*Run{keyed("a", "k", time.Minute), keyed("b", "k", time.Minute), keyed("c", "other", time.Minute)},
			want:     []want{{"queued", ""}, {"skipped", "cooldown: key k ran 0s ago"}, {"queued", ""}},
			wantLast: map[string]time.Time{"k": now, "other": now},
		},
		{
			name: "StatusGivenBeforeIsReplaced",
			runs: []*Run{{ID: "a", Status: "skipped", Reason: "stale", FinishedAt: now}},
			want: []want{{"queued", ""}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			last := make(map[string]time.Time)
			for k, v := range tc.last {
				last[k] = v
			}
			applyCooldowns(tc.runs, last, now)
			for i, r := range tc.runs {
				w := tc.want[i]
				if r.Status != w.status || r.Reason != w.reason {
					t.Fatalf("run %s: %s (%q), want %s (%q)", r.ID, r.Status, r.Reason, w.status, w.reason)
				}
				if skipped := r.Status == "skipped"; skipped != r.FinishedAt.Equal(now) || !skipped && !r.FinishedAt.IsZero() {
					t.Fatalf("run %s: %s with FinishedAt %v", r.ID, r.Status, r.FinishedAt)
				}
			}
			if len(last) != len(tc.wantLast) {
				t.Fatalf("last = %v, want %v", last, tc.wantLast)
			}
			for k, v := range tc.wantLast {
				if !last[k].Equal(v) {
					t.Fatalf("last[%s] = %v, want %v", k, last[k], v)
				}
			}
		})
	}
}

func TestNotChanged(t *testing.T) {
	for _, tc := range []struct {
		name         string
		status, node string
		err          error
		want         error
		message      string
	}{
		{"Missing", "", "", ErrNotFound, ErrNotFound, "finish run-1: not found"},
		{"ReadFailed", "", "", errors.New("disk I/O error"), nil, "finish run-1: disk I/O error"},
		{"RunningElsewhere", "running", "n2", nil, ErrConflict, "finish run-1: run is running on node n2: conflict"},
		{"Finished", "succeeded", "n1", nil, ErrConflict, "finish run-1: run is succeeded: conflict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := NotChanged("finish", "run-1", tc.status, tc.node, tc.err)
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("NotChanged = %v, want %v", err, tc.want)
			}
			if tc.want == nil && (errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) || !errors.Is(err, tc.err)) {
				t.Fatalf("NotChanged = %v, want %v wrapped", err, tc.err)
			}
			if err.Error() != tc.message {
				t.Fatalf("NotChanged = %q, want %q", err, tc.message)
			}
		})
	}
}

func TestCheckQueueLimit(t *testing.T) {
	for _, tc := range []struct {
		name            string
		depth, n, limit int
		full            bool
	}{
		{"NoLimit", 100, 5, 0, false},
		{"NoRuns", 9, 0, 2, false},
		{"UpToTheLimit", 1, 2, 3, false},
		{"OverTheLimit", 2, 2, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkQueueLimit(tc.depth, tc.n, tc.limit)
			if full := errors.Is(err, ErrQueueFull); full != tc.full || !full && err != nil {
				t.Fatalf("checkQueueLimit(%d, %d, %d) = %v, want full %v", tc.depth, tc.n, tc.limit, err, tc.full)
			}
		})
	}
}
