package postgres

import (
	"context"
	"hash/fnv"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultLeaderInterval is how often a Leader checks its role.
const DefaultLeaderInterval = time.Second

// Leader holds a role, such as firing cron schedules, on at most one node of
// the cluster at a time: the node whose session holds a PostgreSQL advisory
// lock named after the role.
//
// The lock lives exactly as long as the session that took it. When the leader
// dies, even by SIGKILL, its connection closes, the server ends its session
// and so releases the lock, and the next node to try takes it. A leader that
// can no longer reach the server stops leading at its next check, though the
// server may only notice its lost session later (TCP keepalive): for that
// short overlap the role's work must tolerate a second node, as cron's
// per-tick dedup key does.
type Leader struct {
	s        *Store
	role     string
	id       int32
	interval time.Duration
	logger   *slog.Logger
	leading  atomic.Bool
}

// Leader returns the campaign for role on this node; call Run to take part.
// interval is how often a follower tries to take the role and the leader
// checks that it still holds it (0: DefaultLeaderInterval). logger (nil:
// nobody) is told when this node starts or stops leading.
func (s *Store) Leader(role string, interval time.Duration, logger *slog.Logger) *Leader {
	if interval <= 0 {
		interval = DefaultLeaderInterval
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := fnv.New32a()
	h.Write([]byte(role))
	return &Leader{s: s, role: role, id: int32(h.Sum32()), interval: interval, logger: logger}
}

// Leading reports whether this node holds the role now. Safe for concurrent
// use.
func (l *Leader) Leading() bool { return l.leading.Load() }

// Run takes part in the election until ctx ends, on a connection of its own,
// and then gives the role up.
func (l *Leader) Run(ctx context.Context) {
	backoff := retryMin
	for ctx.Err() == nil {
		err := l.campaign(ctx, func() { backoff = retryMin })
		stopped := l.leading.Swap(false)
		if ctx.Err() != nil {
			if stopped {
				l.logger.Info("stopped leading: shutting down", "role", l.role)
			}
			return
		}
		if stopped {
			l.logger.Warn("stopped leading: lost the connection", "role", l.role, "err", err)
		}
		l.logger.Warn("leader election: connection failed; retrying", "role", l.role, "err", err, "in", backoff)
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, retryMax)
	}
}

// campaign tries to take the role, then holds it, until its connection fails
// or ctx ends. It calls connected once it has a connection.
func (l *Leader) campaign(ctx context.Context, connected func()) error {
	conn, err := l.s.connect(ctx)
	if err != nil {
		return err
	}
	// Closing the connection ends the session, which releases the lock.
	defer closeConn(conn)
	connected()
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		if err := l.check(ctx, conn); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// check takes the role if it is free, or makes sure that this node still
// holds it: the lock is held as long as the session lives, so a session that
// answers still holds it.
func (l *Leader) check(ctx context.Context, conn *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, l.interval)
	defer cancel()
	if l.leading.Load() {
		return conn.Ping(ctx)
	}
	var took bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, lockClass, l.id).Scan(&took); err != nil {
		return err
	}
	if took {
		l.leading.Store(true)
		l.logger.Info("leading", "role", l.role)
	}
	return nil
}
