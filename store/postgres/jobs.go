package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/store"
)

// upsertJob stores a job of JobInsertColumns, replacing the one with its key.
const upsertJob = `INSERT INTO jobs (` + store.JobInsertColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
	ON CONFLICT (run_id, key) DO UPDATE SET ` + store.JobUpsert

// SaveJobs writes jobs of run runID in one transaction, its statements sent
// in one round trip: the keys in remove are deleted first, then each job
// replaces the stored one with its key or is added (Jobs is store.Reads's).
func (s *Store) SaveJobs(ctx context.Context, runID string, jobs []*store.Job, remove []string) error {
	if err := store.CheckJobs(runID, jobs); err != nil {
		return err
	}
	if len(jobs) == 0 && len(remove) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT count(*) FROM runs WHERE id = $1`, runID)
	for _, key := range remove {
		b.Queue(`DELETE FROM jobs WHERE run_id = $1 AND key = $2`, runID, text(key))
	}
	for _, j := range jobs {
		storable := *j
		storable.Key, storable.Name, storable.Reason, storable.Runner = text(j.Key), text(j.Name), text(j.Reason), text(j.Runner)
		values, err := store.JobValues(runID, &storable, timeArg)
		if err != nil {
			return fmt.Errorf("save jobs of %s: %w", runID, err)
		}
		b.Queue(upsertJob, values...)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("save jobs of %s: %w", runID, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // a no-op once committed
	if err := sendJobs(ctx, tx, b, runID); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("save jobs of %s: commit: %w", runID, err)
	}
	return nil
}

// sendJobs sends SaveJobs's batch b in tx: first whether run runID exists,
// then its writes.
func sendJobs(ctx context.Context, tx pgx.Tx, b *pgx.Batch, runID string) (err error) {
	results := tx.SendBatch(ctx, b)
	defer func() {
		if cerr := results.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("save jobs of %s: %w", runID, cerr)
		}
	}()
	var n int
	if err := results.QueryRow().Scan(&n); err != nil {
		return fmt.Errorf("save jobs of %s: %w", runID, err)
	}
	if n == 0 {
		return fmt.Errorf("save jobs of %s: %w", runID, store.ErrNotFound)
	}
	for range b.Len() - 1 {
		if _, err := results.Exec(); err != nil {
			return fmt.Errorf("save jobs of %s: %w", runID, err)
		}
	}
	return nil
}

// UpdateJobSteps records job key's step results, a progress write (see
// progress); an empty sandbox keeps the one recorded before.
func (s *Store) UpdateJobSteps(ctx context.Context, runID, key string, steps json.RawMessage, sandbox string) error {
	err := s.progress(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE jobs
			SET steps = $1, sandbox = CASE WHEN $2::text = '' THEN sandbox ELSE $2::text END
			WHERE run_id = $3 AND key = $4`, store.NullBytes(steps), sandbox, runID, text(key))
		if err == nil && tag.RowsAffected() == 0 {
			err = store.ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("update steps of job %s of %s: %w", key, runID, err)
	}
	return nil
}

// StartJob starts a queued job holding group, unless a running job of a
// running run holds it. A transaction-scoped advisory lock on the group
// makes the check and the update one step across nodes: without it, two
// nodes could each find the group free and both take it.
func (s *Store) StartJob(ctx context.Context, runID, key, group, runner string, now time.Time) (bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("start job %s of %s: %w", key, runID, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // a no-op once committed
	group = text(group)
	if group != "" {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey("job group", group)); err != nil {
			return false, fmt.Errorf("start job %s of %s: %w", key, runID, err)
		}
	}
	tag, err := tx.Exec(ctx, `UPDATE jobs SET status = 'running', grp = $1, runner = $2, started_at = $3, reason = ''
		WHERE run_id = $4 AND key = $5 AND status = 'queued' AND ($1 = '' OR NOT `+store.JobGroupHeld("$1")+`)`,
		group, text(runner), ms(now), runID, text(key))
	if err != nil {
		return false, fmt.Errorf("start job %s of %s: %w", key, runID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("start job %s of %s: commit: %w", key, runID, err)
	}
	return tag.RowsAffected() == 1, nil
}
