package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// Dispatch stores the batch in one write transaction. Each item runs inside a
// savepoint, so an item that fails (ErrQueueFull, or a bad item such as a
// reused event id) is rolled back alone and the rest still commit.
//
// Cooldowns are decided here, at dispatch time, so "ran" means "was queued":
// the cooldowns table holds, per key, when the last run with that key that
// was not itself skipped was queued.
func (s *Store) Dispatch(ctx context.Context, batch []*store.Dispatch, maxQueued int, now time.Time) error {
	if len(batch) == 0 {
		return nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("dispatch: %w", err)
	}
	defer tx.Rollback() // a no-op once committed
	d := &dispatcher{ctx: ctx, tx: tx, st: s.stmts, now: truncate(now), maxQueued: maxQueued, depth: -1,
		byID: make(map[string]*store.Run), bound: make(map[*sql.Stmt]*sql.Stmt)}
	for _, item := range batch {
		item.Duplicate, item.Err, item.CancelRequested = nil, nil, nil
		if err := d.item(item); err != nil {
			if d.broken != nil || ctx.Err() != nil {
				return fmt.Errorf("dispatch: %w", errors.Join(err, d.broken))
			}
			item.Err = fmt.Errorf("dispatch %s: %w", eventID(item), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("dispatch: commit: %w", err)
	}
	return nil
}

// dispatcher is one Dispatch transaction in progress.
type dispatcher struct {
	ctx       context.Context
	tx        *sql.Tx
	st        statements
	now       time.Time
	maxQueued int
	depth     int                   // queued runs, counted when first needed
	byID      map[string]*store.Run // this batch's stored runs, to mirror supersedes
	bound     map[*sql.Stmt]*sql.Stmt
	// broken is set when an item's savepoint could not be undone: the
	// transaction may hold part of that item, so it must not commit.
	broken error
}

// item stores one dispatch inside a savepoint.
func (d *dispatcher) item(item *store.Dispatch) (err error) {
	if err := validate(item); err != nil {
		return err
	}
	if item.Event != nil {
		dup, runs, err := d.duplicate(item.Event.DedupKey)
		if err != nil {
			return err
		}
		if dup != nil {
			item.Duplicate, item.Runs = dup, runs
			return nil
		}
	}
	if err := d.checkQueue(len(item.Runs)); err != nil {
		return err
	}
	if _, err := d.tx.ExecContext(d.ctx, `SAVEPOINT dispatch_item`); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			if _, rbErr := d.tx.ExecContext(d.ctx, `ROLLBACK TO dispatch_item`); rbErr != nil {
				d.broken = fmt.Errorf("undo item: %w", rbErr)
			}
		}
		if _, relErr := d.tx.ExecContext(d.ctx, `RELEASE dispatch_item`); relErr != nil && d.broken == nil {
			d.broken = fmt.Errorf("release item: %w", relErr)
			err = errors.Join(err, d.broken)
		}
	}()
	queued, superseded, err := d.store(item)
	if err != nil {
		for _, r := range item.Runs {
			r.Seq, r.Status, r.Reason, r.FinishedAt = 0, "", "", time.Time{}
		}
		item.CancelRequested = nil
		return err
	}
	for _, r := range item.Runs {
		d.byID[r.ID] = r
	}
	for id, reason := range superseded {
		if r := d.byID[id]; r != nil {
			r.Status, r.Reason, r.FinishedAt = "skipped", reason, d.now
		}
	}
	if d.depth >= 0 {
		d.depth += queued - len(superseded)
	}
	return nil
}

// eventID is item's event id, for messages.
func eventID(item *store.Dispatch) string {
	if item.Event == nil {
		return "(no event)"
	}
	return item.Event.ID
}

// validate checks what the store relies on, and fills in defaults.
func validate(item *store.Dispatch) error {
	if item.Event == nil {
		// Runs for existing events (reruns).
		for _, r := range item.Runs {
			if r.ID == "" || r.Workflow == "" || r.EventID == "" {
				return workflows.Errorf(workflows.EInvalid, "a run for an existing event needs an id, a workflow and an event id")
			}
		}
		return nil
	}
	if item.Event.ID == "" {
		return workflows.Errorf(workflows.EInvalid, "an event with an id is required")
	}
	for _, r := range item.Runs {
		if r.ID == "" || r.Workflow == "" {
			return workflows.Errorf(workflows.EInvalid, "event %s: a run needs an id and a workflow", item.Event.ID)
		}
		if r.EventID == "" {
			r.EventID = item.Event.ID
		}
		if r.EventID != item.Event.ID {
			return workflows.Errorf(workflows.EInvalid, "run %s: event id %s, want %s", r.ID, r.EventID, item.Event.ID)
		}
	}
	return nil
}

// duplicate returns the live event with dedup key key and its runs, if any.
func (d *dispatcher) duplicate(key string) (*store.Event, []*store.Run, error) {
	if key == "" {
		return nil, nil, nil
	}
	var id string
	err := d.stmt(d.st.findDedup).QueryRowContext(d.ctx, key, millis(d.now)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("dedup key: %w", err)
	}
	e, err := scanEvent(d.stmt(d.st.eventByID).QueryRowContext(d.ctx, id))
	if err != nil {
		return nil, nil, fmt.Errorf("duplicate of %s: %w", id, err)
	}
	rows, err := d.stmt(d.st.runsByEvent).QueryContext(d.ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("duplicate of %s: runs: %w", id, err)
	}
	runs, err := collectRuns(rows)
	if err != nil {
		return nil, nil, fmt.Errorf("duplicate of %s: runs: %w", id, err)
	}
	return e, runs, nil
}

// checkQueue fails with ErrQueueFull when n more queued runs would exceed
// the limit. Runs that cooldown will skip count too: the limit is checked
// before cooldowns, as the contract orders them.
func (d *dispatcher) checkQueue(n int) error {
	if d.maxQueued <= 0 || n == 0 {
		return nil
	}
	if d.depth < 0 {
		if err := d.stmt(d.st.queueDepth).QueryRowContext(d.ctx).Scan(&d.depth); err != nil {
			return fmt.Errorf("queue depth: %w", err)
		}
	}
	if d.depth+n > d.maxQueued {
		return fmt.Errorf("%d queued, limit %d: %w", d.depth, d.maxQueued, store.ErrQueueFull)
	}
	return nil
}

// store inserts the event and its runs and applies the runs' policies. It
// returns how many runs it queued, and the reasons of the runs it superseded
// by their ids.
func (d *dispatcher) store(item *store.Dispatch) (queued int, superseded map[string]string, err error) {
	if e := item.Event; e != nil {
		if err := d.insertEvent(e, item.DedupWindow); err != nil {
			return 0, nil, err
		}
	}
	for _, r := range item.Runs {
		if err := d.cooldown(r); err != nil {
			return 0, nil, fmt.Errorf("run %s: %w", r.ID, err)
		}
		if err := d.insertRun(r); err != nil {
			return 0, nil, fmt.Errorf("run %s: %w", r.ID, err)
		}
		if r.Status != "queued" {
			continue
		}
		queued++
		ids, cancelled, err := d.applyGroup(r)
		if err != nil {
			return 0, nil, fmt.Errorf("run %s: %w", r.ID, err)
		}
		item.CancelRequested = append(item.CancelRequested, cancelled...)
		for _, id := range ids {
			if superseded == nil {
				superseded = make(map[string]string)
			}
			superseded[id] = "superseded by run " + r.ID
		}
	}
	return queued, superseded, nil
}

// insertEvent stores a new event and its dedup key.
func (d *dispatcher) insertEvent(e *store.Event, window time.Duration) error {
	if e.ReceivedAt.IsZero() {
		e.ReceivedAt = d.now
	}
	verdicts, err := json.Marshal(e.Verdicts)
	if err != nil {
		return fmt.Errorf("verdicts: %w", err)
	}
	_, err = d.stmt(d.st.insertEvent).ExecContext(d.ctx, e.ID, e.Trigger, e.Provider, e.Path, e.Type,
		e.Delivery, e.DedupKey, millis(e.ReceivedAt), blob(e.Data), verdicts)
	if err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	if e.DedupKey != "" {
		expires := millis(d.now.Add(window))
		if _, err := d.stmt(d.st.putDedup).ExecContext(d.ctx, e.DedupKey, e.ID, expires); err != nil {
			return fmt.Errorf("dedup key: %w", err)
		}
	}
	return nil
}

// cooldown sets r's status: skipped when a run with its cooldown key was
// queued within its period, queued otherwise (and then the key's clock
// restarts).
func (d *dispatcher) cooldown(r *store.Run) error {
	r.Status, r.Reason, r.FinishedAt = "queued", "", time.Time{}
	if r.CooldownKey == "" || r.CooldownPeriod <= 0 {
		return nil
	}
	var last int64
	err := d.stmt(d.st.findCooldown).QueryRowContext(d.ctx, r.CooldownKey).Scan(&last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("cooldown: %w", err)
	}
	if ago := d.now.Sub(fromMillis(last)); err == nil && ago < r.CooldownPeriod {
		r.Status, r.FinishedAt = "skipped", d.now
		r.Reason = fmt.Sprintf("cooldown: key %s ran %s ago", r.CooldownKey, ago)
		return nil
	}
	expires := millis(d.now.Add(r.CooldownPeriod))
	if _, err := d.stmt(d.st.putCooldown).ExecContext(d.ctx, r.CooldownKey, r.ID, millis(d.now), expires); err != nil {
		return fmt.Errorf("cooldown: %w", err)
	}
	return nil
}

// insertRun stores r with the status cooldown gave it, and sets r.Seq.
func (d *dispatcher) insertRun(r *store.Run) error {
	if r.QueuedAt.IsZero() {
		r.QueuedAt = d.now
	}
	err := d.stmt(d.st.insertRun).QueryRowContext(d.ctx,
		r.ID, r.Workflow, r.Revision, r.EventID, blob(r.Item), r.Attempt, r.RerunOf,
		r.Group, r.CancelInProgress, r.PendingLatest, r.CooldownKey, r.CooldownPeriod.Milliseconds(), r.OnInterrupt,
		r.Status, r.Reason, millis(r.QueuedAt), nullMillis(r.FinishedAt), blob(r.Steps),
	).Scan(&r.Seq)
	if err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	return nil
}

// applyGroup applies queued run r's concurrency policy to its group, and
// returns the ids of the runs it superseded and of those whose cancel it
// requested.
func (d *dispatcher) applyGroup(r *store.Run) (superseded, cancelled []string, err error) {
	if r.Group == "" {
		return nil, nil, nil
	}
	if r.CancelInProgress {
		ids, err := queryIDs(d.stmt(d.st.cancelRunning).QueryContext(d.ctx, store.CancelInProgressReason(r.ID), r.Group))
		if err != nil {
			return nil, nil, fmt.Errorf("cancel in progress: %w", err)
		}
		cancelled = ids
	}
	if !r.PendingLatest {
		return nil, cancelled, nil
	}
	superseded, err = queryIDs(d.stmt(d.st.supersede).QueryContext(d.ctx,
		"superseded by run "+r.ID, millis(d.now), r.Group, r.Seq))
	if err != nil {
		return nil, nil, fmt.Errorf("supersede: %w", err)
	}
	return superseded, cancelled, nil
}

// queryIDs reads the ids a query returns.
func queryIDs(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// stmt binds one of the prepared statements to the transaction, once per
// transaction; database/sql reuses the statement already prepared on the one
// write connection.
func (d *dispatcher) stmt(st *sql.Stmt) *sql.Stmt {
	b, ok := d.bound[st]
	if !ok {
		b = d.tx.StmtContext(d.ctx, st)
		d.bound[st] = b
	}
	return b
}
