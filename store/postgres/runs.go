package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// claimQuery picks and marks the oldest runnable run in one statement. A
// group's runs are ordered by seq; a requeued run keeps its seq and so its
// place.
//
// SKIP LOCKED lets concurrent claimers pass over a run another one is taking
// instead of waiting for it. That is why both halves of the group rule are
// tested: a claimer that skipped a group's oldest run (being claimed
// elsewhere, not yet committed, so still queued in this statement's snapshot)
// must not take the group's next run; the older queued run forbids it. Once
// that claim commits, the group's running run forbids it. Dispatch keeps a
// group's seq order equal to its commit order, so no older run of a group can
// appear after a newer one was seen.
const claimQuery = `UPDATE runs
	SET status = 'running', node = $1, started_at = $2, lease_until = $3,
		reason = '', cancel_requested = false
	WHERE status = 'queued' AND seq = (
		SELECT r.seq FROM runs r
		WHERE r.status = 'queued'
			AND (r.grp = '' OR NOT EXISTS (SELECT 1 FROM runs o
				WHERE o.grp = r.grp AND o.grp <> ''
					AND (o.status = 'running' OR (o.status = 'queued' AND o.seq < r.seq))))
		ORDER BY r.seq
		LIMIT 1
		FOR UPDATE SKIP LOCKED)
	RETURNING ` + store.RunColumns

// Claim marks the oldest runnable queued run running on node.
func (s *Store) Claim(ctx context.Context, node string, lease time.Duration, now time.Time) (*store.Run, error) {
	now = ms(now)
	return store.Claimed(store.QueryRuns(ctx, querier{s.pool}, claimQuery, node, now, ms(now.Add(lease))))
}

// Renew extends the leases of node's running runs among ids.
func (s *Store) Renew(ctx context.Context, node string, ids []string, until time.Time) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var cancel []string
	err := querier{s.pool}.Query(ctx, `UPDATE runs SET lease_until = $1
		WHERE node = $2 AND status = 'running' AND id = ANY($3)
		RETURNING id, cancel_requested`, []any{ms(until), node, ids}, store.CancelRequested(&cancel))
	if err != nil {
		return nil, fmt.Errorf("renew: %w", err)
	}
	return cancel, nil
}

// UpdateSteps records a running run's step results, a progress write (see
// progress); an empty sandbox keeps the one recorded before.
func (s *Store) UpdateSteps(ctx context.Context, id string, steps json.RawMessage, sandbox string) error {
	var n int64
	err := s.progress(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE runs
			SET steps = $1, sandbox = CASE WHEN $2::text = '' THEN sandbox ELSE $2::text END
			WHERE id = $3 AND status = 'running'`, store.NullBytes(steps), sandbox, id)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("update steps of %s: %w", id, err)
	}
	if n == 0 {
		return s.whyNot(ctx, "update steps of", id)
	}
	return nil
}

// Finish records run's final status, steps and sandbox. A zero FinishedAt
// means now; empty Steps and Sandbox keep what UpdateSteps recorded. Finishing
// a run of a group wakes the other nodes: the group's next run may go.
func (s *Store) Finish(ctx context.Context, node string, run *store.Run) error {
	finished, err := store.CheckFinish(run, s.now)
	if err != nil {
		return err
	}
	var group string
	err = s.pool.QueryRow(ctx, `UPDATE runs SET status = $1, reason = $2, finished_at = $3, lease_until = NULL,
			steps = coalesce($4, steps),
			sandbox = CASE WHEN $5::text = '' THEN sandbox ELSE $5::text END
		WHERE id = $6 AND node = $7 AND status = 'running'
		RETURNING grp`,
		run.Status, text(run.Reason), ms(finished), store.NullBytes(run.Steps), run.Sandbox, run.ID, node).Scan(&group)
	if errNoRows(err) {
		return s.whyNot(ctx, "finish", run.ID)
	}
	if err != nil {
		return fmt.Errorf("finish %s: %w", run.ID, err)
	}
	if group != "" {
		s.notify(ctx)
	}
	return nil
}

// Cancel skips a queued run, and its unfinished jobs, or asks a running one
// to stop, and then tells the node that executes it, in the same transaction
// (CancelRequests). SET expressions all see the row as it was.
func (s *Store) Cancel(ctx context.Context, id, reason string) (*store.Run, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("cancel %s: %w", id, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // a no-op once committed
	now := ms(s.now())
	r, err := store.ScanRun(tx.QueryRow(ctx, `UPDATE runs SET
			status = CASE status WHEN 'queued' THEN 'skipped' ELSE status END,
			reason = CASE
				WHEN status = 'queued' THEN 'cancelled before start'
				WHEN NOT cancel_requested THEN $1
				ELSE reason END,
			finished_at = CASE status WHEN 'queued' THEN $2 ELSE finished_at END,
			cancel_requested = CASE status WHEN 'running' THEN true ELSE cancel_requested END
		WHERE id = $3 AND status IN ('queued', 'running')
		RETURNING `+store.RunColumns, text(reason), now, id))
	if errNoRows(err) {
		return nil, s.whyNot(ctx, "cancel", id)
	}
	if err != nil {
		return nil, fmt.Errorf("cancel %s: %w", id, err)
	}
	if r.Status == workflows.StatusSkipped {
		// A requeued run may hold jobs that were running when its node died.
		_, err = tx.Exec(ctx, `UPDATE jobs SET `+store.EndUnfinishedJobs("$1")+`
			WHERE run_id = $2 AND status IN ('queued', 'running')`, now, id)
		if err != nil {
			return nil, fmt.Errorf("cancel %s: jobs: %w", id, err)
		}
	}
	if r.Status == "running" {
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, cancelChannel, r.ID); err != nil {
			return nil, fmt.Errorf("cancel %s: notify: %w", id, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("cancel %s: commit: %w", id, err)
	}
	if r.Status == "skipped" && r.Group != "" { // the group's next run may go
		s.notify(ctx)
	}
	return r, nil
}

// Recover ends the runs whose node is gone. A run that has jobs is requeued
// whatever its on_interrupt; one that was asked to cancel is not: it fails
// as interrupted, and its unfinished jobs end with it. Several nodes may
// recover at once: the first to lock a run changes it, and the others, which
// waited for that lock, find it no longer running and leave it. Requeued runs
// wake every node.
func (s *Store) Recover(ctx context.Context, node string, now time.Time) ([]*store.Run, error) {
	now = ms(now)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // a no-op once committed
	// SET expressions all see the row as it was, so requeue is decided once
	// per row from the old cancel_requested.
	const requeue = `(NOT cancel_requested AND (on_interrupt = 'requeue'
		OR EXISTS (SELECT 1 FROM jobs WHERE jobs.run_id = runs.id)))`
	runs, err := store.QueryRuns(ctx, querier{tx}, `UPDATE runs SET
			status = CASE WHEN `+requeue+` THEN 'queued' ELSE 'failed' END,
			reason = 'interrupted',
			node = CASE WHEN `+requeue+` THEN '' ELSE node END,
			started_at = CASE WHEN `+requeue+` THEN NULL ELSE started_at END,
			finished_at = CASE WHEN `+requeue+` THEN NULL ELSE $1 END,
			lease_until = NULL
		WHERE status = 'running' AND (node = $2 OR lease_until < $1)
		RETURNING `+store.RunColumns, now, node)
	if err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	if failed := store.RecoveredFailed(runs); len(failed) > 0 {
		_, err := tx.Exec(ctx, `UPDATE jobs SET `+store.EndUnfinishedJobs("$1")+`
			WHERE run_id = ANY($2) AND status IN ('queued', 'running')`, now, failed)
		if err != nil {
			return nil, fmt.Errorf("recover: jobs: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("recover: commit: %w", err)
	}
	for _, r := range runs {
		if r.Status == "queued" {
			s.notify(ctx)
			break
		}
	}
	return runs, nil
}

// notify wakes the pools of every node. It is a hint: a node that misses it
// finds the work at its next poll, so a failure is not the caller's.
func (s *Store) notify(ctx context.Context) {
	s.pool.Exec(ctx, `SELECT pg_notify($1, '')`, notifyChannel)
}

// whyNot explains why a change to run id matched no row: what
// store.NotChanged makes of the run as it is now.
func (s *Store) whyNot(ctx context.Context, op, id string) error {
	var status, node string
	err := s.pool.QueryRow(ctx, `SELECT status, node FROM runs WHERE id = $1`, id).Scan(&status, &node)
	if errNoRows(err) {
		err = store.ErrNotFound
	}
	return store.NotChanged(op, id, status, node, err)
}
