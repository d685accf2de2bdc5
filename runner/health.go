package runner

import (
	"context"
	"sync"
	"time"
)

// DefaultProbeEvery is how often, at most, a failing store is probed.
const DefaultProbeEvery = 5 * time.Second

// WriteHealth follows whether the store takes writes, for readiness: a store
// that cannot write (a full disk) makes every delivery fail with 503, and the
// server should say so on /readyz so that a load balancer sends deliveries
// elsewhere. It costs nothing while writes succeed.
//
// The dispatcher reports each commit with Record. While the last commit
// failed, Check reports that failure; at most once per probe interval it
// tries a write of its own (Probe), since with no deliveries coming (a load
// balancer that stopped sending them) no commit would tell it the store has
// recovered. Every method is safe for concurrent use, and a nil WriteHealth
// records nothing and is always healthy.
type WriteHealth struct {
	probe func(ctx context.Context) error
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	err  error     // the last write's failure; nil once a write succeeded
	seen time.Time // when err was last confirmed, by a write or a probe
	gen  uint64    // counts Records, so that a probe never undoes a newer one

	probing sync.Mutex // held by the one Check that probes
}

// NewWriteHealth returns a WriteHealth that probes with probe at most once
// per every (DefaultProbeEvery when 0), reading the time from now (time.Now
// when nil).
func NewWriteHealth(probe func(ctx context.Context) error, every time.Duration, now func() time.Time) *WriteHealth {
	if every <= 0 {
		every = DefaultProbeEvery
	}
	if now == nil {
		now = time.Now
	}
	return &WriteHealth{probe: probe, every: every, now: now}
}

// Record reports the outcome of a write to the store: err is nil when it was
// committed.
func (h *WriteHealth) Record(err error) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gen++
	h.err, h.seen = err, h.now()
}

// Check returns nil when the last write succeeded (or none failed yet), and
// otherwise the error of the last failed write or probe. It probes when the
// failure is older than the probe interval and no other Check is probing.
func (h *WriteHealth) Check(ctx context.Context) error {
	if h == nil {
		return nil
	}
	seen, _, err := h.state()
	if err == nil || h.now().Sub(seen) < h.every || !h.probing.TryLock() {
		return err
	}
	defer h.probing.Unlock()
	seen, gen, err := h.state()
	if err == nil || h.now().Sub(seen) < h.every {
		return err // another Check probed, or a write came in, meanwhile
	}
	perr := h.probe(ctx)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gen == gen {
		h.err, h.seen = perr, h.now()
	}
	return h.err
}

func (h *WriteHealth) state() (seen time.Time, gen uint64, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen, h.gen, h.err
}
