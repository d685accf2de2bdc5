package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/postgres"
)

// cluster is what a node does because it shares its store with others: it
// wakes its pool when any node queues runs, recovers the runs of dead nodes,
// and fires cron schedules only while it is the cron leader. A nil *cluster
// is a node alone (SQLite), which does all of that by itself.
type cluster struct {
	store  *postgres.Store
	cron   *postgres.Leader
	logger *slog.Logger
}

// newCluster returns the cluster duties of a node on st; nil when st is not
// shared.
func newCluster(st store.Store, logger *slog.Logger) *cluster {
	pg, ok := st.(*postgres.Store)
	if !ok {
		return nil
	}
	return &cluster{store: pg, cron: pg.Leader("cron", postgres.DefaultLeaderInterval, logger), logger: logger}
}

// run campaigns for cron leadership and calls wake on every "runs queued"
// notification, until ctx ends.
func (c *cluster) run(ctx context.Context, wake func()) {
	var wg sync.WaitGroup
	wg.Go(func() { c.cron.Run(ctx) })
	for range c.store.Notifications(ctx, c.logger) {
		wake()
	}
	wg.Wait()
}

// recoverEvery is how often the pool recovers the runs of dead nodes: a third
// of the lease, like the heartbeat, so that a dead node's runs are recovered
// within 4/3 of the lease after its last heartbeat. Alone, only at start.
func (c *cluster) recoverEvery(lease time.Duration) time.Duration {
	if c == nil {
		return 0
	}
	return lease / 3
}

// leadsCron reports whether this node fires cron schedules now. The per-tick
// dedup key stays a second guard, for the moment two nodes may think they
// lead.
func (c *cluster) leadsCron() bool { return c == nil || c.cron.Leading() }
