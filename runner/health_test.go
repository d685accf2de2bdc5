package runner

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestWriteHealth drives WriteHealth with its own clock: a failed write makes
// it unhealthy until a write succeeds, and it probes the store itself at most
// once per interval while unhealthy.
func TestWriteHealth(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	full := errors.New("database or disk is full")
	probes, probeErr := 0, full
	h := NewWriteHealth(func(context.Context) error { probes++; return probeErr }, 5*time.Second, func() time.Time { return now })
	check := func(step string, want error) {
		t.Helper()
		if got := h.Check(t.Context()); !errors.Is(got, want) && !(got == nil && want == nil) {
			t.Fatalf("%s: Check = %v, want %v", step, got, want)
		}
	}

	check("before any write", nil)
	h.Record(nil)
	check("after a commit", nil)
	h.Record(full)
	check("right after a failed commit", full)
	now = now.Add(4 * time.Second)
	check("within the interval", full)
	if probes != 0 {
		t.Fatalf("probed %d times within the interval", probes)
	}
	now = now.Add(time.Second)
	check("once the interval passed, the probe fails", full)
	check("again at once", full)
	if probes != 1 {
		t.Fatalf("%d probes, want 1", probes)
	}
	probeErr = nil
	now = now.Add(5 * time.Second)
	check("the probe succeeds", nil)
	check("healthy again", nil)
	if probes != 2 {
		t.Fatalf("%d probes, want 2", probes)
	}
	h.Record(full)
	h.Record(nil)
	now = now.Add(time.Minute)
	check("a commit succeeded after a failure", nil)
	if probes != 2 {
		t.Fatalf("probed while healthy: %d probes", probes)
	}

	var none *WriteHealth
	none.Record(full)
	if err := none.Check(t.Context()); err != nil {
		t.Errorf("nil WriteHealth: %v", err)
	}
}
