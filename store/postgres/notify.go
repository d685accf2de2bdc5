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
	ch := make(chan struct{}, 1)
	go func() {
		defer close(ch)
		s.follow(ctx, logger, "queued runs", notifyChannel,
			func(context.Context, *pgx.Conn) error { signal(ch); return nil },
			func(string) { signal(ch) })
	}()
	return ch
}

// CancelRequests implements store.CancelNotifier. Cancel and Dispatch notify
// on cancelChannel in the transaction that requests the cancel, so a listener
// hears of it once it is committed. Like Notifications, it listens on a
// connection of its own and reconnects when that fails.
func (s *Store) CancelRequests(ctx context.Context, logger *slog.Logger) <-chan string {
	ch := make(chan string, 16)
	send := func(id string) {
		select {
		case ch <- id:
		case <-ctx.Done():
		}
	}
	go func() {
		defer close(ch)
		s.follow(ctx, logger, "cancel requests", cancelChannel, func(ctx context.Context, conn *pgx.Conn) error {
			rows, err := conn.Query(ctx, `SELECT id FROM runs WHERE status = 'running' AND cancel_requested`)
			if err != nil {
				return fmt.Errorf("runs whose cancel was requested: %w", err)
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return fmt.Errorf("runs whose cancel was requested: %w", err)
			}
			for _, id := range ids {
				send(id)
			}
			return nil
		}, send)
	}()
	return ch
}

// follow listens on channel until ctx ends, reconnecting with a back-off when
// the connection fails, and telling logger (nil: nobody) about what. Once
// listening on a connection, it calls connected with it, then handle with the
// payload of each notification.
func (s *Store) follow(ctx context.Context, logger *slog.Logger, what, channel string,
	connected func(context.Context, *pgx.Conn) error, handle func(payload string)) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	backoff := retryMin
	for {
		err := s.listen(ctx, channel, func(conn *pgx.Conn) error {
			if err := connected(ctx, conn); err != nil {
				return err
			}
			backoff = retryMin // only once listening works, or a failing first read would retry at once forever
			return nil
		}, handle)
		if ctx.Err() != nil {
			return
		}
		logger.Warn("listening for "+what+" failed; retrying", "err", err, "in", backoff)
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, retryMax)
	}
}

// listen passes the notifications of channel to handle until the connection
// fails or ctx ends. It calls listening once it listens.
func (s *Store) listen(ctx context.Context, channel string, listening func(*pgx.Conn) error, handle func(string)) error {
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if err := listening(conn); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		handle(n.Payload)
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
