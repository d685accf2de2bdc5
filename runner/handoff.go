package runner

import (
	"container/list"
	"sync"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// Handoff passes the events and for_each items that the Dispatcher of this
// process stores, typed, to the Pool of this process, so that a run
// dispatched here starts without reading its event back from the store and
// decoding it. A run it does not hold (dispatched by another node, queued
// before a restart, evicted) is read from the store as before; what it holds
// is what the store would give (NormaliseEvent, NormaliseItem).
//
// It holds at most MaxRuns runs, the oldest evicted first, each for at most
// MaxAge: a run no pool here claims soon (another node did, it was cancelled
// while queued, it waits long for its group) keeps its event in memory only
// that long. Its methods may be called from any goroutine; on a nil Handoff
// they do nothing.
type Handoff struct {
	c HandoffConfig // with defaults filled in

	mu    sync.Mutex
	runs  map[string]*list.Element // of *handed, by run id
	order list.List                // of *handed, oldest first
}

// HandoffConfig configures a Handoff.
type HandoffConfig struct {
	// MaxRuns bounds the runs held; 0 means DefaultHandoffRuns.
	MaxRuns int
	// MaxAge bounds how long a run is held; 0 means DefaultHandoffAge.
	MaxAge time.Duration
	Now    func() time.Time
}

// Defaults of HandoffConfig.
const (
	DefaultHandoffRuns = 1024
	DefaultHandoffAge  = time.Minute
)

// handed is what a Handoff holds for one run.
type handed struct {
	run   string
	event *workflows.Event
	item  any
	at    time.Time
}

// NewHandoff returns an empty Handoff; give it to the Dispatcher and the Pool
// of one process.
func NewHandoff(c HandoffConfig) *Handoff {
	if c.MaxRuns <= 0 {
		c.MaxRuns = DefaultHandoffRuns
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultHandoffAge
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Handoff{c: c, runs: map[string]*list.Element{}}
}

// Len reports how many runs h holds.
func (h *Handoff) Len() int {
	if h == nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.runs)
}

// put holds ev and item for run, evicting the oldest runs beyond the bounds.
func (h *Handoff) put(run string, ev *workflows.Event, item any) {
	if h == nil {
		return
	}
	now := h.c.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if e, ok := h.runs[run]; ok {
		h.order.Remove(e)
	}
	h.runs[run] = h.order.PushBack(&handed{run: run, event: ev, item: item, at: now})
	for len(h.runs) > h.c.MaxRuns {
		h.remove(h.order.Front())
	}
	h.expireLocked(now)
}

// take returns and forgets what h holds for run, if it holds it for the event
// eventID.
func (h *Handoff) take(run, eventID string) (*workflows.Event, any, bool) {
	if h == nil {
		return nil, nil, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.runs[run]
	if !ok {
		return nil, nil, false
	}
	x := h.remove(e)
	if x.event.ID != eventID || h.c.Now().Sub(x.at) > h.c.MaxAge {
		return nil, nil, false
	}
	return x.event, x.item, true
}

// drop forgets runs.
func (h *Handoff) drop(runs ...string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, run := range runs {
		if e, ok := h.runs[run]; ok {
			h.remove(e)
		}
	}
}

// expire forgets the runs held longer than MaxAge.
func (h *Handoff) expire() {
	if h == nil {
		return
	}
	now := h.c.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expireLocked(now)
}

func (h *Handoff) expireLocked(now time.Time) {
	for e := h.order.Front(); e != nil && now.Sub(e.Value.(*handed).at) > h.c.MaxAge; e = h.order.Front() {
		h.remove(e)
	}
}

// remove forgets the run of e and returns what was held for it. h.mu is held.
func (h *Handoff) remove(e *list.Element) *handed {
	x := h.order.Remove(e).(*handed)
	delete(h.runs, x.run)
	return x
}
