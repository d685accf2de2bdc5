package sqlite

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
)

// TestDispatchTakesMoreOnceItWrites holds the write connection while a
// Dispatch waits for it, offers another item meanwhile, and checks that the
// waiting Dispatch stored that item too once it could write.
func TestDispatchTakesMoreOnceItWrites(t *testing.T) {
	s, _ := open(t, Options{})
	ctx := t.Context()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	item := func(id string) *store.Dispatch {
		e := &store.Event{ID: id, Trigger: "webhook", Path: "github", Type: "push", ReceivedAt: now,
			Data: json.RawMessage(`{}`), Verdicts: []store.Verdict{{Workflow: "deploy", Runs: []string{id + "-run"}}}}
		return &store.Dispatch{Event: e, Runs: []*store.Run{{ID: id + "-run", Workflow: "deploy", EventID: id, Attempt: 1, QueuedAt: now}}}
	}

	held, err := s.write.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	offered := make(chan *store.Dispatch, 1)
	calls := 0
	more := func(max int) []*store.Dispatch {
		calls++
		select {
		case d := <-offered:
			return []*store.Dispatch{d}
		default:
			return nil
		}
	}
	first, late := item("evt-first"), item("evt-late")
	done := make(chan error, 1)
	go func() { done <- s.Dispatch(store.WithMore(ctx, more), []*store.Dispatch{first}, 0, now) }()
	// The Dispatch cannot write before the connection is back, so the late
	// item is there when it asks for more.
	offered <- late
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Dispatch: %v", err)
	}
	if calls != 1 {
		t.Errorf("more was called %d times, want once", calls)
	}
	for _, d := range []*store.Dispatch{first, late} {
		if d.Err != nil {
			t.Fatalf("item %s: %v", d.Event.ID, d.Err)
		}
		if _, err := s.GetEvent(ctx, d.Event.ID); err != nil {
			t.Errorf("GetEvent(%s): %v", d.Event.ID, err)
		}
		r, err := s.GetRun(ctx, d.Runs[0].ID)
		if err != nil {
			t.Fatalf("GetRun(%s): %v", d.Runs[0].ID, err)
		}
		if r.Status != "queued" || d.Runs[0].Seq == 0 {
			t.Errorf("run %s: status %q seq %d, want queued with a seq", r.ID, r.Status, d.Runs[0].Seq)
		}
	}
}
