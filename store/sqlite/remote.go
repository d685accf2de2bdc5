package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/hookflow/hookflow/store"
)

// The RemoteJobs methods are store.Remote's, over jobTx. The store's one
// writer makes each of its transactions see and change the jobs alone, so
// that nothing needs a lock of its own.

// claimableQuery selects the job a runner with labels (:labels, a JSON
// list) may claim: an offered queued job of a running run whose cancel was
// not requested, none of whose labels the runner lacks, and whose group is
// free, the oldest offer first.
var claimableQuery = `SELECT ` + store.JobStateColumns + ` FROM ` + store.JobStateFrom + `
	WHERE j.status = 'queued' AND j.offered_at IS NOT NULL
		AND r.status = 'running' AND r.cancel_requested = 0
		AND NOT EXISTS (SELECT 1 FROM json_each(CAST(j.runs_on AS TEXT)) want
			WHERE want.value NOT IN (SELECT value FROM json_each(:labels)))
		AND (j.grp = '' OR NOT ` + store.JobGroupHeld("j.grp") + `)
	` + store.JobStateOrder + ` LIMIT 1`

// jobTx is the store.JobTx of one RemoteJobs method.
type jobTx struct {
	ctx context.Context
	s   *Store
	tx  *sql.Tx
}

var _ store.JobTx = (*jobTx)(nil)

// inJobTx calls fn in a write transaction, and commits it when fn returns
// nil.
func (s *Store) inJobTx(ctx context.Context, fn func(store.JobTx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op once committed
	if err := fn(&jobTx{ctx: ctx, s: s, tx: tx}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Job implements store.JobTx.
func (t *jobTx) Job(runID, key string) (*store.JobState, error) {
	return store.QueryJobState(t.ctx, querier{t.tx}, `SELECT `+store.JobStateColumns+` FROM `+store.JobStateFrom+`
		WHERE j.run_id = ? AND j.key = ?`, runID, key)
}

// Jobs implements store.JobTx.
func (t *jobTx) Jobs(cond string, args ...any) ([]*store.JobState, error) {
	return store.QueryJobStates(t.ctx, querier{t.tx}, `SELECT `+store.JobStateColumns+` FROM `+store.JobStateFrom+`
		WHERE `+cond+` `+store.JobStateOrder, args...)
}

// Claimable implements store.JobTx.
func (t *jobTx) Claimable(labels []string) (*store.JobState, error) {
	if labels == nil {
		labels = []string{}
	}
	list, err := json.Marshal(labels)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	return store.QueryJobState(t.ctx, querier{t.tx}, claimableQuery, sql.Named("labels", string(list)))
}

// Exec implements store.JobTx.
func (t *jobTx) Exec(query string, args ...any) (int64, error) {
	res, err := t.tx.ExecContext(t.ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// AppendLogs implements store.JobTx.
func (t *jobTx) AppendLogs(runID string, lines []store.LogLine) (int64, error) {
	return t.s.appendLogs(t.ctx, t.tx, runID, lines)
}
