package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

var remoteTests = []test{
	{"OfferAndClaim", func(t *testing.T, h *harness) {
		r := h.runningRun()
		lint := newJob("lint", 0, 0, "queued") // the node runs it: never offered
		h.saveJobs(r.ID, []*store.Job{lint}, nil)
		build := h.offered(r.ID, "build", time.Second, "builder", "linux")
		h.wantNoClaim("web-07", []string{"linux"}, at(2*time.Second))
		h.wantNoClaim("web-07", nil, at(2*time.Second))
		h.wantNoClaim("local", []string{"local"}, at(2*time.Second))

		now := at(2 * time.Second)
		got := h.claimJob("builder-1", []string{"gpu", "linux", "builder"}, now)
		want := claimedJob(build, "builder-1", 1, at(time.Second), now)
		if diff := jobDiff(got, want); diff != "" || got.RunID != r.ID {
			t.Fatalf("ClaimJob = run %s: %s", got.RunID, diff)
		}
		if !jsonEqual(got.Offer, offerOf("build")) {
			t.Fatalf("ClaimJob's Offer = %s, want %s", got.Offer, offerOf("build"))
		}
		h.wantNoClaim("builder-2", []string{"builder", "linux"}, at(3*time.Second))
		h.wantJobs(r.ID, want, lint)

		// A job with no labels is for any runner.
		h.offered(r.ID, "any", 4*time.Second)
		if got := h.claimJob("bare", nil, at(5*time.Second)); got.Key != "any" {
			t.Fatalf("ClaimJob with no labels = %s, want any", got.Key)
		}
	}},
	{"OfferRefusalsAndFirstOffer", func(t *testing.T, h *harness) {
		r := h.runningRun()
		h.saveJobs(r.ID, []*store.Job{newJob("done", 0, 0, "succeeded"), newJob("build", 1, 0, "queued")}, nil)
		err := h.s.OfferJob(h.ctx, r.ID, "nothing", offerOf("nothing"), "", waiting, t0)
		wantErr(t, "OfferJob of an unknown job", err, store.ErrNotFound)
		err = h.s.OfferJob(h.ctx, "no-such-run", "build", offerOf("build"), "", waiting, t0)
		wantErr(t, "OfferJob of an unknown run", err, store.ErrNotFound)
		err = h.s.OfferJob(h.ctx, r.ID, "done", offerOf("done"), "", waiting, t0)
		wantErr(t, "OfferJob of a finished job", err, store.ErrConflict)

		// Offered again, a job keeps the time it was first offered.
		if err := h.s.OfferJob(h.ctx, r.ID, "build", offerOf("build"), "", "first", at(time.Second)); err != nil {
			t.Fatalf("OfferJob: %v", err)
		}
		if err := h.s.OfferJob(h.ctx, r.ID, "build", offerOf("build"), "", waiting, at(time.Minute)); err != nil {
			t.Fatalf("OfferJob again: %v", err)
		}
		j := h.job(r.ID, "build")
		if !j.OfferedAt.Equal(at(time.Second)) || j.Reason != waiting || j.Status != "queued" {
			t.Fatalf("job offered twice: offered at %v, %s (%q); want at %v, queued (%q)",
				j.OfferedAt, j.Status, j.Reason, at(time.Second), waiting)
		}
		claimed := h.claimJob("builder", []string{"local"}, at(2*time.Minute))
		err = h.s.OfferJob(h.ctx, r.ID, "build", offerOf("build"), "", waiting, at(3*time.Minute))
		wantErr(t, "OfferJob of a claimed job", err, store.ErrConflict)
		h.wantJob(r.ID, claimed)
	}},
	{"ClaimOnlyFromRunningRuns", func(t *testing.T, h *harness) {
		cancelled := h.runningRun()
		finished := h.runningRun()
		queued := h.queue(t0, h.newRun("ship"))[0]
		for _, r := range []*store.Run{cancelled, finished, queued} {
			h.offered(r.ID, "build", 0, "builder")
		}
		if _, err := h.s.Cancel(h.ctx, cancelled.ID, "cancelled through the API"); err != nil {
			t.Fatalf("Cancel: %v", err)
		}
		h.finish("n1", finished.ID, "failed", at(time.Second))
		h.wantNoClaim("builder", []string{"builder"}, at(2*time.Second))

		h.claimWant("n2", at(2*time.Second), queued.ID)
		if got := h.claimJob("builder", []string{"builder"}, at(3*time.Second)); got.RunID != queued.ID {
			t.Fatalf("ClaimJob = a job of %s, want %s's", got.RunID, queued.ID)
		}
	}},
	{"ClaimOldestOfferFirst", func(t *testing.T, h *harness) {
		a, b, c := h.runningRun(), h.runningRun(), h.runningRun()
		h.offered(a.ID, "build", 3*time.Second, "builder")
		h.offered(b.ID, "build", time.Second, "builder")
		h.offered(c.ID, "build", 2*time.Second, "builder")
		for _, want := range []string{b.ID, c.ID, a.ID} {
			if got := h.claimJob("builder", []string{"builder"}, at(time.Minute)); got.RunID != want {
				t.Fatalf("ClaimJob = the job of %s, want %s's", got.RunID, want)
			}
		}
		h.wantNoClaim("builder", []string{"builder"}, at(time.Minute))
	}},
	{"ClaimKeepsGroups", func(t *testing.T, h *harness) {
		a, b, c := h.runningRun(), h.runningRun(), h.runningRun()
		for i, r := range []*store.Run{a, b} {
			h.saveJobs(r.ID, []*store.Job{newJob("deploy", 0, 0, "queued")}, nil)
			if err := h.s.OfferJob(h.ctx, r.ID, "deploy", offerOf("deploy"), "prod", waiting, at(time.Duration(i)*time.Second)); err != nil {
				t.Fatalf("OfferJob: %v", err)
			}
		}
		h.saveJobs(c.ID, []*store.Job{newJob("deploy", 0, 0, "queued")}, nil) // the node's own
		start := func(want bool) {
			t.Helper()
			if got, err := h.s.StartJob(h.ctx, c.ID, "deploy", "prod", "n1", at(time.Minute)); err != nil || got != want {
				t.Fatalf("StartJob = %v, %v; want %v", got, err, want)
			}
		}

		first := h.claimJob("agent-1", []string{"local"}, at(time.Minute))
		if first.RunID != a.ID {
			t.Fatalf("ClaimJob = the job of %s, want %s's", first.RunID, a.ID)
		}
		h.wantNoClaim("agent-2", []string{"local"}, at(time.Minute))
		start(false)
		h.finishJob(first, "agent-1", "succeeded", at(2*time.Minute))
		second := h.claimJob("agent-2", []string{"local"}, at(2*time.Minute))
		if second.RunID != b.ID {
			t.Fatalf("ClaimJob = the job of %s, want %s's", second.RunID, b.ID)
		}
		start(false)
		if err := h.s.ReleaseJob(h.ctx, jobRef(second), "agent-2", "the agent stops", at(3*time.Minute)); err != nil {
			t.Fatalf("ReleaseJob: %v", err)
		}
		start(true)
		// A job the node started holds the group against claims too.
		d := h.runningRun()
		h.saveJobs(d.ID, []*store.Job{newJob("deploy", 0, 0, "queued")}, nil)
		if err := h.s.OfferJob(h.ctx, d.ID, "deploy", offerOf("deploy"), "prod", waiting, at(4*time.Minute)); err != nil {
			t.Fatalf("OfferJob: %v", err)
		}
		h.wantNoClaim("agent-1", []string{"local"}, at(4*time.Minute))
	}},
	{"RenewJobs", func(t *testing.T, h *harness) {
		r, other := h.runningRun(), h.runningRun()
		h.offered(r.ID, "build", 0, "builder")
		h.offered(r.ID, "test", 0, "builder")
		h.offered(other.ID, "build", 0, "builder")
		build := h.claimJob("agent-1", []string{"builder"}, t0)
		test := h.claimJob("agent-1", []string{"builder"}, t0)
		ob := h.claimJob("agent-1", []string{"builder"}, t0)
		held := []store.JobRef{jobRef(ob), jobRef(build), jobRef(test)}

		h.wantStops(h.renew("agent-1", held, at(2*time.Minute)))
		for _, j := range []*store.Job{build, test, ob} {
			j.LeaseUntil = at(2 * time.Minute)
			h.wantJob(j.RunID, j)
		}
		// A renewal never shortens a lease.
		h.wantStops(h.renew("agent-1", held, at(30*time.Second)))
		h.wantJob(r.ID, build)

		// The node executing the run asks for a job's cancel: the first
		// reason stays. A run's cancel stops all its jobs.
		if _, err := h.s.CancelJob(h.ctx, r.ID, "test", "cancelled", "a failed cell cancels the others", at(time.Minute)); err != nil {
			t.Fatalf("CancelJob: %v", err)
		}
		if _, err := h.s.CancelJob(h.ctx, r.ID, "test", "cancelled", "the run timed out", at(time.Minute)); err != nil {
			t.Fatalf("CancelJob again: %v", err)
		}
		h.wantStops(h.renew("agent-1", held, at(3*time.Minute)),
			store.JobStop{JobRef: jobRef(test), Reason: "a failed cell cancels the others"})
		if _, err := h.s.Cancel(h.ctx, other.ID, "cancelled through the API"); err != nil {
			t.Fatalf("Cancel: %v", err)
		}
		h.wantStops(h.renew("agent-1", held, at(4*time.Minute)),
			store.JobStop{JobRef: jobRef(test), Reason: "a failed cell cancels the others"},
			store.JobStop{JobRef: jobRef(ob), Reason: "cancelled through the API"})
		test.LeaseUntil, test.CancelReason = at(4*time.Minute), "a failed cell cancels the others"
		h.wantJob(r.ID, test)

		// What the runner no longer holds is gone, and keeps its lease.
		build.LeaseUntil = at(4 * time.Minute)
		again := jobRef(build)
		again.Attempt = 2
		gone := func(runner string, refs ...store.JobRef) {
			t.Helper()
			stops := h.renew(runner, refs, at(time.Hour))
			if len(stops) != len(refs) {
				t.Fatalf("RenewJobs(%s, %v) = %+v, want every job gone", runner, refs, stops)
			}
			for _, s := range stops {
				if !s.Gone || s.Reason == "" || !slices.Contains(refs, s.JobRef) {
					t.Fatalf("RenewJobs(%s, %v) = %+v, want every job gone, with a reason", runner, refs, stops)
				}
			}
		}
		gone("agent-1", again)
		gone("agent-2", jobRef(build))
		gone("agent-1", store.JobRef{Run: "no-such-run", Job: "build", Attempt: 1},
			store.JobRef{Run: r.ID, Job: "nothing", Attempt: 1})
		h.wantJob(r.ID, build)
		h.finishJob(build, "agent-1", "succeeded", at(5*time.Minute))
		gone("agent-1", jobRef(build))
		h.saveJobs(r.ID, nil, []string{"test"})
		gone("agent-1", jobRef(test))
	}},
	{"AppendJobLogsStoresEachLineOnce", func(t *testing.T, h *harness) {
		r := h.runningRun()
		h.offered(r.ID, "build", 0, "builder")
		build := h.claimJob("agent-1", []string{"builder"}, t0)
		ref := jobRef(build)
		// The node's own jobs log to the run too: Seq is the run's.
		if err := h.s.AppendLogs(h.ctx, r.ID, []store.LogLine{{Job: "lint", Stream: "stdout", Time: t0, Text: "lint 1"}}); err != nil {
			t.Fatalf("AppendLogs: %v", err)
		}

		batch := logBatch(0, 3)
		h.wantStored(h.appendJobLogs(ref, "agent-1", 0, batch, nil, ""), 3)
		wantSeqs(t, batch, 2, 3, 4)
		// The answer was lost: the same batch again stores nothing.
		repeat := logBatch(0, 3)
		h.wantStored(h.appendJobLogs(ref, "agent-1", 0, repeat, nil, ""), 3)
		wantSeqs(t, repeat, 0, 0, 0)
		// A batch that overlaps what is stored stores the rest.
		steps := json.RawMessage(`[{"id":"compile","outcome":"running"}]`)
		overlap := logBatch(2, 3)
		h.wantStored(h.appendJobLogs(ref, "agent-1", 2, overlap, steps, "process"), 5)
		wantSeqs(t, overlap, 0, 5, 6)
		build.Steps, build.Sandbox = steps, "process"
		h.wantJob(r.ID, build)
		// A gap stores nothing: the runner sends again from 5.
		h.wantStored(h.appendJobLogs(ref, "agent-1", 7, logBatch(7, 2), json.RawMessage(`[]`), ""), 5)
		h.wantJob(r.ID, build)
		// An empty batch with steps records them.
		steps = json.RawMessage(`[{"id":"compile","outcome":"success"}]`)
		h.wantStored(h.appendJobLogs(ref, "agent-1", 5, nil, steps, ""), 5)
		build.Steps = steps
		h.wantJob(r.ID, build)
		if err := h.s.AppendLogs(h.ctx, r.ID, []store.LogLine{{Job: "lint", Stream: "stdout", Time: t0, Text: "lint 2"}}); err != nil {
			t.Fatalf("AppendLogs: %v", err)
		}
		h.wantStored(h.appendJobLogs(ref, "agent-1", 5, logBatch(5, 1), nil, ""), 6)

		// Another runner, or another attempt, may not report.
		_, err := h.s.AppendJobLogs(h.ctx, ref, "agent-2", 6, logBatch(6, 1), nil, "")
		wantErr(t, "AppendJobLogs by another runner", err, store.ErrConflict)
		stale := ref
		stale.Attempt = 2
		_, err = h.s.AppendJobLogs(h.ctx, stale, "agent-1", 6, logBatch(6, 1), nil, "")
		wantErr(t, "AppendJobLogs of another attempt", err, store.ErrConflict)
		_, err = h.s.AppendJobLogs(h.ctx, store.JobRef{Run: r.ID, Job: "nothing", Attempt: 1}, "agent-1", 0, logBatch(0, 1), nil, "")
		wantErr(t, "AppendJobLogs of an unknown job", err, store.ErrNotFound)
		_, err = h.s.AppendJobLogs(h.ctx, ref, "agent-1", -1, logBatch(0, 1), nil, "")
		if workflows.ErrorCode(err) != workflows.EInvalid {
			t.Fatalf("AppendJobLogs from -1 = %v, want an %s error", err, workflows.EInvalid)
		}

		// Once the job ended, its last batch repeated is accepted; new lines
		// are not.
		h.finishJob(build, "agent-1", "succeeded", at(time.Minute))
		h.wantStored(h.appendJobLogs(ref, "agent-1", 5, logBatch(5, 1), nil, ""), 6)
		_, err = h.s.AppendJobLogs(h.ctx, ref, "agent-1", 6, logBatch(6, 1), nil, "")
		wantErr(t, "AppendJobLogs after the job ended", err, store.ErrConflict)

		lines, err := h.s.Logs(h.ctx, r.ID, 0, 0)
		if err != nil {
			t.Fatalf("Logs: %v", err)
		}
		var texts []string
		for i, l := range lines {
			if l.Seq != int64(i+1) {
				t.Fatalf("line %d has Seq %d, want %d", i, l.Seq, i+1)
			}
			if l.Job != "lint" && (l.Job != "build" || l.Stream != "stdout" || !l.Time.Equal(at(time.Second))) {
				t.Fatalf("line %d = %+v, want a line of build", i, l)
			}
			texts = append(texts, l.Text)
		}
		wantIDs(t, "the run's lines", texts, []string{"lint 1", "line 0", "line 1", "line 2", "line 3", "line 4", "lint 2", "line 5"})
	}},
	{"FinishJob", func(t *testing.T, h *harness) {
		r := h.runningRun()
		h.offered(r.ID, "build", 0, "builder")
		build := h.claimJob("agent-1", []string{"builder"}, t0)
		ref := jobRef(build)
		for _, status := range []string{"", "queued", "running", "bogus"} {
			err := h.s.FinishJob(h.ctx, ref, "agent-1", &store.Job{Status: status})
			if workflows.ErrorCode(err) != workflows.EInvalid {
				t.Fatalf("FinishJob with status %q = %v, want an %s error", status, err, workflows.EInvalid)
			}
		}
		err := h.s.FinishJob(h.ctx, ref, "agent-2", &store.Job{Status: "succeeded"})
		wantErr(t, "FinishJob by another runner", err, store.ErrConflict)
		stale := ref
		stale.Attempt = 0
		err = h.s.FinishJob(h.ctx, stale, "agent-1", &store.Job{Status: "succeeded"})
		wantErr(t, "FinishJob of another attempt", err, store.ErrConflict)
		err = h.s.FinishJob(h.ctx, store.JobRef{Run: r.ID, Job: "nothing", Attempt: 1}, "agent-1", &store.Job{Status: "succeeded"})
		wantErr(t, "FinishJob of an unknown job", err, store.ErrNotFound)
		h.wantJob(r.ID, build)

		result := &store.Job{Status: "failed", Reason: `step "test" failed: exit status 1`,
			Steps:   json.RawMessage(`[{"id":"test","outcome":"failure","exit_code":1}]`),
			Outputs: json.RawMessage(`{"image":"web:1"}`), Sandbox: "process", FinishedAt: at(time.Minute)}
		if err := h.s.FinishJob(h.ctx, ref, "agent-1", result); err != nil {
			t.Fatalf("FinishJob: %v", err)
		}
		build.Status, build.Reason, build.Steps, build.Outputs = result.Status, result.Reason, result.Steps, result.Outputs
		build.Sandbox, build.FinishedAt, build.LeaseUntil = "process", at(time.Minute), time.Time{}
		h.wantJob(r.ID, build)
		// Reported again (the answer was lost): accepted, and nothing changes.
		again := &store.Job{Status: "succeeded", FinishedAt: at(2 * time.Minute)}
		if err := h.s.FinishJob(h.ctx, ref, "agent-1", again); err != nil {
			t.Fatalf("FinishJob again: %v", err)
		}
		h.wantJob(r.ID, build)
		err = h.s.FinishJob(h.ctx, ref, "agent-2", again)
		wantErr(t, "FinishJob of an ended job by another runner", err, store.ErrConflict)
	}},
	{"ReleaseJobFailsOrRequeues", func(t *testing.T, h *harness) {
		fail := h.runningRun()
		again := h.runningRun(requeue)
		steps := json.RawMessage(`[{"id":"compile","outcome":"success","exit_code":0,"attempts":1},
			{"id":"test","outcome":"running","attempts":2,"started_at":"2030-01-02T03:04:06Z"}]`)
		var claimed []*store.Job
		for _, r := range []*store.Run{fail, again} {
			h.offered(r.ID, "build", 0, "builder")
			j := h.claimJob("agent-1", []string{"builder"}, t0)
			h.wantStored(h.appendJobLogs(jobRef(j), "agent-1", 0, logBatch(0, 2), steps, "process"), 2)
			j.Steps, j.Sandbox = steps, "process"
			claimed = append(claimed, j)
		}
		failed, requeued := claimed[0], claimed[1]
		err := h.s.ReleaseJob(h.ctx, jobRef(failed), "agent-2", "the agent stops", at(time.Minute))
		wantErr(t, "ReleaseJob by another runner", err, store.ErrConflict)
		err = h.s.ReleaseJob(h.ctx, store.JobRef{Run: fail.ID, Job: "nothing", Attempt: 1}, "agent-1", "the agent stops", at(time.Minute))
		wantErr(t, "ReleaseJob of an unknown job", err, store.ErrNotFound)

		for _, j := range claimed {
			for range 2 { // releasing again changes nothing
				if err := h.s.ReleaseJob(h.ctx, jobRef(j), "agent-1", "the agent stops", at(time.Minute)); err != nil {
					t.Fatalf("ReleaseJob: %v", err)
				}
			}
		}
		failed.Status, failed.Reason, failed.FinishedAt, failed.LeaseUntil = "failed", "interrupted: the agent stops", at(time.Minute), time.Time{}
		failed.Steps = json.RawMessage(`[{"id":"compile","outcome":"success","exit_code":0,"attempts":1},
			{"id":"test","outcome":"failure","attempts":2,"started_at":"2030-01-02T03:04:06Z","error":"interrupted"}]`)
		h.wantJob(fail.ID, failed)
		requeued.Status, requeued.Reason, requeued.Runner = "queued", "requeued: the agent stops", ""
		requeued.StartedAt, requeued.LeaseUntil, requeued.OfferedAt = time.Time{}, time.Time{}, at(time.Minute)
		requeued.Steps = json.RawMessage(`[]`)
		h.wantJob(again.ID, requeued)

		// The requeued job is claimed anew, as it was offered, and its lines
		// count from 0 again.
		next := h.claimJob("agent-2", []string{"builder"}, at(2*time.Minute))
		if next.RunID != again.ID || next.Attempt != 2 || next.Runner != "agent-2" || !jsonEqual(next.Offer, offerOf("build")) {
			t.Fatalf("ClaimJob after the release = %+v, want attempt 2 of the requeued job, as offered", next)
		}
		h.wantStored(h.appendJobLogs(jobRef(next), "agent-2", 0, logBatch(0, 1), nil, ""), 1)
		err = h.s.ReleaseJob(h.ctx, jobRef(requeued), "agent-1", "the agent stops", at(3*time.Minute))
		wantErr(t, "ReleaseJob of an earlier attempt", err, store.ErrConflict)

		// A job whose cancel was asked for is not requeued.
		if _, err := h.s.CancelJob(h.ctx, again.ID, "build", "cancelled", "a failed cell cancels the others", at(3*time.Minute)); err != nil {
			t.Fatalf("CancelJob: %v", err)
		}
		if err := h.s.ReleaseJob(h.ctx, jobRef(next), "agent-2", "the agent restarted", at(4*time.Minute)); err != nil {
			t.Fatalf("ReleaseJob: %v", err)
		}
		if j := h.job(again.ID, "build"); j.Status != "failed" || j.Reason != "interrupted: the agent restarted" {
			t.Fatalf("released job whose cancel was asked for is %s (%q), want failed (interrupted)", j.Status, j.Reason)
		}
	}},
	{"RecoverJobs", func(t *testing.T, h *harness) {
		fail, again, renewed := h.runningRun(), h.runningRun(requeue), h.runningRun(requeue)
		for _, r := range []*store.Run{fail, again, renewed} {
			h.offered(r.ID, "build", 0, "builder")
		}
		var claimed []*store.Job
		for range 3 {
			claimed = append(claimed, h.claimJob("agent-1", []string{"builder"}, t0))
		}
		h.wantStops(h.renew("agent-1", []store.JobRef{jobRef(claimed[2])}, at(10*time.Minute)))
		if got := h.recoverJobs(at(59*time.Second), 0); len(got) != 0 {
			t.Fatalf("RecoverJobs before any lease expired = %s", jobKeys(got))
		}

		now := at(2 * time.Minute)
		got := h.recoverJobs(now, 0)
		const why = "the runner agent-1 stopped renewing its lease"
		if len(got) != 2 || got[0].RunID != fail.ID || got[0].Status != "failed" || got[1].RunID != again.ID || got[1].Status != "queued" {
			t.Fatalf("RecoverJobs = %+v, want %s's job failed and %s's queued", got, fail.ID, again.ID)
		}
		if j := h.job(fail.ID, "build"); j.Status != "failed" || j.Reason != "interrupted: "+why || !j.FinishedAt.Equal(now) || !j.LeaseUntil.IsZero() {
			t.Fatalf("recovered job = %+v, want failed (interrupted: %s) at %v", j, why, now)
		}
		if j := h.job(again.ID, "build"); j.Status != "queued" || j.Reason != "requeued: "+why || !j.OfferedAt.Equal(now) || j.Runner != "" {
			t.Fatalf("recovered job = %+v, want queued (requeued: %s), offered at %v", j, why, now)
		}
		claimed[2].LeaseUntil = at(10 * time.Minute)
		h.wantJob(renewed.ID, claimed[2])
		if got := h.recoverJobs(now, 0); len(got) != 0 {
			t.Fatalf("RecoverJobs again = %s, want nothing", jobKeys(got))
		}
		h.finishJob(claimed[2], "agent-1", "succeeded", at(3*time.Minute))

		// Offers nobody claims fail after the queue timeout, from when they
		// were offered (anew, for a requeued job), with their reason.
		const timeout = 24 * time.Hour
		waits := h.runningRun()
		h.offered(waits.ID, "gpu", time.Minute, "gpu")
		if got := h.recoverJobs(at(time.Minute+timeout-time.Millisecond), timeout); len(got) != 0 {
			t.Fatalf("RecoverJobs before the queue timeout = %s", jobKeys(got))
		}
		if got := h.recoverJobs(at(1000*time.Hour), 0); len(got) != 0 {
			t.Fatalf("RecoverJobs without a queue timeout = %s", jobKeys(got))
		}
		got = h.recoverJobs(at(time.Minute+timeout), timeout)
		if len(got) != 1 || got[0].RunID != waits.ID {
			t.Fatalf("RecoverJobs at the queue timeout = %+v, want %s's job", got, waits.ID)
		}
		if j := h.job(waits.ID, "gpu"); j.Status != "failed" || j.Reason != waiting || !j.FinishedAt.Equal(at(time.Minute+timeout)) {
			t.Fatalf("job nobody claimed = %+v, want failed (%s)", j, waiting)
		}
		got = h.recoverJobs(now.Add(timeout), timeout)
		if len(got) != 1 || got[0].RunID != again.ID || got[0].Reason != "requeued: "+why {
			t.Fatalf("RecoverJobs = %+v, want %s's requeued job failed with its reason", got, again.ID)
		}
	}},
	{"ExtendJobLeases", func(t *testing.T, h *harness) {
		r := h.runningRun()
		h.offered(r.ID, "a", 0)
		h.offered(r.ID, "b", 0)
		h.offered(r.ID, "waits", 0, "gpu")
		a := h.claimJob("agent-1", nil, t0)
		b := h.claimJob("agent-1", nil, t0)
		if a.Key != "a" || b.Key != "b" {
			t.Fatalf("claimed %s and %s, want a and b", a.Key, b.Key)
		}
		h.wantStops(h.renew("agent-1", []store.JobRef{jobRef(b)}, at(20*time.Minute)))
		if err := h.s.ExtendJobLeases(h.ctx, at(10*time.Minute)); err != nil {
			t.Fatalf("ExtendJobLeases: %v", err)
		}
		a.LeaseUntil, b.LeaseUntil = at(10*time.Minute), at(20*time.Minute)
		h.wantJob(r.ID, a)
		h.wantJob(r.ID, b)
		if j := h.job(r.ID, "waits"); !j.LeaseUntil.IsZero() {
			t.Fatalf("ExtendJobLeases gave a job nobody claimed a lease until %v", j.LeaseUntil)
		}
		if got := h.recoverJobs(at(5*time.Minute), 0); len(got) != 0 {
			t.Fatalf("RecoverJobs within the extended lease = %s", jobKeys(got))
		}
		if got := h.recoverJobs(at(11*time.Minute), 0); len(got) != 1 || got[0].Key != "a" {
			t.Fatalf("RecoverJobs after the extended lease = %s, want a", jobKeys(got))
		}
	}},
	{"SaveJobsLeavesWhatRemoteJobsKeep", func(t *testing.T, h *harness) {
		r := h.runningRun(requeue)
		h.offered(r.ID, "build", 0, "builder")
		build := h.claimJob("agent-1", []string{"builder"}, t0)
		h.wantStored(h.appendJobLogs(jobRef(build), "agent-1", 0, logBatch(0, 2), nil, ""), 2)
		if _, err := h.s.CancelJob(h.ctx, r.ID, "build", "cancelled", "the run timed out", at(time.Second)); err != nil {
			t.Fatalf("CancelJob: %v", err)
		}

		// The node saves its jobs as it knows them, the claimed one too.
		mine := newJob("build", 0, 0, "running")
		mine.RunsOn, mine.Runner, mine.StartedAt = []string{"builder"}, "agent-1", t0
		h.saveJobs(r.ID, []*store.Job{mine, newJob("lint", 1, 0, "queued")}, nil)
		build.CancelReason = "the run timed out"
		h.wantJob(r.ID, build)
		// The lines stored still count; the claim still holds.
		h.wantStored(h.appendJobLogs(jobRef(build), "agent-1", 0, logBatch(0, 2), nil, ""), 2)
		h.wantStops(h.renew("agent-1", []store.JobRef{jobRef(build)}, at(time.Minute)),
			store.JobStop{JobRef: jobRef(build), Reason: "the run timed out"})
		if lines, err := h.s.Logs(h.ctx, r.ID, 0, 0); err != nil || len(lines) != 2 {
			t.Fatalf("Logs = %d lines, %v; want 2", len(lines), err)
		}
	}},
	{"CancelJob", func(t *testing.T, h *harness) {
		r := h.runningRun()
		h.offered(r.ID, "waits", 0, "gpu")
		h.offered(r.ID, "skips", 0, "gpu")
		h.offered(r.ID, "claimed", 0, "builder")
		local := newJob("local", 1, 0, "queued")
		done := newJob("done", 2, 0, "succeeded")
		h.saveJobs(r.ID, []*store.Job{local, done}, nil)
		claimed := h.claimJob("agent-1", []string{"builder"}, t0)

		now := at(time.Minute)
		for _, tc := range []struct{ key, status string }{{"waits", "cancelled"}, {"skips", "skipped"}} {
			got, err := h.s.CancelJob(h.ctx, r.ID, tc.key, tc.status, "cancelled through the API", now)
			if err != nil || got.Status != tc.status || got.Reason != "cancelled through the API" || !got.FinishedAt.Equal(now) {
				t.Fatalf("CancelJob of offered job %s = %+v, %v; want %s at once", tc.key, got, err, tc.status)
			}
			h.wantJob(r.ID, got)
		}
		h.wantNoClaim("gpu", []string{"gpu"}, now)

		for _, reason := range []string{"a failed cell cancels the others", "the run timed out"} {
			got, err := h.s.CancelJob(h.ctx, r.ID, "claimed", "cancelled", reason, now)
			claimed.CancelReason = "a failed cell cancels the others" // the first stays
			if err != nil {
				t.Fatalf("CancelJob of a claimed job: %v", err)
			}
			if diff := jobDiff(got, claimed); diff != "" {
				t.Fatalf("CancelJob of a claimed job: %s", diff)
			}
		}
		h.wantJob(r.ID, claimed)
		for _, j := range []*store.Job{local, done} {
			got, err := h.s.CancelJob(h.ctx, r.ID, j.Key, "cancelled", "cancelled through the API", now)
			if err != nil {
				t.Fatalf("CancelJob of %s: %v", j.Key, err)
			}
			if diff := jobDiff(got, j); diff != "" {
				t.Fatalf("CancelJob of %s changed it: %s", j.Key, diff)
			}
		}
		_, err := h.s.CancelJob(h.ctx, r.ID, "nothing", "cancelled", "cancelled through the API", now)
		wantErr(t, "CancelJob of an unknown job", err, store.ErrNotFound)
		_, err = h.s.CancelJob(h.ctx, r.ID, "claimed", "running", "cancelled through the API", now)
		if workflows.ErrorCode(err) != workflows.EInvalid {
			t.Fatalf("CancelJob to running = %v, want an %s error", err, workflows.EInvalid)
		}
	}},
	{"RemoteQueue", func(t *testing.T, h *harness) {
		if q, err := h.s.RemoteQueue(h.ctx); err != nil || q == nil || len(q) != 0 {
			t.Fatalf("RemoteQueue of an empty store = %v, %v; want an empty list", q, err)
		}
		a, b := h.runningRun(), h.runningRun()
		h.offered(a.ID, "x", 3*time.Second, "gpu")
		h.offered(a.ID, "y", time.Second, "gpu")
		h.offered(b.ID, "z", 2*time.Second, "gpu")
		h.offered(b.ID, "w", 4*time.Second, "builder")
		h.offered(b.ID, "done", 0, "builder")
		h.saveJobs(a.ID, []*store.Job{newJob("local", 1, 0, "queued")}, nil)
		done := h.claimJob("agent-1", []string{"builder"}, at(5*time.Second))
		h.finishJob(done, "agent-1", "succeeded", at(6*time.Second))
		h.claimJob("agent-1", []string{"builder"}, at(5*time.Second))
		queued := h.queue(t0, h.newRun("ship"))[0] // its offer waits for the run
		h.offered(queued.ID, "v", time.Millisecond, "builder")

		q, err := h.s.RemoteQueue(h.ctx)
		if err != nil {
			t.Fatalf("RemoteQueue: %v", err)
		}
		var got []string
		for _, j := range q {
			got = append(got, j.RunID+"/"+j.Key+" "+j.Status)
		}
		wantIDs(t, "RemoteQueue", got, []string{a.ID + "/y queued", b.ID + "/z queued", a.ID + "/x queued", b.ID + "/w running"})
	}},
}

// waiting is the reason of the suite's offered jobs.
const waiting = "waiting for a runner with labels [builder]"

// lease is how long the suite's claims last.
const lease = time.Minute

// runningRun queues a run of "ship" with opts, and claims it on node n1, so
// that its offered jobs are claimable. No other run may be queued.
func (h *harness) runningRun(opts ...func(*store.Run)) *store.Run {
	h.t.Helper()
	r := h.queue(t0, h.newRun("ship", opts...))[0]
	h.claimWant("n1", t0, r.ID)
	return r
}

// offered saves job key of run runID, queued, with labels runsOn, offers it
// at t0+after, and returns it as saved.
func (h *harness) offered(runID, key string, after time.Duration, runsOn ...string) *store.Job {
	h.t.Helper()
	j := &store.Job{Key: key, ID: key, Name: key, Status: "queued", RunsOn: runsOn}
	h.saveJobs(runID, []*store.Job{j}, nil)
	if err := h.s.OfferJob(h.ctx, runID, key, offerOf(key), "", waiting, at(after)); err != nil {
		h.t.Fatalf("OfferJob(%s, %s): %v", runID, key, err)
	}
	j.Reason, j.OfferedAt = waiting, at(after)
	return j
}

// offerOf is the offer of job key.
func offerOf(key string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"job_id": key, "workflow": "ship"})
	return b
}

// claimedJob is job j as ClaimJob leaves it: claimed by runner at now, in
// attempt attempt, offered at offered.
func claimedJob(j *store.Job, runner string, attempt int, offered, now time.Time) *store.Job {
	c := *j
	c.Status, c.Reason, c.Runner, c.Attempt = "running", "", runner, attempt
	c.StartedAt, c.LeaseUntil, c.OfferedAt = now, now.Add(lease), offered
	c.Steps = json.RawMessage(`[]`)
	return &c
}

// claimJob claims a job for runner with labels at now, and fails the test
// without one.
func (h *harness) claimJob(runner string, labels []string, now time.Time) *store.Job {
	h.t.Helper()
	j, err := h.s.ClaimJob(h.ctx, runner, labels, lease, now)
	if err != nil || j == nil {
		h.t.Fatalf("ClaimJob(%s, %v) = %v, %v; want a job", runner, labels, j, err)
	}
	if j.Status != "running" || j.Runner != runner || j.LeaseUntil.IsZero() || j.Attempt < 1 {
		h.t.Fatalf("ClaimJob(%s) = %+v, want a job running on it", runner, j)
	}
	return j
}

// wantNoClaim checks that runner with labels has nothing to claim at now.
func (h *harness) wantNoClaim(runner string, labels []string, now time.Time) {
	h.t.Helper()
	if j, err := h.s.ClaimJob(h.ctx, runner, labels, lease, now); err != nil || j != nil {
		h.t.Fatalf("ClaimJob(%s, %v) = %+v, %v; want none", runner, labels, j, err)
	}
}

// jobRef names j's current claim.
func jobRef(j *store.Job) store.JobRef {
	return store.JobRef{Run: j.RunID, Job: j.Key, Attempt: j.Attempt}
}

// renew renews held for runner until until.
func (h *harness) renew(runner string, held []store.JobRef, until time.Time) []store.JobStop {
	h.t.Helper()
	stops, err := h.s.RenewJobs(h.ctx, runner, held, until)
	if err != nil {
		h.t.Fatalf("RenewJobs(%s): %v", runner, err)
	}
	return stops
}

// wantStops checks RenewJobs's stops, in any order.
func (h *harness) wantStops(got []store.JobStop, want ...store.JobStop) {
	h.t.Helper()
	key := func(s store.JobStop) string { return fmt.Sprintf("%+v", s) }
	g, w := make([]string, len(got)), make([]string, len(want))
	for i, s := range got {
		g[i] = key(s)
	}
	for i, s := range want {
		w[i] = key(s)
	}
	slices.Sort(g)
	slices.Sort(w)
	wantIDs(h.t, "RenewJobs", g, w)
}

// appendJobLogs sends lines of ref from from, failing the test on an error.
func (h *harness) appendJobLogs(ref store.JobRef, runner string, from int, lines []store.LogLine, steps json.RawMessage, sandbox string) int {
	h.t.Helper()
	n, err := h.s.AppendJobLogs(h.ctx, ref, runner, from, lines, steps, sandbox)
	if err != nil {
		h.t.Fatalf("AppendJobLogs(%+v, from %d): %v", ref, from, err)
	}
	return n
}

// wantStored checks AppendJobLogs's count.
func (h *harness) wantStored(got, want int) {
	h.t.Helper()
	if got != want {
		h.t.Fatalf("AppendJobLogs = %d lines stored, want %d", got, want)
	}
}

// logBatch is n lines of a job's attempt, from line from: "line <i>".
func logBatch(from, n int) []store.LogLine {
	lines := make([]store.LogLine, n)
	for i := range lines {
		lines[i] = store.LogLine{Stream: "stdout", Time: at(time.Second), Text: fmt.Sprint("line ", from+i)}
	}
	return lines
}

// wantSeqs checks the Seq AppendJobLogs set on lines, 0 for those it
// skipped, and that each names the job.
func wantSeqs(t *testing.T, lines []store.LogLine, want ...int64) {
	t.Helper()
	for i, l := range lines {
		if l.Seq != want[i] || l.Job != "build" {
			t.Fatalf("line %d after AppendJobLogs: Seq %d, job %q; want %d, build", i, l.Seq, l.Job, want[i])
		}
	}
}

// finishJob reports j's end for runner with status at now.
func (h *harness) finishJob(j *store.Job, runner, status string, now time.Time) {
	h.t.Helper()
	if err := h.s.FinishJob(h.ctx, jobRef(j), runner, &store.Job{Status: status, FinishedAt: now}); err != nil {
		h.t.Fatalf("FinishJob(%s): %v", j.Key, err)
	}
}

// recoverJobs runs RecoverJobs.
func (h *harness) recoverJobs(now time.Time, queueTimeout time.Duration) []*store.Job {
	h.t.Helper()
	jobs, err := h.s.RecoverJobs(h.ctx, now, queueTimeout)
	if err != nil {
		h.t.Fatalf("RecoverJobs: %v", err)
	}
	return jobs
}

// job returns job key of run runID.
func (h *harness) job(runID, key string) *store.Job {
	h.t.Helper()
	jobs, err := h.s.Jobs(h.ctx, runID)
	if err != nil {
		h.t.Fatalf("Jobs(%s): %v", runID, err)
	}
	for _, j := range jobs {
		if j.Key == key {
			return j
		}
	}
	h.t.Fatalf("run %s has no job %s", runID, key)
	return nil
}

// wantJob checks job want.Key of run runID.
func (h *harness) wantJob(runID string, want *store.Job) {
	h.t.Helper()
	if diff := jobDiff(h.job(runID, want.Key), want); diff != "" {
		h.t.Fatalf("job %s of %s: %s", want.Key, runID, diff)
	}
}
