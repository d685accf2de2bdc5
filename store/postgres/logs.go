package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/store"
)

// AppendLogs stores lines of run id and sets their Seq. A zero Time means now.
func (s *Store) AppendLogs(ctx context.Context, id string, lines []store.LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("append logs of %s: %w", id, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // a no-op once committed
	// The run row keeps the last Seq, which reserves this batch's numbers and
	// checks that the run exists in one statement; its row lock orders
	// concurrent appends to one run.
	var last int64
	err = tx.QueryRow(ctx, `UPDATE runs SET log_seq = log_seq + $1 WHERE id = $2 RETURNING log_seq`,
		len(lines), id).Scan(&last)
	if errNoRows(err) {
		return fmt.Errorf("append logs of %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("append logs of %s: %w", id, err)
	}
	first := last - int64(len(lines)) + 1
	now := s.now()
	rows := make([][]any, len(lines))
	for i := range lines {
		l := &lines[i]
		if l.Time.IsZero() {
			l.Time = now
		}
		rows[i] = []any{id, first + int64(i), l.Step, l.Stream, ms(l.Time), text(l.Text)}
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"logs"}, []string{"run_id", "seq", "step", "stream", "time", "text"},
		pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("append logs of %s: %w", id, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("append logs of %s: commit: %w", id, err)
	}
	for i := range lines {
		lines[i].Seq = first + int64(i)
	}
	return nil
}

// Logs returns up to limit lines of run id with Seq > after; limit <= 0
// means all of them.
func (s *Store) Logs(ctx context.Context, id string, after int64, limit int) ([]store.LogLine, error) {
	var n any // NULL: LIMIT NULL is no limit
	if limit > 0 {
		n = limit
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, step, stream, time, text FROM logs
		WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, id, after, n)
	if err != nil {
		return nil, fmt.Errorf("logs of %s: %w", id, err)
	}
	defer rows.Close()
	var lines []store.LogLine
	for rows.Next() {
		var l store.LogLine
		if err := rows.Scan(&l.Seq, &l.Step, &l.Stream, &l.Time, &l.Text); err != nil {
			return nil, fmt.Errorf("logs of %s: %w", id, err)
		}
		l.Time = l.Time.UTC()
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
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
