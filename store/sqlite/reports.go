package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/hookflow/hookflow/store"
)

// outboxTx is the store.OutboxTx of one Reports method. The one writer
// serialises planners, so plan needs no lock of its own.
type outboxTx struct {
	querier
	ctx context.Context
	tx  *sql.Tx
}

// Exec implements store.OutboxTx.
func (t outboxTx) Exec(query string, args ...any) (int64, error) {
	res, err := t.tx.ExecContext(t.ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// inOutboxTx calls fn in a write transaction, and commits it when fn
// returns nil.
func (s *Store) inOutboxTx(ctx context.Context, _ bool, fn func(store.OutboxTx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op once committed
	if err := fn(outboxTx{querier: querier{tx}, ctx: ctx, tx: tx}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
