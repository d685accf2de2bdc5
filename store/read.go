package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/hookflow/hookflow/workflows"
)

// Querier runs the queries of the shared code (Reads, QueryRuns) on a
// backend's connection or transaction.
type Querier interface {
	// Query runs query with args, calls read with its rows, and closes them.
	// It returns the error of either.
	Query(ctx context.Context, query string, args []any, read func(Rows) error) error
	// Placeholder is the dialect's n-th (from 1) bind parameter: "?" for
	// SQLite, "$1" for PostgreSQL.
	Placeholder(n int) string
}

// Reads is Store's read methods (GetRun, GetEvent, GetEvents, ListRuns,
// LatestRuns, ListEvents, QueueDepth, Jobs and Logs). Their SQL is the same in both dialects but for the
// placeholders, so a backend embeds Reads rather than writing them again.
type Reads struct {
	r Querier
}

// NewReads returns the read methods that query r.
func NewReads(r Querier) Reads { return Reads{r: r} }

// GetRun returns run id.
func (s Reads) GetRun(ctx context.Context, id string) (*Run, error) {
	runs, err := QueryRuns(ctx, s.r, `SELECT `+RunColumns+` FROM runs WHERE id = `+s.r.Placeholder(1), id)
	if err == nil && len(runs) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", id, err)
	}
	return runs[0], nil
}

// GetEvent returns event id.
func (s Reads) GetEvent(ctx context.Context, id string) (*Event, error) {
	events, err := queryAll(ctx, s.r, ScanEvent, `SELECT `+EventColumns+` FROM events WHERE id = `+s.r.Placeholder(1), id)
	if err == nil && len(events) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get event %s: %w", id, err)
	}
	return events[0], nil
}

// ListRuns returns the runs f selects, newest (latest queued) first.
func (s Reads) ListRuns(ctx context.Context, f RunFilter) ([]*Run, error) {
	q := listQuery{ph: s.r.Placeholder}
	q.equal("workflow", f.Workflow)
	q.equal("status", f.Status)
	q.equal("event_id", f.EventID)
	if err := s.before(ctx, &q, "runs", f.Before); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	runs, err := QueryRuns(ctx, s.r, `SELECT `+RunColumns+` FROM runs`+q.tail(f.Limit), q.args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return runs, nil
}

// ListEvents returns the events f selects, newest (latest stored) first.
func (s Reads) ListEvents(ctx context.Context, f EventFilter) ([]*Event, error) {
	q := listQuery{ph: s.r.Placeholder}
	q.equal("path", f.Path)
	if err := s.before(ctx, &q, "events", f.Before); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	events, err := queryAll(ctx, s.r, ScanEvent, `SELECT `+EventColumns+` FROM events`+q.tail(f.Limit), q.args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return events, nil
}

// GetEvents returns the stored events among ids, in no particular order;
// ids not stored are left out.
func (s Reads) GetEvents(ctx context.Context, ids []string) ([]*Event, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	q := listQuery{ph: s.r.Placeholder}
	marks := make([]string, len(ids))
	for i, id := range ids {
		marks[i] = q.arg(id)
	}
	events, err := queryAll(ctx, s.r, ScanEvent, `SELECT `+EventColumns+` FROM events WHERE id IN (`+strings.Join(marks, ", ")+`)`, q.args...)
	if err != nil {
		return nil, fmt.Errorf("get events: %w", err)
	}
	return events, nil
}

// LatestRuns returns, in one query, up to n runs of each workflow, newest
// first within a workflow; the workflows come in no particular order. Each
// workflow's n-th newest run is found on the (workflow, seq) index, so the
// query reads that index and the runs it returns, never the whole table.
func (s Reads) LatestRuns(ctx context.Context, n int) ([]*Run, error) {
	if n <= 0 {
		return nil, nil
	}
	runs, err := QueryRuns(ctx, s.r, `SELECT `+RunColumns+` FROM runs WHERE seq IN (
		SELECT r.seq FROM (SELECT DISTINCT workflow FROM runs) AS w JOIN runs AS r ON r.workflow = w.workflow
		WHERE r.seq >= COALESCE((SELECT x.seq FROM runs AS x WHERE x.workflow = w.workflow
			ORDER BY x.seq DESC LIMIT 1 OFFSET `+s.r.Placeholder(1)+`), 0))
		ORDER BY workflow, seq DESC`, n-1)
	if err != nil {
		return nil, fmt.Errorf("latest runs: %w", err)
	}
	return runs, nil
}

// QueueDepth counts queued runs.
func (s Reads) QueueDepth(ctx context.Context) (int, error) {
	n, err := queryAll(ctx, s.r, scanInt64, `SELECT count(*) FROM runs WHERE status = 'queued'`)
	if err == nil && len(n) != 1 {
		err = fmt.Errorf("%d rows", len(n))
	}
	if err != nil {
		return 0, fmt.Errorf("queue depth: %w", err)
	}
	return int(n[0]), nil
}

// Jobs returns run runID's jobs, by JobIndex then Cell (then Key, so that the
// order is total); an empty list for a `steps:` run or an unknown one.
func (s Reads) Jobs(ctx context.Context, runID string) ([]*Job, error) {
	jobs, err := queryAll(ctx, s.r, ScanJob, `SELECT `+JobColumns+` FROM jobs WHERE run_id = `+s.r.Placeholder(1)+
		` ORDER BY job_index, cell, key`, runID)
	if err != nil {
		return nil, fmt.Errorf("jobs of %s: %w", runID, err)
	}
	if jobs == nil {
		jobs = []*Job{}
	}
	return jobs, nil
}

// Logs returns up to limit lines of run id with Seq > after; limit <= 0
// means all of them.
func (s Reads) Logs(ctx context.Context, id string, after int64, limit int) ([]LogLine, error) {
	ph := s.r.Placeholder
	query := `SELECT ` + LogColumns + ` FROM logs WHERE run_id = ` + ph(1) + ` AND seq > ` + ph(2) + ` ORDER BY seq`
	args := []any{id, after}
	if limit > 0 {
		query, args = query+` LIMIT `+ph(3), append(args, limit)
	}
	lines, err := queryAll(ctx, s.r, scanLogLine, query, args...)
	if err != nil {
		return nil, fmt.Errorf("logs of %s: %w", id, err)
	}
	if len(lines) == 0 {
		// Tell "no such run" from "no new lines" only when it matters.
		if _, err := s.GetRun(ctx, id); err != nil {
			return nil, fmt.Errorf("logs: %w", err)
		}
	}
	return lines, nil
}

// before limits q to the rows of table older than the one with id. The
// cursor's seq is looked up first, so that an unknown cursor is an error
// rather than an empty page.
func (s Reads) before(ctx context.Context, q *listQuery, table, id string) error {
	if id == "" {
		return nil
	}
	seq, err := queryAll(ctx, s.r, scanInt64, `SELECT seq FROM `+table+` WHERE id = `+s.r.Placeholder(1), id)
	if err != nil {
		return fmt.Errorf("before %s: %w", id, err)
	}
	if len(seq) == 0 {
		return workflows.Errorf(workflows.EInvalid, "before: no %s with id %q", strings.TrimSuffix(table, "s"), id)
	}
	q.conds = append(q.conds, "seq < "+q.arg(seq[0]))
	return nil
}

// QueryRuns runs query with args on q, and returns the runs it selects (or
// returns) as RunColumns.
func QueryRuns(ctx context.Context, q Querier, query string, args ...any) ([]*Run, error) {
	return queryAll(ctx, q, ScanRun, query, args...)
}

// Claimed is Claim's result from what its statement returned (runs, err): the
// one run it claimed, or nil when none was runnable.
func Claimed(runs []*Run, err error) (*Run, error) {
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	if len(runs) == 0 {
		return nil, nil
	}
	return runs[0], nil
}

// queryAll runs query with args on r, and reads every row of its result
// with scan.
func queryAll[T any](ctx context.Context, r Querier, scan func(Row) (T, error), query string, args ...any) ([]T, error) {
	var all []T
	err := r.Query(ctx, query, args, func(rows Rows) error {
		var err error
		all, err = collect(rows, scan)
		return err
	})
	return all, err
}

// scanInt64 reads a row of one integer.
func scanInt64(row Row) (int64, error) {
	var n int64
	err := row.Scan(&n)
	return n, err
}
