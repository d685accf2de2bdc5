package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/store"
)

// outboxTx is the store.OutboxTx of one Reports method.
type outboxTx struct {
	querier
	ctx context.Context
	tx  pgx.Tx
}

// Exec implements store.OutboxTx.
func (t outboxTx) Exec(query string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(t.ctx, query, texts(args)...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// inOutboxTx calls fn in a transaction, and commits it when fn returns
// nil. A planner first takes the planners' advisory lock, so that nodes
// plan the changes one at a time and in order: a streak sees the runs of
// its workflow in the order they finished.
func (s *Store) inOutboxTx(ctx context.Context, plan bool, fn func(store.OutboxTx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // a no-op once committed
	if plan {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey("reports", "plan")); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
	}
	if err := fn(outboxTx{querier: querier{tx}, ctx: ctx, tx: tx}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
