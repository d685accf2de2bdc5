package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

var logTests = []test{
	{"AppendAssignsSeqAndReadsAfterCursor", func(t *testing.T, h *harness) {
		r := h.queue(t0, h.newRun("deploy"))[0]
		other := h.queue(t0, h.newRun("deploy"))[0]
		first := []store.LogLine{
			{Step: 0, Stream: "stdout", Time: at(time.Second), Text: "cloning"},
			{Step: 0, Stream: "stderr", Time: at(2 * time.Second), Text: "warning: shallow"},
			{Step: 1, Stream: "stdout", Time: at(3 * time.Second), Text: ""},
		}
		if err := h.s.AppendLogs(h.ctx, r.ID, first); err != nil {
			t.Fatalf("AppendLogs: %v", err)
		}
		for i, l := range first {
			if l.Seq != int64(i+1) {
				t.Fatalf("line %d got Seq %d, want %d", i, l.Seq, i+1)
			}
		}
		if err := h.s.AppendLogs(h.ctx, other.ID, []store.LogLine{{Stream: "stdout", Time: t0, Text: "other run"}}); err != nil {
			t.Fatalf("AppendLogs: %v", err)
		}
		second := []store.LogLine{
			{Step: 1, Stream: "stdout", Time: at(4 * time.Second), Text: "ok 4"},
			{Step: 1, Stream: "stdout", Time: at(5 * time.Second), Text: "ok 5"},
		}
		if err := h.s.AppendLogs(h.ctx, r.ID, second); err != nil {
			t.Fatalf("AppendLogs: %v", err)
		}
		if second[0].Seq != 4 || second[1].Seq != 5 {
			t.Fatalf("second append got Seq %d, %d; want 4, 5", second[0].Seq, second[1].Seq)
		}
		all := append(first, second...)

		for _, tc := range []struct {
			name         string
			after        int64
			limit        int
			wantFrom, to int // all[wantFrom:to]
		}{
			{"Everything", 0, 0, 0, 5},
			{"AfterCursor", 2, 0, 2, 5},
			{"AfterCursorWithLimit", 2, 2, 2, 4},
			{"Limit", 0, 1, 0, 1},
			{"PastTheEnd", 5, 10, 5, 5},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := h.s.Logs(h.ctx, r.ID, tc.after, tc.limit)
				if err != nil {
					t.Fatalf("Logs: %v", err)
				}
				want := all[tc.wantFrom:tc.to]
				if len(got) != len(want) {
					t.Fatalf("Logs(after %d, limit %d) = %d lines, want %d", tc.after, tc.limit, len(got), len(want))
				}
				for i := range want {
					g, w := got[i], want[i]
					if g.Seq != w.Seq || g.Step != w.Step || g.Stream != w.Stream || g.Text != w.Text || !g.Time.Equal(w.Time) {
						t.Fatalf("line %d = %+v, want %+v", i, g, w)
					}
				}
			})
		}
	}},
	{"UnknownRun", func(t *testing.T, h *harness) {
		err := h.s.AppendLogs(h.ctx, "no-such-run", []store.LogLine{{Stream: "stdout", Time: t0, Text: "x"}})
		wantErr(t, "AppendLogs", err, store.ErrNotFound)
		_, err = h.s.Logs(h.ctx, "no-such-run", 0, 10)
		wantErr(t, "Logs", err, store.ErrNotFound)
	}},
}

var readTests = []test{
	{"NotFound", func(t *testing.T, h *harness) {
		_, err := h.s.GetRun(h.ctx, "no-such-run")
		wantErr(t, "GetRun", err, store.ErrNotFound)
		if !store.IsNotFound(err) {
			t.Fatalf("IsNotFound(%v) = false", err)
		}
		_, err = h.s.GetEvent(h.ctx, "no-such-event")
		wantErr(t, "GetEvent", err, store.ErrNotFound)
	}},
	{"UnknownCursorIsInvalid", func(t *testing.T, h *harness) {
		h.queue(t0, h.newRun("deploy"))
		_, err := h.s.ListRuns(h.ctx, store.RunFilter{Before: "no-such-run"})
		if workflows.ErrorCode(err) != workflows.EInvalid {
			t.Fatalf("ListRuns before an unknown run = %v, want an %s error", err, workflows.EInvalid)
		}
		_, err = h.s.ListEvents(h.ctx, store.EventFilter{Before: "no-such-event"})
		if workflows.ErrorCode(err) != workflows.EInvalid {
			t.Fatalf("ListEvents before an unknown event = %v, want an %s error", err, workflows.EInvalid)
		}
	}},
	{"ListRunsFiltersNewestFirst", func(t *testing.T, h *harness) {
		e1 := h.newDispatch(t0, h.newRun("deploy"), h.newRun("lint"))
		e2 := h.newDispatch(at(time.Second), h.newRun("deploy"))
		e3 := h.newDispatch(at(2*time.Second), h.newRun("heal"))
		h.dispatch(t0, e1, e2, e3)
		a, b, c, d := e1.Runs[0].ID, e1.Runs[1].ID, e2.Runs[0].ID, e3.Runs[0].ID
		h.claimWant("n1", at(time.Minute), a)
		if _, err := h.s.Cancel(h.ctx, b, "cancelled by the test"); err != nil {
			t.Fatalf("Cancel: %v", err)
		}

		for _, tc := range []struct {
			name string
			f    store.RunFilter
			want []string
		}{
			{"All", store.RunFilter{}, []string{d, c, b, a}},
			{"Workflow", store.RunFilter{Workflow: "deploy"}, []string{c, a}},
			{"Status", store.RunFilter{Status: "queued"}, []string{d, c}},
			{"Running", store.RunFilter{Status: "running"}, []string{a}},
			{"Event", store.RunFilter{EventID: e1.Event.ID}, []string{b, a}},
			{"Combined", store.RunFilter{Workflow: "deploy", Status: "queued"}, []string{c}},
			{"NoMatch", store.RunFilter{Workflow: "nope"}, nil},
			{"Limit", store.RunFilter{Limit: 2}, []string{d, c}},
			{"Before", store.RunFilter{Before: c, Limit: 2}, []string{b, a}},
			{"BeforeOldest", store.RunFilter{Before: a}, nil},
			{"BeforeWithFilter", store.RunFilter{Workflow: "deploy", Before: c}, []string{a}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				runs, err := h.s.ListRuns(h.ctx, tc.f)
				if err != nil {
					t.Fatalf("ListRuns: %v", err)
				}
				wantIDs(t, "ListRuns", runIDs(runs), tc.want)
			})
		}
		t.Run("PagesThroughAll", func(t *testing.T) {
			var seen []string
			f := store.RunFilter{Limit: 1}
			for range 10 {
				page, err := h.s.ListRuns(h.ctx, f)
				if err != nil {
					t.Fatalf("ListRuns: %v", err)
				}
				if len(page) == 0 {
					break
				}
				seen = append(seen, runIDs(page)...)
				f.Before = page[len(page)-1].ID
			}
			wantIDs(t, "pages", seen, []string{d, c, b, a})
		})
	}},
	{"LatestRunsPerWorkflow", func(t *testing.T, h *harness) {
		var deploy, lint []string
		for i := range 4 {
			d := h.newDispatch(at(time.Duration(i)*time.Second), h.newRun("deploy"), h.newRun("lint"))
			h.dispatch(at(time.Duration(i)*time.Second), d)
			deploy = append([]string{d.Runs[0].ID}, deploy...)
			lint = append([]string{d.Runs[1].ID}, lint...)
		}
		// A workflow with fewer runs than asked for has all of them.
		once := h.newDispatch(at(5*time.Second), h.newRun("once"))
		h.dispatch(at(5*time.Second), once)
		runs, err := h.s.LatestRuns(h.ctx, 3)
		if err != nil {
			t.Fatalf("LatestRuns: %v", err)
		}
		got := map[string][]string{}
		for _, r := range runs {
			got[r.Workflow] = append(got[r.Workflow], r.ID)
		}
		wantIDs(t, "LatestRuns of deploy", got["deploy"], deploy[:3])
		wantIDs(t, "LatestRuns of lint", got["lint"], lint[:3])
		wantIDs(t, "LatestRuns of once", got["once"], []string{once.Runs[0].ID})
		if len(got) != 3 {
			t.Fatalf("LatestRuns has workflows %v, want deploy, lint and once", got)
		}
	}},
	{"GetEventsByID", func(t *testing.T, h *harness) {
		a := h.newDispatch(t0, h.newRun("deploy"))
		b := h.newDispatch(at(time.Second), h.newRun("deploy"))
		c := h.newDispatch(at(2*time.Second), h.newRun("deploy"))
		h.dispatch(t0, a, b, c)
		events, err := h.s.GetEvents(h.ctx, []string{c.Event.ID, "no-such-event", a.Event.ID})
		if err != nil {
			t.Fatalf("GetEvents: %v", err)
		}
		var ids []string
		for _, e := range events {
			ids = append(ids, e.ID)
			if e.Provider != "github" || !jsonEqual(e.Data, a.Event.Data) {
				t.Errorf("GetEvents: event %+v not as stored", e)
			}
		}
		slices.Sort(ids)
		want := []string{a.Event.ID, c.Event.ID}
		slices.Sort(want)
		wantIDs(t, "GetEvents", ids, want)
		if none, err := h.s.GetEvents(h.ctx, nil); err != nil || len(none) != 0 {
			t.Fatalf("GetEvents(nil) = %v, %v; want none", none, err)
		}
	}},
	{"ListEventsFiltersNewestFirst", func(t *testing.T, h *harness) {
		var ids []string
		for i, path := range []string{"github", "alerts", "github", "github"} {
			d := h.newDispatch(at(time.Duration(i)*time.Second), h.newRun("deploy"))
			d.Event.Path = path
			h.dispatch(at(time.Duration(i)*time.Second), d)
			ids = append(ids, d.Event.ID)
		}
		for _, tc := range []struct {
			name string
			f    store.EventFilter
			want []string
		}{
			{"All", store.EventFilter{}, []string{ids[3], ids[2], ids[1], ids[0]}},
			{"Path", store.EventFilter{Path: "github"}, []string{ids[3], ids[2], ids[0]}},
			{"PathLimit", store.EventFilter{Path: "github", Limit: 2}, []string{ids[3], ids[2]}},
			{"PathBefore", store.EventFilter{Path: "github", Before: ids[2]}, []string{ids[0]}},
			{"BeforeLimit", store.EventFilter{Before: ids[3], Limit: 2}, []string{ids[2], ids[1]}},
			{"NoMatch", store.EventFilter{Path: "gitlab"}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				events, err := h.s.ListEvents(h.ctx, tc.f)
				if err != nil {
					t.Fatalf("ListEvents: %v", err)
				}
				wantIDs(t, "ListEvents", eventIDs(events), tc.want)
			})
		}
		events, err := h.s.ListEvents(h.ctx, store.EventFilter{Limit: 1})
		if err != nil || len(events) != 1 {
			t.Fatalf("ListEvents = %d events, %v", len(events), err)
		}
		if len(events[0].Verdicts) != 1 || events[0].Verdicts[0].Workflow != "deploy" {
			t.Fatalf("listed event verdicts = %+v", events[0].Verdicts)
		}
	}},
	{"QueueDepthCountsQueuedOnly", func(t *testing.T, h *harness) {
		h.wantDepth(0)
		runs := h.queue(t0, h.newRun("a"), h.newRun("b"), h.newRun("c"), h.newRun("d"))
		h.wantDepth(4)
		h.claim("n1", t0)
		if _, err := h.s.Cancel(h.ctx, runs[3].ID, "cancelled by the test"); err != nil {
			t.Fatalf("Cancel: %v", err)
		}
		h.wantDepth(2)
	}},
	{"Ping", func(t *testing.T, h *harness) {
		if err := h.s.Ping(h.ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	}},
	{"ProbeWrite", func(t *testing.T, h *harness) {
		for _, now := range []time.Time{t0, at(time.Second)} {
			if err := h.s.ProbeWrite(h.ctx, now); err != nil {
				t.Fatalf("ProbeWrite at %s: %v", now, err)
			}
		}
		ctx, cancel := context.WithCancel(h.ctx)
		cancel()
		if err := h.s.ProbeWrite(ctx, at(2*time.Second)); err == nil {
			t.Error("ProbeWrite with a cancelled context succeeded")
		}
	}},
	{"CancelledContext", func(t *testing.T, h *harness) {
		ctx, cancel := context.WithCancel(h.ctx)
		cancel()
		d := h.newDispatch(t0, h.newRun("deploy"))
		if err := h.s.Dispatch(ctx, []*store.Dispatch{d}, 0, t0); err == nil {
			t.Fatal("Dispatch with a cancelled context succeeded")
		}
		_, err := h.s.GetEvent(h.ctx, d.Event.ID)
		wantErr(t, "GetEvent after a cancelled Dispatch", err, store.ErrNotFound)
		h.queue(t0, h.newRun("deploy"))
		if _, err := h.s.Claim(ctx, "n1", time.Minute, t0); err == nil {
			t.Fatal("Claim with a cancelled context succeeded")
		}
		h.wantDepth(1)
	}},
}

var pruneTests = []test{
	{"DeletesOldFinishedRunsAndEvents", func(t *testing.T, h *harness) {
		old := h.queue(t0, h.newRun("deploy"))[0]
		h.claimWant("n1", t0, old.ID)
		if err := h.s.AppendLogs(h.ctx, old.ID, []store.LogLine{{Stream: "stdout", Time: t0, Text: "x"}}); err != nil {
			t.Fatalf("AppendLogs: %v", err)
		}
		h.finish("n1", old.ID, "succeeded", at(time.Minute))
		waiting := h.queue(t0, h.newRun("deploy", inGroup("g")))[0]
		h.claimWant("n1", t0, waiting.ID)
		stillQueued := h.queue(t0, h.newRun("deploy", inGroup("g")))[0]
		noRuns := h.newDispatch(t0)
		h.dispatch(t0, noRuns)
		lateRun := h.queue(t0, h.newRun("deploy"))[0]
		h.claimWant("n1", at(2*time.Hour), lateRun.ID)
		h.finish("n1", lateRun.ID, "failed", at(3*time.Hour))
		recent := h.queue(at(2*time.Hour), h.newRun("deploy"))[0]

		if err := h.s.Prune(h.ctx, at(time.Hour), at(4*time.Hour)); err != nil {
			t.Fatalf("Prune: %v", err)
		}
		_, err := h.s.GetRun(h.ctx, old.ID)
		wantErr(t, "GetRun of a pruned run", err, store.ErrNotFound)
		_, err = h.s.Logs(h.ctx, old.ID, 0, 0)
		wantErr(t, "Logs of a pruned run", err, store.ErrNotFound)
		for _, id := range []string{old.EventID, noRuns.Event.ID} {
			_, err = h.s.GetEvent(h.ctx, id)
			wantErr(t, "GetEvent of a pruned event", err, store.ErrNotFound)
		}
		for _, r := range []*store.Run{waiting, stillQueued, lateRun, recent} {
			h.get(r.ID)
			if _, err := h.s.GetEvent(h.ctx, r.EventID); err != nil {
				t.Fatalf("event %s of kept run %s: %v", r.EventID, r.ID, err)
			}
		}
	}},
	{"KeepsLiveDedupKeysAndCooldowns", func(t *testing.T, h *harness) {
		first := h.newDispatch(t0, h.newRun("heal", cooldown("k", time.Hour)))
		first.Event.DedupKey, first.DedupWindow = "alert-1", 2*time.Hour
		expiring := h.newDispatch(t0)
		expiring.Event.DedupKey, expiring.DedupWindow = "alert-2", time.Minute
		h.dispatch(t0, first, expiring)

		if err := h.s.Prune(h.ctx, t0, at(30*time.Minute)); err != nil {
			t.Fatalf("Prune: %v", err)
		}
		dup := h.newDispatch(at(30 * time.Minute))
		dup.Event.DedupKey = "alert-1"
		fresh := h.newDispatch(at(30 * time.Minute))
		fresh.Event.DedupKey = "alert-2"
		again := h.newDispatch(at(30*time.Minute), h.newRun("heal", cooldown("k", time.Hour)))
		h.dispatch(at(30*time.Minute), dup, fresh, again)
		if dup.Duplicate == nil || dup.Duplicate.ID != first.Event.ID {
			t.Fatalf("after Prune: Duplicate = %v, want %s", dup.Duplicate, first.Event.ID)
		}
		if fresh.Duplicate != nil {
			t.Fatalf("expired key: Duplicate = %s, want nil", fresh.Duplicate.ID)
		}
		h.wantStatus(again.Runs[0].ID, "skipped", "cooldown: key k ran 30m0s ago")
	}},
}
