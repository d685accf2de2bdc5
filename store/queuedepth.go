package store

import (
	"sync"
	"time"
)

// QueueDepthMaxAge is how long a counted queue depth is trusted before a
// batch counts the queued runs again.
const QueueDepthMaxAge = time.Second

// QueueDepth is the queue depth a store's batches leave to the next ones, so
// that a batch need not count the queued runs (a scan that grows with the
// queue) in every transaction. It is the last count plus the runs the
// batches of this process queued since: runs that left the queue since make
// it high, never low, so it refuses nothing by itself. A batch counts again
// when the estimate is older than QueueDepthMaxAge, or when it is within a
// tenth of the limit, so that a 429 is always decided on a count. Runs that
// other nodes queue meanwhile are missed until the next count, which is what
// lets nodes dispatching at the same time overshoot the limit by a little.
//
// The zero value knows nothing; its methods may be called from any
// goroutine.
type QueueDepth struct {
	mu      sync.Mutex
	depth   int
	counted time.Time // monotonic reading of when depth was counted; zero: never
}

// estimate returns the depth, or -1 when it is unknown or stale.
func (q *QueueDepth) estimate() int {
	if q == nil {
		return -1
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.counted.IsZero() || time.Since(q.counted) > QueueDepthMaxAge {
		return -1
	}
	return q.depth
}

// set records a depth counted at counted.
func (q *QueueDepth) set(depth int, counted time.Time) {
	if q == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.depth, q.counted = depth, counted
}

// add records n more queued runs (fewer, when negative).
func (q *QueueDepth) add(n int) {
	if q == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.depth += n
}

// nearLimit reports whether a queue of depth runs is close enough to limit to
// be counted rather than estimated.
func nearLimit(depth, limit int) bool {
	return depth > limit-limit/10
}
