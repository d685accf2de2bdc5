package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookflow/hookflow/store"
)

// Dispatch stores the batch in one transaction. An item that fails
// (ErrQueueFull, or a bad item such as a reused event id) is left out alone
// and the rest still commit.
//
// Before anything else the transaction takes an advisory lock on each dedup
// key, group and cooldown key of the batch; they are held until it commits.
// A dispatch on another node that shares a key waits, then reads what this
// one committed: it is a duplicate, or in cooldown, or supersedes this one's
// runs, exactly as if the two had run one after the other. The locks also
// make a group's seq order its commit order, which Claim relies on.
//
// The queue limit is read from committed runs, and in between estimated
// (store.QueueDepth): dispatches on several nodes within a second may
// together overshoot it by their own sizes, unless it is near.
func (s *Store) Dispatch(ctx context.Context, batch []*store.Dispatch, maxQueued int, now time.Time) error {
	if len(batch) == 0 {
		return nil
	}
	failed := make([]error, len(batch))
	given := make([][]*store.Run, len(batch)) // a duplicate's Runs are replaced
	var keys []int64
	for i, item := range batch {
		given[i] = item.Runs
		storable(item)
		if failed[i] = store.ValidateDispatch(item); failed[i] == nil {
			keys = appendLockKeys(keys, item)
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	// A failed statement aborts a PostgreSQL transaction. Rather than a
	// savepoint per item (subtransactions, which slow down every session once
	// a transaction holds more than 64 of them), an item that breaks a
	// constraint is left out and the batch tried again: once per bad item.
	for {
		bad, err := s.dispatch(ctx, batch, failed, keys, maxQueued, now)
		if bad < 0 {
			return err
		}
		failed[bad] = err
		for i, item := range batch {
			item.Runs = given[i]
			for _, r := range item.Runs {
				r.Seq, r.Status, r.Reason, r.FinishedAt = 0, "", "", time.Time{}
			}
		}
	}
}

// dispatch is one attempt at storing batch, leaving out the items that failed
// before. It returns the index of an item that broke a constraint, with its
// error, or -1 with the batch's error (nil: committed).
func (s *Store) dispatch(ctx context.Context, batch []*store.Dispatch, failed []error, keys []int64,
	maxQueued int, now time.Time) (bad int, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return -1, fmt.Errorf("dispatch: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // a no-op once committed
	// In ascending order, so that two batches never wait for each other
	// crosswise; unnest yields the array in order.
	if len(keys) > 0 {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k`, keys); err != nil {
			return -1, fmt.Errorf("dispatch: lock keys: %w", err)
		}
	}
	d := &dispatchTx{ctx: ctx, tx: tx}
	b := store.NewBatch(now, maxQueued, &s.queue)
	for i, item := range batch {
		if failed[i] != nil {
			item.Fail(failed[i])
			continue
		}
		err := b.Item(d, item)
		switch {
		case err == nil:
		case errors.Is(err, store.ErrQueueFull): // refused before writing anything
			item.Fail(err)
		case badItem(err) && ctx.Err() == nil:
			return i, err
		default:
			return -1, fmt.Errorf("dispatch: %w", err)
		}
	}
	if b.Queued() > 0 {
		// Delivered to the listeners when the transaction commits.
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, notifyChannel); err != nil {
			return -1, fmt.Errorf("dispatch: notify: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return -1, fmt.Errorf("dispatch: commit: %w", err)
	}
	b.Committed()
	return -1, nil
}

// badItem reports whether err is the item's own fault: it breaks a
// constraint (a reused id, a run for an unknown event) or holds bad data.
// Anything else (the server, the connection) fails the batch.
func badItem(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "23") || strings.HasPrefix(pgErr.Code, "22"))
}

// appendLockKeys appends the advisory lock ids of item's dedup key, groups
// and cooldown keys.
func appendLockKeys(keys []int64, item *store.Dispatch) []int64 {
	if e := item.Event; e != nil && e.DedupKey != "" {
		keys = append(keys, lockKey("dedup", e.DedupKey))
	}
	for _, r := range item.Runs {
		if r.Group != "" {
			keys = append(keys, lockKey("group", r.Group))
		}
		if r.HasCooldown() {
			keys = append(keys, lockKey("cooldown", r.CooldownKey))
		}
	}
	return keys
}

// storable makes the text of item that comes from outside (headers,
// rendered keys) storable, before its keys are locked.
func storable(item *store.Dispatch) {
	for _, r := range item.Runs {
		r.Group, r.CooldownKey = text(r.Group), text(r.CooldownKey)
	}
	if e := item.Event; e != nil {
		for _, f := range []*string{&e.Trigger, &e.Provider, &e.Path, &e.Type, &e.Delivery, &e.DedupKey} {
			*f = text(*f)
		}
	}
}

// dispatchTx is the store.BatchTx of one Dispatch attempt. It reads at once,
// and sends an item's writes in one round trip at EndItem.
type dispatchTx struct {
	ctx   context.Context
	tx    pgx.Tx
	batch *pgx.Batch // the item's writes
}

var _ store.BatchTx = (*dispatchTx)(nil)

// DedupEvent implements store.BatchTx.
func (d *dispatchTx) DedupEvent(key string, now time.Time) (string, error) {
	var id string
	err := d.tx.QueryRow(d.ctx, `SELECT event_id FROM dedup_keys WHERE key = $1 AND expires_at > $2`,
		key, now).Scan(&id)
	if errNoRows(err) {
		return "", nil
	}
	return id, err
}

// Event implements store.BatchTx.
func (d *dispatchTx) Event(id string) (*store.Event, error) {
	return store.ScanEvent(d.tx.QueryRow(d.ctx, `SELECT `+store.EventColumns+` FROM events WHERE id = $1`, id))
}

// EventRuns implements store.BatchTx.
func (d *dispatchTx) EventRuns(id string) ([]*store.Run, error) {
	return store.QueryRuns(d.ctx, querier{d.tx}, `SELECT `+store.RunColumns+` FROM runs WHERE event_id = $1 ORDER BY seq`, id)
}

// QueuedRuns implements store.BatchTx.
func (d *dispatchTx) QueuedRuns() (int, error) {
	var n int
	err := d.tx.QueryRow(d.ctx, `SELECT count(*) FROM runs WHERE status = 'queued'`).Scan(&n)
	return n, err
}

// LastCooldowns implements store.BatchTx, in one query.
func (d *dispatchTx) LastCooldowns(keys []string) (map[string]time.Time, error) {
	rows, err := d.tx.Query(d.ctx, `SELECT key, last_at FROM cooldowns WHERE key = ANY($1)`, keys)
	if err != nil {
		return nil, err
	}
	last := make(map[string]time.Time)
	var key string
	var at time.Time
	_, err = pgx.ForEachRow(rows, []any{&key, &at}, func() error { last[key] = at; return nil })
	return last, err
}

// BeginItem implements store.BatchTx: it starts the item's batch of writes.
func (d *dispatchTx) BeginItem() error {
	d.batch = &pgx.Batch{}
	return nil
}

// EndItem implements store.BatchTx: it sends the item's writes, unless ok is
// false. A write that fails aborts the transaction, which the caller then
// rolls back.
func (d *dispatchTx) EndItem(ok bool) error {
	b := d.batch
	d.batch = nil
	if !ok {
		return nil
	}
	if err := d.tx.SendBatch(d.ctx, b).Close(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// InsertEvent implements store.BatchTx.
func (d *dispatchTx) InsertEvent(e *store.Event) error {
	values, err := store.EventValues(e, timeArg)
	if err != nil {
		return err
	}
	d.batch.Queue(`INSERT INTO events (`+store.EventColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		values...)
	return nil
}

// PutDedupKey implements store.BatchTx.
func (d *dispatchTx) PutDedupKey(key, eventID string, expires time.Time) error {
	d.batch.Queue(`INSERT INTO dedup_keys (key, event_id, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET event_id = excluded.event_id, expires_at = excluded.expires_at`,
		key, eventID, expires)
	return nil
}

// PutCooldown implements store.BatchTx.
func (d *dispatchTx) PutCooldown(key, runID string, at, expires time.Time) error {
	d.batch.Queue(`INSERT INTO cooldowns (key, run_id, last_at, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (key) DO UPDATE SET run_id = excluded.run_id, last_at = excluded.last_at,
			expires_at = greatest(cooldowns.expires_at, excluded.expires_at)`,
		key, runID, at, expires)
	return nil
}

// InsertRun implements store.BatchTx.
func (d *dispatchTx) InsertRun(r *store.Run) error {
	d.batch.Queue(`INSERT INTO runs (`+store.RunInsertColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) RETURNING seq`,
		store.RunValues(r, timeArg)...,
	).QueryRow(func(row pgx.Row) error { return row.Scan(&r.Seq) })
	return nil
}

// CancelRunning implements store.BatchTx. The node that executes the runs
// hears of it when the transaction commits.
func (d *dispatchTx) CancelRunning(group, reason string, found func(id string)) error {
	d.batch.Queue(`WITH c AS (UPDATE runs SET cancel_requested = true, reason = $1
			WHERE grp = $2 AND status = 'running' AND grp <> '' AND NOT cancel_requested
			RETURNING id)
		SELECT id, pg_notify($3, id) FROM c`, reason, group, cancelChannel,
	).Query(func(rows pgx.Rows) error {
		var id string
		_, err := pgx.ForEachRow(rows, []any{&id, nil}, func() error { found(id); return nil })
		return err
	})
	return nil
}

// Supersede implements store.BatchTx. A queued run that a concurrent Claim
// holds is waited for, then seen running, and left alone: as if the claim had
// come first.
func (d *dispatchTx) Supersede(r *store.Run, reason string, at time.Time, found func(id string)) error {
	d.batch.Queue(`UPDATE runs SET status = 'skipped', reason = $1, finished_at = $2
		WHERE grp = $3 AND status = 'queued' AND grp <> ''
			AND seq < (SELECT seq FROM runs WHERE id = $4)
		RETURNING id`, reason, at, r.Group, r.ID,
	).Query(func(rows pgx.Rows) error {
		var id string
		_, err := pgx.ForEachRow(rows, []any{&id}, func() error { found(id); return nil })
		return err
	})
	return nil
}
