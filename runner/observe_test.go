package runner

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/hookflow/hookflow/store"
)

// shakyLogs is a real store whose first AppendLogs fails, and which keeps
// the size of the biggest batch it was given.
type shakyLogs struct {
	store.Store
	mu       sync.Mutex
	calls    int
	biggest  int
	refusals int
}

func (s *shakyLogs) AppendLogs(ctx context.Context, run string, lines []store.LogLine) error {
	s.mu.Lock()
	s.calls++
	s.biggest = max(s.biggest, len(lines))
	fail := s.calls == 1
	if fail {
		s.refusals++
	}
	s.mu.Unlock()
	if fail {
		return errors.New("database is locked")
	}
	return s.Store.AppendLogs(ctx, run, lines)
}

// A step that prints faster than its lines are stored leaves a backlog: it is
// stored in bounded slices, and a slice the store refuses once is tried again
// rather than lost.
func TestLogBacklogStoredWhole(t *testing.T) {
	const lines = 60000
	shaky := &shakyLogs{}
	q := newQueueOn(t, func(st store.Store) store.Store { shaky.Store = st; return shaky }, 1, 10, map[string]string{
		"loud": `
on: {dispatch: {}}
steps:
  - run: seq 1 ` + strconv.Itoa(lines) + `
`})
	q.startPool(t)
	rc := q.dispatch(t, "loud", nil)
	run := q.wait(t, rc.Runs[0].ID)
	if run.Status != "succeeded" {
		t.Fatalf("run %s: %s (%s)", run.ID, run.Status, run.Reason)
	}
	var got []store.LogLine
	for after := int64(0); ; {
		page, err := shaky.Store.Logs(context.Background(), run.ID, after, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].Seq
	}
	var printed []string
	for _, l := range got {
		if l.Stream == "stdout" {
			printed = append(printed, l.Text)
		}
	}
	if len(printed) != lines || printed[0] != "1" || printed[lines-1] != strconv.Itoa(lines) {
		t.Fatalf("stored %d printed lines (first %q), want 1…%d", len(printed), printed[:min(1, len(printed))], lines)
	}
	for i, text := range printed {
		if text != strconv.Itoa(i+1) {
			t.Fatalf("stored line %d is %q, want %d: lines lost or out of order", i, text, i+1)
		}
	}
	shaky.mu.Lock()
	defer shaky.mu.Unlock()
	if shaky.refusals != 1 {
		t.Fatalf("the store refused %d batches, want 1", shaky.refusals)
	}
	if shaky.biggest > logStoreLines {
		t.Fatalf("one AppendLogs got %d lines, more than %d", shaky.biggest, logStoreLines)
	}
}
