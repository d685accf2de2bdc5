package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/store"
)

// AppendLogs stores lines of run id and sets their Seq, a progress write
// (see progress). A zero Time means now.
func (s *Store) AppendLogs(ctx context.Context, id string, lines []store.LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	var first int64
	err := s.progress(ctx, func(tx pgx.Tx) (err error) {
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
func (s *Store) appendLogs(ctx context.Context, tx pgx.Tx, id string, lines []store.LogLine) (first int64, err error) {
	// The run row keeps the last Seq, which reserves this batch's numbers and
	// checks that the run exists in one statement; its row lock orders
	// concurrent appends to one run.
	var last int64
	err = tx.QueryRow(ctx, `UPDATE runs SET log_seq = log_seq + $1 WHERE id = $2 RETURNING log_seq`,
		len(lines), id).Scan(&last)
	if errNoRows(err) {
		return 0, store.ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	first = store.StampLogLines(lines, last, s.now())
	rows := make([][]any, len(lines))
	for i, l := range lines {
		rows[i] = []any{id, first + int64(i), text(l.Job), l.Step, l.Stream, ms(l.Time), text(l.Text)}
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"logs"}, []string{"run_id", "seq", "job", "step", "stream", "time", "text"},
		pgx.CopyFromRows(rows))
	if err != nil {
		return 0, err
	}
	return first, nil
}
