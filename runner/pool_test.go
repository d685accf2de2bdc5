package runner

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/sqlite"
	"github.com/hookflow/hookflow/workflows"
)

// queue is a real SQLite store with a dispatcher and a pool on one workflow
// set, which share a Handoff as in a server.
type queue struct {
	store      *readCounter
	set        *workflows.Set
	dispatcher *Dispatcher
	pool       *Pool
	handoff    *Handoff
	stop       func()
}

func newQueue(t *testing.T, parallel, maxQueued int, files map[string]string) *queue {
	t.Helper()
	return newQueueOn(t, nil, parallel, maxQueued, files)
}

// newQueueOn is newQueue with its store seen through wrap, when not nil.
func newQueueOn(t *testing.T, wrap func(store.Store) store.Store, parallel, maxQueued int, files map[string]string) *queue {
	t.Helper()
	dir := t.TempDir()
	var st store.Store
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "hookflow.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		st = wrap(st)
	}
	var list []*workflows.Workflow
	for name, src := range files {
		list = append(list, parse(t, "name: "+name+"\n"+src))
	}
	set, err := workflows.NewSet("test", list)
	if err != nil {
		t.Fatal(err)
	}
	x := newExecutor(t)
	q := &queue{store: &readCounter{Store: st}, set: set, handoff: NewHandoff(HandoffConfig{})}
	// The lease is long, so that its heartbeat (every third of it) cannot be
	// what tells a run of its cancel within a test.
	q.pool = NewPool(PoolConfig{Store: q.store, Executor: x, Workflows: func() *workflows.Set { return set },
		Node: "test", MaxParallel: parallel, Lease: 10 * time.Minute, Poll: 50 * time.Millisecond, ShutdownGrace: 5 * time.Second,
		Handoff: q.handoff})
	q.dispatcher = NewDispatcher(DispatcherConfig{Store: q.store, MaxQueued: maxQueued, Notify: q.pool.Wake,
		CancelRequested: q.pool.CancelRequested, Handoff: q.handoff})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { q.dispatcher.Run(ctx); done <- struct{}{} }()
	q.stop = func() { cancel(); <-done }
	t.Cleanup(func() {
		q.stop()
		st.Close()
	})
	return q
}

// startPool runs the pool until the test ends.
func (q *queue) startPool(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.pool.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// dispatch starts workflow name with env values as inputs, and returns the
// receipt.
func (q *queue) dispatch(t *testing.T, name string, inputs map[string]any) *workflows.Receipt {
	t.Helper()
	w, _ := q.set.Lookup(name)
	ev := &workflows.Event{Trigger: workflows.TriggerDispatch, Type: "dispatch", ReceivedAt: time.Now(), Inputs: inputs}
	scope := workflows.NewScope(ev)
	scope.Inputs = inputs
	rc, err := q.dispatcher.Dispatch(context.Background(), ev, []workflows.Verdict{w.Decide(scope)}, "")
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func (q *queue) wait(t testing.TB, id string) *store.Run {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		r, err := q.store.GetRun(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != workflows.StatusQueued && r.Status != workflows.StatusRunning {
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("run %s did not finish", id)
	return nil
}

func (q *queue) waitStatus(t *testing.T, id, status string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if r, err := q.store.GetRun(context.Background(), id); err == nil && r.Status == status {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("run %s never became %s", id, status)
}

// stamps is a workflow whose step appends "start N" and "end N" to a file.
func stamps(file, extra string) string {
	return `
on: {dispatch: {inputs: {n: {}}}}
` + extra + `
env: {N: "${{ inputs.n }}", FILE: ` + file + `}
steps:
  - run: |
      echo "start $N" >> "$FILE"
      sleep 0.05
      echo "end $N" >> "$FILE"
`
}

func readLines(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(strings.ReplaceAll(string(b), " ", "_"))
}

func TestGroupRunsOneAtATimeInArrivalOrder(t *testing.T) {
	file := filepath.Join(t.TempDir(), "stamps")
	q := newQueue(t, 4, 0, map[string]string{"g": stamps(file, `concurrency: {group: one}`)})
	var ids []string
	for i := range 6 {
		ids = append(ids, q.dispatch(t, "g", map[string]any{"n": string(rune('a' + i))}).Runs[0].ID)
	}
	q.startPool(t)
	for _, id := range ids {
		if r := q.wait(t, id); r.Status != workflows.StatusSucceeded {
			t.Fatalf("run %s: %s %s", id, r.Status, r.Reason)
		}
	}
	var want []string
	for i := range 6 {
		n := string(rune('a' + i))
		want = append(want, "start_"+n, "end_"+n)
	}
	if got := readLines(t, file); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("runs of one group overlapped or ran out of order:\n%v", got)
	}
}

func TestParallelLimit(t *testing.T) {
	file := filepath.Join(t.TempDir(), "stamps")
	q := newQueue(t, 2, 0, map[string]string{"p": stamps(file, "")})
	var ids []string
	for i := range 6 {
		ids = append(ids, q.dispatch(t, "p", map[string]any{"n": string(rune('a' + i))}).Runs[0].ID)
	}
	q.startPool(t)
	for _, id := range ids {
		q.wait(t, id)
	}
	running, most := 0, 0
	for _, l := range readLines(t, file) {
		if strings.HasPrefix(l, "start") {
			running++
		} else {
			running--
		}
		most = max(most, running)
	}
	if most > 2 {
		t.Errorf("%d runs at once with max_parallel_runs 2", most)
	}
}

// TestCancelInProgress: a second run of a group with cancel_in_progress stops
// the running one's step at once (the heartbeat is minutes away), and the
// first run says which run stopped it.
func TestCancelInProgress(t *testing.T) {
	q := newQueue(t, 4, 0, map[string]string{"c": `
on: {dispatch: {inputs: {n: {}}}}
concurrency: {group: deploy, cancel_in_progress: true}
env: {N: "${{ inputs.n }}"}
steps:
  - id: work
    run: '[ "$N" = second ] || sleep 30'
`})
	q.startPool(t)
	first := q.dispatch(t, "c", map[string]any{"n": "first"}).Runs[0].ID
	q.waitStep(t, first, 0, workflows.OutcomeRunning)
	second := q.dispatch(t, "c", map[string]any{"n": "second"}).Runs[0].ID
	r := q.wait(t, first)
	reason := store.CancelInProgressReason(second)
	if r.Status != workflows.StatusCancelled || r.Reason != reason {
		t.Errorf("first run: %s %q, want cancelled (%q)", r.Status, r.Reason, reason)
	}
	if took := r.FinishedAt.Sub(r.StartedAt); took >= 30*time.Second {
		t.Errorf("the first run took %s: it ended only when its step did", took)
	}
	if step := steps(t, r)[0]; step.Outcome != workflows.OutcomeCancelled || step.Error != "step stopped: "+reason {
		t.Errorf("first run's step: %s (%q), want cancelled (%q)", step.Outcome, step.Error, "step stopped: "+reason)
	}
	if r := q.wait(t, second); r.Status != workflows.StatusSucceeded {
		t.Errorf("second run: %s %q", r.Status, r.Reason)
	}
}

// steps decodes a stored run's step results.
func steps(t *testing.T, r *store.Run) []StepResult {
	t.Helper()
	var steps []StepResult
	if err := json.Unmarshal(r.Steps, &steps); err != nil {
		t.Fatalf("steps of run %s: %v", r.ID, err)
	}
	return steps
}

// waitStep waits until step i of run id has outcome, as the store shows it.
func (q *queue) waitStep(t *testing.T, id string, i int, outcome string) StepResult {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		r, err := q.store.GetRun(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Steps) > 0 {
			if s := steps(t, r); len(s) > i && s[i].Outcome == outcome {
				return s[i]
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("step %d of run %s never became %s", i, id, outcome)
	return StepResult{}
}

func TestPendingLatest(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	q := newQueue(t, 4, 0, map[string]string{"l": `
on: {dispatch: {inputs: {n: {}}}}
concurrency: {group: deploy, pending: latest}
env: {GATE: ` + gate + `}
steps:
  - run: while [ ! -e "$GATE" ]; do sleep 0.02; done
`})
	q.startPool(t)
	first := q.dispatch(t, "l", map[string]any{"n": "1"}).Runs[0].ID
	q.waitStatus(t, first, workflows.StatusRunning)
	var pending []string
	for i := range 3 {
		pending = append(pending, q.dispatch(t, "l", map[string]any{"n": string(rune('2' + i))}).Runs[0].ID)
	}
	os.WriteFile(gate, nil, 0o644)
	for i, id := range pending {
		r := q.wait(t, id)
		if i < 2 && (r.Status != workflows.StatusSkipped || !strings.HasPrefix(r.Reason, "superseded by run ")) {
			t.Errorf("pending run %d: %s %q, want skipped as superseded", i, r.Status, r.Reason)
		}
		if i == 2 && r.Status != workflows.StatusSucceeded {
			t.Errorf("latest run: %s %q", r.Status, r.Reason)
		}
	}
}

func TestQueueFullAndCooldown(t *testing.T) {
	q := newQueue(t, 1, 2, map[string]string{
		"full": "on: {dispatch: {}}\nsteps: [{run: 'true'}]\n",
		"heal": "on: {dispatch: {inputs: {host: {}}}}\ncooldown: {key: \"${{ inputs.host }}\", period: 1h}\nsteps: [{run: 'true'}]\n",
	})
	a := q.dispatch(t, "full", nil).Runs[0].ID
	b := q.dispatch(t, "full", nil).Runs[0].ID
	w, _ := q.set.Lookup("full")
	ev := &workflows.Event{Trigger: workflows.TriggerDispatch}
	_, err := q.dispatcher.Dispatch(context.Background(), ev, []workflows.Verdict{w.Decide(workflows.NewScope(ev))}, "")
	if workflows.ErrorCode(err) != workflows.EOverloaded {
		t.Fatalf("third dispatch with max_queued_runs 2: %v", err)
	}
	q.startPool(t)
	q.wait(t, a)
	q.wait(t, b)
	first := q.dispatch(t, "heal", map[string]any{"host": "a"})
	q.wait(t, first.Runs[0].ID)
	again := q.dispatch(t, "heal", map[string]any{"host": "a"})
	if len(again.Runs) != 0 || len(again.Skipped) != 1 || !strings.HasPrefix(again.Skipped[0].Reason, "cooldown: key heal/a ran ") {
		t.Errorf("second heal of a: %+v", again)
	}
	other := q.dispatch(t, "heal", map[string]any{"host": "b"})
	if len(other.Runs) != 1 {
		t.Errorf("heal of b: %+v", other)
	}
}
