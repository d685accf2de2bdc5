// Package storetest is the suite every store.Store implementation must pass,
// so that SQLite and PostgreSQL keep exactly the same rules.
//
// The suite drives time only through the now arguments of the Store methods;
// it never sleeps and never measures how long anything takes.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
)

// Run runs the suite. open is called once per subtest and must return an
// empty store that is closed when that subtest ends (t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	groups := []struct {
		name  string
		tests []test
	}{
		{"Dispatch", dispatchTests},
		{"Dedup", dedupTests},
		{"Cooldown", cooldownTests},
		{"Group", groupTests},
		{"Claim", claimTests},
		{"Renew", renewTests},
		{"Finish", finishTests},
		{"Cancel", cancelTests},
		{"Recover", recoverTests},
		{"Logs", logTests},
		{"Read", readTests},
		{"Prune", pruneTests},
		{"Parallel", parallelTests},
		{"Jobs", jobTests},
		{"Agents", agentTests},
		{"RemoteJobs", remoteTests},
		{"RemoteJobsParallel", remoteParallelTests},
		{"Refusals", refusalTests},
		{"Reports", reportTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.fn(t, &harness{t: t, s: open(t), ctx: t.Context()})
				})
			}
		})
	}
}

// test is one named subtest of the suite.
type test struct {
	name string
	fn   func(t *testing.T, h *harness)
}

// t0 is the suite's epoch; every now is t0 plus something. Times are whole
// milliseconds, the precision the contract promises.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// at is t0 + d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// harness is one subtest's store with helpers that fail the test on
// unexpected errors.
type harness struct {
	t   *testing.T
	s   store.Store
	ctx context.Context
	ids int
}

// id returns a new id with prefix, unique within the subtest.
func (h *harness) id(prefix string) string {
	h.ids++
	return fmt.Sprintf("%s-%03d", prefix, h.ids)
}

// newRun returns a run of workflow with a fresh id, changed by opts.
func (h *harness) newRun(workflow string, opts ...func(*store.Run)) *store.Run {
	r := &store.Run{ID: h.id("run"), Workflow: workflow, Attempt: 1}
	for _, o := range opts {
		o(r)
	}
	return r
}

// inGroup puts a run in concurrency group g.
func inGroup(g string) func(*store.Run) { return func(r *store.Run) { r.Group = g } }

// pendingLatest sets pending: latest.
func pendingLatest(r *store.Run) { r.PendingLatest = true }

// cancelInProgress sets cancel_in_progress: true.
func cancelInProgress(r *store.Run) { r.CancelInProgress = true }

// requeue sets on_interrupt: requeue.
func requeue(r *store.Run) { r.OnInterrupt = "requeue" }

// cooldown sets a cooldown key and period.
func cooldown(key string, period time.Duration) func(*store.Run) {
	return func(r *store.Run) { r.CooldownKey, r.CooldownPeriod = key, period }
}

// newDispatch returns a webhook event with a fresh id received at now, with
// runs (whose EventID and QueuedAt it sets) and a verdict per workflow.
func (h *harness) newDispatch(now time.Time, runs ...*store.Run) *store.Dispatch {
	e := &store.Event{ID: h.id("evt"), Trigger: "webhook", Provider: "github", Path: "github",
		Type: "push", ReceivedAt: now, Data: json.RawMessage(`{"branch":"main"}`)}
	for _, r := range runs {
		r.EventID, r.QueuedAt = e.ID, now
		e.Verdicts = append(e.Verdicts, store.Verdict{Workflow: r.Workflow, Runs: []string{r.ID}})
	}
	return &store.Dispatch{Event: e, Runs: runs, DedupWindow: time.Hour}
}

// dispatch stores batch with no queue limit, failing on any error, batch or
// item.
func (h *harness) dispatch(now time.Time, batch ...*store.Dispatch) {
	h.t.Helper()
	h.dispatchLimit(0, now, batch...)
	for _, d := range batch {
		if d.Err != nil {
			h.t.Fatalf("Dispatch %s: %v", d.Event.ID, d.Err)
		}
	}
}

// dispatchLimit stores batch with queue limit max, failing on a batch error.
func (h *harness) dispatchLimit(max int, now time.Time, batch ...*store.Dispatch) {
	h.t.Helper()
	if err := h.s.Dispatch(h.ctx, batch, max, now); err != nil {
		h.t.Fatalf("Dispatch: %v", err)
	}
}

// queue dispatches one event with runs at now and returns them.
func (h *harness) queue(now time.Time, runs ...*store.Run) []*store.Run {
	h.t.Helper()
	h.dispatch(now, h.newDispatch(now, runs...))
	return runs
}

// claim claims a run on node with a one-minute lease; nil when none is runnable.
func (h *harness) claim(node string, now time.Time) *store.Run {
	h.t.Helper()
	r, err := h.s.Claim(h.ctx, node, time.Minute, now)
	if err != nil {
		h.t.Fatalf("Claim(%s): %v", node, err)
	}
	return r
}

// claimWant claims on node and checks that it got run want ("" for none).
func (h *harness) claimWant(node string, now time.Time, want string) *store.Run {
	h.t.Helper()
	r := h.claim(node, now)
	if got := runID(r); got != want {
		h.t.Fatalf("Claim(%s) = %q, want %q", node, got, want)
	}
	return r
}

// finish finishes run id on node with status at now.
func (h *harness) finish(node, id, status string, now time.Time) {
	h.t.Helper()
	if err := h.s.Finish(h.ctx, node, &store.Run{ID: id, Status: status, FinishedAt: now}); err != nil {
		h.t.Fatalf("Finish(%s): %v", id, err)
	}
}

// get returns run id.
func (h *harness) get(id string) *store.Run {
	h.t.Helper()
	r, err := h.s.GetRun(h.ctx, id)
	if err != nil {
		h.t.Fatalf("GetRun(%s): %v", id, err)
	}
	return r
}

// wantStatus checks run id's stored status and reason.
func (h *harness) wantStatus(id, status, reason string) *store.Run {
	h.t.Helper()
	r := h.get(id)
	if r.Status != status || r.Reason != reason {
		h.t.Fatalf("run %s is %s (%q), want %s (%q)", id, r.Status, r.Reason, status, reason)
	}
	return r
}

// wantDepth checks QueueDepth.
func (h *harness) wantDepth(want int) {
	h.t.Helper()
	n, err := h.s.QueueDepth(h.ctx)
	if err != nil {
		h.t.Fatalf("QueueDepth: %v", err)
	}
	if n != want {
		h.t.Fatalf("QueueDepth = %d, want %d", n, want)
	}
}

// wantErr checks that err is target, in errors.Is's sense.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

// runID is r's id, or "" for nil.
func runID(r *store.Run) string {
	if r == nil {
		return ""
	}
	return r.ID
}

// runIDs are the ids of runs, in order.
func runIDs(runs []*store.Run) []string {
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	return ids
}

// eventIDs are the ids of events, in order.
func eventIDs(events []*store.Event) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}

// wantIDs checks a list of ids.
func wantIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) && (len(got) != 0 || len(want) != 0) {
		t.Fatalf("%s = %q, want %q", what, got, want)
	}
}

// runDiff lists the fields in which got differs from want. JSON compares by
// value, since a backend may store it reformatted (jsonb).
func runDiff(got, want *store.Run) string {
	var d differ
	d.field("ID", got.ID, want.ID)
	d.field("Seq", got.Seq, want.Seq)
	d.field("Workflow", got.Workflow, want.Workflow)
	d.field("Revision", got.Revision, want.Revision)
	d.field("EventID", got.EventID, want.EventID)
	d.doc("Item", got.Item, want.Item)
	d.field("Attempt", got.Attempt, want.Attempt)
	d.field("RerunOf", got.RerunOf, want.RerunOf)
	d.field("Actor", got.Actor, want.Actor)
	d.field("Group", got.Group, want.Group)
	d.field("CancelInProgress", got.CancelInProgress, want.CancelInProgress)
	d.field("PendingLatest", got.PendingLatest, want.PendingLatest)
	d.field("CooldownKey", got.CooldownKey, want.CooldownKey)
	d.field("CooldownPeriod", got.CooldownPeriod, want.CooldownPeriod)
	d.field("OnInterrupt", got.OnInterrupt, want.OnInterrupt)
	d.field("Status", got.Status, want.Status)
	d.field("Reason", got.Reason, want.Reason)
	d.when("QueuedAt", got.QueuedAt, want.QueuedAt)
	d.when("StartedAt", got.StartedAt, want.StartedAt)
	d.when("FinishedAt", got.FinishedAt, want.FinishedAt)
	d.field("Node", got.Node, want.Node)
	d.when("LeaseUntil", got.LeaseUntil, want.LeaseUntil)
	d.field("CancelRequested", got.CancelRequested, want.CancelRequested)
	d.field("Sandbox", got.Sandbox, want.Sandbox)
	d.doc("Steps", got.Steps, want.Steps)
	return d.String()
}

// differ collects the fields in which a value read back differs from the one
// wanted.
type differ []string

// field compares values of any type, deeply.
func (d *differ) field(name string, g, w any) {
	if !reflect.DeepEqual(g, w) {
		*d = append(*d, fmt.Sprintf("%s: got %v, want %v", name, g, w))
	}
}

// when compares times, whatever their location.
func (d *differ) when(name string, g, w time.Time) {
	if !g.Equal(w) {
		*d = append(*d, fmt.Sprintf("%s: got %v, want %v", name, g, w))
	}
}

// doc compares JSON by value.
func (d *differ) doc(name string, g, w json.RawMessage) {
	if !jsonEqual(g, w) {
		*d = append(*d, fmt.Sprintf("%s: got %s, want %s", name, g, w))
	}
}

// String is the differences found, "" for none.
func (d differ) String() string { return strings.Join(d, "; ") }

// jsonEqual reports whether a and b hold the same JSON value; empty is
// equal to empty only.
func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(va, vb)
}
