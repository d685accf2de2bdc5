package postgres

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/postgres/pgtest"
)

// t0 is these tests' epoch.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// nodes opens n Stores on one fresh schema, each with its own pool, as n
// hookflow nodes would. They open at once, as nodes started together do.
func nodes(t testing.TB, n int) []*Store {
	t.Helper()
	dsn := pgtest.Schema(t)
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = Open(context.Background(), dsn, Options{}) })
	}
	wg.Wait()
	for i, s := range stores {
		if s != nil {
			t.Cleanup(func() { s.Close() })
		}
		if errs[i] != nil {
			t.Fatalf("Open node %d: %v", i, errs[i])
		}
	}
	return stores
}

// event returns a webhook event with one run, changed by opts.
func event(id string, opts ...func(*store.Dispatch)) *store.Dispatch {
	d := &store.Dispatch{
		Event:       &store.Event{ID: "evt-" + id, Trigger: "webhook", ReceivedAt: t0},
		Runs:        []*store.Run{{ID: "run-" + id, Workflow: "deploy", Attempt: 1, QueuedAt: t0}},
		DedupWindow: time.Hour,
	}
	for _, o := range opts {
		o(d)
	}
	return d
}

// fromEveryNode dispatches each of ds, one per goroutine, spread over stores.
func fromEveryNode(t *testing.T, stores []*Store, ds []*store.Dispatch) {
	t.Helper()
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Go(func() {
			if err := stores[i%len(stores)].Dispatch(t.Context(), []*store.Dispatch{d}, 0, t0); err != nil || d.Err != nil {
				t.Errorf("Dispatch %s: %v, %v", d.Event.ID, err, d.Err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

// TestRulesAcrossNodes checks that dedup, cooldowns and pending: latest hold
// when the competing dispatches come from different nodes at the same time.
func TestRulesAcrossNodes(t *testing.T) {
	const copies = 12
	stores := nodes(t, 3)
	s := stores[0]

	t.Run("Dedup", func(t *testing.T) {
		var ds []*store.Dispatch
		for i := range copies {
			ds = append(ds, event(fmt.Sprint("dedup-", i), func(d *store.Dispatch) { d.Event.DedupKey = "delivery-1" }))
		}
		fromEveryNode(t, stores, ds)
		var first string
		for _, d := range ds {
			if d.Duplicate == nil {
				if first != "" {
					t.Fatalf("events %s and %s were both stored for one dedup key", first, d.Event.ID)
				}
				first = d.Event.ID
			}
		}
		for _, d := range ds {
			if d.Duplicate != nil && d.Duplicate.ID != first {
				t.Fatalf("Duplicate = %s, want %s", d.Duplicate.ID, first)
			}
		}
	})

	t.Run("Cooldown", func(t *testing.T) {
		var ds []*store.Dispatch
		for i := range copies {
			ds = append(ds, event(fmt.Sprint("cooldown-", i), func(d *store.Dispatch) {
				d.Runs[0].CooldownKey, d.Runs[0].CooldownPeriod = "disk-web1", time.Hour
			}))
		}
		fromEveryNode(t, stores, ds)
		queued := 0
		for _, d := range ds {
			r, err := s.GetRun(t.Context(), d.Runs[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case r.Status == "queued":
				queued++
			case r.Status != "skipped" || r.Reason != "cooldown: key disk-web1 ran 0s ago":
				t.Fatalf("run %s is %s (%q)", r.ID, r.Status, r.Reason)
			}
		}
		if queued != 1 {
			t.Fatalf("%d runs queued within one cooldown period, want 1", queued)
		}
	})

	t.Run("PendingLatest", func(t *testing.T) {
		var ds []*store.Dispatch
		for i := range copies {
			ds = append(ds, event(fmt.Sprint("latest-", i), func(d *store.Dispatch) {
				d.Runs[0].Group, d.Runs[0].PendingLatest = "deploy/web", true
			}))
		}
		fromEveryNode(t, stores, ds)
		runs, err := s.ListRuns(t.Context(), store.RunFilter{Status: "queued"})
		if err != nil {
			t.Fatal(err)
		}
		var latest []*store.Run
		for _, r := range runs {
			if r.Group == "deploy/web" {
				latest = append(latest, r)
			}
		}
		if len(latest) != 1 {
			t.Fatalf("%d runs of the group still queued, want only the latest", len(latest))
		}
		for _, d := range ds {
			if r := d.Runs[0]; r.ID != latest[0].ID && r.Seq > latest[0].Seq {
				t.Fatalf("run %s (seq %d) is newer than the queued one (seq %d)", r.ID, r.Seq, latest[0].Seq)
			}
		}
	})
}

// TestGroupsAcrossNodes claims and finishes grouped runs from three nodes
// while more are dispatched, and checks that a group never has two runs at
// once and runs them in arrival order.
func TestGroupsAcrossNodes(t *testing.T) {
	const groups, perGroup, claimersPerNode = 6, 12, 2
	stores := nodes(t, 3)
	ctx := t.Context()

	var (
		mu        sync.Mutex
		active    = make(map[string]string) // group → the claimed, unfinished run
		lastSeq   = make(map[string]int64)
		finished  int
		dispensed = make(chan struct{})
	)
	var dispatchers sync.WaitGroup
	for n, s := range stores {
		dispatchers.Go(func() {
			for i := n; i < groups*perGroup; i += len(stores) {
				d := event(fmt.Sprint("g-", i), func(d *store.Dispatch) { d.Runs[0].Group = fmt.Sprint("g", i%groups) })
				if err := s.Dispatch(ctx, []*store.Dispatch{d}, 0, t0); err != nil || d.Err != nil {
					t.Errorf("Dispatch: %v, %v", err, d.Err)
					return
				}
			}
		})
	}
	go func() { dispatchers.Wait(); close(dispensed) }()

	var claimers sync.WaitGroup
	for n, s := range stores {
		for c := range claimersPerNode {
			node := fmt.Sprintf("n%d-%d", n, c)
			claimers.Go(func() {
				for {
					r, err := s.Claim(ctx, node, time.Minute, t0)
					if err != nil {
						t.Errorf("Claim(%s): %v", node, err)
						return
					}
					if r == nil {
						mu.Lock()
						done := finished == groups*perGroup
						mu.Unlock()
						if done || t.Failed() {
							return
						}
						runtime.Gosched()
						continue
					}
					mu.Lock()
					if other, busy := active[r.Group]; busy {
						t.Errorf("run %s claimed while run %s of group %s runs", r.ID, other, r.Group)
					}
					if r.Seq <= lastSeq[r.Group] {
						t.Errorf("group %s: seq %d claimed after seq %d", r.Group, r.Seq, lastSeq[r.Group])
					}
					active[r.Group], lastSeq[r.Group] = r.ID, r.Seq
					mu.Unlock()
					runtime.Gosched()
					// Free the group here before the store does, so that a
					// claim the store allows never finds it busy.
					mu.Lock()
					delete(active, r.Group)
					finished++
					mu.Unlock()
					if err := s.Finish(ctx, node, &store.Run{ID: r.ID, Status: "succeeded", FinishedAt: t0}); err != nil {
						t.Errorf("Finish(%s): %v", r.ID, err)
						return
					}
				}
			})
		}
	}
	claimers.Wait()
	<-dispensed
	if n, err := stores[0].QueueDepth(ctx); err != nil || n != 0 {
		t.Fatalf("QueueDepth = %d, %v; want 0", n, err)
	}
}

// TestNotifications checks that a dispatch on one node wakes the listener of
// another.
func TestNotifications(t *testing.T) {
	stores := nodes(t, 2)
	ctx, cancel := context.WithCancel(t.Context())
	ch := stores[1].Notifications(ctx, nil)
	// The first value says "listening" (and that anything before was missed).
	receive(t, ch, "the first notification, on connecting")
	for i := range 3 {
		d := event(fmt.Sprint("notify-", i))
		if err := stores[0].Dispatch(ctx, []*store.Dispatch{d}, 0, t0); err != nil || d.Err != nil {
			t.Fatalf("Dispatch: %v, %v", err, d.Err)
		}
		receive(t, ch, "a notification after a dispatch")
	}
	cancel()
	for range ch { // closed once ctx ends
	}
}

// TestCancelRequests checks that a cancel requested on one node, through
// Cancel or through a dispatch with cancel_in_progress, reaches the listener
// of another node, and that a new listener hears first of the cancels
// requested before it listened.
func TestCancelRequests(t *testing.T) {
	stores := nodes(t, 2)
	ctx := t.Context()
	// Other tests' schemas share the database's notifications: the ids here
	// are this test's own.
	unique := fmt.Sprint(time.Now().UnixNano())
	claim := func(d *store.Dispatch) string {
		t.Helper()
		if err := stores[0].Dispatch(ctx, []*store.Dispatch{d}, 0, t0); err != nil || d.Err != nil {
			t.Fatalf("Dispatch: %v, %v", err, d.Err)
		}
		r, err := stores[1].Claim(ctx, "n1", time.Hour, t0)
		if err != nil || r == nil || r.ID != d.Runs[0].ID {
			t.Fatalf("Claim = %+v, %v; want %s", r, err, d.Runs[0].ID)
		}
		return r.ID
	}
	listen, stop := context.WithCancel(ctx)
	ch := stores[1].CancelRequests(listen, nil)

	// The listener may not listen yet: a running run's cancel may be asked
	// for again, and is notified each time.
	byAPI := claim(event("api-" + unique))
	waitID(t, ch, byAPI, func() {
		if _, err := stores[0].Cancel(ctx, byAPI, "cancelled through the API"); err != nil {
			t.Fatalf("Cancel: %v", err)
		}
	})
	if err := stores[1].Finish(ctx, "n1", &store.Run{ID: byAPI, Status: "cancelled"}); err != nil {
		t.Fatalf("Finish: %v", err)
	}

	inGroup := func(d *store.Dispatch) {
		d.Runs[0].Group, d.Runs[0].CancelInProgress = "g-"+unique, true
	}
	older := claim(event("older-"+unique, inGroup))
	// The listener listens by now: it heard of the first cancel.
	newer := event("newer-"+unique, inGroup)
	if err := stores[0].Dispatch(ctx, []*store.Dispatch{newer}, 0, t0); err != nil || newer.Err != nil {
		t.Fatalf("Dispatch: %v, %v", err, newer.Err)
	}
	waitID(t, ch, older, nil)
	if r, err := stores[1].GetRun(ctx, older); err != nil || r.Reason != store.CancelInProgressReason(newer.Runs[0].ID) {
		t.Fatalf("GetRun = %+v, %v; want the reason naming the newer run", r, err)
	}
	stop()
	for range ch { // closed once ctx ends
	}

	// A listener that comes later hears first of the runs whose cancel
	// was requested already.
	ch = stores[0].CancelRequests(ctx, nil)
	waitID(t, ch, older, nil)
}

// waitID calls ask, then waits for id on ch, asking again every so often,
// for a bounded time; with no ask, it only waits. Other ids are passed over.
func waitID(t *testing.T, ch <-chan string, id string, ask func()) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	again := time.NewTicker(200 * time.Millisecond)
	defer again.Stop()
	if ask == nil {
		ask = func() {}
	}
	ask()
	for {
		select {
		case got, ok := <-ch:
			if !ok {
				t.Fatalf("waiting for %s: the channel was closed", id)
			}
			if got == id {
				return
			}
		case <-again.C:
			ask()
		case <-deadline:
			t.Fatalf("%s did not come within 30s", id)
		}
	}
}

// receive waits for a value on ch, for a bounded time.
func receive(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("%s: the channel was closed", what)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no %s within 30s", what)
	}
}

// TestLeaderHandover runs three candidates for one role and checks that one
// leads at a time, and that another takes over when the leader stops.
func TestLeaderHandover(t *testing.T) {
	stores := nodes(t, 3)
	role := "test-" + t.Name()
	type candidate struct {
		l    *Leader
		stop context.CancelFunc
		done chan struct{}
	}
	cs := make([]*candidate, len(stores))
	for i, s := range stores {
		ctx, stop := context.WithCancel(t.Context())
		c := &candidate{l: s.Leader(role, 20*time.Millisecond, nil), stop: stop, done: make(chan struct{})}
		go func() { defer close(c.done); c.l.Run(ctx) }()
		t.Cleanup(func() { stop(); <-c.done })
		cs[i] = c
	}
	leaders := func() (ids []int) {
		for i, c := range cs {
			if c.l.Leading() {
				ids = append(ids, i)
			}
		}
		return ids
	}
	// waitLeader waits until exactly one candidate leads, checking on the way
	// that two never do.
	waitLeader := func() int {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			ids := leaders()
			if len(ids) > 1 {
				t.Fatalf("candidates %v lead at once", ids)
			}
			if len(ids) == 1 {
				return ids[0]
			}
			if time.Now().After(deadline) {
				t.Fatal("no candidate leads after 30s")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	first := waitLeader()
	cs[first].stop()
	<-cs[first].done
	if cs[first].l.Leading() {
		t.Fatal("a stopped leader still says it leads")
	}
	second := waitLeader()
	if second == first {
		t.Fatalf("candidate %d leads again after it stopped", first)
	}
}
