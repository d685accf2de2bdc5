package workflows

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	const day, week = 24 * time.Hour, 7 * 24 * time.Hour
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"30s", 30 * time.Second},
		{"1h30m", 90 * time.Minute},
		{"1.5h", 90 * time.Minute},
		{".5s", 500 * time.Millisecond},
		{"2.s", 2 * time.Second},
		{"100ms", 100 * time.Millisecond},
		{"10us", 10 * time.Microsecond},
		{"10µs", 10 * time.Microsecond},
		{"5ns", 5},
		{"30d", 30 * day},
		{"1d", day},
		{"1.5d", 36 * time.Hour},
		{"1w", week},
		{"2w", 2 * week},
		{"1w2d3h", week + 2*day + 3*time.Hour},
		{"3h2d", 2*day + 3*time.Hour},
		{"0.5w", 84 * time.Hour},
		{"15250w", 15250 * week},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("ParseDuration(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "5", "d", ".d", ".", "-5s", "+1d", "1D", "1y", "1 d", " 1d", "1d ", "30 days",
		"16000w", "106752d", "99999999999999999999s", "1w-2d"} {
		t.Run("refuses "+bad, func(t *testing.T) {
			_, err := ParseDuration(bad)
			if err == nil {
				t.Fatalf("ParseDuration(%q) accepted", bad)
			}
			for _, unit := range []string{" s,", " m,", " h,", " d,", " w)"} {
				if !strings.Contains(err.Error(), unit) {
					t.Errorf("error %q does not name the unit%s", err, strings.TrimRight(unit, ",)"))
				}
			}
		})
	}
}

// TestDurationsInWorkflowFiles checks that every duration key of a workflow
// file reads days and weeks.
func TestDurationsInWorkflowFiles(t *testing.T) {
	w := mustParse(t, "long", `
on:
  webhook: {path: long, respond: sync, sync_timeout: 1d}
timeout: 1w2d
cooldown: {key: all, period: 30d}
sandbox: {cpu: 1d}
steps:
  - run: "true"
    timeout: 1.5d
    retry: {attempts: 3, delay: 1d, max_delay: 1w}
`)
	const day = 24 * time.Hour
	s := w.Steps[0]
	for name, ok := range map[string]bool{
		"timeout":        time.Duration(w.Timeout) == 9*day,
		"cooldown":       time.Duration(w.Cooldown.Period) == 30*day,
		"sync_timeout":   time.Duration(w.On.Webhook[0].SyncTimeout) == day,
		"sandbox cpu":    time.Duration(w.Sandbox.CPU) == day,
		"step timeout":   time.Duration(s.Timeout) == 36*time.Hour,
		"retry delay":    time.Duration(s.Retry.Delay) == day,
		"retry maxdelay": time.Duration(s.Retry.MaxDelay) == 7*day,
	} {
		if !ok {
			t.Errorf("%s was not read as written", name)
		}
	}
}
