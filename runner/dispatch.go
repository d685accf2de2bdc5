package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// DefaultDedupWindow is how long delivery ids are remembered.
const DefaultDedupWindow = 24 * time.Hour

// maxBatch bounds one group commit.
const maxBatch = 256

// Dispatcher stores events with their queued runs (SPEC §1): nothing is
// acknowledged before it is committed. Concurrent dispatches are committed
// together in one transaction (group commit), so that a durable fsync per
// commit still allows thousands of events a second.
type Dispatcher struct {
	c        DispatcherConfig // with defaults filled in
	requests chan *dispatchRequest
}

// DispatcherConfig configures a Dispatcher.
type DispatcherConfig struct {
	Store store.Store
	// MaxQueued refuses dispatches beyond this many queued runs (0: no limit).
	MaxQueued   int
	DedupWindow time.Duration
	// MaxBatch bounds a group commit; 1 commits every event on its own.
	MaxBatch int
	// Secrets returns the values of the named secrets, for templates that read
	// them (concurrency groups, cooldown keys).
	Secrets func(names []string) map[string]string
	// Vars are the configuration variables, for the same templates.
	Vars map[string]string
	// Notify is called after runs were queued, to wake the pool.
	Notify func()
	// CancelRequested is called with the running runs whose cancel a
	// dispatch requested (cancel_in_progress), so that the pool of this
	// process stops at once those it executes (Pool.CancelRequested).
	CancelRequested func(ids ...string)
	Metrics         *Metrics
	Now             func() time.Time
	// Health, when set, is told whether each commit reached the store.
	Health *WriteHealth
	// Handoff, when set, is given the event and item of every run queued,
	// typed, for the Pool of this process (the same Handoff as its).
	Handoff *Handoff
}

type dispatchRequest struct {
	d    *store.Dispatch
	done chan struct{}
	err  error
}

// NewDispatcher returns a dispatcher; call Run to start committing.
func NewDispatcher(c DispatcherConfig) *Dispatcher {
	if c.DedupWindow == 0 {
		c.DedupWindow = DefaultDedupWindow
	}
	if c.MaxBatch <= 0 || c.MaxBatch > maxBatch {
		c.MaxBatch = maxBatch
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Secrets == nil {
		c.Secrets = func([]string) map[string]string { return nil }
	}
	if c.Notify == nil {
		c.Notify = func() {}
	}
	if c.CancelRequested == nil {
		c.CancelRequested = func(...string) {}
	}
	d := &Dispatcher{c: c, requests: make(chan *dispatchRequest, maxBatch)}
	return d
}

// Run commits dispatches until ctx is done. Dispatches waiting when it ends fail
// with an unavailable error, so that their senders retry.
func (d *Dispatcher) Run(ctx context.Context) {
	batch := make([]*dispatchRequest, 0, d.c.MaxBatch)
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case r := <-d.requests:
					r.err = errStopping
					close(r.done)
				default:
					return
				}
			}
		case r := <-d.requests:
			batch = append(batch[:0], r)
		}
	fill:
		for len(batch) < d.c.MaxBatch {
			select {
			case r := <-d.requests:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		d.commit(ctx, batch)
	}
}

var errStopping = workflows.Errorf(workflows.EUnavailable, "server is shutting down")

// commit stores one batch, with the requests that arrive while the store
// waits for its turn to write (store.WithMore), and answers them.
func (d *Dispatcher) commit(ctx context.Context, batch []*dispatchRequest) {
	items := make([]*store.Dispatch, len(batch))
	for i, r := range batch {
		items[i] = r.d
	}
	more := func(max int) []*store.Dispatch {
		var added []*store.Dispatch
		for len(added) < max && len(batch) < d.c.MaxBatch {
			select {
			case r := <-d.requests:
				batch = append(batch, r)
				added = append(added, r.d)
			default:
				return added
			}
		}
		return added
	}
	// The commit must finish even if the server starts stopping meanwhile:
	// its senders are waiting for an answer.
	err := d.c.Store.Dispatch(store.WithMore(context.WithoutCancel(ctx), more), items, d.c.MaxQueued, d.c.Now().UTC())
	d.c.Health.Record(err)
	queued := false
	var cancel []string
	for _, r := range batch {
		r.err = err
		if err == nil {
			r.err = r.d.Err
			stored := r.d.Err == nil && r.d.Duplicate == nil
			queued = queued || (stored && len(r.d.Runs) > 0)
			if stored && r.d.Event != nil {
				d.c.Metrics.event()
			}
			if stored {
				cancel = append(cancel, r.d.CancelRequested...)
			}
		}
		close(r.done)
	}
	if len(cancel) > 0 {
		d.c.CancelRequested(cancel...)
	}
	if queued {
		d.c.Notify()
	}
}

// Dispatch stores ev and a queued run for every verdict that runs (one per
// for_each item), and returns the receipt once that is durable. dedupKey, when
// not empty, makes a repeat within the dedup window a duplicate. The error is a
// *workflows.Error: EOverloaded when the queue is full, EUnavailable when the
// store cannot take it. The runs may read ev and the verdicts' items as they
// are (Handoff): the caller must not change them afterwards. The runs record
// the actor of ctx (WithActor), if any.
func (d *Dispatcher) Dispatch(ctx context.Context, ev *workflows.Event, verdicts []workflows.Verdict, dedupKey string) (*workflows.Receipt, error) {
	if ev.ID == "" {
		ev.ID = ulid.Make().String()
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	now := d.c.Now().UTC()
	stored := &store.Event{ID: ev.ID, Trigger: ev.Trigger, Provider: ev.Provider, Path: ev.Path, Type: ev.Type,
		Delivery: ev.Delivery, DedupKey: dedupKey, ReceivedAt: ev.ReceivedAt, Data: data}
	item := &store.Dispatch{Event: stored, DedupWindow: d.c.DedupWindow}
	var items []any // the for_each item of each of item.Runs
	var skips store.SkipCounter
	for _, v := range verdicts {
		if !v.Run && skips.Count(v.Reason) {
			continue
		}
		verdict := store.Verdict{Workflow: v.Workflow.Name, Reason: v.Reason}
		if v.Run {
			runs, err := d.newRuns(ev, v, now)
			if err != nil {
				verdict.Reason = err.Error()
			}
			for i, r := range runs {
				r.Actor = actorOf(ctx)
				verdict.Runs = append(verdict.Runs, r.ID)
				items = append(items, nil)
				if v.Items != nil {
					items[len(items)-1] = v.Items[i]
				}
			}
			item.Runs = append(item.Runs, runs...)
		}
		stored.Verdicts = append(stored.Verdicts, verdict)
	}
	stored.Verdicts = skips.Append(stored.Verdicts)

	// Hand the runs over before the commit, which lets the pool claim them;
	// forget those the commit does not queue.
	handed := d.handOver(ev, data, item.Runs, items)
	req := &dispatchRequest{d: item, done: make(chan struct{})}
	select {
	case d.requests <- req:
	case <-ctx.Done():
		d.c.Handoff.drop(handed...)
		return nil, workflows.Errorf(workflows.EUnavailable, "dispatch: %v", ctx.Err())
	}
	// Once handed over, wait for the answer even if ctx ends: the event may be
	// committed, and the receipt must say so.
	<-req.done
	if req.err != nil || item.Duplicate != nil {
		d.c.Handoff.drop(handed...)
	} else {
		for _, r := range item.Runs {
			if r.Status != workflows.StatusQueued {
				d.c.Handoff.drop(r.ID)
			}
		}
	}
	if req.err != nil {
		return nil, dispatchError(req.err)
	}
	return receipt(item), nil
}

// handOver puts the event and the items of runs into the Handoff as the pool
// would decode them from the store (data is ev's JSON, and each run's Item
// its item's), and returns the ids of the runs put. A value that would not
// decode is left to the store, which fails the run alike.
func (d *Dispatcher) handOver(ev *workflows.Event, data []byte, runs []*store.Run, items []any) []string {
	if d.c.Handoff == nil || len(runs) == 0 {
		return nil
	}
	typed, err := normaliseEvent(ev, data)
	if err != nil {
		return nil
	}
	ids := make([]string, 0, len(runs))
	for i, r := range runs {
		item, err := normaliseItem(items[i], r.Item)
		if err != nil {
			continue
		}
		d.c.Handoff.put(r.ID, typed, item)
		ids = append(ids, r.ID)
	}
	return ids
}

func dispatchError(err error) error {
	var we *workflows.Error
	if errors.As(err, &we) {
		return err
	}
	return &workflows.Error{Code: workflows.EUnavailable, Message: "store unavailable: " + err.Error()}
}

// newRuns builds the queued runs of one verdict, rendering their concurrency
// group and cooldown key.
func (d *Dispatcher) newRuns(ev *workflows.Event, v workflows.Verdict, now time.Time) ([]*store.Run, error) {
	w := v.Workflow
	items := v.Items
	if items == nil {
		items = []any{nil}
	}
	scope := workflows.NewScope(ev)
	scope.Inputs = ev.Inputs
	scope.Secrets = d.c.Secrets(w.Secrets)
	scope.BindVars(d.c.Vars)
	scope.Workflow = workflows.WorkflowInfo{Name: w.Name, File: w.File, Revision: w.Revision}
	runs := make([]*store.Run, 0, len(items))
	for _, it := range items {
		r := &store.Run{ID: ulid.Make().String(), Workflow: w.Name, Revision: w.Revision, EventID: ev.ID,
			Attempt: 1, QueuedAt: now, OnInterrupt: w.OnInterrupt, Report: w.Plan()}
		s := scope.WithItem(it)
		if it != nil {
			b, err := json.Marshal(it)
			if err != nil {
				return nil, fmt.Errorf("for_each item: %w", err)
			}
			r.Item = b
		}
		if c := w.Concurrency; c != nil {
			g, err := c.Group.RenderString(s)
			if err != nil {
				return nil, fmt.Errorf("concurrency.group: %w", err)
			}
			r.Group = w.Name + "/" + g
			r.CancelInProgress = c.CancelInProgress
			r.PendingLatest = c.Pending == workflows.PendingLatest
		}
		if c := w.Cooldown; c != nil {
			k, err := c.Key.RenderString(s)
			if err != nil {
				return nil, fmt.Errorf("cooldown.key: %w", err)
			}
			r.CooldownKey, r.CooldownPeriod = w.Name+"/"+k, time.Duration(c.Period)
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// receipt describes a committed dispatch.
func receipt(d *store.Dispatch) *workflows.Receipt {
	ev, runs := d.Event, d.Runs
	rc := &workflows.Receipt{EventID: ev.ID, Runs: []workflows.RunRef{}, Skipped: []workflows.Skip{}}
	if d.Duplicate != nil {
		ev, rc.EventID, rc.Duplicate = d.Duplicate, d.Duplicate.ID, true
	}
	status := map[string]*store.Run{}
	for _, r := range runs {
		status[r.ID] = r
	}
	for _, v := range ev.Verdicts {
		if v.Count > 0 {
			rc.AddSkips("", v.Reason, v.Count)
			continue
		}
		if len(v.Runs) == 0 {
			rc.AddSkip(v.Workflow, v.Reason)
			continue
		}
		for _, id := range v.Runs {
			ref := workflows.RunRef{ID: id, Workflow: v.Workflow, Status: workflows.StatusQueued}
			if r := status[id]; r != nil {
				ref.Status = r.Status
				if r.Status == workflows.StatusSkipped {
					rc.AddSkip(v.Workflow, r.Reason)
					continue
				}
			}
			rc.Runs = append(rc.Runs, ref)
		}
	}
	return rc
}

// Rerun queues a new attempt of old for its event and item, as workflow w is
// loaded now, through the same group commit and queue rules as a dispatch,
// and returns the queued run. It keeps old's concurrency group. The run
// records the actor of ctx (WithActor).
func (d *Dispatcher) Rerun(ctx context.Context, old *store.Run, w *workflows.Workflow) (*store.Run, error) {
	run := &store.Run{ID: ulid.Make().String(), Workflow: w.Name, Revision: w.Revision, EventID: old.EventID,
		Item: old.Item, Attempt: old.Attempt + 1, RerunOf: old.ID, Group: old.Group,
		CancelInProgress: old.CancelInProgress, PendingLatest: old.PendingLatest, OnInterrupt: w.OnInterrupt,
		QueuedAt: d.c.Now().UTC(), Actor: actorOf(ctx), Report: w.Plan()}
	req := &dispatchRequest{d: &store.Dispatch{Runs: []*store.Run{run}}, done: make(chan struct{})}
	select {
	case d.requests <- req:
	case <-ctx.Done():
		return nil, workflows.Errorf(workflows.EUnavailable, "rerun: %v", ctx.Err())
	}
	<-req.done
	if req.err != nil {
		return nil, dispatchError(req.err)
	}
	return run, nil
}
