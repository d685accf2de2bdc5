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

// claimQuery picks and marks the oldest runnable run in one statement, so the
// choice and the claim are one write transaction. A group's runs are ordered
// by seq; a requeued run keeps its seq and so its place.
//
// The contract's other rule, "a run waits for an older queued run of its
// group", needs no test here: when the group has no running run, its oldest
// queued run is itself runnable and comes first in seq order. (A backend that
// skips rows locked by a concurrent claim cannot rely on that.)
const claimQuery = `UPDATE runs
	SET status = 'running', node = :node, started_at = :now, lease_until = :until,
		reason = '', cancel_requested = 0
	WHERE seq = (
		SELECT r.seq FROM runs r
		WHERE r.status = 'queued'
			AND (r.grp = '' OR NOT EXISTS (SELECT 1 FROM runs o
				WHERE o.grp = r.grp AND o.grp <> '' AND o.status = 'running'))
		ORDER BY r.seq
		LIMIT 1)
	RETURNING ` + store.RunColumns

// Claim marks the oldest runnable queued run running on node.
func (s *Store) Claim(ctx context.Context, node string, lease time.Duration, now time.Time) (*store.Run, error) {
	rows, err := s.stmts.claim.QueryContext(ctx, sql.Named("node", node),
		sql.Named("now", millis(now)), sql.Named("until", millis(now.Add(lease))))
	if err != nil {
		return store.Claimed(nil, err)
	}
	defer rows.Close()
	return store.Claimed(store.CollectRuns(rows))
}

// Renew extends the leases of node's running runs among ids.
func (s *Store) Renew(ctx context.Context, node string, ids []string, until time.Time) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("renew: %w", err)
	}
	var cancel []string
	err = querier{s.write}.Query(ctx, `UPDATE runs SET lease_until = :until
		WHERE node = :node AND status = 'running' AND id IN (SELECT value FROM json_each(:ids))
		RETURNING id, cancel_requested`,
		[]any{sql.Named("until", millis(until)), sql.Named("node", node), sql.Named("ids", string(list))},
		store.CancelRequested(&cancel))
	if err != nil {
		return nil, fmt.Errorf("renew: %w", err)
	}
	return cancel, nil
}

// updateStepsQuery records a running run's step results; an empty sandbox
// keeps the one recorded before.
const updateStepsQuery = `UPDATE runs
	SET steps = :steps, sandbox = CASE WHEN :sandbox = '' THEN sandbox ELSE :sandbox END
	WHERE id = :id AND status = 'running'`

// UpdateSteps records a running run's step results, a progress write (see
// progress).
func (s *Store) UpdateSteps(ctx context.Context, id string, steps json.RawMessage, sandbox string) error {
	var n int64
	err := s.progress(ctx, func(tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.stmts.runSteps).ExecContext(ctx,
			sql.Named("steps", store.NullBytes(steps)), sql.Named("sandbox", sandbox), sql.Named("id", id))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("update steps of %s: %w", id, err)
	}
	if n == 0 {
		return s.whyNot(ctx, "update steps of", id, nil)
	}
	return nil
}

// finishQuery records a run's final status; empty steps and sandbox keep
// what UpdateSteps recorded.
const finishQuery = `UPDATE runs
	SET status = :status, reason = :reason, finished_at = :finished, lease_until = NULL,
		steps = coalesce(:steps, steps),
		sandbox = CASE WHEN :sandbox = '' THEN sandbox ELSE :sandbox END
	WHERE id = :id AND node = :node AND status = 'running'`

// Finish records run's final status, steps and sandbox. A zero FinishedAt
// means now; empty Steps and Sandbox keep what UpdateSteps recorded. Its
// commit is fsynced under durability sync, and with it every progress write
// before it.
func (s *Store) Finish(ctx context.Context, node string, run *store.Run) error {
	finished, err := store.CheckFinish(run, s.now)
	if err != nil {
		return err
	}
	res, err := s.stmts.finish.ExecContext(ctx,
		sql.Named("status", run.Status), sql.Named("reason", run.Reason),
		sql.Named("finished", millis(finished)), sql.Named("steps", store.NullBytes(run.Steps)),
		sql.Named("sandbox", run.Sandbox), sql.Named("id", run.ID), sql.Named("node", node))
	if err != nil {
		return fmt.Errorf("finish %s: %w", run.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return s.whyNot(ctx, "finish", run.ID, err)
	}
	return nil
}

// Cancel skips a queued run, and its unfinished jobs, or asks a running one
// to stop. (SET expressions all see the row as it was.)
func (s *Store) Cancel(ctx context.Context, id, reason string) (*store.Run, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("cancel %s: %w", id, err)
	}
	defer tx.Rollback() // a no-op once committed
	now := millis(s.now())
	r, err := store.ScanRun(tx.QueryRowContext(ctx, `UPDATE runs SET
			status = CASE status WHEN 'queued' THEN 'skipped' ELSE status END,
			reason = CASE
				WHEN status = 'queued' THEN 'cancelled before start'
				WHEN cancel_requested = 0 THEN :reason
				ELSE reason END,
			finished_at = CASE status WHEN 'queued' THEN :now ELSE finished_at END,
			cancel_requested = CASE status WHEN 'running' THEN 1 ELSE cancel_requested END
		WHERE id = :id AND status IN ('queued', 'running')
		RETURNING `+store.RunColumns,
		sql.Named("now", now), sql.Named("reason", reason), sql.Named("id", id)))
	if errors.Is(err, sql.ErrNoRows) {
		tx.Rollback() // whyNot reads on the one write connection, which tx holds
		return nil, s.whyNot(ctx, "cancel", id, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("cancel %s: %w", id, err)
	}
	if r.Status == workflows.StatusSkipped {
		// A requeued run may hold jobs that were running when its node died.
		_, err = tx.ExecContext(ctx, `UPDATE jobs SET `+store.EndUnfinishedJobs(":now")+`
			WHERE run_id = :id AND status IN ('queued', 'running')`, sql.Named("now", now), sql.Named("id", id))
		if err != nil {
			return nil, fmt.Errorf("cancel %s: jobs: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("cancel %s: commit: %w", id, err)
	}
	return r, nil
}

// Recover ends the runs whose node is gone. A run that has jobs is requeued
// whatever its on_interrupt; one that was asked to cancel is not: it fails
// as interrupted, and its unfinished jobs end with it.
func (s *Store) Recover(ctx context.Context, node string, now time.Time) ([]*store.Run, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	defer tx.Rollback() // a no-op once committed
	// SET expressions all see the row as it was, so requeue is decided once
	// per row from the old cancel_requested.
	const requeue = `(cancel_requested = 0 AND (on_interrupt = 'requeue'
		OR EXISTS (SELECT 1 FROM jobs WHERE jobs.run_id = runs.id)))`
	runs, err := store.QueryRuns(ctx, querier{tx}, `UPDATE runs SET
			status = CASE WHEN `+requeue+` THEN 'queued' ELSE 'failed' END,
			reason = 'interrupted',
			node = CASE WHEN `+requeue+` THEN '' ELSE node END,
			started_at = CASE WHEN `+requeue+` THEN NULL ELSE started_at END,
			finished_at = CASE WHEN `+requeue+` THEN NULL ELSE :now END,
			lease_until = NULL
		WHERE status = 'running' AND (node = :node OR lease_until < :now)
		RETURNING `+store.RunColumns,
		sql.Named("now", millis(now)), sql.Named("node", node))
	if err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	if failed := store.RecoveredFailed(runs); len(failed) > 0 {
		list, err := json.Marshal(failed)
		if err != nil {
			return nil, fmt.Errorf("recover: %w", err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE jobs SET `+store.EndUnfinishedJobs(":now")+`
			WHERE run_id IN (SELECT value FROM json_each(:ids)) AND status IN ('queued', 'running')`,
			sql.Named("now", millis(now)), sql.Named("ids", string(list)))
		if err != nil {
			return nil, fmt.Errorf("recover: jobs: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("recover: commit: %w", err)
	}
	return runs, nil
}

// whyNot explains why a change to run id matched no row: err, or what
// store.NotChanged makes of the run as it is now.
func (s *Store) whyNot(ctx context.Context, op, id string, err error) error {
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, id, err)
	}
	var status, node string
	err = s.write.QueryRowContext(ctx, `SELECT status, node FROM runs WHERE id = ?`, id).Scan(&status, &node)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	return store.NotChanged(op, id, status, node, err)
}
