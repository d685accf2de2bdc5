package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/store"
)

// The RemoteJobs methods are store.Remote's, over jobTx. Nodes change jobs
// at once: every method locks the rows it changes (FOR UPDATE), and the
// sweeps of RecoverJobs and ClaimJob skip the rows another transaction
// holds, so that claimers and recoverers never wait for each other and no
// job is claimed or recovered twice.

// runsOn is a job's runs_on as jsonb, for the claim's containment test. A
// job whose labels hold a NUL character, which jsonb refuses, is matched by
// nobody (NULL) rather than failing every claim; no runner has such a label.
const runsOn = `CASE WHEN j.runs_on IS NULL THEN '[]'::jsonb
	WHEN position('\u0000' IN convert_from(j.runs_on, 'UTF8')) > 0 THEN NULL
	ELSE convert_from(j.runs_on, 'UTF8')::jsonb END`

// claimableQuery selects and locks the job a runner with labels ($1, a JSON
// list) may claim: an offered queued job of a running run whose cancel was
// not requested, none of whose labels the runner lacks, and whose group is
// free, the oldest offer first. A job another claim holds is skipped.
var claimableQuery = `SELECT ` + store.JobStateColumns + ` FROM ` + store.JobStateFrom + `
	WHERE j.status = 'queued' AND j.offered_at IS NOT NULL
		AND r.status = 'running' AND NOT r.cancel_requested
		AND ` + runsOn + ` <@ $1::jsonb
		AND (j.grp = '' OR NOT ` + store.JobGroupHeld("j.grp") + `)
	` + store.JobStateOrder + ` LIMIT 1 FOR UPDATE OF j SKIP LOCKED`

// claimTries bounds how many jobs a claim tries whose group was taken
// between its choice and its lock on the group. Each such try means another
// claim took a group, so the bound is only reached while many groups are
// taken at once; the claim then finds nothing this time, and the runner
// asks again.
const claimTries = 32

// jobTx is the store.JobTx of one RemoteJobs method.
type jobTx struct {
	ctx context.Context
	s   *Store
	tx  pgx.Tx
}

var _ store.JobTx = (*jobTx)(nil)

// inJobTx calls fn in a transaction, and commits it when fn returns nil.
func (s *Store) inJobTx(ctx context.Context, fn func(store.JobTx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // a no-op once committed
	if err := fn(&jobTx{ctx: ctx, s: s, tx: tx}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Job implements store.JobTx.
func (t *jobTx) Job(runID, key string) (*store.JobState, error) {
	return store.QueryJobState(t.ctx, querier{t.tx}, `SELECT `+store.JobStateColumns+` FROM `+store.JobStateFrom+`
		WHERE j.run_id = $1 AND j.key = $2 FOR UPDATE OF j`, text(runID), text(key))
}

// Jobs implements store.JobTx.
func (t *jobTx) Jobs(cond string, args ...any) ([]*store.JobState, error) {
	return store.QueryJobStates(t.ctx, querier{t.tx}, `SELECT `+store.JobStateColumns+` FROM `+store.JobStateFrom+`
		WHERE `+cond+` `+store.JobStateOrder+` FOR UPDATE OF j SKIP LOCKED`, texts(args)...)
}

// Claimable implements store.JobTx. The row lock keeps the job from other
// claims; the group's, StartJob's advisory lock, keeps the group from them
// and from StartJob until the claim commits. A job whose group was taken
// between the choice and that lock is passed over: the next query, which
// sees the taking, chooses another.
func (t *jobTx) Claimable(labels []string) (*store.JobState, error) {
	clean := make([]string, len(labels))
	for i, l := range labels {
		clean[i] = text(l)
	}
	list, err := json.Marshal(clean)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	for range claimTries {
		st, err := store.QueryJobState(t.ctx, querier{t.tx}, claimableQuery, string(list))
		if err != nil || st == nil || st.Group == "" {
			return st, err
		}
		if _, err := t.tx.Exec(t.ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey("job group", st.Group)); err != nil {
			return nil, fmt.Errorf("group %s: %w", st.Group, err)
		}
		var held bool
		if err := t.tx.QueryRow(t.ctx, `SELECT `+store.JobGroupHeld("$1"), st.Group).Scan(&held); err != nil {
			return nil, fmt.Errorf("group %s: %w", st.Group, err)
		}
		if !held {
			return st, nil
		}
	}
	return nil, nil
}

// Exec implements store.JobTx.
func (t *jobTx) Exec(query string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(t.ctx, query, texts(args)...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// AppendLogs implements store.JobTx.
func (t *jobTx) AppendLogs(runID string, lines []store.LogLine) (int64, error) {
	return t.s.appendLogs(t.ctx, t.tx, runID, lines)
}

// texts is args with every string made storable (text).
func texts(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if s, ok := a.(string); ok {
			a = text(s)
		}
		out[i] = a
	}
	return out
}
