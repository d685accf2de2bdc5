package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// GetRun returns run id.
func (s *Store) GetRun(ctx context.Context, id string) (*store.Run, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = $1`, id))
	if errNoRows(err) {
		return nil, fmt.Errorf("get run %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", id, err)
	}
	return r, nil
}

// ListRuns returns the runs f selects, newest (latest queued) first.
func (s *Store) ListRuns(ctx context.Context, f store.RunFilter) ([]*store.Run, error) {
	var q query
	q.where("workflow", f.Workflow)
	q.where("status", f.Status)
	q.where("event_id", f.EventID)
	if err := q.before(ctx, s, "runs", f.Before); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	runs, err := collectRuns(s.pool.Query(ctx, `SELECT `+runColumns+` FROM runs`+q.sql(f.Limit), q.args...))
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return runs, nil
}

// GetEvent returns event id.
func (s *Store) GetEvent(ctx context.Context, id string) (*store.Event, error) {
	e, err := scanEvent(s.pool.QueryRow(ctx, `SELECT `+eventColumns+` FROM events WHERE id = $1`, id))
	if errNoRows(err) {
		return nil, fmt.Errorf("get event %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get event %s: %w", id, err)
	}
	return e, nil
}

// ListEvents returns the events f selects, newest (latest stored) first.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter) ([]*store.Event, error) {
	var q query
	q.where("path", f.Path)
	if err := q.before(ctx, s, "events", f.Before); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM events`+q.sql(f.Limit), q.args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	var events []*store.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return events, nil
}

// QueueDepth counts queued runs.
func (s *Store) QueueDepth(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM runs WHERE status = 'queued'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("queue depth: %w", err)
	}
	return n, nil
}

// query builds the WHERE, ORDER BY and LIMIT of a list query over a table
// ordered by seq.
type query struct {
	conds []string
	args  []any
}

// add appends arg and returns its placeholder.
func (q *query) add(arg any) string {
	q.args = append(q.args, arg)
	return fmt.Sprintf("$%d", len(q.args))
}

// where adds "column = arg", unless arg is empty (a zero filter field).
func (q *query) where(column, arg string) {
	if arg != "" {
		q.conds = append(q.conds, column+" = "+q.add(arg))
	}
}

// before limits the query to rows older than the row of table with id. The
// cursor's seq is looked up first, so an unknown cursor is an error rather
// than an empty page.
func (q *query) before(ctx context.Context, s *Store, table, id string) error {
	if id == "" {
		return nil
	}
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT seq FROM `+table+` WHERE id = $1`, id).Scan(&seq)
	if errNoRows(err) {
		return workflows.Errorf(workflows.EInvalid, "before: no %s with id %q", strings.TrimSuffix(table, "s"), id)
	}
	if err != nil {
		return fmt.Errorf("before %s: %w", id, err)
	}
	q.conds = append(q.conds, "seq < "+q.add(seq))
	return nil
}

// sql is the query's tail: conditions, newest first, and limit (none when
// limit <= 0).
func (q *query) sql(limit int) string {
	var b strings.Builder
	if len(q.conds) > 0 {
		b.WriteString(" WHERE " + strings.Join(q.conds, " AND "))
	}
	b.WriteString(" ORDER BY seq DESC")
	if limit > 0 {
		b.WriteString(" LIMIT " + q.add(limit))
	}
	return b.String()
}
