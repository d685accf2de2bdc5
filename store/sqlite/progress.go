package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
)

// progress runs write, which records how a running run goes (its steps, its
// log lines), in one transaction on the write connection, and commits it
// without waiting for the disk: under durability sync, that one commit is
// made with synchronous=NORMAL. Such a write is safe from a crash of this
// process as soon as it returns (it is in the WAL file); a power loss may
// take it back until the next fsynced commit, which, the WAL being written in
// order, makes it durable too. That is enough for what it records: after a
// power loss no step process survives to be ended, and a run's result, which
// Finish stores with an fsync, is only stored after its progress.
func (s *Store) progress(ctx context.Context, write func(tx *sql.Tx) error) error {
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	lazy := s.synchronous == "FULL"
	if lazy {
		if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
			return fmt.Errorf("commit without fsync: %w", err)
		}
	}
	werr := inTx(ctx, conn, write)
	if lazy {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = FULL`); err != nil {
			// Every later commit would skip its fsync on this connection:
			// close it, and the next write opens one as configured.
			conn.Raw(func(any) error { return driver.ErrBadConn })
			return errors.Join(werr, fmt.Errorf("restore synchronous=FULL: %w", err))
		}
	}
	return werr
}

// inTx runs write in a transaction on conn and commits it.
func inTx(ctx context.Context, conn *sql.Conn, write func(tx *sql.Tx) error) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op once committed
	if err := write(tx); err != nil {
		return err
	}
	return tx.Commit()
}
