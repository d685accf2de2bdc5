package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// readCounter is a store that counts the events read back from it.
type readCounter struct {
	store.Store
	events atomic.Int64
}

func (s *readCounter) GetEvent(ctx context.Context, id string) (*store.Event, error) {
	s.events.Add(1)
	return s.Store.GetEvent(ctx, id)
}

// rendered is a workflow whose one step reports, as its outputs, templates
// over the event, its headers and body, the inputs and the for_each item,
// and a digest of $HOOKFLOW_EVENT. Its items include numbers an expression
// makes (ints) and a struct (an alert).
const rendered = `
on: {dispatch: {inputs: {n: {}}}}
for_each: '${{ [1, 2.5, {"n": 3, "tags": ["a", 4]}, "x", event.alerts[0]] }}'
env:
  T_ID: '${{ event.id }}'
  T_RECEIVED: '${{ event.received_at }}'
  T_RECEIVED_ZONE: '${{ event.received_at.Location().String() }}'
  T_STARTS: '${{ event.alerts[0].starts_at }}'
  T_STARTS_ZONE: '${{ event.alerts[0].starts_at.Location().String() }}'
  T_HEADERS: '${{ event.headers }}'
  T_HEADER: '${{ event.headers["X-Odd"] }}'
  T_QUERY: '${{ event.query }}'
  T_BODY: '${{ event.body }}'
  T_COUNT: '${{ event.body.count }}'
  T_COUNT_TYPE: '${{ type(event.body.count) }}'
  T_HALF: '${{ event.body.count / 2 }}'
  T_BIG: '${{ event.body.big }}'
  T_PRICE: '${{ event.body.price }}'
  T_PRICE_TYPE: '${{ type(event.body.price) }}'
  T_TAGS: '${{ event.body.tags }}'
  T_CHANGED: '${{ event.changed }}'
  T_RAW: '${{ event.raw }}'
  T_INPUTS: '${{ event.inputs }}'
  T_INPUT: '${{ inputs.n }}'
  T_INPUT_TYPE: '${{ type(inputs.n) }}'
  T_ITEM: '${{ item }}'
  T_ITEM_TYPE: '${{ type(item) }}'
  T_ITEM_N: '${{ type(item) == "map" ? item.n : "" }}'
  T_ITEM_N_TYPE: '${{ type(item) == "map" ? type(item.n) : "" }}'
  T_ITEM_STARTS: '${{ type(item) == "map" ? item.starts_at : "" }}'
steps:
  - id: show
    run: |
      env | grep '^T_' >> "$HOOKFLOW_OUTPUT"
      echo "T_EVENT_FILE=$(sha256sum < "$HOOKFLOW_EVENT")" >> "$HOOKFLOW_OUTPUT"
`

// typedEvents are events as the intake makes them, with values the store's
// JSON changes: ints, a time with a monotonic reading in a zone, empty lists
// and maps, a json.Number, invalid UTF-8.
func typedEvents() map[string]*workflows.Event {
	zone := time.FixedZone("CEST", 2*3600)
	alert := workflows.Alert{Status: "firing", Labels: map[string]string{"alertname": "Disk"},
		Annotations: map[string]string{}, StartsAt: time.Now().In(zone), Fingerprint: "f1"}
	return map[string]*workflows.Event{
		// Only values NormaliseEvent makes without the round trip.
		"typed": {Trigger: workflows.TriggerWebhook, Type: "push", ReceivedAt: time.Now(),
			Headers: map[string]string{"X-Odd": "a\"b", "Content-Type": "application/json"}, Query: map[string]string{},
			Body: map[string]any{"count": 3, "big": int64(1)<<60 + 1, "price": 2.5, "tags": []string{"a", "b"},
				"nested": map[string]any{"n": uint64(7), "none": []any(nil)}},
			Changed: []string{}, Alerts: []workflows.Alert{alert}, Inputs: map[string]any{"n": 5}},
		// Values it leaves to the round trip.
		"odd": {Trigger: workflows.TriggerWebhook, Type: "push", ReceivedAt: time.Now().In(zone),
			Headers: map[string]string{"X-Odd": "caf\xe9"}, Raw: "\xff\xfe{}",
			Body:   map[string]any{"count": json.Number("3"), "price": float32(2.5), "tags": [2]string{"a", "b"}},
			Alerts: []workflows.Alert{alert}, Inputs: map[string]any{"n": "5"}},
	}
}

// TestHandoffRendersAsTheStore checks that a run handed its event and item
// typed renders every template as a run that reads them from the store: two
// identical workflows match one event, the runs of one take the typed path,
// those of the other the store's, and their outputs are compared item by
// item.
func TestHandoffRendersAsTheStore(t *testing.T) {
	for name, ev := range typedEvents() {
		t.Run(name, func(t *testing.T) {
			q := newQueue(t, 4, 0, map[string]string{"typed": rendered, "stored": rendered})
			var verdicts []workflows.Verdict
			for _, w := range []string{"typed", "stored"} {
				wf, _ := q.set.Lookup(w)
				scope := workflows.NewScope(ev)
				scope.Inputs = ev.Inputs
				verdicts = append(verdicts, wf.Decide(scope))
			}
			rc, err := q.dispatcher.Dispatch(context.Background(), ev, verdicts, "")
			if err != nil {
				t.Fatal(err)
			}
			runs := map[string][]string{}
			for _, r := range rc.Runs {
				runs[r.Workflow] = append(runs[r.Workflow], r.ID)
			}
			if len(runs["typed"]) != 5 || len(runs["stored"]) != 5 || q.handoff.Len() != 10 {
				t.Fatalf("runs %v, %d handed over; want 5 of each, all handed over", runs, q.handoff.Len())
			}
			q.handoff.drop(runs["stored"]...)
			q.startPool(t)

			for i := range runs["typed"] {
				typed, stored := q.outputs(t, runs["typed"][i]), q.outputs(t, runs["stored"][i])
				if len(typed) < 27 {
					t.Fatalf("item %d: only %d outputs: %v", i, len(typed), typed)
				}
				for k, v := range stored {
					if typed[k] != v {
						t.Errorf("item %d: %s = %q from the handoff, %q from the store", i, k, typed[k], v)
					}
				}
				if len(typed) != len(stored) {
					t.Errorf("item %d: %d outputs from the handoff, %d from the store", i, len(typed), len(stored))
				}
			}
			if got := q.store.events.Load(); got != 5 {
				t.Errorf("the event was read from the store %d times, want 5 (once per run of stored)", got)
			}
			if q.handoff.Len() != 0 {
				t.Errorf("the handoff still holds %d runs", q.handoff.Len())
			}
		})
	}
}

// outputs waits for run id to succeed and returns its one step's outputs.
func (q *queue) outputs(t *testing.T, id string) map[string]any {
	t.Helper()
	r := q.wait(t, id)
	if r.Status != workflows.StatusSucceeded {
		t.Fatalf("run %s: %s %s", id, r.Status, r.Reason)
	}
	return steps(t, r)[0].Outputs
}

// TestRunDispatchedElsewhereReadsTheStore checks that a run queued by a
// dispatcher whose Handoff this pool does not share (another node's, or
// this process's before a restart) is read from the store and runs.
func TestRunDispatchedElsewhereReadsTheStore(t *testing.T) {
	q := newQueue(t, 1, 0, map[string]string{"r": rendered})
	now := time.Now()
	elsewhere := NewHandoff(HandoffConfig{Now: func() time.Time { return now }})
	q.stop() // the first dispatcher's
	q.dispatcher = NewDispatcher(DispatcherConfig{Store: q.store, Notify: q.pool.Wake, Handoff: elsewhere})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.dispatcher.Run(ctx); close(done) }()
	q.stop = func() { cancel(); <-done }

	ev := typedEvents()["typed"]
	w, _ := q.set.Lookup("r")
	rc, err := q.dispatcher.Dispatch(context.Background(), ev, []workflows.Verdict{w.Decide(workflows.NewScope(ev))}, "")
	if err != nil {
		t.Fatal(err)
	}
	q.startPool(t)
	for _, r := range rc.Runs {
		if out := q.outputs(t, r.ID); out["T_INPUT"] != "5" || out["T_COUNT_TYPE"] != "float" {
			t.Errorf("run %s: outputs %v", r.ID, out)
		}
	}
	if got := q.store.events.Load(); got != int64(len(rc.Runs)) {
		t.Errorf("the event was read from the store %d times for %d runs", got, len(rc.Runs))
	}
	// No pool takes them from the dispatcher's handoff: they go when they
	// are too old.
	if elsewhere.Len() != len(rc.Runs) || q.handoff.Len() != 0 {
		t.Errorf("handoffs hold %d and %d runs", elsewhere.Len(), q.handoff.Len())
	}
	now = now.Add(DefaultHandoffAge + time.Second)
	elsewhere.expire()
	if elsewhere.Len() != 0 {
		t.Errorf("%d runs held past their age", elsewhere.Len())
	}
}

// TestHandoffHoldsOnlyQueuedRuns checks that runs the commit does not queue
// (a duplicate delivery, a cooldown) are not held.
func TestHandoffHoldsOnlyQueuedRuns(t *testing.T) {
	q := newQueue(t, 1, 0, map[string]string{
		"heal": "on: {dispatch: {}}\ncooldown: {key: host, period: 1h}\nsteps: [{run: 'true'}]\n",
	})
	w, _ := q.set.Lookup("heal")
	dispatch := func(key string) *workflows.Receipt {
		ev := &workflows.Event{Trigger: workflows.TriggerDispatch}
		rc, err := q.dispatcher.Dispatch(context.Background(), ev, []workflows.Verdict{w.Decide(workflows.NewScope(ev))}, key)
		if err != nil {
			t.Fatal(err)
		}
		return rc
	}
	first := dispatch("one")
	if len(first.Runs) != 1 || q.handoff.Len() != 1 {
		t.Fatalf("first: %+v, %d held", first, q.handoff.Len())
	}
	q.startPool(t)
	q.wait(t, first.Runs[0].ID)
	if q.handoff.Len() != 0 {
		t.Errorf("%d held after the run", q.handoff.Len())
	}
	if rc := dispatch("one"); !rc.Duplicate || q.handoff.Len() != 0 {
		t.Errorf("duplicate: %+v, %d held", rc, q.handoff.Len())
	}
	if rc := dispatch("two"); len(rc.Skipped) != 1 || q.handoff.Len() != 0 {
		t.Errorf("in cooldown: %+v, %d held", rc, q.handoff.Len())
	}
}

// TestHandoffBounds checks that a Handoff holds at most MaxRuns runs, the
// oldest evicted first, each for at most MaxAge, and gives a run only for
// its own event, once.
func TestHandoffBounds(t *testing.T) {
	now := time.Now()
	h := NewHandoff(HandoffConfig{MaxRuns: 3, MaxAge: time.Minute, Now: func() time.Time { return now }})
	ev := &workflows.Event{ID: "ev"}
	for i := range 5 {
		h.put("run"+strconv.Itoa(i), ev, i)
		now = now.Add(time.Second)
	}
	if h.Len() != 3 {
		t.Fatalf("holds %d runs, want 3", h.Len())
	}
	for _, run := range []string{"run0", "run1"} {
		if _, _, ok := h.take(run, "ev"); ok {
			t.Errorf("%s was not evicted", run)
		}
	}
	if _, _, ok := h.take("run2", "other"); ok {
		t.Error("run2 given for another event")
	}
	if _, _, ok := h.take("run2", "ev"); ok {
		t.Error("run2 given after a mismatched take")
	}
	if got, item, ok := h.take("run3", "ev"); !ok || got != ev || item != 3 {
		t.Errorf("take(run3) = %v, %v, %v", got, item, ok)
	}
	if _, _, ok := h.take("run3", "ev"); ok {
		t.Error("run3 given twice")
	}
	now = now.Add(time.Minute)
	if _, _, ok := h.take("run4", "ev"); ok {
		t.Error("run4 given past its age")
	}
	h.put("a", ev, nil)
	h.put("b", ev, nil)
	h.drop("a", "b", "never")
	if h.Len() != 0 {
		t.Errorf("holds %d runs after dropping them all", h.Len())
	}

	var none *Handoff
	none.put("x", ev, nil)
	none.drop("x")
	none.expire()
	if _, _, ok := none.take("x", "ev"); ok || none.Len() != 0 {
		t.Error("a nil Handoff holds runs")
	}
}

// TestHandoffConcurrent uses one Handoff from many goroutines, for the race
// detector.
func TestHandoffConcurrent(t *testing.T) {
	h := NewHandoff(HandoffConfig{MaxRuns: 50})
	ev := &workflows.Event{ID: "ev"}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				run := fmt.Sprintf("%d-%d", g, i)
				h.put(run, ev, i)
				if i%3 == 0 {
					h.drop(run)
				} else {
					h.take(run, "ev")
				}
				h.expire()
				_ = h.Len()
			}
		}()
	}
	wg.Wait()
	if h.Len() > 50 {
		t.Errorf("holds %d runs, more than MaxRuns", h.Len())
	}
}
