package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// BatchTx is one backend transaction in which a Batch stores the items of a
// Dispatch: the reads and writes the rules need, in the backend's SQL. Batch
// calls it from one goroutine, and wraps and returns its errors; which of
// them fail only the item and which the whole batch is the backend's call.
type BatchTx interface {
	// DedupEvent returns the id of the event whose dedup key is key and
	// expires after now, or "" when there is none.
	DedupEvent(key string, now time.Time) (string, error)
	// Event returns the stored event id.
	Event(id string) (*Event, error)
	// EventRuns returns the runs of event id, oldest first.
	EventRuns(id string) ([]*Run, error)
	// QueuedRuns counts the queued runs.
	QueuedRuns() (int, error)
	// LastCooldowns returns, by key, when the last run with each of keys that
	// was not skipped was queued; a key without one is left out. keys may
	// repeat.
	LastCooldowns(keys []string) (map[string]time.Time, error)

	// BeginItem starts the writes of one item; EndItem ends them. A write
	// may take effect at once or only at EndItem: its results (Run.Seq, the
	// calls of found) are there when EndItem(true) returns nil.
	BeginItem() error
	// InsertEvent stores new event e.
	InsertEvent(e *Event) error
	// PutDedupKey makes key stand for event eventID until expires.
	PutDedupKey(key, eventID string, expires time.Time) error
	// PutCooldown records that run runID with cooldown key key was queued at
	// at; the key is kept at least until expires.
	PutCooldown(key, runID string, at, expires time.Time) error
	// InsertRun stores new run r and sets r.Seq.
	InsertRun(r *Run) error
	// CancelRunning requests, with reason, the cancel of the running runs of
	// group whose cancel has not been requested yet, and calls found with the
	// id of each.
	CancelRunning(group, reason string, found func(id string)) error
	// Supersede makes the queued runs of r's group that are older than r
	// skipped, with reason, finished at at, and calls found with the id of
	// each.
	Supersede(r *Run, reason string, at time.Time, found func(id string)) error
	// EndItem ends the writes BeginItem started. With ok, it makes them part
	// of the transaction, or returns why it could not; without, it undoes
	// them.
	EndItem(ok bool) error
}

// Batch applies Dispatch's rules to the items of one batch, in order, in one
// backend transaction, so that each backend only runs its statements.
type Batch struct {
	now     time.Time
	limit   int
	known   *QueueDepth
	depth   int             // queued runs, estimated or counted when first needed; -1 before
	counted time.Time       // when depth was counted in this transaction; zero: it was not
	change  int             // queued runs added by this batch, less those it superseded
	queued  int             // runs this batch queued
	byID    map[string]*Run // this batch's stored runs, to mirror supersedes
}

// NewBatch starts a batch dispatched at now (kept to the millisecond), with
// queue limit maxQueued (0: none). known is the queue depth the store's
// earlier batches left; call Committed once the batch is committed.
func NewBatch(now time.Time, maxQueued int, known *QueueDepth) *Batch {
	return &Batch{now: Millis(now), limit: maxQueued, known: known, depth: -1, byID: make(map[string]*Run)}
}

// Committed tells the batch that its transaction committed, so that the next
// batches start from the queue depth it leaves.
func (b *Batch) Committed() {
	if !b.counted.IsZero() {
		b.known.set(b.depth, b.counted)
	} else {
		b.known.add(b.change)
	}
}

// Queued counts the runs the batch has queued so far.
func (b *Batch) Queued() int { return b.queued }

// Fail records err as d's own failure (its Err), naming its event: nothing
// of it was stored.
func (d *Dispatch) Fail(err error) {
	name := "(no event)"
	if d.Event != nil {
		name = d.Event.ID
	}
	d.Duplicate, d.CancelRequested = nil, nil
	d.Err = fmt.Errorf("dispatch %s: %w", name, err)
}

// Item stores item in tx as Store.Dispatch describes, and sets its Duplicate
// (with the duplicate's Runs) or CancelRequested, its runs' Seq, Status,
// Reason and FinishedAt, and those of the batch's earlier runs it
// supersedes. On error nothing of item was stored, and its runs are as they
// were given; the caller records the error (Fail) or fails the batch.
//
// Item validates item first (ValidateDispatch). A backend that must know the
// valid items before it starts may validate them itself too: validating again
// changes nothing.
func (b *Batch) Item(tx BatchTx, item *Dispatch) error {
	item.Duplicate, item.Err, item.CancelRequested = nil, nil, nil
	if err := ValidateDispatch(item); err != nil {
		return err
	}
	if item.Event != nil {
		dup, runs, err := b.duplicate(tx, item.Event.DedupKey)
		if err != nil {
			return err
		}
		if dup != nil {
			item.Duplicate, item.Runs = dup, runs
			return nil
		}
	}
	if err := b.checkQueue(tx, len(item.Runs)); err != nil {
		return err
	}
	superseded, err := b.store(tx, item)
	if err != nil {
		for _, r := range item.Runs {
			r.Seq, r.Status, r.Reason, r.FinishedAt = 0, "", "", time.Time{}
		}
		item.CancelRequested = nil
		return err
	}
	queued := 0
	for _, r := range item.Runs {
		b.byID[r.ID] = r
		if r.Status == workflows.StatusQueued {
			queued++
		}
	}
	for id, reason := range superseded {
		if r := b.byID[id]; r != nil {
			r.Status, r.Reason, r.FinishedAt = workflows.StatusSkipped, reason, b.now
		}
	}
	b.queued += queued
	b.change += queued - len(superseded)
	if b.depth >= 0 {
		b.depth += queued - len(superseded)
	}
	return nil
}

// duplicate returns the live event with dedup key key and its runs, if any.
func (b *Batch) duplicate(tx BatchTx, key string) (*Event, []*Run, error) {
	if key == "" {
		return nil, nil, nil
	}
	id, err := tx.DedupEvent(key, b.now)
	if err != nil {
		return nil, nil, fmt.Errorf("dedup key: %w", err)
	}
	if id == "" {
		return nil, nil, nil
	}
	e, err := tx.Event(id)
	if err != nil {
		return nil, nil, fmt.Errorf("duplicate of %s: %w", id, err)
	}
	runs, err := tx.EventRuns(id)
	if err != nil {
		return nil, nil, fmt.Errorf("duplicate of %s: runs: %w", id, err)
	}
	return e, runs, nil
}

// checkQueue applies the queue limit to n more runs. The depth starts from
// the estimate earlier batches left (QueueDepth), is counted in the
// transaction when that is unknown, stale or near the limit, and is then kept
// up to date.
func (b *Batch) checkQueue(tx BatchTx, n int) error {
	if b.limit <= 0 || n == 0 {
		return nil
	}
	if b.depth < 0 {
		b.depth = b.known.estimate()
	}
	if b.counted.IsZero() && (b.depth < 0 || nearLimit(b.depth+n, b.limit)) {
		at := time.Now()
		depth, err := tx.QueuedRuns()
		if err != nil {
			return fmt.Errorf("queue depth: %w", err)
		}
		b.depth, b.counted = depth, at
	}
	return checkQueueLimit(b.depth, n, b.limit)
}

// store decides the runs' cooldowns, then writes the event, its dedup key
// and its runs, and applies the queued runs' group policies, as one item of
// tx. It returns the reasons of the runs it superseded by their ids.
func (b *Batch) store(tx BatchTx, item *Dispatch) (map[string]string, error) {
	var last map[string]time.Time // read only; most items have no cooldown
	if keys := cooldownKeys(item.Runs); len(keys) > 0 {
		var err error
		if last, err = tx.LastCooldowns(keys); err != nil {
			return nil, fmt.Errorf("cooldown: %w", err)
		}
	}
	applyCooldowns(item.Runs, last, b.now)
	if err := tx.BeginItem(); err != nil {
		return nil, err
	}
	// Filled as the backend reports them, which may be at EndItem.
	superseded := make(map[string]string)
	err := b.write(tx, item, superseded)
	if endErr := tx.EndItem(err == nil); endErr != nil {
		err = errors.Join(err, endErr)
	}
	if err != nil {
		return nil, err
	}
	return superseded, nil
}

// write makes the writes of store, and records in superseded the runs it
// supersedes.
func (b *Batch) write(tx BatchTx, item *Dispatch, superseded map[string]string) error {
	if e := item.Event; e != nil {
		if e.ReceivedAt.IsZero() {
			e.ReceivedAt = b.now
		}
		if err := tx.InsertEvent(e); err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
		if e.DedupKey != "" {
			if err := tx.PutDedupKey(e.DedupKey, e.ID, b.now.Add(item.DedupWindow)); err != nil {
				return fmt.Errorf("dedup key: %w", err)
			}
		}
	}
	for _, r := range item.Runs {
		if err := b.writeRun(tx, item, r, superseded); err != nil {
			return fmt.Errorf("run %s: %w", r.ID, err)
		}
	}
	return nil
}

// writeRun writes run r of item, with its cooldown, and, when it is queued,
// applies its group's policy: it adds the runs whose cancel it requested to
// item's CancelRequested, and the runs it superseded to superseded.
func (b *Batch) writeRun(tx BatchTx, item *Dispatch, r *Run, superseded map[string]string) error {
	queued := r.Status == workflows.StatusQueued
	if queued && r.HasCooldown() {
		if err := tx.PutCooldown(r.CooldownKey, r.ID, b.now, b.now.Add(r.CooldownPeriod)); err != nil {
			return fmt.Errorf("cooldown: %w", err)
		}
	}
	if r.QueuedAt.IsZero() {
		r.QueuedAt = b.now
	}
	if err := tx.InsertRun(r); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	if !queued || r.Group == "" {
		return nil
	}
	if r.CancelInProgress {
		err := tx.CancelRunning(r.Group, CancelInProgressReason(r.ID), func(id string) {
			item.CancelRequested = append(item.CancelRequested, id)
		})
		if err != nil {
			return fmt.Errorf("cancel in progress: %w", err)
		}
	}
	if r.PendingLatest {
		reason := SupersededReason(r.ID)
		if err := tx.Supersede(r, reason, b.now, func(id string) { superseded[id] = reason }); err != nil {
			return fmt.Errorf("supersede: %w", err)
		}
	}
	return nil
}
