// Package intake is the one way an event enters hookflow (SPEC §1): a webhook
// delivery, a cron tick, a manual dispatch or a replay is verified, normalised
// into a workflows.Event and matched against the active workflows, and then
// either stored with the runs it starts (Accept) or only explained (Explain).
// The webhook endpoint, the management API, the cron scheduler and the CLI all
// go through it, so that each gives the same verdict for the same event.
package intake

import (
	"context"
	"sync"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// Committer stores an event with a queued run for every verdict that runs, and
// returns the receipt once that is durable. dedupKey, when not empty, makes a
// repeat within the dedup window a duplicate. It is safe for concurrent use;
// its errors are *workflows.Error with EOverloaded (queue full) or
// EUnavailable (store down, stopping). The runner's Dispatcher is one.
type Committer interface {
	Dispatch(ctx context.Context, ev *workflows.Event, verdicts []workflows.Verdict, dedupKey string) (*workflows.Receipt, error)
}

// Intake decides what an event starts. Set the fields before first use; an
// Intake is safe for concurrent use.
type Intake struct {
	// Workflows returns the active workflow set.
	Workflows func() *workflows.Set
	// Commit stores accepted events; Explain does not need it.
	Commit Committer
	// Secrets returns the values of the named secrets, for the signature
	// secrets of webhook triggers.
	Secrets func(names []string) map[string]string
	// Vars are the configuration variables that filters read as vars.NAME.
	Vars map[string]string
	// Now is the clock (default time.Now).
	Now func() time.Time

	buffers sync.Pool // *[]workflows.Verdict, reused between deliveries
}

// Entry is one way an event enters: a Delivery, a Tick, a Manual start or a
// Replay. Each builds its event and decides which workflows it starts.
type Entry interface {
	decide(in *Intake, set *workflows.Set, verify bool) (*Decision, error)
}

// Decision is what an entry starts: its event, one verdict per workflow that
// considered it, and the key that makes a redelivery a duplicate.
type Decision struct {
	Event    *workflows.Event
	Verdicts []workflows.Verdict
	DedupKey string
	// Challenge is set, and nothing else is decided, when the delivery is a
	// Slack url_verification handshake, answered with it and never stored.
	Challenge string

	buf  *[]workflows.Verdict // returned to pool by Release
	pool *sync.Pool
}

// Release hands the decision's verdict buffer back for reuse. The decision
// must not be used afterwards.
func (d *Decision) Release() {
	if d == nil || d.buf == nil {
		return
	}
	clear(d.Verdicts) // keep no workflow or item alive through the pool
	*d.buf = d.Verdicts[:0]
	d.pool.Put(d.buf)
	d.buf, d.Verdicts = nil, nil
}

// Explain decides what e would start, with nothing stored and no signature
// checked: what `hookflow match`, `POST /api/v1/match` and `hookflow run` use.
func (in *Intake) Explain(_ context.Context, e Entry) (*Decision, error) {
	return e.decide(in, in.Workflows(), false)
}

// Accept verifies e, decides what it starts and stores the event with its
// runs, and returns the receipt once that is durable. A Slack handshake is
// answered without storing anything: the decision has its Challenge and the
// receipt is nil. The caller releases the decision when done with it.
func (in *Intake) Accept(ctx context.Context, e Entry) (*Decision, *workflows.Receipt, error) {
	d, err := e.decide(in, in.Workflows(), true)
	if err != nil || d.Challenge != "" {
		return d, nil, err
	}
	rc, err := in.Commit.Dispatch(ctx, d.Event, d.Verdicts, d.DedupKey)
	if err != nil {
		return d, nil, err
	}
	return d, rc, nil
}

func (in *Intake) now() time.Time {
	if in.Now != nil {
		return in.Now()
	}
	return time.Now()
}

// verdictBuffer returns a buffer to match into, from the pool.
func (in *Intake) verdictBuffer() *[]workflows.Verdict {
	buf, _ := in.buffers.Get().(*[]workflows.Verdict)
	if buf == nil {
		buf = new([]workflows.Verdict)
	}
	return buf
}

// scope is a new scope for ev with the configuration variables bound.
func (in *Intake) scope(ev *workflows.Event) *workflows.Scope {
	s := workflows.NewScope(ev)
	s.BindVars(in.Vars)
	return s
}
