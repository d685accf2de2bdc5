package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/store"
)

// runColumns are the columns scanRun reads, in its order.
const runColumns = `seq, id, workflow, revision, event_id, item, attempt, rerun_of,
	grp, cancel_in_progress, pending_latest, cooldown_key, cooldown_ms, on_interrupt,
	status, reason, queued_at, started_at, finished_at, node, lease_until,
	cancel_requested, sandbox, steps`

// eventColumns are the columns scanEvent reads, in its order.
const eventColumns = `id, trigger, provider, path, type, delivery, dedup_key, received_at, data, verdicts`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// scanRun reads a row of runColumns.
func scanRun(sc scanner) (*store.Run, error) {
	var (
		r                             store.Run
		item, steps                   []byte
		cooldown, queued              int64
		started, finished, leaseUntil sql.NullInt64
	)
	err := sc.Scan(&r.Seq, &r.ID, &r.Workflow, &r.Revision, &r.EventID, &item, &r.Attempt, &r.RerunOf,
		&r.Group, &r.CancelInProgress, &r.PendingLatest, &r.CooldownKey, &cooldown, &r.OnInterrupt,
		&r.Status, &r.Reason, &queued, &started, &finished, &r.Node, &leaseUntil,
		&r.CancelRequested, &r.Sandbox, &steps)
	if err != nil {
		return nil, err
	}
	r.Item, r.Steps = item, steps
	r.CooldownPeriod = time.Duration(cooldown) * time.Millisecond
	r.QueuedAt = fromMillis(queued)
	r.StartedAt, r.FinishedAt, r.LeaseUntil = fromNull(started), fromNull(finished), fromNull(leaseUntil)
	return &r, nil
}

// collectRuns reads every row of rows as a run and closes rows.
func collectRuns(rows *sql.Rows) ([]*store.Run, error) {
	defer rows.Close()
	var runs []*store.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	return runs, rows.Err()
}

// scanEvent reads a row of eventColumns.
func scanEvent(sc scanner) (*store.Event, error) {
	var (
		e              store.Event
		received       int64
		data, verdicts []byte
	)
	err := sc.Scan(&e.ID, &e.Trigger, &e.Provider, &e.Path, &e.Type, &e.Delivery, &e.DedupKey,
		&received, &data, &verdicts)
	if err != nil {
		return nil, err
	}
	e.ReceivedAt = fromMillis(received)
	e.Data = data
	if len(verdicts) > 0 {
		if err := json.Unmarshal(verdicts, &e.Verdicts); err != nil {
			return nil, fmt.Errorf("event %s: verdicts: %w", e.ID, err)
		}
	}
	return &e, nil
}

// millis is t as unix milliseconds, the unit every time column uses.
func millis(t time.Time) int64 { return t.UnixMilli() }

// nullMillis is millis(t), or NULL for the zero time.
func nullMillis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// fromMillis is the UTC time of unix milliseconds ms.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// fromNull is fromMillis, or the zero time for NULL.
func fromNull(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return fromMillis(ms.Int64)
}

// blob is b for a BLOB column: NULL when empty, so that "no value" reads back
// as nil.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// truncate drops t's precision below a millisecond, and its location, so
// that a time computed in Go equals the same time read back from a column.
func truncate(t time.Time) time.Time { return fromMillis(millis(t)) }
