package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
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
// The queue limit is read from committed runs: dispatches on several nodes at
// the same moment may together overshoot it by their own sizes.
func (s *Store) Dispatch(ctx context.Context, batch []*store.Dispatch, maxQueued int, now time.Time) error {
	if len(batch) == 0 {
		return nil
	}
	failed := make([]error, len(batch))
	given := make([][]*store.Run, len(batch)) // a duplicate's Runs are replaced
	var keys []int64
	for i, item := range batch {
		given[i] = item.Runs
		if failed[i] = validate(item); failed[i] == nil {
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
		bad, err := s.dispatch(ctx, batch, failed, keys, maxQueued, ms(now))
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
	d := &dispatcher{ctx: ctx, tx: tx, now: now, maxQueued: maxQueued, depth: -1,
		byID: make(map[string]*store.Run)}
	for i, item := range batch {
		item.Duplicate, item.Err, item.CancelRequested = nil, nil, nil
		if failed[i] != nil {
			item.Err = fmt.Errorf("dispatch %s: %w", eventID(item), failed[i])
			continue
		}
		err := d.item(item)
		switch {
		case err == nil:
		case errors.Is(err, store.ErrQueueFull): // refused before writing anything
			item.Err = fmt.Errorf("dispatch %s: %w", eventID(item), err)
		case badItem(err) && ctx.Err() == nil:
			return i, err
		default:
			return -1, fmt.Errorf("dispatch: %w", err)
		}
	}
	if d.queued > 0 {
		// Delivered to the listeners when the transaction commits.
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, notifyChannel); err != nil {
			return -1, fmt.Errorf("dispatch: notify: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return -1, fmt.Errorf("dispatch: commit: %w", err)
	}
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
		if r.CooldownKey != "" && r.CooldownPeriod > 0 {
			keys = append(keys, lockKey("cooldown", r.CooldownKey))
		}
	}
	return keys
}

// dispatcher is one Dispatch transaction in progress.
type dispatcher struct {
	ctx       context.Context
	tx        pgx.Tx
	now       time.Time
	maxQueued int
	depth     int                   // queued runs, counted when first needed
	queued    int                   // runs this transaction queued
	byID      map[string]*store.Run // this batch's stored runs, to mirror supersedes
}

// item stores one dispatch: its reads first, then its writes in one round
// trip.
func (d *dispatcher) item(item *store.Dispatch) error {
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
	if err := d.cooldowns(item.Runs); err != nil {
		return err
	}
	superseded, err := d.store(item)
	if err != nil {
		return err
	}
	for _, r := range item.Runs {
		d.byID[r.ID] = r
		if r.Status == "queued" {
			d.queued++
		}
	}
	for id, reason := range superseded {
		if r := d.byID[id]; r != nil {
			r.Status, r.Reason, r.FinishedAt = "skipped", reason, d.now
		}
	}
	if d.depth >= 0 {
		d.depth += countQueued(item.Runs) - len(superseded)
	}
	return nil
}

// countQueued counts the runs that are queued.
func countQueued(runs []*store.Run) int {
	n := 0
	for _, r := range runs {
		if r.Status == "queued" {
			n++
		}
	}
	return n
}

// eventID is item's event id, for messages.
func eventID(item *store.Dispatch) string {
	if item.Event == nil {
		return "(no event)"
	}
	return item.Event.ID
}

// validate checks what the store relies on, fills in defaults, and makes the
// text that comes from outside (headers, rendered keys) storable.
func validate(item *store.Dispatch) error {
	for _, r := range item.Runs {
		r.Group, r.CooldownKey = text(r.Group), text(r.CooldownKey)
	}
	if item.Event == nil {
		// Runs for existing events (reruns).
		for _, r := range item.Runs {
			if r.ID == "" || r.Workflow == "" || r.EventID == "" {
				return workflows.Errorf(workflows.EInvalid, "a run for an existing event needs an id, a workflow and an event id")
			}
		}
		return nil
	}
	e := item.Event
	if e.ID == "" {
		return workflows.Errorf(workflows.EInvalid, "an event with an id is required")
	}
	for _, f := range []*string{&e.Trigger, &e.Provider, &e.Path, &e.Type, &e.Delivery, &e.DedupKey} {
		*f = text(*f)
	}
	for _, r := range item.Runs {
		if r.ID == "" || r.Workflow == "" {
			return workflows.Errorf(workflows.EInvalid, "event %s: a run needs an id and a workflow", e.ID)
		}
		if r.EventID == "" {
			r.EventID = e.ID
		}
		if r.EventID != e.ID {
			return workflows.Errorf(workflows.EInvalid, "run %s: event id %s, want %s", r.ID, r.EventID, e.ID)
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
	err := d.tx.QueryRow(d.ctx, `SELECT event_id FROM dedup_keys WHERE key = $1 AND expires_at > $2`,
		key, d.now).Scan(&id)
	if errNoRows(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("dedup key: %w", err)
	}
	e, err := scanEvent(d.tx.QueryRow(d.ctx, `SELECT `+eventColumns+` FROM events WHERE id = $1`, id))
	if err != nil {
		return nil, nil, fmt.Errorf("duplicate of %s: %w", id, err)
	}
	runs, err := collectRuns(d.tx.Query(d.ctx, `SELECT `+runColumns+` FROM runs WHERE event_id = $1 ORDER BY seq`, id))
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
		if err := d.tx.QueryRow(d.ctx, `SELECT count(*) FROM runs WHERE status = 'queued'`).Scan(&d.depth); err != nil {
			return fmt.Errorf("queue depth: %w", err)
		}
	}
	if d.depth+n > d.maxQueued {
		return fmt.Errorf("%d queued, limit %d: %w", d.depth, d.maxQueued, store.ErrQueueFull)
	}
	return nil
}

// cooldowns sets the status of runs: skipped when a run with its cooldown
// key was queued within its period, queued otherwise (and then the key's
// clock restarts, for the runs after it too). Cooldowns are decided at
// dispatch time, so "ran" means "was queued".
func (d *dispatcher) cooldowns(runs []*store.Run) error {
	var keys []string
	for _, r := range runs {
		r.Status, r.Reason, r.FinishedAt = "queued", "", time.Time{}
		if r.CooldownKey != "" && r.CooldownPeriod > 0 {
			keys = append(keys, r.CooldownKey)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	rows, err := d.tx.Query(d.ctx, `SELECT key, last_at FROM cooldowns WHERE key = ANY($1)`, keys)
	if err != nil {
		return fmt.Errorf("cooldown: %w", err)
	}
	last := make(map[string]time.Time)
	var key string
	var at time.Time
	if _, err := pgx.ForEachRow(rows, []any{&key, &at}, func() error { last[key] = at; return nil }); err != nil {
		return fmt.Errorf("cooldown: %w", err)
	}
	for _, r := range runs {
		if r.CooldownKey == "" || r.CooldownPeriod <= 0 {
			continue
		}
		if at, ok := last[r.CooldownKey]; ok {
			if ago := d.now.Sub(at); ago < r.CooldownPeriod {
				r.Status, r.FinishedAt = "skipped", d.now
				r.Reason = fmt.Sprintf("cooldown: key %s ran %s ago", r.CooldownKey, ago)
				continue
			}
		}
		last[r.CooldownKey] = d.now
	}
	return nil
}

// store writes the event, its dedup key and its runs with the statuses
// cooldowns gave them, and applies the queued runs' group policies, in one
// round trip. It sets the runs' Seq, and returns the reasons of the runs it
// superseded by their ids.
func (d *dispatcher) store(item *store.Dispatch) (superseded map[string]string, err error) {
	b := &pgx.Batch{}
	if e := item.Event; e != nil {
		if e.ReceivedAt.IsZero() {
			e.ReceivedAt = d.now
		}
		verdicts, err := json.Marshal(e.Verdicts)
		if err != nil {
			return nil, fmt.Errorf("verdicts: %w", err)
		}
		b.Queue(`INSERT INTO events (`+eventColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			e.ID, e.Trigger, e.Provider, e.Path, e.Type, e.Delivery, e.DedupKey, ms(e.ReceivedAt), blob(e.Data), verdicts)
		if e.DedupKey != "" {
			b.Queue(`INSERT INTO dedup_keys (key, event_id, expires_at) VALUES ($1, $2, $3)
				ON CONFLICT (key) DO UPDATE SET event_id = excluded.event_id, expires_at = excluded.expires_at`,
				e.DedupKey, e.ID, d.now.Add(item.DedupWindow))
		}
	}
	for _, r := range item.Runs {
		queued := r.Status == "queued"
		if queued && r.CooldownKey != "" && r.CooldownPeriod > 0 {
			b.Queue(`INSERT INTO cooldowns (key, run_id, last_at, expires_at) VALUES ($1, $2, $3, $4)
				ON CONFLICT (key) DO UPDATE SET run_id = excluded.run_id, last_at = excluded.last_at,
					expires_at = greatest(cooldowns.expires_at, excluded.expires_at)`,
				r.CooldownKey, r.ID, d.now, d.now.Add(r.CooldownPeriod))
		}
		if r.QueuedAt.IsZero() {
			r.QueuedAt = d.now
		}
		b.Queue(`INSERT INTO runs (id, workflow, revision, event_id, item, attempt, rerun_of,
				grp, cancel_in_progress, pending_latest, cooldown_key, cooldown_ms, on_interrupt,
				status, reason, queued_at, finished_at, steps)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING seq`,
			r.ID, r.Workflow, r.Revision, r.EventID, blob(r.Item), r.Attempt, r.RerunOf,
			r.Group, r.CancelInProgress, r.PendingLatest, r.CooldownKey, r.CooldownPeriod.Milliseconds(), r.OnInterrupt,
			r.Status, r.Reason, ms(r.QueuedAt), nullTime(r.FinishedAt), blob(r.Steps),
		).QueryRow(func(row pgx.Row) error { return row.Scan(&r.Seq) })
		if !queued || r.Group == "" {
			continue
		}
		if r.CancelInProgress {
			// The node that executes them hears of it when this commits.
			b.Queue(`WITH c AS (UPDATE runs SET cancel_requested = true, reason = $1
					WHERE grp = $2 AND status = 'running' AND grp <> '' AND NOT cancel_requested
					RETURNING id)
				SELECT id, pg_notify($3, id) FROM c`, store.CancelInProgressReason(r.ID), r.Group, cancelChannel,
			).Query(func(rows pgx.Rows) error {
				var id string
				_, err := pgx.ForEachRow(rows, []any{&id, nil}, func() error {
					item.CancelRequested = append(item.CancelRequested, id)
					return nil
				})
				return err
			})
		}
		if r.PendingLatest {
			// A queued run that a concurrent Claim holds is waited for, then
			// seen running, and left alone: as if the claim had come first.
			reason := "superseded by run " + r.ID
			b.Queue(`UPDATE runs SET status = 'skipped', reason = $1, finished_at = $2
				WHERE grp = $3 AND status = 'queued' AND grp <> ''
					AND seq < (SELECT seq FROM runs WHERE id = $4)
				RETURNING id`, reason, d.now, r.Group, r.ID,
			).Query(func(rows pgx.Rows) error {
				ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
				for _, id := range ids {
					if superseded == nil {
						superseded = make(map[string]string)
					}
					superseded[id] = reason
				}
				return err
			})
		}
	}
	if err := d.tx.SendBatch(d.ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return superseded, nil
}
