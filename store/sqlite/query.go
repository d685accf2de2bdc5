package sqlite

import (
	"context"
	"database/sql"

	"github.com/hookflow/hookflow/store"
)

// querier is a store.Querier on a pool (the read pool, or the write
// connection) or a transaction.
type querier struct {
	db interface {
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	}
}

// Query implements store.Querier.
func (r querier) Query(ctx context.Context, query string, args []any, read func(store.Rows) error) error {
	rows, err := r.db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return read(rows)
}

// Placeholder implements store.Querier.
func (querier) Placeholder(int) string { return "?" }
