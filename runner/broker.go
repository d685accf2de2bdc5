package runner

import (
	"sync"

	"github.com/hookflow/hookflow/store"
)

// Broker fans a running run's stored log lines out to live followers. Lines are
// published after they are stored, so a follower that reads the stored log and
// then follows can skip what it has seen by Seq, and miss nothing.
type Broker struct {
	mu   sync.Mutex
	subs map[string]map[*Subscription]struct{}
}

// Subscription receives one run's lines until the run ends (C is closed).
type Subscription struct {
	C      <-chan []store.LogLine
	c      chan []store.LogLine
	broker *Broker
	run    string
	// lagged is set when the follower fell so far behind that lines were
	// dropped; it should re-read the stored log.
	lagged bool
}

// followerBuffer is how many batches a slow follower may lag before its batches
// are dropped; the server never waits for a follower.
const followerBuffer = 256

// NewBroker returns an empty broker.
func NewBroker() *Broker { return &Broker{subs: map[string]map[*Subscription]struct{}{}} }

// Subscribe follows run id's log from now on. Call Close when done.
func (b *Broker) Subscribe(id string) *Subscription {
	c := make(chan []store.LogLine, followerBuffer)
	s := &Subscription{C: c, c: c, broker: b, run: id}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs[id] == nil {
		b.subs[id] = map[*Subscription]struct{}{}
	}
	b.subs[id][s] = struct{}{}
	return s
}

// Lagged reports whether lines were dropped for this follower.
func (s *Subscription) Lagged() bool {
	s.broker.mu.Lock()
	defer s.broker.mu.Unlock()
	return s.lagged
}

// Close stops the subscription.
func (s *Subscription) Close() {
	b := s.broker
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s.run][s]; ok {
		delete(b.subs[s.run], s)
		if len(b.subs[s.run]) == 0 {
			delete(b.subs, s.run)
		}
		close(s.c)
	}
}

// Publish hands stored lines of run id to its followers, never blocking.
func (b *Broker) Publish(id string, lines []store.LogLine) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs[id] {
		select {
		case s.c <- lines:
		default:
			s.lagged = true
		}
	}
}

// End tells run id's followers that the run has ended, closing their channels.
func (b *Broker) End(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs[id] {
		close(s.c)
	}
	delete(b.subs, id)
}
