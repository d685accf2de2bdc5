package storetest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
)

var claimTests = []test{
	{"EmptyQueue", func(t *testing.T, h *harness) {
		h.claimWant("n1", t0, "")
	}},
	{"OldestFirstWithLease", func(t *testing.T, h *harness) {
		a, b := h.newRun("deploy"), h.newRun("lint")
		h.queue(t0, a, b)
		c := h.queue(at(time.Second), h.newRun("deploy"))[0]

		now := at(time.Minute)
		r, err := h.s.Claim(h.ctx, "n1", 30*time.Second, now)
		if err != nil {
			t.Fatalf("Claim: %v", err)
		}
		want := *a
		want.Status, want.Node, want.StartedAt, want.LeaseUntil = "running", "n1", now, now.Add(30*time.Second)
		if r == nil {
			t.Fatal("Claim = nil, want the oldest run")
		}
		if diff := runDiff(r, &want); diff != "" {
			t.Fatalf("Claim: %s", diff)
		}
		if diff := runDiff(h.get(a.ID), &want); diff != "" {
			t.Fatalf("GetRun after Claim: %s", diff)
		}
		// Runs without a group are independent: all of them run at once.
		h.claimWant("n2", now, b.ID)
		h.claimWant("n1", now, c.ID)
		h.claimWant("n1", now, "")
		h.wantDepth(0)
	}},
	{"GroupRunsOneAtATimeInOrder", func(t *testing.T, h *harness) {
		a1 := h.queue(t0, h.newRun("deploy", inGroup("web")))[0]
		a2 := h.queue(at(time.Second), h.newRun("deploy", inGroup("web")))[0]
		b1 := h.queue(at(2*time.Second), h.newRun("deploy", inGroup("api")))[0]
		c1 := h.queue(at(3*time.Second), h.newRun("lint"))[0]
		now := at(time.Minute)

		h.claimWant("n1", now, a1.ID)
		h.claimWant("n1", now, b1.ID) // a2 waits for a1
		h.claimWant("n1", now, c1.ID)
		h.claimWant("n1", now, "")
		h.finish("n1", a1.ID, "failed", at(2*time.Minute))
		h.claimWant("n2", at(2*time.Minute), a2.ID)
		h.claimWant("n2", at(2*time.Minute), "")
	}},
	{"OlderQueuedRunOfGroupGoesFirst", func(t *testing.T, h *harness) {
		// A requeued run is older than the runs queued behind it: it keeps
		// its place, and blocks them while it waits.
		first := h.queue(t0, h.newRun("deploy", inGroup("g"), requeue))[0]
		h.claimWant("n1", t0, first.ID)
		second := h.queue(at(time.Second), h.newRun("deploy", inGroup("g")))[0]
		if _, err := h.s.Recover(h.ctx, "n1", at(time.Minute)); err != nil {
			t.Fatalf("Recover: %v", err)
		}
		r := h.claimWant("n2", at(time.Minute), first.ID)
		if r.Seq != first.Seq {
			t.Fatalf("requeued run has Seq %d, want its original %d", r.Seq, first.Seq)
		}
		h.claimWant("n2", at(time.Minute), "")
		h.finish("n2", first.ID, "succeeded", at(2*time.Minute))
		h.claimWant("n2", at(2*time.Minute), second.ID)
	}},
}

var renewTests = []test{
	{"ExtendsLease", func(t *testing.T, h *harness) {
		r := h.queue(t0, h.newRun("deploy"))[0]
		h.claimWant("n1", t0, r.ID) // lease until t0+1m
		cancel, err := h.s.Renew(h.ctx, "n1", []string{r.ID}, at(10*time.Minute))
		if err != nil {
			t.Fatalf("Renew: %v", err)
		}
		wantIDs(t, "Renew", cancel, nil)
		if got := h.get(r.ID).LeaseUntil; !got.Equal(at(10 * time.Minute)) {
			t.Fatalf("LeaseUntil = %v, want %v", got, at(10*time.Minute))
		}
		recovered, err := h.s.Recover(h.ctx, "n2", at(5*time.Minute))
		if err != nil {
			t.Fatalf("Recover: %v", err)
		}
		wantIDs(t, "Recover before the renewed lease ends", runIDs(recovered), nil)
		recovered, err = h.s.Recover(h.ctx, "n2", at(11*time.Minute))
		if err != nil {
			t.Fatalf("Recover: %v", err)
		}
		wantIDs(t, "Recover after the renewed lease ends", runIDs(recovered), []string{r.ID})
	}},
	{"OnlyTheNodesRunningRuns", func(t *testing.T, h *harness) {
		mine := h.queue(t0, h.newRun("deploy"))[0]
		theirs := h.queue(t0, h.newRun("deploy"))[0]
		queued := h.queue(t0, h.newRun("deploy"))[0]
		h.claimWant("n1", t0, mine.ID)
		h.claimWant("n2", t0, theirs.ID)
		for _, id := range []string{theirs.ID, queued.ID} {
			if _, err := h.s.Cancel(h.ctx, id, "cancelled by the test"); err != nil {
				t.Fatalf("Cancel(%s): %v", id, err)
			}
		}
		cancel, err := h.s.Renew(h.ctx, "n1", []string{mine.ID, theirs.ID, queued.ID, "no-such-run"}, at(time.Hour))
		if err != nil {
			t.Fatalf("Renew: %v", err)
		}
		wantIDs(t, "Renew", cancel, nil)
		if got := h.get(theirs.ID).LeaseUntil; !got.Equal(at(time.Minute)) {
			t.Fatalf("another node's lease changed to %v", got)
		}
		if got := h.get(mine.ID).LeaseUntil; !got.Equal(at(time.Hour)) {
			t.Fatalf("LeaseUntil = %v, want %v", got, at(time.Hour))
		}
	}},
	{"ReturnsCancelRequested", func(t *testing.T, h *harness) {
		runs := h.queue(t0, h.newRun("a"), h.newRun("b"), h.newRun("c"))
		for range runs {
			h.claim("n1", t0)
		}
		for _, r := range []*store.Run{runs[0], runs[2]} {
			if _, err := h.s.Cancel(h.ctx, r.ID, "cancelled by the test"); err != nil {
				t.Fatalf("Cancel: %v", err)
			}
		}
		cancel, err := h.s.Renew(h.ctx, "n1", runIDs(runs), at(time.Minute))
		if err != nil {
			t.Fatalf("Renew: %v", err)
		}
		slices.Sort(cancel)
		wantIDs(t, "Renew", cancel, []string{runs[0].ID, runs[2].ID})
	}},
}

var finishTests = []test{
	{"RecordsResult", func(t *testing.T, h *harness) {
		r := h.queue(t0, h.newRun("deploy"))[0]
		h.claimWant("n1", at(time.Second), r.ID)
		progress := json.RawMessage(`[{"id":"build","outcome":"success"}]`)
		if err := h.s.UpdateSteps(h.ctx, r.ID, progress, "isolated"); err != nil {
			t.Fatalf("UpdateSteps: %v", err)
		}
		if got := h.get(r.ID); !jsonEqual(got.Steps, progress) || got.Sandbox != "isolated" {
			t.Fatalf("after UpdateSteps: steps %s, sandbox %q", got.Steps, got.Sandbox)
		}

		final := json.RawMessage(`[{"id":"build","outcome":"success"},{"id":"test","outcome":"failure","exit_code":2}]`)
		err := h.s.Finish(h.ctx, "n1", &store.Run{ID: r.ID, Status: "failed", Reason: "step test failed",
			FinishedAt: at(time.Minute), Steps: final, Sandbox: "isolated"})
		if err != nil {
			t.Fatalf("Finish: %v", err)
		}
		got := h.wantStatus(r.ID, "failed", "step test failed")
		if !got.FinishedAt.Equal(at(time.Minute)) || !got.StartedAt.Equal(at(time.Second)) ||
			!jsonEqual(got.Steps, final) || got.Sandbox != "isolated" || got.Node != "n1" {
			t.Fatalf("after Finish: %+v", got)
		}
		err = h.s.Finish(h.ctx, "n1", &store.Run{ID: r.ID, Status: "succeeded", FinishedAt: at(time.Minute)})
		wantErr(t, "Finish twice", err, store.ErrConflict)
		h.wantStatus(r.ID, "failed", "step test failed")
	}},
	{"ConflictUnlessRunningOnNode", func(t *testing.T, h *harness) {
		recovered := h.queue(t0, h.newRun("deploy"))[0]
		h.claimWant("n1", t0, recovered.ID)
		if _, err := h.s.Recover(h.ctx, "n2", at(2*time.Minute)); err != nil { // the lease expired
			t.Fatalf("Recover: %v", err)
		}
		theirs := h.queue(at(2*time.Minute), h.newRun("deploy"))[0]
		h.claimWant("n2", at(2*time.Minute), theirs.ID)
		queued := h.queue(at(2*time.Minute), h.newRun("deploy"))[0]

		for _, tc := range []struct{ what, id string }{
			{"another node's run", theirs.ID},
			{"a run recovered by another node", recovered.ID},
			{"a queued run", queued.ID},
		} {
			err := h.s.Finish(h.ctx, "n1", &store.Run{ID: tc.id, Status: "succeeded", FinishedAt: at(3 * time.Minute)})
			wantErr(t, "Finish of "+tc.what, err, store.ErrConflict)
		}
		err := h.s.Finish(h.ctx, "n1", &store.Run{ID: "no-such-run", Status: "succeeded", FinishedAt: at(3 * time.Minute)})
		wantErr(t, "Finish of an unknown run", err, store.ErrNotFound)
		h.wantStatus(theirs.ID, "running", "")
		h.wantStatus(recovered.ID, "failed", "interrupted")
		h.wantStatus(queued.ID, "queued", "")
	}},
	{"UpdateStepsNeedsRunningRun", func(t *testing.T, h *harness) {
		r := h.queue(t0, h.newRun("deploy"))[0]
		err := h.s.UpdateSteps(h.ctx, r.ID, json.RawMessage(`[]`), "process")
		wantErr(t, "UpdateSteps of a queued run", err, store.ErrConflict)
		err = h.s.UpdateSteps(h.ctx, "no-such-run", json.RawMessage(`[]`), "process")
		wantErr(t, "UpdateSteps of an unknown run", err, store.ErrNotFound)
	}},
}

var cancelTests = []test{
	{"QueuedRunIsSkipped", func(t *testing.T, h *harness) {
		r := h.queue(t0, h.newRun("deploy"))[0]
		got, err := h.s.Cancel(h.ctx, r.ID, "cancelled by the test")
		if err != nil {
			t.Fatalf("Cancel: %v", err)
		}
		if got.ID != r.ID || got.Status != "skipped" || got.Reason != "cancelled before start" || got.FinishedAt.IsZero() {
			t.Fatalf("Cancel = %+v, want skipped (cancelled before start) with FinishedAt", got)
		}
		h.wantStatus(r.ID, "skipped", "cancelled before start")
		h.wantDepth(0)
		h.claimWant("n1", t0, "")
	}},
	{"RunningRunGetsCancelRequested", func(t *testing.T, h *harness) {
		r := h.queue(t0, h.newRun("deploy"))[0]
		h.claimWant("n1", t0, r.ID)
		const reason = "cancelled through the API"
		got, err := h.s.Cancel(h.ctx, r.ID, reason)
		if err != nil {
			t.Fatalf("Cancel: %v", err)
		}
		if got.Status != "running" || !got.CancelRequested || got.Reason != reason {
			t.Fatalf("Cancel = %s (%q), CancelRequested %v; want running (%q) and true",
				got.Status, got.Reason, got.CancelRequested, reason)
		}
		if !h.wantStatus(r.ID, "running", reason).CancelRequested {
			t.Fatal("CancelRequested not stored")
		}
		// Who asked first is who stopped it.
		if got, err := h.s.Cancel(h.ctx, r.ID, "asked again"); err != nil || got.Reason != reason {
			t.Fatalf("Cancel again = %+v, %v; want the reason %q kept", got, err, reason)
		}
		h.wantStatus(r.ID, "running", reason)
		h.finish("n1", r.ID, "cancelled", at(time.Minute))
		h.wantStatus(r.ID, "cancelled", "")
	}},
	{"FinishedRunConflicts", func(t *testing.T, h *harness) {
		done := h.queue(t0, h.newRun("deploy"))[0]
		h.claimWant("n1", t0, done.ID)
		h.finish("n1", done.ID, "succeeded", at(time.Minute))
		skipped := h.queue(t0, h.newRun("deploy"))[0]
		if _, err := h.s.Cancel(h.ctx, skipped.ID, "cancelled by the test"); err != nil {
			t.Fatalf("Cancel: %v", err)
		}
		for _, id := range []string{done.ID, skipped.ID} {
			_, err := h.s.Cancel(h.ctx, id, "cancelled by the test")
			wantErr(t, "Cancel of a finished run", err, store.ErrConflict)
		}
		h.wantStatus(done.ID, "succeeded", "")
		_, err := h.s.Cancel(h.ctx, "no-such-run", "cancelled by the test")
		wantErr(t, "Cancel of an unknown run", err, store.ErrNotFound)
	}},
}

var recoverTests = []test{
	{"ExpiredLeaseFails", func(t *testing.T, h *harness) {
		r := h.queue(t0, h.newRun("deploy"))[0]
		queued := h.queue(t0, h.newRun("deploy"))[0]
		h.claimWant("n1", t0, r.ID) // lease until t0+1m
		got, err := h.s.Recover(h.ctx, "n2", at(30*time.Second))
		if err != nil {
			t.Fatalf("Recover: %v", err)
		}
		wantIDs(t, "Recover within the lease", runIDs(got), nil)

		got, err = h.s.Recover(h.ctx, "n2", at(2*time.Minute))
		if err != nil {
			t.Fatalf("Recover: %v", err)
		}
		wantIDs(t, "Recover after the lease", runIDs(got), []string{r.ID})
		if got[0].Status != "failed" || got[0].Reason != "interrupted" {
			t.Fatalf("recovered run is %s (%q), want failed (interrupted)", got[0].Status, got[0].Reason)
		}
		if s := h.wantStatus(r.ID, "failed", "interrupted"); !s.FinishedAt.Equal(at(2 * time.Minute)) {
			t.Fatalf("FinishedAt = %v, want %v", s.FinishedAt, at(2*time.Minute))
		}
		h.wantStatus(queued.ID, "queued", "")
		err = h.s.Finish(h.ctx, "n1", &store.Run{ID: r.ID, Status: "succeeded", FinishedAt: at(3 * time.Minute)})
		wantErr(t, "Finish after Recover", err, store.ErrConflict)
	}},
	{"NodesOwnRunsOnStart", func(t *testing.T, h *harness) {
		mine := h.queue(t0, h.newRun("deploy"))[0]
		theirs := h.queue(t0, h.newRun("deploy"))[0]
		done := h.queue(t0, h.newRun("deploy"))[0]
		if _, err := h.s.Claim(h.ctx, "n1", time.Hour, t0); err != nil {
			t.Fatalf("Claim: %v", err)
		}
		if _, err := h.s.Claim(h.ctx, "n2", time.Hour, t0); err != nil {
			t.Fatalf("Claim: %v", err)
		}
		if _, err := h.s.Claim(h.ctx, "n1", time.Hour, t0); err != nil {
			t.Fatalf("Claim: %v", err)
		}
		h.finish("n1", done.ID, "succeeded", at(time.Second))

		got, err := h.s.Recover(h.ctx, "n1", at(time.Minute)) // leases are still valid
		if err != nil {
			t.Fatalf("Recover: %v", err)
		}
		wantIDs(t, "Recover(n1)", runIDs(got), []string{mine.ID})
		h.wantStatus(mine.ID, "failed", "interrupted")
		h.wantStatus(theirs.ID, "running", "")
		h.wantStatus(done.ID, "succeeded", "")
	}},
	{"RequeueKeepsArrivalOrder", func(t *testing.T, h *harness) {
		r := h.queue(t0, h.newRun("deploy", requeue))[0]
		later := h.queue(at(time.Second), h.newRun("deploy"))[0]
		h.claimWant("n1", t0, r.ID)
		got, err := h.s.Recover(h.ctx, "n1", at(time.Minute))
		if err != nil {
			t.Fatalf("Recover: %v", err)
		}
		wantIDs(t, "Recover", runIDs(got), []string{r.ID})
		if got[0].Status != "queued" || !got[0].FinishedAt.IsZero() {
			t.Fatalf("requeued run is %s (finished %v), want queued and unfinished", got[0].Status, got[0].FinishedAt)
		}
		if s := h.get(r.ID); s.Status != "queued" || s.Seq != r.Seq || s.Node != "" {
			t.Fatalf("requeued run: status %s, seq %d, node %q; want queued, seq %d, no node", s.Status, s.Seq, s.Node, r.Seq)
		}
		h.wantDepth(2)
		h.claimWant("n2", at(time.Minute), r.ID)
		h.claimWant("n2", at(time.Minute), later.ID)
	}},
}
