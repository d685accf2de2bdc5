package storetest

import (
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
)

// Closing is s, which opening returned with err, for a test of a backend: it
// fails t when err is set, and closes s when t ends, failing t if that fails.
func Closing[S io.Closer](t testing.TB, s S, err error) S {
	t.Helper()
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// BenchDispatch is event n with one run, the size of a typical push, for the
// backends' benchmarks.
func BenchDispatch(n int, now time.Time) *store.Dispatch {
	id := fmt.Sprintf("evt-%08d", n)
	return &store.Dispatch{
		Event: &store.Event{ID: id, Trigger: "webhook", Provider: "github", Path: "github", Type: "push",
			Delivery: id, ReceivedAt: now,
			Data:     []byte(`{"repo":"acme/web","branch":"main","commit":"0123456789abcdef0123456789abcdef01234567"}`),
			Verdicts: []store.Verdict{{Workflow: "deploy", Runs: []string{"run-" + id}}}},
		Runs: []*store.Run{{ID: "run-" + id, Workflow: "deploy", EventID: id, Attempt: 1, QueuedAt: now}},
	}
}

// FillQueue queues n runs of BenchDispatch in s, in batches of 256; with
// groups > 0, they take turns in that many concurrency groups.
func FillQueue(b *testing.B, s store.Store, n, groups int, now time.Time) {
	b.Helper()
	batch := make([]*store.Dispatch, 0, 256)
	flush := func() {
		if err := s.Dispatch(b.Context(), batch, 0, now); err != nil {
			b.Fatalf("Dispatch: %v", err)
		}
		batch = batch[:0]
	}
	for i := range n {
		d := BenchDispatch(i, now)
		if groups > 0 {
			d.Runs[0].Group = fmt.Sprint("g", i%groups)
		}
		if batch = append(batch, d); len(batch) == cap(batch) {
			flush()
		}
	}
	flush()
}

// BenchProgress measures what a running run's records cost: per op, the
// step records and the log batch of a one-step run (UpdateSteps as the step
// starts, as its process starts and as it ends, and AppendLogs of one line).
func BenchProgress(b *testing.B, s store.Store) {
	b.Helper()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	FillQueue(b, s, 1, 0, now)
	r, err := s.Claim(b.Context(), "n1", time.Hour, now)
	if err != nil || r == nil {
		b.Fatalf("Claim = %v, %v", r, err)
	}
	steps := json.RawMessage(`[{"index":0,"id":"1","name":"true","outcome":"running","attempts":1}]`)
	for b.Loop() {
		for range 3 {
			if err := s.UpdateSteps(b.Context(), r.ID, steps, "process"); err != nil {
				b.Fatalf("UpdateSteps: %v", err)
			}
		}
		if err := s.AppendLogs(b.Context(), r.ID, []store.LogLine{{Stream: "system", Time: now, Text: "step 1: true"}}); err != nil {
			b.Fatalf("AppendLogs: %v", err)
		}
	}
}
