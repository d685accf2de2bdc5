package sqlite

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// refusal returns the i-th of a series of refusals, a minute apart from t0.
func refusal(t0 time.Time, i int) *workflows.Refusal {
	return &workflows.Refusal{ID: fmt.Sprintf("01J00000000000000000000%03d", i), Time: t0.Add(time.Duration(i) * time.Minute),
		Path: "alerts", Method: "POST", Status: 401, Reason: "missing or invalid signature"}
}

// storedIDs lists the ids of the refusals s holds, newest first.
func storedIDs(t *testing.T, s *Store) []string {
	t.Helper()
	rs, err := s.ListRefusals(t.Context(), store.RefusalFilter{})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

// runLog runs log until the test ends, and returns what stops it and waits.
func runLog(t *testing.T, log *store.RefusalLog) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); log.Run(ctx) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func TestRefusalLogDropsWhatItCannotHold(t *testing.T) {
	s, _ := open(t, Options{})
	log := store.NewRefusalLog(s, store.RefusalLogOptions{Buffer: 2}, nil)
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	built := 0
	for i := range 5 {
		log.Refused(func() *workflows.Refusal { built++; return refusal(t0, i) })
	}
	if got := log.Dropped(); got != 3 {
		t.Fatalf("Dropped = %d, want 3", got)
	}
	// A dropped refusal is never built: a flood costs no copies of headers.
	if built != 2 {
		t.Fatalf("built %d refusals, want the 2 kept", built)
	}
	// Stopped, the log still writes what it holds.
	runLog(t, log)()
	want := []string{refusal(t0, 1).ID, refusal(t0, 0).ID}
	if got := storedIDs(t, s); !slices.Equal(got, want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
}

func TestRefusalLogKeepsItsBounds(t *testing.T) {
	s, _ := open(t, Options{})
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	log := store.NewRefusalLog(s, store.RefusalLogOptions{Keep: 3, MaxAge: 5 * time.Minute,
		Now: func() time.Time { return now }}, nil)
	// Ten refusals a minute apart, the last at now: by count, the last
	// three stay; by age, the last six would.
	for i := range 10 {
		log.Refused(func() *workflows.Refusal { return refusal(now.Add(-9*time.Minute), i) })
	}
	runLog(t, log)()
	want := []string{refusal(now, 9).ID, refusal(now, 8).ID, refusal(now, 7).ID}
	if got := storedIDs(t, s); !slices.Equal(got, want) {
		t.Fatalf("by count: stored %v, want %v", got, want)
	}

	// Later, the age bound removes what the count bound kept.
	now = now.Add(4 * time.Minute)
	runLog(t, log)()
	want = []string{refusal(now, 9).ID, refusal(now, 8).ID}
	if got := storedIDs(t, s); !slices.Equal(got, want) {
		t.Fatalf("by age: stored %v, want %v", got, want)
	}
}

func TestRefusalLogGivesIDsInOrder(t *testing.T) {
	s, _ := open(t, Options{})
	log := store.NewRefusalLog(s, store.RefusalLogOptions{}, nil)
	var sent []*workflows.Refusal
	for range 20 {
		r := &workflows.Refusal{Path: "p", Method: "GET", Status: 404, Reason: "no workflow serves /hooks/p"}
		log.Refused(func() *workflows.Refusal { return r })
		sent = append(sent, r)
	}
	runLog(t, log)()
	rs, err := s.ListRefusals(t.Context(), store.RefusalFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != len(sent) {
		t.Fatalf("stored %d refusals, want %d", len(rs), len(sent))
	}
	for i, r := range rs {
		if want := sent[len(sent)-1-i].ID; r.ID != want || r.Time.IsZero() {
			t.Fatalf("refusal %d: id %s time %v, want id %s and a time", i, r.ID, r.Time, want)
		}
	}
}
