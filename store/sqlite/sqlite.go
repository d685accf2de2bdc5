// Package sqlite is the embedded Store: one SQLite file in WAL mode, through
// the pure-Go modernc.org/sqlite driver.
//
// All writes go through one connection, so they queue in database/sql rather
// than fail with SQLITE_BUSY; reads use a separate pool and, thanks to WAL,
// never wait for a write to finish.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"
	"time"

	"github.com/hookflow/hookflow/store"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Options tunes a Store.
type Options struct {
	// Durability is "sync" (the default: every commit is fsynced before it
	// returns, PRAGMA synchronous=FULL) or "normal" (synchronous=NORMAL: a
	// power loss may drop the last commits, but never corrupts the file).
	Durability string
	// Now is the clock for the methods that take no time (Cancel, and Finish
	// of a run without FinishedAt); the default is time.Now.
	Now func() time.Time
}

// busyTimeout is how long a statement waits for another process's lock on the
// file (a second hookflow, a backup) before it fails.
const busyTimeout = 10 * time.Second

// Store is a store.Store kept in one SQLite file.
type Store struct {
	store.Reads                // on read
	store.Registry             // reads on read, writes on write
	store.Remote               // transactions on write, RemoteQueue on read
	store.Outbox               // transactions on write, RunReports on read
	store.RefusalTable         // reads on read, writes on write
	write              *sql.DB // one connection: SQLite allows one writer at a time anyway
	read               *sql.DB
	now                func() time.Time
	stmts              statements
	// synchronous is the write connection's setting: FULL (durability sync)
	// or NORMAL.
	synchronous string
	queue       store.QueueDepth // what Dispatch's batches know of the queue
}

var _ store.Store = (*Store)(nil)

// Open opens the database file at path, creating it if needed, and brings its
// schema up to date.
func Open(ctx context.Context, path string, opt Options) (*Store, error) {
	var synchronous string
	switch opt.Durability {
	case "", "sync":
		synchronous = "FULL"
	case "normal":
		synchronous = "NORMAL"
	default:
		return nil, fmt.Errorf("open sqlite: durability %q: want sync or normal", opt.Durability)
	}
	// The driver strips everything after '?' from a plain file name, and a
	// "file:" URI would need escaping of its own.
	if path == "" || strings.Contains(path, "?") {
		return nil, fmt.Errorf("open sqlite: invalid path %q", path)
	}
	common := fmt.Sprintf("%s?_busy_timeout=%d&_foreign_keys=1", path, busyTimeout.Milliseconds())

	s := &Store{now: opt.Now, synchronous: synchronous}
	if s.now == nil {
		s.now = time.Now
	}
	// _txlock=immediate: BEGIN IMMEDIATE takes the write lock at the start of
	// a transaction, so one that reads before it writes cannot fail halfway
	// with BUSY. temp_store=MEMORY keeps the statement journal of Dispatch's
	// per-item savepoints in memory rather than in a temporary file.
	writeDSN := common + "&_journal_mode=WAL&_synchronous=" + synchronous +
		"&_txlock=immediate&_pragma=temp_store(MEMORY)"
	var err error
	s.write, err = sql.Open("sqlite", writeDSN)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	s.write.SetMaxOpenConns(1)
	s.write.SetMaxIdleConns(1)
	s.write.SetConnMaxLifetime(0)
	s.write.SetConnMaxIdleTime(0)

	if err := s.init(ctx, common); err != nil {
		return nil, errors.Join(fmt.Errorf("open sqlite %s: %w", path, err), s.Close())
	}
	return s, nil
}

// init migrates the schema, opens the read pool and prepares the statements.
func (s *Store) init(ctx context.Context, common string) error {
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	if _, err := store.Migrate(ctx, s.write, migrations); err != nil {
		return err
	}
	// The read pool opens after the writer has switched the file to WAL
	// (which is persistent), so readers never see another journal mode.
	s.read, err = sql.Open("sqlite", common+"&_query_only=1")
	if err != nil {
		return err
	}
	n := max(4, runtime.GOMAXPROCS(0))
	s.read.SetMaxOpenConns(n)
	s.read.SetMaxIdleConns(n)
	if err := s.read.PingContext(ctx); err != nil {
		return err
	}
	s.Reads = store.NewReads(querier{s.read})
	s.Registry = store.NewRegistry(querier{s.read}, querier{s.write}, timeArg, s.now)
	s.Remote = store.NewRemote(s.inJobTx, querier{s.read}, timeArg, s.now)
	s.Outbox = store.NewOutbox(s.inOutboxTx, querier{s.read}, timeArg)
	s.RefusalTable = store.NewRefusalTable(querier{s.read}, querier{s.write}, timeArg)
	return s.stmts.prepare(ctx, s.write)
}

// Close closes the database. Nothing may use the Store afterwards.
func (s *Store) Close() error {
	errs := []error{s.stmts.close()}
	if s.read != nil {
		errs = append(errs, s.read.Close())
	}
	if s.write != nil {
		errs = append(errs, s.write.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close sqlite: %w", err)
	}
	return nil
}

// Ping reports whether the database file can be read.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.read.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	return nil
}

// ProbeWrite rewrites the one row of write_probe.
func (s *Store) ProbeWrite(ctx context.Context, now time.Time) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO write_probe (id, probed_at) VALUES (1, :at)
		ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at`, sql.Named("at", millis(now)))
	if err != nil {
		return fmt.Errorf("probe write: %w", err)
	}
	return nil
}

// Prune deletes finished runs (with their jobs and logs, through the foreign
// keys) that finished before before, events received before before that no
// run refers to any more, and dedup keys and cooldowns that have expired by
// now.
func (s *Store) Prune(ctx context.Context, before, now time.Time) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	defer tx.Rollback() // a no-op once committed
	b, n := sql.Named("before", millis(before)), sql.Named("now", millis(now))
	steps := []struct {
		what, query string
		arg         sql.NamedArg
	}{
		{"runs", `DELETE FROM runs WHERE finished_at < :before AND status NOT IN ('queued', 'running')`, b},
		{"events", `DELETE FROM events WHERE received_at < :before
			AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.event_id = events.id)`, b},
		{"dedup keys", `DELETE FROM dedup_keys WHERE expires_at <= :now`, n},
		{"cooldowns", `DELETE FROM cooldowns WHERE expires_at <= :now`, n},
	}
	for _, st := range steps {
		if _, err := tx.ExecContext(ctx, st.query, st.arg); err != nil {
			return fmt.Errorf("prune %s: %w", st.what, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("prune: commit: %w", err)
	}
	return nil
}
