package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/store"
)

// maxBatch bounds the items Dispatch adds to a batch (store.More).
const maxBatch = 256

// Dispatch stores the batch in one write transaction. Each item's writes run
// inside a savepoint, so an item that fails (ErrQueueFull, or a bad item such
// as a reused event id) is rolled back alone and the rest still commit.
func (s *Store) Dispatch(ctx context.Context, batch []*store.Dispatch, maxQueued int, now time.Time) error {
	if len(batch) == 0 {
		return nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("dispatch: %w", err)
	}
	defer tx.Rollback() // a no-op once committed
	// Writers wait their turn for the one connection: what arrived meanwhile
	// is committed with this batch (store.WithMore).
	batch = append(batch, store.More(ctx, maxBatch-len(batch))...)
	d := &dispatchTx{ctx: ctx, tx: tx, st: s.stmts, bound: make(map[*sql.Stmt]*sql.Stmt)}
	b := store.NewBatch(now, maxQueued, &s.queue)
	for _, item := range batch {
		if err := b.Item(d, item); err != nil {
			if d.broken != nil || ctx.Err() != nil {
				return fmt.Errorf("dispatch: %w", err) // EndItem joined d.broken into it
			}
			item.Fail(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("dispatch: commit: %w", err)
	}
	b.Committed()
	return nil
}

// dispatchTx is the store.BatchTx of one Dispatch. Its writes take effect at
// once, inside the item's savepoint.
type dispatchTx struct {
	ctx   context.Context
	tx    *sql.Tx
	st    statements
	bound map[*sql.Stmt]*sql.Stmt
	// broken is set when an item's savepoint could not be undone: the
	// transaction may hold part of that item, so it must not commit.
	broken error
}

var _ store.BatchTx = (*dispatchTx)(nil)

// DedupEvent implements store.BatchTx.
func (d *dispatchTx) DedupEvent(key string, now time.Time) (string, error) {
	var id string
	err := d.stmt(d.st.findDedup).QueryRowContext(d.ctx, key, millis(now)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// Event implements store.BatchTx.
func (d *dispatchTx) Event(id string) (*store.Event, error) {
	return store.ScanEvent(d.stmt(d.st.eventByID).QueryRowContext(d.ctx, id))
}

// EventRuns implements store.BatchTx.
func (d *dispatchTx) EventRuns(id string) ([]*store.Run, error) {
	rows, err := d.stmt(d.st.runsByEvent).QueryContext(d.ctx, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.CollectRuns(rows)
}

// QueuedRuns implements store.BatchTx.
func (d *dispatchTx) QueuedRuns() (int, error) {
	var n int
	err := d.stmt(d.st.queueDepth).QueryRowContext(d.ctx).Scan(&n)
	return n, err
}

// LastCooldowns implements store.BatchTx.
func (d *dispatchTx) LastCooldowns(keys []string) (map[string]time.Time, error) {
	last := make(map[string]time.Time, len(keys))
	for _, key := range keys {
		var at int64
		err := d.stmt(d.st.findCooldown).QueryRowContext(d.ctx, key).Scan(&at)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, err
		default:
			last[key] = fromMillis(at)
		}
	}
	return last, nil
}

// BeginItem implements store.BatchTx: it opens the item's savepoint.
func (d *dispatchTx) BeginItem() error {
	_, err := d.tx.ExecContext(d.ctx, `SAVEPOINT dispatch_item`)
	return err
}

// EndItem implements store.BatchTx: it releases the item's savepoint, after
// rolling back to it unless ok.
func (d *dispatchTx) EndItem(ok bool) error {
	if !ok {
		if _, err := d.tx.ExecContext(d.ctx, `ROLLBACK TO dispatch_item`); err != nil {
			d.broken = fmt.Errorf("undo item: %w", err)
		}
	}
	if _, err := d.tx.ExecContext(d.ctx, `RELEASE dispatch_item`); err != nil && d.broken == nil {
		d.broken = fmt.Errorf("release item: %w", err)
	}
	return d.broken
}

// InsertEvent implements store.BatchTx.
func (d *dispatchTx) InsertEvent(e *store.Event) error {
	values, err := store.EventValues(e, timeArg)
	if err != nil {
		return err
	}
	_, err = d.stmt(d.st.insertEvent).ExecContext(d.ctx, values...)
	return err
}

// PutDedupKey implements store.BatchTx.
func (d *dispatchTx) PutDedupKey(key, eventID string, expires time.Time) error {
	_, err := d.stmt(d.st.putDedup).ExecContext(d.ctx, key, eventID, millis(expires))
	return err
}

// PutCooldown implements store.BatchTx.
func (d *dispatchTx) PutCooldown(key, runID string, at, expires time.Time) error {
	_, err := d.stmt(d.st.putCooldown).ExecContext(d.ctx, key, runID, millis(at), millis(expires))
	return err
}

// InsertRun implements store.BatchTx.
func (d *dispatchTx) InsertRun(r *store.Run) error {
	return d.stmt(d.st.insertRun).QueryRowContext(d.ctx, store.RunValues(r, timeArg)...).Scan(&r.Seq)
}

// CancelRunning implements store.BatchTx.
func (d *dispatchTx) CancelRunning(group, reason string, found func(id string)) error {
	rows, err := d.stmt(d.st.cancelRunning).QueryContext(d.ctx, reason, group)
	return eachID(rows, err, found)
}

// Supersede implements store.BatchTx.
func (d *dispatchTx) Supersede(r *store.Run, reason string, at time.Time, found func(id string)) error {
	rows, err := d.stmt(d.st.supersede).QueryContext(d.ctx, reason, millis(at), r.Group, r.Seq)
	return eachID(rows, err, found)
}

// eachID calls found with each id that rows (or err) of a query holds, and
// closes rows.
func eachID(rows *sql.Rows, err error, found func(id string)) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	ids, err := store.CollectIDs(rows)
	for _, id := range ids {
		found(id)
	}
	return err
}

// stmt binds one of the prepared statements to the transaction, once per
// transaction; database/sql reuses the statement already prepared on the one
// write connection.
func (d *dispatchTx) stmt(st *sql.Stmt) *sql.Stmt {
	b, ok := d.bound[st]
	if !ok {
		b = d.tx.StmtContext(d.ctx, st)
		d.bound[st] = b
	}
	return b
}
