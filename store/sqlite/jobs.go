package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/store"
)

// SaveJobs writes jobs of run runID in one transaction: the keys in remove
// are deleted first, then each job replaces the stored one with its key or
// is added (Jobs is store.Reads's).
func (s *Store) SaveJobs(ctx context.Context, runID string, jobs []*store.Job, remove []string) error {
	if err := store.CheckJobs(runID, jobs); err != nil {
		return err
	}
	if len(jobs) == 0 && len(remove) == 0 {
		return nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save jobs of %s: %w", runID, err)
	}
	defer tx.Rollback() // a no-op once committed
	var n int
	if err := tx.StmtContext(ctx, s.stmts.runExists).QueryRowContext(ctx, runID).Scan(&n); err != nil {
		return fmt.Errorf("save jobs of %s: %w", runID, err)
	}
	if n == 0 {
		return fmt.Errorf("save jobs of %s: %w", runID, store.ErrNotFound)
	}
	del := tx.StmtContext(ctx, s.stmts.deleteJob)
	for _, key := range remove {
		if _, err := del.ExecContext(ctx, runID, key); err != nil {
			return fmt.Errorf("save jobs of %s: remove %s: %w", runID, key, err)
		}
	}
	upsert := tx.StmtContext(ctx, s.stmts.upsertJob)
	for _, j := range jobs {
		values, err := store.JobValues(runID, j, timeArg)
		if err != nil {
			return fmt.Errorf("save jobs of %s: %w", runID, err)
		}
		if _, err := upsert.ExecContext(ctx, values...); err != nil {
			return fmt.Errorf("save jobs of %s: job %s: %w", runID, j.Key, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save jobs of %s: commit: %w", runID, err)
	}
	return nil
}

// UpdateJobSteps records job key's step results, a progress write (see
// progress); an empty sandbox keeps the one recorded before.
func (s *Store) UpdateJobSteps(ctx context.Context, runID, key string, steps json.RawMessage, sandbox string) error {
	err := s.progress(ctx, func(tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, s.stmts.jobSteps).ExecContext(ctx, sql.Named("steps", store.NullBytes(steps)),
			sql.Named("sandbox", sandbox), sql.Named("run", runID), sql.Named("key", key))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		return store.ErrNotFound
	})
	if err != nil {
		return fmt.Errorf("update steps of job %s of %s: %w", key, runID, err)
	}
	return nil
}

// StartJob starts a queued job holding group, unless a running job of a
// running run holds it. The store's one writer makes the check and the
// update one step.
func (s *Store) StartJob(ctx context.Context, runID, key, group, runner string, now time.Time) (bool, error) {
	res, err := s.write.ExecContext(ctx, `UPDATE jobs SET status = 'running', grp = :grp, runner = :runner,
			started_at = :now, reason = ''
		WHERE run_id = :run AND key = :key AND status = 'queued' AND (:grp = '' OR NOT `+store.JobGroupHeld(":grp")+`)`,
		sql.Named("grp", group), sql.Named("runner", runner), sql.Named("now", millis(now)),
		sql.Named("run", runID), sql.Named("key", key))
	if err != nil {
		return false, fmt.Errorf("start job %s of %s: %w", key, runID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("start job %s of %s: %w", key, runID, err)
	}
	return n == 1, nil
}
