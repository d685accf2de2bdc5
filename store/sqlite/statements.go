package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hookflow/hookflow/store"
)

// statements are the statements of the hot write paths (Dispatch,
// AppendLogs, Claim, the step records and Finish of every run, and the jobs'
// writes a run makes as it goes), prepared once on the write connection so
// that a write only binds and steps them.
type statements struct {
	insertEvent   *sql.Stmt
	insertRun     *sql.Stmt
	findDedup     *sql.Stmt
	putDedup      *sql.Stmt
	findCooldown  *sql.Stmt
	putCooldown   *sql.Stmt
	cancelRunning *sql.Stmt
	supersede     *sql.Stmt
	eventByID     *sql.Stmt
	runsByEvent   *sql.Stmt
	queueDepth    *sql.Stmt
	insertLog     *sql.Stmt
	runExists     *sql.Stmt
	upsertJob     *sql.Stmt
	deleteJob     *sql.Stmt
	jobSteps      *sql.Stmt
	claim         *sql.Stmt
	runSteps      *sql.Stmt
	finish        *sql.Stmt
}

// prepare prepares every statement on db.
func (st *statements) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&st.insertEvent, `INSERT INTO events (` + store.EventColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.insertRun, `INSERT INTO runs (` + store.RunInsertColumns + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`},
		{&st.findDedup, `SELECT event_id FROM dedup_keys WHERE key = ? AND expires_at > ?`},
		{&st.putDedup, `INSERT INTO dedup_keys (key, event_id, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET event_id = excluded.event_id, expires_at = excluded.expires_at`},
		{&st.findCooldown, `SELECT last_at FROM cooldowns WHERE key = ?`},
		{&st.putCooldown, `INSERT INTO cooldowns (key, run_id, last_at, expires_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET run_id = excluded.run_id, last_at = excluded.last_at,
				expires_at = max(cooldowns.expires_at, excluded.expires_at)`},
		{&st.cancelRunning, `UPDATE runs SET cancel_requested = 1, reason = ?
			WHERE grp = ? AND status = 'running' AND grp <> '' AND cancel_requested = 0 RETURNING id`},
		{&st.supersede, `UPDATE runs SET status = 'skipped', reason = ?, finished_at = ?
			WHERE grp = ? AND status = 'queued' AND seq < ? AND grp <> '' RETURNING id`},
		{&st.eventByID, `SELECT ` + store.EventColumns + ` FROM events WHERE id = ?`},
		{&st.runsByEvent, `SELECT ` + store.RunColumns + ` FROM runs WHERE event_id = ? ORDER BY seq`},
		{&st.queueDepth, `SELECT count(*) FROM runs WHERE status = 'queued'`},
		{&st.insertLog, `INSERT INTO logs (run_id, seq, job, step, stream, time, text) VALUES (?, ?, ?, ?, ?, ?, ?)`},
		{&st.runExists, `SELECT count(*) FROM runs WHERE id = ?`},
		{&st.upsertJob, `INSERT INTO jobs (` + store.JobInsertColumns + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (run_id, key) DO UPDATE SET ` + store.JobUpsert},
		{&st.deleteJob, `DELETE FROM jobs WHERE run_id = ? AND key = ?`},
		{&st.jobSteps, `UPDATE jobs SET steps = :steps,
				sandbox = CASE WHEN :sandbox = '' THEN sandbox ELSE :sandbox END
			WHERE run_id = :run AND key = :key`},
		{&st.claim, claimQuery},
		{&st.runSteps, updateStepsQuery},
		{&st.finish, finishQuery},
	} {
		var err error
		if *p.stmt, err = db.PrepareContext(ctx, p.query); err != nil {
			return fmt.Errorf("prepare %q: %w", p.query, err)
		}
	}
	return nil
}

// close closes the statements that were prepared.
func (st *statements) close() error {
	var errs []error
	for _, s := range []*sql.Stmt{st.insertEvent, st.insertRun, st.findDedup, st.putDedup,
		st.findCooldown, st.putCooldown, st.cancelRunning, st.supersede, st.eventByID,
		st.runsByEvent, st.queueDepth, st.insertLog, st.runExists, st.upsertJob, st.deleteJob, st.jobSteps,
		st.claim, st.runSteps, st.finish} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}
