package runner

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// TestPoolRecoversDeadNodesRuns: with RecoverEvery, a pool recovers the runs
// of another node once their leases expire, not only at its start: the
// requeued one runs here, the other ends failed (interrupted).
func TestPoolRecoversDeadNodesRuns(t *testing.T) {
	q := newQueue(t, 2, 0, map[string]string{
		"work":  "on: {dispatch: {}}\nsteps:\n  - run: 'true'\n",
		"again": "on: {dispatch: {}}\non_interrupt: requeue\nsteps:\n  - run: 'true'\n",
	})
	work := q.dispatch(t, "work", nil).Runs[0].ID
	again := q.dispatch(t, "again", nil).Runs[0].ID
	// Another node claims both, then dies: its leases run one minute.
	for range 2 {
		if r, err := q.store.Claim(context.Background(), "dead-node", time.Minute, time.Now().UTC()); err != nil || r == nil {
			t.Fatalf("Claim = %v, %v", r, err)
		}
	}

	// The pool's clock jumps past the leases once it has started, so that
	// only the periodic recovery can find them expired.
	var skew atomic.Int64
	q.pool = NewPool(PoolConfig{Store: q.store, Executor: newExecutor(t), Workflows: func() *workflows.Set { return q.set },
		Node: "live-node", Poll: 20 * time.Millisecond, RecoverEvery: 10 * time.Millisecond,
		Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	q.startPool(t)
	for _, id := range []string{work, again} {
		if r, err := q.store.GetRun(context.Background(), id); err != nil || r.Node != "dead-node" || r.Status != "running" {
			t.Fatalf("run %s after the pool started: %+v, %v", id, r, err)
		}
	}
	skew.Store(int64(2 * time.Minute))

	if r := q.wait(t, work); r.Status != workflows.StatusFailed || r.Reason != "interrupted" {
		t.Errorf("run of the dead node ended %s (%q), want failed (interrupted)", r.Status, r.Reason)
	}
	if r := q.wait(t, again); r.Status != workflows.StatusSucceeded || r.Node != "live-node" {
		t.Errorf("requeued run ended %s on %q, want succeeded on live-node", r.Status, r.Node)
	}
}
