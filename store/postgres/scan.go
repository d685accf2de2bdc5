package postgres

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/store"
)

// runColumns are the columns scanRun reads, in its order.
const runColumns = `seq, id, workflow, revision, event_id, item, attempt, rerun_of,
	grp, cancel_in_progress, pending_latest, cooldown_key, cooldown_ms, on_interrupt,
	status, reason, queued_at, started_at, finished_at, node, lease_until,
	cancel_requested, sandbox, steps`

// eventColumns are the columns scanEvent reads, in its order.
const eventColumns = `id, trigger, provider, path, type, delivery, dedup_key, received_at, data, verdicts`

// scanRun reads a row of runColumns.
func scanRun(row pgx.Row) (*store.Run, error) {
	var (
		r                             store.Run
		cooldown                      int64
		queued                        time.Time
		started, finished, leaseUntil *time.Time
	)
	err := row.Scan(&r.Seq, &r.ID, &r.Workflow, &r.Revision, &r.EventID, &r.Item, &r.Attempt, &r.RerunOf,
		&r.Group, &r.CancelInProgress, &r.PendingLatest, &r.CooldownKey, &cooldown, &r.OnInterrupt,
		&r.Status, &r.Reason, &queued, &started, &finished, &r.Node, &leaseUntil,
		&r.CancelRequested, &r.Sandbox, &r.Steps)
	if err != nil {
		return nil, err
	}
	r.CooldownPeriod = time.Duration(cooldown) * time.Millisecond
	r.QueuedAt = queued.UTC()
	r.StartedAt, r.FinishedAt, r.LeaseUntil = fromNull(started), fromNull(finished), fromNull(leaseUntil)
	return &r, nil
}

// collectRuns reads every row of rows as a run and closes rows.
func collectRuns(rows pgx.Rows, err error) ([]*store.Run, error) {
	if err != nil {
		return nil, err
	}
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
func scanEvent(row pgx.Row) (*store.Event, error) {
	var (
		e        store.Event
		verdicts []byte
	)
	err := row.Scan(&e.ID, &e.Trigger, &e.Provider, &e.Path, &e.Type, &e.Delivery, &e.DedupKey,
		&e.ReceivedAt, &e.Data, &verdicts)
	if err != nil {
		return nil, err
	}
	e.ReceivedAt = e.ReceivedAt.UTC()
	if len(verdicts) > 0 {
		if err := json.Unmarshal(verdicts, &e.Verdicts); err != nil {
			return nil, fmt.Errorf("event %s: verdicts: %w", e.ID, err)
		}
	}
	return &e, nil
}
