package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// progress runs write, which records how a running run goes (its steps, its
// log lines), in one transaction that commits without waiting for the
// server's WAL flush (synchronous_commit off for it alone). It is safe from a
// crash of this process as soon as it returns; a crash of the database server
// may take it back until a later commit that waits, which, the WAL being
// written in order, makes it durable too. That is enough for what it
// records: a run's result, which Finish stores waiting for the flush, is only
// stored after its progress, and a step's processes are recorded so that a
// restarted hookflow ends them, which the database's crash does not change.
func (s *Store) progress(ctx context.Context, write func(tx pgx.Tx) error) error {
	// One round trip begins and sets it: a query without arguments goes
	// by the simple protocol, which takes several statements.
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{BeginQuery: `BEGIN; SET LOCAL synchronous_commit = off`}, write)
}
