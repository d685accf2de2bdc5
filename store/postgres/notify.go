package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// Back-off between attempts to reconnect a background connection.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 10 * time.Second
)

// Notifications returns a channel that receives a value whenever runs may
// have become claimable, on any node: runs were queued or requeued, or a run
// of a concurrency group ended. Values coalesce (one pending value stands for
// any number of notifications), and one is also sent on every (re)connection,
// since notifications sent while nobody listened are lost. It is a hint to
// claim now; a pool still polls. The channel is closed when ctx ends.
//
// It listens on a connection of its own, outside the pool, and reconnects
// when that fails, telling logger (nil: nobody).
func (s *Store) Notifications(ctx context.Context, logger *slog.Logger) <-chan struct{} {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ch := make(chan struct{}, 1)
	go func() {
		defer close(ch)
		backoff := retryMin
		for {
			err := s.listen(ctx, ch, func() { backoff = retryMin })
			if ctx.Err() != nil {
				return
			}
			logger.Warn("listening for queued runs failed; retrying", "err", err, "in", backoff)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, retryMax)
		}
	}()
	return ch
}

// listen forwards notifications to ch until the connection fails or ctx ends.
// It calls listening once it listens.
func (s *Store) listen(ctx context.Context, ch chan<- struct{}, listening func()) error {
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{notifyChannel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	listening()
	for {
		signal(ch)
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
	}
}

// connect opens a connection of its own, with the pool's settings.
func (s *Store) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return conn, nil
}

// closeConn closes conn, which ends its session and so releases its session
// locks, waiting a little for the server to be told.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn.Close(ctx)
}

// signal puts a value in ch unless one is already waiting there.
func signal(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// sleep waits for d, and reports false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
