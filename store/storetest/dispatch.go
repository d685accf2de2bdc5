package storetest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
)

var dispatchTests = []test{
	{"StoresEventAndRuns", func(t *testing.T, h *harness) {
		e := &store.Event{ID: "evt-1", Trigger: "webhook", Provider: "github", Path: "github",
			Type: "push", Delivery: "d-1", DedupKey: "github:d-1", ReceivedAt: t0,
			Data: json.RawMessage(`{"branch":"main","commits":[1,2]}`),
			Verdicts: []store.Verdict{
				{Workflow: "deploy", Runs: []string{"run-1"}},
				{Workflow: "lint", Reason: "if: false"},
			}}
		r := &store.Run{ID: "run-1", Workflow: "deploy", Revision: "abc123", EventID: "evt-1",
			Item: json.RawMessage(`{"n":1}`), Attempt: 2, RerunOf: "run-0", Group: "deploy-web",
			CancelInProgress: true, PendingLatest: true, CooldownKey: "web", CooldownPeriod: 15 * time.Minute,
			OnInterrupt: "requeue", QueuedAt: t0, Actor: "api token 1 from 127.0.0.1"}
		d := &store.Dispatch{Event: e, Runs: []*store.Run{r}, DedupWindow: time.Hour}
		h.dispatch(t0, d)

		if d.Duplicate != nil {
			t.Fatalf("Duplicate = %v, want nil", d.Duplicate.ID)
		}
		if r.Status != "queued" || r.Seq <= 0 {
			t.Fatalf("after Dispatch run has Status %q, Seq %d; want queued and a Seq > 0", r.Status, r.Seq)
		}
		want := *r
		if diff := runDiff(h.get("run-1"), &want); diff != "" {
			t.Fatalf("GetRun: %s", diff)
		}
		got, err := h.s.GetEvent(h.ctx, "evt-1")
		if err != nil {
			t.Fatalf("GetEvent: %v", err)
		}
		if got.ID != e.ID || got.Trigger != e.Trigger || got.Provider != e.Provider || got.Path != e.Path ||
			got.Type != e.Type || got.Delivery != e.Delivery || got.DedupKey != e.DedupKey ||
			!got.ReceivedAt.Equal(e.ReceivedAt) || !jsonEqual(got.Data, e.Data) {
			t.Fatalf("GetEvent = %+v, want %+v", got, e)
		}
		if !reflect.DeepEqual(got.Verdicts, e.Verdicts) {
			t.Fatalf("GetEvent verdicts = %+v, want %+v", got.Verdicts, e.Verdicts)
		}
	}},
	{"RunsForExistingEvent", func(t *testing.T, h *harness) {
		first := h.queue(t0, h.newRun("deploy", inGroup("g")))[0]
		again := h.newRun("deploy", inGroup("g"), func(r *store.Run) {
			r.EventID, r.QueuedAt, r.Attempt, r.RerunOf = first.EventID, at(time.Second), 2, first.ID
			r.Actor = "ui loopback from 127.0.0.1"
		})
		h.dispatch(at(time.Second), &store.Dispatch{Runs: []*store.Run{again}})
		got := h.wantStatus(again.ID, "queued", "")
		if got.EventID != first.EventID || got.Attempt != 2 || got.RerunOf != first.ID || got.Seq <= first.Seq ||
			got.Actor != again.Actor {
			t.Fatalf("rerun stored as %+v", got)
		}
		h.claimWant("n1", at(time.Second), first.ID)
		h.claimWant("n1", at(time.Second), "")
		orphan := h.newRun("deploy", func(r *store.Run) { r.EventID = "no-such-event" })
		d := &store.Dispatch{Runs: []*store.Run{orphan}}
		h.dispatchLimit(0, at(time.Second), d)
		if d.Err == nil {
			t.Fatal("a run for an unknown event was stored")
		}
	}},
	{"BatchStoresEveryItemInOrder", func(t *testing.T, h *harness) {
		a, b, c := h.newRun("deploy"), h.newRun("lint"), h.newRun("deploy")
		batch := []*store.Dispatch{h.newDispatch(t0, a, b), h.newDispatch(t0), h.newDispatch(t0, c)}
		h.dispatch(t0, batch...)
		if !(a.Seq < b.Seq && b.Seq < c.Seq) {
			t.Fatalf("Seq = %d, %d, %d; want increasing in batch order", a.Seq, b.Seq, c.Seq)
		}
		for _, d := range batch {
			if _, err := h.s.GetEvent(h.ctx, d.Event.ID); err != nil {
				t.Fatalf("GetEvent(%s): %v", d.Event.ID, err)
			}
		}
		for _, r := range []*store.Run{a, b, c} {
			h.wantStatus(r.ID, "queued", "")
		}
		h.wantDepth(3)
	}},
	{"QueueFullFailsOnlyThatItem", func(t *testing.T, h *harness) {
		h.queue(t0, h.newRun("old"))
		fits := h.newDispatch(t0, h.newRun("a"), h.newRun("a"))    // 3 queued
		tooMany := h.newDispatch(t0, h.newRun("b"), h.newRun("b")) // would be 5
		noRuns := h.newDispatch(t0)                                // adds nothing
		last := h.newDispatch(t0, h.newRun("c"))                   // 4
		h.dispatchLimit(4, t0, fits, tooMany, noRuns, last)

		wantErr(t, "dispatch over the limit", tooMany.Err, store.ErrQueueFull)
		_, err := h.s.GetEvent(h.ctx, tooMany.Event.ID)
		wantErr(t, "GetEvent of the refused event", err, store.ErrNotFound)
		_, err = h.s.GetRun(h.ctx, tooMany.Runs[0].ID)
		wantErr(t, "GetRun of a refused run", err, store.ErrNotFound)
		for _, d := range []*store.Dispatch{fits, noRuns, last} {
			if d.Err != nil {
				t.Fatalf("item %s: Err = %v, want nil", d.Event.ID, d.Err)
			}
			if _, err := h.s.GetEvent(h.ctx, d.Event.ID); err != nil {
				t.Fatalf("GetEvent(%s): %v", d.Event.ID, err)
			}
		}
		h.wantDepth(4)
	}},
	{"BadItemFailsAlone", func(t *testing.T, h *harness) {
		stored := h.queue(t0, h.newRun("deploy"))[0]
		before := h.newDispatch(t0, h.newRun("a"))
		// The event is new but its second run reuses a stored run's id, so the
		// item fails after some of its writes.
		bad := h.newDispatch(t0, h.newRun("b"), &store.Run{ID: stored.ID, Workflow: "b", Attempt: 1})
		after := h.newDispatch(t0, h.newRun("c"))
		h.dispatchLimit(0, t0, before, bad, after)

		if bad.Err == nil {
			t.Fatal("a run with a reused id was accepted")
		}
		_, err := h.s.GetEvent(h.ctx, bad.Event.ID)
		wantErr(t, "GetEvent of the failed item", err, store.ErrNotFound)
		_, err = h.s.GetRun(h.ctx, bad.Runs[0].ID)
		wantErr(t, "GetRun of the failed item's first run", err, store.ErrNotFound)
		h.wantStatus(stored.ID, "queued", "")
		for _, d := range []*store.Dispatch{before, after} {
			if d.Err != nil {
				t.Fatalf("item %s: Err = %v, want nil", d.Event.ID, d.Err)
			}
			h.wantStatus(d.Runs[0].ID, "queued", "")
		}
		h.wantDepth(3)
	}},
	{"QueueLimitCountsOnlyQueuedRuns", func(t *testing.T, h *harness) {
		h.queue(t0, h.newRun("a"), h.newRun("a"))
		full := h.newDispatch(t0, h.newRun("b"))
		h.dispatchLimit(2, t0, full)
		wantErr(t, "dispatch at the limit", full.Err, store.ErrQueueFull)

		h.claim("n1", t0) // a running run no longer counts
		again := h.newDispatch(t0, h.newRun("b"))
		h.dispatchLimit(2, t0, again)
		if again.Err != nil {
			t.Fatalf("dispatch after a claim: %v", again.Err)
		}
		unlimited := h.newDispatch(t0, h.newRun("c"))
		h.dispatchLimit(0, t0, unlimited)
		if unlimited.Err != nil {
			t.Fatalf("dispatch with no limit: %v", unlimited.Err)
		}
		h.wantDepth(3)
	}},
	{"QueueLimitCountsSupersedesInBatch", func(t *testing.T, h *harness) {
		// The first item queues two runs, and its second supersedes its first:
		// one run is queued after it, so the second item's one fits under 2,
		// and only the third's goes over.
		first := h.newDispatch(t0, h.newRun("deploy", inGroup("g"), pendingLatest),
			h.newRun("deploy", inGroup("g"), pendingLatest))
		second := h.newDispatch(t0, h.newRun("lint"))
		third := h.newDispatch(t0, h.newRun("test"))
		h.dispatchLimit(2, t0, first, second, third)
		if first.Err != nil || second.Err != nil {
			t.Fatalf("first item: %v; second item: %v", first.Err, second.Err)
		}
		h.wantStatus(first.Runs[0].ID, "skipped", "superseded by run "+first.Runs[1].ID)
		wantErr(t, "third item over the limit", third.Err, store.ErrQueueFull)
		h.wantDepth(2)
	}},
}

var dedupTests = []test{
	{"SameKeyIsDuplicate", func(t *testing.T, h *harness) {
		first := h.newDispatch(t0, h.newRun("deploy"), h.newRun("lint"))
		first.Event.DedupKey = "github:delivery-1"
		h.dispatch(t0, first)

		dup := h.newDispatch(at(10*time.Minute), h.newRun("deploy"))
		dup.Event.DedupKey = "github:delivery-1"
		dupRun := dup.Runs[0].ID
		h.dispatch(at(10*time.Minute), dup)

		if dup.Duplicate == nil || dup.Duplicate.ID != first.Event.ID {
			t.Fatalf("Duplicate = %+v, want event %s", dup.Duplicate, first.Event.ID)
		}
		if !reflect.DeepEqual(dup.Duplicate.Verdicts, first.Event.Verdicts) {
			t.Fatalf("Duplicate verdicts = %+v, want %+v", dup.Duplicate.Verdicts, first.Event.Verdicts)
		}
		wantIDs(t, "duplicate's Runs", runIDs(dup.Runs), runIDs(first.Runs))
		for _, r := range dup.Runs {
			if r.Status != "queued" || r.EventID != first.Event.ID {
				t.Fatalf("duplicate's run %s: status %q, event %s", r.ID, r.Status, r.EventID)
			}
		}
		_, err := h.s.GetEvent(h.ctx, dup.Event.ID)
		wantErr(t, "GetEvent of the duplicate", err, store.ErrNotFound)
		_, err = h.s.GetRun(h.ctx, dupRun)
		wantErr(t, "GetRun of the duplicate's run", err, store.ErrNotFound)
		h.wantDepth(2)
	}},
	{"SameKeyInOneBatch", func(t *testing.T, h *harness) {
		a, b := h.newDispatch(t0, h.newRun("deploy")), h.newDispatch(t0, h.newRun("deploy"))
		a.Event.DedupKey, b.Event.DedupKey = "k", "k"
		h.dispatch(t0, a, b)
		if a.Duplicate != nil || b.Duplicate == nil || b.Duplicate.ID != a.Event.ID {
			t.Fatalf("Duplicate = %v, %v; want nil, %s", a.Duplicate, b.Duplicate, a.Event.ID)
		}
		h.wantDepth(1)
	}},
	{"KeyExpiresAfterWindow", func(t *testing.T, h *harness) {
		first := h.newDispatch(t0, h.newRun("deploy"))
		first.Event.DedupKey = "k" // window: one hour
		h.dispatch(t0, first)

		later := h.newDispatch(at(2*time.Hour), h.newRun("deploy"))
		later.Event.DedupKey = "k"
		h.dispatch(at(2*time.Hour), later)
		if later.Duplicate != nil {
			t.Fatalf("after the window: Duplicate = %s, want nil", later.Duplicate.ID)
		}
		h.wantStatus(later.Runs[0].ID, "queued", "")

		again := h.newDispatch(at(2*time.Hour + time.Minute))
		again.Event.DedupKey = "k"
		h.dispatch(at(2*time.Hour+time.Minute), again)
		if again.Duplicate == nil || again.Duplicate.ID != later.Event.ID {
			t.Fatalf("Duplicate = %v, want the new event %s", again.Duplicate, later.Event.ID)
		}
	}},
	{"NoKeyNeverDuplicate", func(t *testing.T, h *harness) {
		a, b := h.newDispatch(t0, h.newRun("deploy")), h.newDispatch(t0, h.newRun("deploy"))
		a.Event.Delivery, b.Event.Delivery = "same", "same"
		h.dispatch(t0, a, b)
		if a.Duplicate != nil || b.Duplicate != nil {
			t.Fatal("events without a dedup key were taken as duplicates")
		}
		h.wantDepth(2)
	}},
}

// Cooldowns are decided when a run is dispatched, so "key K ran D ago"
// measures from when the earlier run with key K was queued (not when it
// started), and only runs that were not themselves skipped count.
var cooldownTests = []test{
	{"SkipsWithinPeriod", func(t *testing.T, h *harness) {
		first := h.queue(t0, h.newRun("heal", cooldown("disk-web1", 15*time.Minute)))[0]
		r := h.queue(at(3*time.Minute), h.newRun("heal", cooldown("disk-web1", 15*time.Minute)))[0]

		const reason = "cooldown: key disk-web1 ran 3m0s ago"
		if r.Status != "skipped" || r.Reason != reason {
			t.Fatalf("after Dispatch: %s (%q), want skipped (%q)", r.Status, r.Reason, reason)
		}
		if got := h.wantStatus(r.ID, "skipped", reason); got.FinishedAt.IsZero() {
			t.Fatal("a skipped run has no FinishedAt")
		}
		h.wantStatus(first.ID, "queued", "")
		other := h.queue(at(3*time.Minute), h.newRun("heal", cooldown("disk-web2", 15*time.Minute)))[0]
		h.wantStatus(other.ID, "queued", "")
		h.wantDepth(2)
	}},
	{"ExpiresAfterPeriod", func(t *testing.T, h *harness) {
		cd := cooldown("k", 15*time.Minute)
		first := h.queue(t0, h.newRun("heal", cd))[0]
		skipped := h.queue(at(3*time.Minute), h.newRun("heal", cd))[0]
		h.wantStatus(skipped.ID, "skipped", "cooldown: key k ran 3m0s ago")
		h.claimWant("n1", at(10*time.Minute), first.ID) // starting does not restart the period

		// 16m after the first run was queued; 13m after the skipped one,
		// which does not count; 6m after the first one started.
		r := h.queue(at(16*time.Minute), h.newRun("heal", cd))[0]
		h.wantStatus(r.ID, "queued", "")
		next := h.queue(at(20*time.Minute), h.newRun("heal", cd))[0]
		h.wantStatus(next.ID, "skipped", "cooldown: key k ran 4m0s ago")
	}},
	{"SameKeyInOneBatch", func(t *testing.T, h *harness) {
		a := h.newDispatch(t0, h.newRun("heal", cooldown("k", time.Minute)))
		b := h.newDispatch(t0, h.newRun("heal", cooldown("k", time.Minute)))
		h.dispatch(t0, a, b)
		h.wantStatus(a.Runs[0].ID, "queued", "")
		h.wantStatus(b.Runs[0].ID, "skipped", "cooldown: key k ran 0s ago")
	}},
}

var groupTests = []test{
	{"PendingLatestSupersedesQueued", func(t *testing.T, h *harness) {
		g := inGroup("deploy-web")
		running := h.queue(t0, h.newRun("deploy", g, pendingLatest))[0]
		h.claimWant("n1", t0, running.ID)
		other := h.queue(at(time.Minute), h.newRun("deploy", inGroup("deploy-api"), pendingLatest))[0]
		older := h.queue(at(time.Minute), h.newRun("deploy", g, pendingLatest))[0]
		h.wantStatus(older.ID, "queued", "")

		newer := h.queue(at(2*time.Minute), h.newRun("deploy", g, pendingLatest))[0]
		if r := h.wantStatus(older.ID, "skipped", "superseded by run "+newer.ID); r.FinishedAt.IsZero() {
			t.Fatal("a superseded run has no FinishedAt")
		}
		h.wantStatus(newer.ID, "queued", "")
		h.wantStatus(running.ID, "running", "")
		h.wantStatus(other.ID, "queued", "")
		h.wantDepth(2)
	}},
	{"PendingLatestInOneBatch", func(t *testing.T, h *harness) {
		a := h.newDispatch(t0, h.newRun("deploy", inGroup("g"), pendingLatest))
		b := h.newDispatch(t0, h.newRun("deploy", inGroup("g"), pendingLatest))
		h.dispatch(t0, a, b)
		ra, rb := a.Runs[0], b.Runs[0]
		reason := "superseded by run " + rb.ID
		if ra.Status != "skipped" || ra.Reason != reason {
			t.Fatalf("after Dispatch the first run is %s (%q), want skipped (%q)", ra.Status, ra.Reason, reason)
		}
		h.wantStatus(ra.ID, "skipped", reason)
		h.wantStatus(rb.ID, "queued", "")
	}},
	{"PendingAllKeepsEveryRun", func(t *testing.T, h *harness) {
		runs := h.queue(t0, h.newRun("deploy", inGroup("g")), h.newRun("deploy", inGroup("g")))
		h.queue(t0, h.newRun("deploy", inGroup("g")))
		for _, r := range runs {
			h.wantStatus(r.ID, "queued", "")
		}
		h.wantDepth(3)
	}},
	{"CancelInProgressRequestsCancel", func(t *testing.T, h *harness) {
		g := inGroup("g")
		running := h.queue(t0, h.newRun("deploy", g, cancelInProgress))[0]
		h.claimWant("n1", t0, running.ID)
		h.queue(t0, h.newRun("deploy", g)) // without cancel_in_progress
		if h.get(running.ID).CancelRequested {
			t.Fatal("a run without cancel_in_progress requested a cancel")
		}
		h.queue(t0, h.newRun("deploy", inGroup("other"), cancelInProgress))
		if h.get(running.ID).CancelRequested {
			t.Fatal("a run of another group requested a cancel")
		}

		d := h.newDispatch(at(time.Minute), h.newRun("deploy", g, cancelInProgress))
		h.dispatch(at(time.Minute), d)
		next := d.Runs[0]
		reason := store.CancelInProgressReason(next.ID)
		if r := h.wantStatus(running.ID, "running", reason); !r.CancelRequested {
			t.Fatal("CancelRequested not set on the group's running run")
		}
		wantIDs(t, "Dispatch's CancelRequested", d.CancelRequested, []string{running.ID})
		h.wantStatus(next.ID, "queued", "")

		// A cancel already requested is not requested again: the first
		// reason stays, and the dispatch reports nothing.
		again := h.newDispatch(at(time.Minute), h.newRun("deploy", g, cancelInProgress))
		h.dispatch(at(time.Minute), again)
		wantIDs(t, "CancelRequested of a second dispatch", again.CancelRequested, nil)
		h.wantStatus(running.ID, "running", reason)
		cancel, err := h.s.Renew(h.ctx, "n1", []string{running.ID}, at(2*time.Minute))
		if err != nil {
			t.Fatalf("Renew: %v", err)
		}
		wantIDs(t, "Renew", cancel, []string{running.ID})
	}},
}
