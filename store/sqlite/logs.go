package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hookflow/hookflow/store"
)

// AppendLogs stores lines of run id and sets their Seq. A zero Time means now.
func (s *Store) AppendLogs(ctx context.Context, id string, lines []store.LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("append logs of %s: %w", id, err)
	}
	defer tx.Rollback() // a no-op once committed
	// The run row keeps the last Seq, which reserves this batch's numbers and
	// checks that the run exists in one statement.
	var last int64
	err = tx.QueryRowContext(ctx, `UPDATE runs SET log_seq = log_seq + ? WHERE id = ? RETURNING log_seq`,
		len(lines), id).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("append logs of %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("append logs of %s: %w", id, err)
	}
	insert := tx.StmtContext(ctx, s.stmts.insertLog)
	seq := last - int64(len(lines))
	now := s.now()
	for i := range lines {
		l := &lines[i]
		if l.Time.IsZero() {
			l.Time = now
		}
		seq++
		if _, err := insert.ExecContext(ctx, id, seq, l.Step, l.Stream, millis(l.Time), l.Text); err != nil {
			return fmt.Errorf("append logs of %s: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("append logs of %s: commit: %w", id, err)
	}
	for i := range lines {
		lines[i].Seq = last - int64(len(lines)-1-i)
	}
	return nil
}

// Logs returns up to limit lines of run id with Seq > after; limit <= 0
// means all of them.
func (s *Store) Logs(ctx context.Context, id string, after int64, limit int) ([]store.LogLine, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.read.QueryContext(ctx, `SELECT seq, step, stream, time, text FROM logs
		WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?`, id, after, limit)
	if err != nil {
		return nil, fmt.Errorf("logs of %s: %w", id, err)
	}
	defer rows.Close()
	var lines []store.LogLine
	for rows.Next() {
		var l store.LogLine
		var t int64
		if err := rows.Scan(&l.Seq, &l.Step, &l.Stream, &t, &l.Text); err != nil {
			return nil, fmt.Errorf("logs of %s: %w", id, err)
		}
		l.Time = fromMillis(t)
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
