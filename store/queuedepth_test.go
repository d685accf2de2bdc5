package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// queueTx is a BatchTx that keeps only the number of queued runs, and counts
// how often a batch asked for it.
type queueTx struct {
	queued int
	counts int
}

func (q *queueTx) DedupEvent(string, time.Time) (string, error) { return "", nil }
func (q *queueTx) Event(id string) (*Event, error)              { return nil, ErrNotFound }
func (q *queueTx) EventRuns(string) ([]*Run, error)             { return nil, nil }
func (q *queueTx) QueuedRuns() (int, error)                     { q.counts++; return q.queued, nil }
func (q *queueTx) LastCooldowns([]string) (map[string]time.Time, error) {
	return nil, nil
}
func (q *queueTx) BeginItem() error                            { return nil }
func (q *queueTx) InsertEvent(*Event) error                    { return nil }
func (q *queueTx) PutDedupKey(string, string, time.Time) error { return nil }
func (q *queueTx) PutCooldown(string, string, time.Time, time.Time) error {
	return nil
}
func (q *queueTx) InsertRun(r *Run) error {
	if r.Status == workflows.StatusQueued {
		q.queued++
	}
	return nil
}
func (q *queueTx) CancelRunning(string, string, func(string)) error { return nil }
func (q *queueTx) Supersede(*Run, string, time.Time, func(string)) error {
	return nil
}
func (q *queueTx) EndItem(bool) error { return nil }

// dispatchRuns stores one event with n runs in a batch of its own, and returns
// the item's error.
func dispatchRuns(t *testing.T, tx *queueTx, known *QueueDepth, limit, n int, commit bool) error {
	t.Helper()
	id := fmt.Sprintf("evt-%d-%d", tx.queued, tx.counts)
	item := &Dispatch{Event: &Event{ID: id}}
	for i := range n {
		item.Runs = append(item.Runs, &Run{ID: fmt.Sprintf("%s-run-%d", id, i), Workflow: "w"})
	}
	b := NewBatch(time.Now(), limit, known)
	err := b.Item(tx, item)
	if commit {
		b.Committed()
	}
	return err
}

func TestQueueDepthCountsOnceFarFromTheLimit(t *testing.T) {
	tx := &queueTx{}
	var known QueueDepth
	for i := range 50 {
		if err := dispatchRuns(t, tx, &known, 1000, 2, true); err != nil {
			t.Fatalf("dispatch %d: %v", i, err)
		}
	}
	if tx.counts != 1 {
		t.Errorf("50 batches far below the limit counted the queue %d times, want once", tx.counts)
	}
	if got := known.estimate(); got != 100 {
		t.Errorf("estimate after 100 queued runs = %d", got)
	}
}

func TestQueueDepthCountsNearTheLimit(t *testing.T) {
	tx := &queueTx{}
	var known QueueDepth
	for i := range 4 {
		if err := dispatchRuns(t, tx, &known, 10, 2, true); err != nil {
			t.Fatalf("dispatch %d: %v", i, err)
		}
	}
	// 8 queued: 2 more reach the last tenth, so the batch counts.
	before := tx.counts
	if err := dispatchRuns(t, tx, &known, 10, 2, true); err != nil {
		t.Fatalf("dispatch to the limit: %v", err)
	}
	if tx.counts != before+1 {
		t.Errorf("a batch reaching the last tenth of the limit counted %d times, want once", tx.counts-before)
	}
	if err := dispatchRuns(t, tx, &known, 10, 1, true); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("dispatch over the limit: %v, want ErrQueueFull", err)
	}
	// Runs leave the queue without the estimate knowing: the count, not the
	// estimate, decides.
	tx.queued -= 5
	if err := dispatchRuns(t, tx, &known, 10, 3, true); err != nil {
		t.Fatalf("dispatch after runs left the queue: %v", err)
	}
	if tx.queued != 8 {
		t.Errorf("queued = %d, want 8", tx.queued)
	}
}

func TestQueueDepthIgnoresUncommittedBatches(t *testing.T) {
	tx := &queueTx{}
	var known QueueDepth
	if err := dispatchRuns(t, tx, &known, 1000, 1, true); err != nil {
		t.Fatal(err)
	}
	if err := dispatchRuns(t, tx, &known, 1000, 5, false); err != nil {
		t.Fatal(err)
	}
	if got := known.estimate(); got != 1 {
		t.Errorf("estimate after a batch that did not commit = %d, want 1", got)
	}
}

func TestQueueDepthCountsAgainWhenStale(t *testing.T) {
	tx := &queueTx{}
	var known QueueDepth
	if err := dispatchRuns(t, tx, &known, 1000, 1, true); err != nil {
		t.Fatal(err)
	}
	known.set(known.depth, time.Now().Add(-2*QueueDepthMaxAge))
	tx.queued = 500 // queued by another node meanwhile
	if err := dispatchRuns(t, tx, &known, 1000, 1, true); err != nil {
		t.Fatal(err)
	}
	if tx.counts != 2 {
		t.Errorf("counts = %d, want 2: a stale estimate must be counted again", tx.counts)
	}
	if got := known.estimate(); got != 501 {
		t.Errorf("estimate = %d, want 501", got)
	}
}
