package triggers

import (
	"container/list"
	"math"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit is limits.rate: how many deliveries one client address may send to
// /hooks/ per second, with bursts of up to Burst (default twice PerSecond).
// The zero value is off.
type RateLimit struct {
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst"`
}

// Enabled reports whether the limit applies.
func (r RateLimit) Enabled() bool { return r.PerSecond > 0 }

// clientLimits holds a token bucket per client address, for at most max
// addresses. Addresses are kept in the order they were last seen: one idle
// long enough for its bucket to be full again is forgotten, since a new bucket
// would be the same; when max addresses are busy at once, the longest idle is
// forgotten to make room, which only ever lets that address send more.
type clientLimits struct {
	limit rate.Limit
	burst int
	max   int
	// refill is how long an empty bucket takes to be full.
	refill time.Duration

	mu      sync.Mutex
	clients map[string]*list.Element // of *client
	byUse   list.List                // most recently seen first
}

type client struct {
	key     string
	limiter *rate.Limiter
	seen    time.Time
}

// defaultMaxClients bounds the addresses remembered at once: about 2.5 MB.
const defaultMaxClients = 10_000

func newClientLimits(r RateLimit, maxClients int) *clientLimits {
	burst := r.Burst
	if burst <= 0 {
		burst = max(int(math.Ceil(2*r.PerSecond)), 1)
	}
	return &clientLimits{limit: rate.Limit(r.PerSecond), burst: burst, max: max(maxClients, 1),
		refill:  time.Duration(float64(burst) / r.PerSecond * float64(time.Second)),
		clients: map[string]*list.Element{}}
}

// allow takes a token for addr at now. When there is none it returns false and
// how long until there is one.
func (l *clientLimits) allow(addr string, now time.Time) (bool, time.Duration) {
	key := clientKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetIdle(now)
	var c *client
	if e, ok := l.clients[key]; ok {
		c = e.Value.(*client)
		l.byUse.MoveToFront(e)
	} else {
		if len(l.clients) >= l.max {
			l.forget(l.byUse.Back())
		}
		c = &client{key: key, limiter: rate.NewLimiter(l.limit, l.burst)}
		l.clients[key] = l.byUse.PushFront(c)
	}
	c.seen = now
	r := c.limiter.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now) // a refused delivery costs nothing
		return false, delay
	}
	return true, 0
}

// forgetIdle drops the addresses whose buckets are full again.
func (l *clientLimits) forgetIdle(now time.Time) {
	for e := l.byUse.Back(); e != nil && now.Sub(e.Value.(*client).seen) >= l.refill; e = l.byUse.Back() {
		l.forget(e)
	}
}

func (l *clientLimits) forget(e *list.Element) {
	delete(l.clients, e.Value.(*client).key)
	l.byUse.Remove(e)
}

// size is the number of addresses remembered.
func (l *clientLimits) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// clientKey is what a limit is kept per: the address, and for IPv6 its /64,
// since one client is commonly given a whole /64 and could otherwise use a
// new address for every delivery.
func clientKey(addr string) string {
	ip := net.ParseIP(addr)
	if ip == nil || ip.To4() != nil {
		return addr
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// retryAfter is a Retry-After value: whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}
