// Package postgres is the Store that several hookflow nodes share (SPEC §10),
// through pgx and its connection pool.
//
// It keeps the SQLite store's rules under concurrent transactions from many
// nodes:
//
//   - Claim picks a run with FOR UPDATE SKIP LOCKED, so claimers never wait
//     for each other, and each queued run is claimed once.
//   - Dispatch takes a transaction-scoped advisory lock on every dedup key,
//     concurrency group and cooldown key of its batch, in one global order
//     (so two batches never deadlock), before it reads or writes anything.
//     What SQLite gets from its single writer — "check, then write" on a key
//     is atomic — these locks give per key, while dispatches that share no
//     key still commit in parallel.
//   - ClaimJob locks the offered job it picks FOR UPDATE SKIP LOCKED, and its
//     concurrency group with the advisory lock StartJob takes, so that a job
//     goes to one runner and a group's jobs run one at a time across nodes;
//     the other RemoteJobs methods lock the job they change.
//   - Notifications wake the pools of every node (LISTEN/NOTIFY) when runs
//     are queued or a group is freed, and CancelRequests tells them at once
//     of cancels; Leader elects the one node that fires cron schedules (a
//     session advisory lock).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/hookflow/hookflow/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Options tunes a Store.
type Options struct {
	// Now is the clock for the methods that take no time (Cancel, and Finish
	// of a run without FinishedAt); the default is time.Now.
	Now func() time.Time
}

// defaultMaxConns sizes the pool when the DSN has no pool_max_conns: the
// dispatcher, the claim loop, the heartbeat and the API's readers each hold
// one at a time.
const defaultMaxConns = 16

// Store is a store.Store kept in a PostgreSQL database.
type Store struct {
	store.Reads
	store.Registry
	store.Remote
	store.Outbox
	store.RefusalTable
	pool  *pgxpool.Pool
	now   func() time.Time
	queue store.QueueDepth // what Dispatch's batches know of the queue
}

var (
	_ store.Store          = (*Store)(nil)
	_ store.CancelNotifier = (*Store)(nil)
)

// Open connects to the database dsn names (postgres://… or key=value), and
// brings its schema up to date. pool_max_conns in the DSN sizes the pool.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	s := &Store{now: opt.Now}
	if s.now == nil {
		s.now = time.Now
	}
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	s.Reads = store.NewReads(querier{s.pool})
	s.Registry = store.NewRegistry(querier{s.pool}, querier{s.pool}, timeArg, s.now)
	s.Remote = store.NewRemote(s.inJobTx, querier{s.pool}, timeArg, s.now)
	s.Outbox = store.NewOutbox(s.inOutboxTx, querier{s.pool}, timeArg)
	s.RefusalTable = store.NewRefusalTable(querier{s.pool}, querier{s.pool}, timeArg)
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", redact(cfg.ConnConfig), err)
	}
	return s, nil
}

// redact names the database of cfg without its password, for messages.
func redact(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// Advisory lock spaces. Session locks use the two-int form, keyed by
// lockClass and one of these ids; Dispatch's transaction locks use the
// one-bigint form, which PostgreSQL keeps apart from the two-int form.
const (
	lockClass     = 0x686b66 // "hkf"
	lockMigration = 1
	lockPrune     = 2
)

// migrate applies the migrations under a session advisory lock, so that nodes
// starting together do not migrate at the same time.
func (s *Store) migrate(ctx context.Context) error {
	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	// A connection of its own: closing it is what surely drops the session
	// lock, whatever failed meanwhile.
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, lockClass, lockMigration); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	if _, err := store.Migrate(ctx, db, migrations); err != nil {
		return err
	}
	return nil
}

// Close closes the pool. Nothing may use the Store afterwards; Notifications
// and Leader stop with their own contexts.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// ProbeWrite rewrites the one row of write_probe.
func (s *Store) ProbeWrite(ctx context.Context, now time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO write_probe (id, probed_at) VALUES (1, $1)
		ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at`, ms(now))
	if err != nil {
		return fmt.Errorf("probe write: %w", err)
	}
	return nil
}

// Prune deletes finished runs (with their jobs and logs, through the foreign
// keys) that finished before before, events received before before that no
// run refers to any more, and dedup keys and cooldowns that have expired by
// now. When another node is pruning
// already, it leaves the work to that one.
func (s *Store) Prune(ctx context.Context, before, now time.Time) error {
	before, now = ms(before), ms(now)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // a no-op once committed
	var alone bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1, $2)`, lockClass, lockPrune).Scan(&alone); err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	if !alone {
		return nil
	}
	steps := []struct {
		what, query string
		arg         time.Time
	}{
		{"runs", `DELETE FROM runs WHERE finished_at < $1 AND status NOT IN ('queued', 'running')`, before},
		{"events", `DELETE FROM events WHERE received_at < $1
			AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.event_id = events.id)`, before},
		{"dedup keys", `DELETE FROM dedup_keys WHERE expires_at <= $1`, now},
		{"cooldowns", `DELETE FROM cooldowns WHERE expires_at <= $1`, now},
	}
	for _, st := range steps {
		if _, err := tx.Exec(ctx, st.query, st.arg); err != nil {
			return fmt.Errorf("prune %s: %w", st.what, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("prune: commit: %w", err)
	}
	return nil
}

// ms drops t's precision below a millisecond, and its location, so that a
// time computed in Go equals the same time read back (SQLite keeps
// milliseconds; TIMESTAMPTZ would keep microseconds).
func ms(t time.Time) time.Time { return store.Millis(t) }

// text makes s storable in a TEXT column: PostgreSQL refuses NUL bytes and
// invalid UTF-8 there, which SQLite stores as they are. Both become U+FFFD,
// so that a payload with them is stored rather than refused forever.
func text(s string) string { return store.ValidText(s) }

// lockKey is the advisory lock id of a key in a namespace (dedup, group,
// cooldown). Two keys that hash alike only wait for each other.
func lockKey(namespace, key string) int64 {
	h := fnv.New64a()
	h.Write([]byte(namespace))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return int64(h.Sum64())
}

// LISTEN/NOTIFY channels. notifyChannel says "runs may be claimable": runs
// were queued, or a group was freed. cancelChannel carries the id of a
// running run whose cancel was requested.
const (
	notifyChannel = "hookflow_runs"
	cancelChannel = "hookflow_cancel"
)

// errNoRows reports whether err is pgx's "no rows".
func errNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
