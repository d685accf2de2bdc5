package runner

import "sync"

// Bell wakes every goroutine waiting on it at once: a claim waiting for a job
// to be offered, a run waiting for a report on a job an agent runs. A ring
// with nobody waiting is not kept.
type Bell struct {
	mu sync.Mutex
	ch chan struct{}
}

// NewBell returns a bell.
func NewBell() *Bell { return &Bell{ch: make(chan struct{})} }

// Wait returns a channel that is closed at the next Ring.
func (b *Bell) Wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

// Ring wakes everyone waiting.
func (b *Bell) Ring() {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.ch)
	b.ch = make(chan struct{})
}
