package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hookflow/hookflow/store"
)

// AppendLogs stores lines of run id and sets their Seq, a progress write
// (see progress). A zero Time means now.
func (s *Store) AppendLogs(ctx context.Context, id string, lines []store.LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	var first int64
	err := s.progress(ctx, func(tx *sql.Tx) (err error) {
		first, err = s.appendLogs(ctx, tx, id, lines)
		return err
	})
	if err != nil {
		return fmt.Errorf("append logs of %s: %w", id, err)
	}
	for i := range lines {
		lines[i].Seq = first + int64(i)
	}
	return nil
}

// appendLogs stores lines of run id in tx, giving each line without a Time
// now, and returns the Seq of the first line (line i has first+i).
func (s *Store) appendLogs(ctx context.Context, tx *sql.Tx, id string, lines []store.LogLine) (first int64, err error) {
	// The run row keeps the last Seq, which reserves this batch's numbers and
	// checks that the run exists in one statement.
	var last int64
	err = tx.QueryRowContext(ctx, `UPDATE runs SET log_seq = log_seq + ? WHERE id = ? RETURNING log_seq`,
		len(lines), id).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, store.ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	insert := tx.StmtContext(ctx, s.stmts.insertLog)
	first = store.StampLogLines(lines, last, s.now())
	for i, l := range lines {
		if _, err := insert.ExecContext(ctx, id, first+int64(i), l.Job, l.Step, l.Stream, millis(l.Time), l.Text); err != nil {
			return 0, err
		}
	}
	return first, nil
}
