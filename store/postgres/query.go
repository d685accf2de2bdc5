package postgres

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/store"
)

// querier is a store.Querier on the pool or a transaction.
type querier struct {
	db interface {
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	}
}

// Query implements store.Querier.
func (q querier) Query(ctx context.Context, query string, args []any, read func(store.Rows) error) error {
	rows, err := q.db.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return read(rows)
}

// Placeholder implements store.Querier.
func (querier) Placeholder(n int) string { return "$" + strconv.Itoa(n) }
