package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

var jobTests = []test{
	{"StartJobKeepsAGroupAcrossGoroutines", func(t *testing.T, h *harness) {
		// Many jobs of one group, in runs of their own, try to start at once,
		// as on several nodes: one wins; once it ends, one other.
		const n = 8
		var runs []*store.Run
		for i := range n {
			r := h.queue(t0, h.newRun("ship"))[0]
			h.claimWant(fmt.Sprint("n", i), t0, r.ID)
			h.saveJobs(r.ID, []*store.Job{newJob("deploy", 0, 0, "queued")}, nil)
			runs = append(runs, r)
		}
		startAll := func() []string {
			var mu sync.Mutex
			var started []string
			var wg sync.WaitGroup
			for _, r := range runs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ok, err := h.s.StartJob(h.ctx, r.ID, "deploy", "prod", "n", at(time.Second))
					if err != nil {
						t.Errorf("StartJob(%s): %v", r.ID, err)
					}
					if ok {
						mu.Lock()
						started = append(started, r.ID)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			return started
		}
		first := startAll()
		if len(first) != 1 {
			t.Fatalf("%d jobs of one group started at once, want 1", len(first))
		}
		h.saveJobs(first[0], []*store.Job{newJob("deploy", 0, 0, "succeeded")}, nil)
		if second := startAll(); len(second) != 1 || second[0] == first[0] {
			t.Fatalf("after the first ended, %v started, want one other", second)
		}
	}},
	{"StartJobHoldsItsGroup", func(t *testing.T, h *harness) {
		a := h.queue(t0, h.newRun("ship"))[0]
		b := h.queue(t0, h.newRun("ship"))[0]
		h.claimWant("n1", t0, a.ID)
		h.claimWant("n2", t0, b.ID)
		h.saveJobs(a.ID, []*store.Job{newJob("deploy", 0, 0, "queued")}, nil)
		h.saveJobs(b.ID, []*store.Job{newJob("deploy", 0, 0, "queued"), newJob("lint", 1, 0, "queued")}, nil)
		start := func(run, key, group string, want bool) {
			t.Helper()
			got, err := h.s.StartJob(h.ctx, run, key, group, "n1", at(time.Second))
			if err != nil || got != want {
				t.Fatalf("StartJob(%s, %s, %q) = %v, %v; want %v", run, key, group, got, err, want)
			}
		}
		start(a.ID, "deploy", "prod", true)
		h.wantJobs(a.ID, &store.Job{Key: "deploy", ID: "deploy", Name: "deploy", Status: "running",
			RunsOn: []string{"local"}, Runner: "n1", StartedAt: at(time.Second)})
		start(a.ID, "deploy", "prod", false) // running already
		start(b.ID, "deploy", "prod", false) // held by a's job
		start(b.ID, "lint", "", true)        // no group: nothing holds it back
		// The group is free once the job holding it is no longer running.
		done := newJob("deploy", 0, 0, "succeeded")
		h.saveJobs(a.ID, []*store.Job{done}, nil)
		start(b.ID, "deploy", "prod", true)
		// A job left running by a run that ended holds nothing.
		c := h.queue(t0, h.newRun("ship"))[0]
		h.claimWant("n1", t0, c.ID)
		h.saveJobs(c.ID, []*store.Job{newJob("x", 0, 0, "queued")}, nil)
		h.finish("n2", b.ID, "failed", at(time.Minute))
		start(c.ID, "x", "prod", true)
	}},
	{"SaveAddsReplacesAndRemoves", func(t *testing.T, h *harness) {
		r := h.queue(t0, h.newRun("ship"))[0]
		build := newJob("build", 0, 0, "running")
		deploy := newJob("deploy", 1, 0, "queued") // the matrix job's stand-in
		smoke := newJob("smoke", 2, 0, "queued")
		h.saveJobs(r.ID, []*store.Job{smoke, build, deploy}, nil)
		h.wantJobs(r.ID, build, deploy, smoke)

		// The matrix is known: its cells replace the stand-in, and build
		// is replaced whole.
		web2 := newJob("deploy", 1, 1, "queued")
		web2.Key, web2.Matrix = "deploy (web-02)", json.RawMessage(`{"host":"web-02"}`)
		web1 := newJob("deploy", 1, 0, "queued")
		web1.Key, web1.Matrix = "deploy (web-01)", json.RawMessage(`{"host":"web-01"}`)
		done := newJob("build", 0, 0, "succeeded")
		done.Reason, done.Runner, done.Outputs = "", "local", json.RawMessage(`{"image":"web:1"}`)
		done.StartedAt, done.FinishedAt = at(time.Second), at(time.Minute)
		h.saveJobs(r.ID, []*store.Job{web2, done, web1}, []string{"deploy"})
		h.wantJobs(r.ID, done, web1, web2, smoke)

		// Removing an unknown key is no error; removing before adding lets a
		// job replace a row it removes.
		skipped := newJob("deploy", 1, 0, "skipped")
		h.saveJobs(r.ID, []*store.Job{skipped}, []string{"deploy (web-01)", "deploy (web-02)", "deploy", "nothing"})
		h.wantJobs(r.ID, done, skipped, smoke)
		h.saveJobs(r.ID, nil, nil)
		h.wantJobs(r.ID, done, skipped, smoke)
	}},
	{"OrderedByJobIndexThenCell", func(t *testing.T, h *harness) {
		r := h.queue(t0, h.newRun("ship"))[0]
		// Keys sort the other way round, so only the indexes can order them.
		c2 := newJob("a", 1, 2, "queued")
		c2.Key = "a (1)"
		c10 := newJob("a", 1, 10, "queued")
		c10.Key = "a (0)"
		first := newJob("z", 0, 0, "queued")
		last := newJob("b", 2, 0, "queued")
		h.saveJobs(r.ID, []*store.Job{c10, last}, nil)
		h.saveJobs(r.ID, []*store.Job{c2, first}, nil)
		h.wantJobs(r.ID, first, c2, c10, last)
	}},
	{"FieldsRoundTrip", func(t *testing.T, h *harness) {
		r := h.queue(t0, h.newRun("ship"))[0]
		full := &store.Job{Key: "deploy (web-01, 2)", ID: "deploy", JobIndex: 3, Cell: 1, Name: "Deploy web-01",
			Needs:  []string{"build", "lint"},
			Matrix: json.RawMessage(`{"host":"web-01","n":2,"opts":{"fast":true,"tags":["a","é"]}}`),
			Status: "failed", Reason: `step "migrate" failed: exit status 3`,
			RunsOn: []string{"builder", "linux"}, Runner: "runner-7", ContinueOnError: true,
			StartedAt: at(time.Second), FinishedAt: at(90 * time.Second),
			Outputs: json.RawMessage(`{"image":"web:1","count":3,"nothing":null}`),
			Steps:   json.RawMessage(`[{"id":"migrate","outcome":"failure","exit_code":3}]`),
			Sandbox: "process"}
		// Everything else zero: no times, no lists, no JSON.
		bare := &store.Job{Key: "lint", ID: "lint", JobIndex: 1, Status: "queued"}
		h.saveJobs(r.ID, []*store.Job{full, bare}, nil)
		got := h.wantJobs(r.ID, bare, full)
		if !got[0].StartedAt.IsZero() || !got[0].FinishedAt.IsZero() {
			t.Fatalf("zero times read back as %v, %v", got[0].StartedAt, got[0].FinishedAt)
		}
		if got[0].Needs != nil || got[0].RunsOn != nil || got[0].Matrix != nil || got[0].Outputs != nil || got[0].Steps != nil {
			t.Fatalf("empty fields read back as %+v", got[0])
		}
		if got[1].RunID != r.ID || got[0].RunID != r.ID {
			t.Fatalf("RunID = %q, %q; want %q", got[0].RunID, got[1].RunID, r.ID)
		}
	}},
	{"NilStepsKeepStoredSteps", func(t *testing.T, h *harness) {
		r := h.queue(t0, h.newRun("ship"))[0]
		j := newJob("build", 0, 0, "running")
		j.Steps = json.RawMessage(`[]`)
		h.saveJobs(r.ID, []*store.Job{j}, nil)
		steps := json.RawMessage(`[{"id":"compile","outcome":"success"}]`)
		if err := h.s.UpdateJobSteps(h.ctx, r.ID, "build", steps, "process"); err != nil {
			t.Fatalf("UpdateJobSteps: %v", err)
		}
		j.Steps, j.Sandbox = steps, "process"
		h.wantJobs(r.ID, j)
		// An empty sandbox keeps the one stored too.
		more := json.RawMessage(`[{"id":"compile","outcome":"success"},{"id":"test","outcome":"success"}]`)
		if err := h.s.UpdateJobSteps(h.ctx, r.ID, "build", more, ""); err != nil {
			t.Fatalf("UpdateJobSteps: %v", err)
		}
		j.Steps = more
		h.wantJobs(r.ID, j)

		// The job ends, saved without its steps and sandbox: both stay.
		ended := newJob("build", 0, 0, "succeeded")
		ended.FinishedAt = at(time.Minute)
		h.saveJobs(r.ID, []*store.Job{ended}, nil)
		want := *ended
		want.Steps, want.Sandbox = more, "process"
		h.wantJobs(r.ID, &want)
		// With steps, they replace the stored ones.
		ended.Steps, ended.Sandbox = json.RawMessage(`[{"id":"compile","outcome":"success","summary":"ok"}]`), "none"
		h.saveJobs(r.ID, []*store.Job{ended}, nil)
		h.wantJobs(r.ID, ended)
	}},
	{"UpdateJobStepsOfNoSuchJob", func(t *testing.T, h *harness) {
		r := h.queue(t0, h.newRun("ship"))[0]
		other := h.queue(t0, h.newRun("ship"))[0]
		h.saveJobs(other.ID, []*store.Job{newJob("build", 0, 0, "running")}, nil)
		for _, tc := range []struct{ name, run, key string }{
			{"UnknownKey", other.ID, "deploy"},
			{"AnotherRunsJob", r.ID, "build"},
			{"UnknownRun", "no-such-run", "build"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := h.s.UpdateJobSteps(h.ctx, tc.run, tc.key, json.RawMessage(`[]`), "process")
				wantErr(t, "UpdateJobSteps", err, store.ErrNotFound)
			})
		}
		h.wantJobs(r.ID)
	}},
	{"SaveRefusals", func(t *testing.T, h *harness) {
		r := h.queue(t0, h.newRun("ship"))[0]
		err := h.s.SaveJobs(h.ctx, "no-such-run", []*store.Job{newJob("build", 0, 0, "queued")}, nil)
		wantErr(t, "SaveJobs of an unknown run", err, store.ErrNotFound)
		err = h.s.SaveJobs(h.ctx, "no-such-run", nil, []string{"build"})
		wantErr(t, "SaveJobs removing of an unknown run", err, store.ErrNotFound)
		foreign := newJob("lint", 1, 0, "queued")
		foreign.RunID = "another-run"
		for _, tc := range []struct {
			name string
			jobs []*store.Job
		}{
			{"NoKey", []*store.Job{{ID: "build", Status: "queued"}}},
			{"NoID", []*store.Job{{Key: "build", Status: "queued"}}},
			{"NoStatus", []*store.Job{{Key: "build", ID: "build"}}},
			{"AnotherRunsJob", []*store.Job{foreign}},
			{"KeyTwice", []*store.Job{newJob("build", 0, 0, "queued"), newJob("build", 0, 0, "running")}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				// A valid job first: nothing of a refused call is stored.
				jobs := append([]*store.Job{newJob("test", 2, 0, "queued")}, tc.jobs...)
				err := h.s.SaveJobs(h.ctx, r.ID, jobs, nil)
				if workflows.ErrorCode(err) != workflows.EInvalid {
					t.Fatalf("SaveJobs = %v, want an %s error", err, workflows.EInvalid)
				}
				h.wantJobs(r.ID)
			})
		}
	}},
	{"RunsDoNotShareJobs", func(t *testing.T, h *harness) {
		a := h.queue(t0, h.newRun("ship"))[0]
		b := h.queue(t0, h.newRun("ship"))[0]
		steps := h.queue(t0, h.newRun("deploy"))[0]
		ja := newJob("build", 0, 0, "running")
		jb := newJob("build", 0, 0, "queued")
		jb.Name = "Build it"
		h.saveJobs(a.ID, []*store.Job{ja, newJob("test", 1, 0, "queued")}, nil)
		h.saveJobs(b.ID, []*store.Job{jb}, []string{"test"})
		if err := h.s.UpdateJobSteps(h.ctx, b.ID, "build", json.RawMessage(`[{"id":"b"}]`), "process"); err != nil {
			t.Fatalf("UpdateJobSteps: %v", err)
		}
		jb.Steps, jb.Sandbox = json.RawMessage(`[{"id":"b"}]`), "process"
		h.wantJobs(a.ID, ja, newJob("test", 1, 0, "queued"))
		h.wantJobs(b.ID, jb)
		h.wantJobs(steps.ID)
		h.wantJobs("no-such-run")
	}},
	{"LogLinesNameTheirJob", func(t *testing.T, h *harness) {
		r := h.queue(t0, h.newRun("ship"))[0]
		lines := []store.LogLine{
			{Job: "build", Step: 0, Stream: "stdout", Time: at(time.Second), Text: "compiling"},
			{Job: "deploy (web-01)", Step: 1, Stream: "stderr", Time: at(2 * time.Second), Text: "retrying"},
			{Step: 0, Stream: "stdout", Time: at(3 * time.Second), Text: "a steps: run's line"},
		}
		if err := h.s.AppendLogs(h.ctx, r.ID, lines); err != nil {
			t.Fatalf("AppendLogs: %v", err)
		}
		got, err := h.s.Logs(h.ctx, r.ID, 0, 0)
		if err != nil {
			t.Fatalf("Logs: %v", err)
		}
		if len(got) != len(lines) {
			t.Fatalf("Logs = %d lines, want %d", len(got), len(lines))
		}
		for i, w := range lines {
			g := got[i]
			if g.Seq != int64(i+1) || g.Job != w.Job || g.Step != w.Step || g.Stream != w.Stream || g.Text != w.Text || !g.Time.Equal(w.Time) {
				t.Fatalf("line %d = %+v, want %+v", i, g, w)
			}
		}
	}},
	{"RecoverRequeuesRunWithJobs", func(t *testing.T, h *harness) {
		withJobs := h.queue(t0, h.newRun("ship"))[0] // on_interrupt: fail
		plain := h.queue(t0, h.newRun("deploy"))[0]
		requeued := h.queue(t0, h.newRun("deploy", requeue))[0]
		for _, id := range []string{withJobs.ID, plain.ID, requeued.ID} {
			h.claimWant("n1", t0, id)
		}
		built := newJob("build", 0, 0, "succeeded")
		built.StartedAt, built.FinishedAt = t0, at(time.Second)
		deploying := newJob("deploy", 1, 0, "running")
		deploying.StartedAt, deploying.Runner = at(time.Second), "n1"
		smoke := newJob("smoke", 2, 0, "queued")
		h.saveJobs(withJobs.ID, []*store.Job{built, deploying, smoke}, nil)

		got, err := h.s.Recover(h.ctx, "n1", at(time.Minute))
		if err != nil {
			t.Fatalf("Recover: %v", err)
		}
		wantIDs(t, "Recover", runIDs(got), []string{withJobs.ID, plain.ID, requeued.ID})
		if got[0].Status != "queued" {
			t.Fatalf("Recover returned the run with jobs as %s, want queued", got[0].Status)
		}
		for _, id := range []string{withJobs.ID, requeued.ID} {
			r := h.wantStatus(id, "queued", "interrupted")
			if r.Node != "" || !r.StartedAt.IsZero() || !r.FinishedAt.IsZero() || !r.LeaseUntil.IsZero() {
				t.Fatalf("requeued run %s: node %q, started %v, finished %v, lease %v; want none",
					id, r.Node, r.StartedAt, r.FinishedAt, r.LeaseUntil)
			}
		}
		h.wantStatus(plain.ID, "failed", "interrupted")
		// The jobs are as they were: whoever claims the run decides.
		h.wantJobs(withJobs.ID, built, deploying, smoke)
		h.claimWant("n2", at(time.Minute), withJobs.ID)
	}},
	{"RecoverFailsCancelledRunWithJobs", func(t *testing.T, h *harness) {
		r := h.queue(t0, h.newRun("ship", requeue))[0]
		h.claimWant("n1", t0, r.ID)
		built := newJob("build", 0, 0, "succeeded")
		built.StartedAt, built.FinishedAt = t0, at(time.Second)
		deploying := newJob("deploy", 1, 0, "running")
		deploying.StartedAt = at(time.Second)
		smoke := newJob("smoke", 2, 0, "queued")
		h.saveJobs(r.ID, []*store.Job{built, deploying, smoke}, nil)
		if _, err := h.s.Cancel(h.ctx, r.ID, "cancelled through the API"); err != nil {
			t.Fatalf("Cancel: %v", err)
		}

		now := at(2 * time.Minute)
		if _, err := h.s.Recover(h.ctx, "n2", now); err != nil {
			t.Fatalf("Recover: %v", err)
		}
		h.wantStatus(r.ID, "failed", "interrupted")
		deploying.Status, deploying.Reason, deploying.FinishedAt = "failed", "interrupted", now
		smoke.Status, smoke.Reason, smoke.FinishedAt = "skipped", "cancelled before start", now
		h.wantJobs(r.ID, built, deploying, smoke)
	}},
	{"CancelOfQueuedRunSkipsItsJobs", func(t *testing.T, h *harness) {
		running := h.queue(t0, h.newRun("ship"))[0]
		requeued := h.queue(t0, h.newRun("ship"))[0]
		other := h.queue(t0, h.newRun("ship"))[0]
		h.claimWant("n1", t0, running.ID)
		h.claimWant("n2", t0, requeued.ID)
		building := newJob("build", 0, 0, "running")
		h.saveJobs(running.ID, []*store.Job{building}, nil)
		built := newJob("build", 0, 0, "succeeded")
		built.StartedAt, built.FinishedAt = t0, at(time.Second)
		failed := newJob("lint", 1, 0, "failed")
		failed.Reason = "exit status 1"
		interrupted := newJob("deploy", 2, 0, "running")
		interrupted.StartedAt = at(time.Second)
		smoke := newJob("smoke", 3, 0, "queued")
		h.saveJobs(requeued.ID, []*store.Job{built, failed, interrupted, smoke}, nil)
		waiting := newJob("build", 0, 0, "queued")
		h.saveJobs(other.ID, []*store.Job{waiting}, nil)

		// A running run's jobs are its node's to stop.
		if _, err := h.s.Cancel(h.ctx, running.ID, "cancelled through the API"); err != nil {
			t.Fatalf("Cancel of the running run: %v", err)
		}
		h.wantJobs(running.ID, building)

		// n2 died mid-run: its run is queued again, with a job running.
		if _, err := h.s.Recover(h.ctx, "n2", at(30*time.Second)); err != nil {
			t.Fatalf("Recover: %v", err)
		}
		h.wantStatus(requeued.ID, "queued", "interrupted")
		got, err := h.s.Cancel(h.ctx, requeued.ID, "cancelled through the API")
		if err != nil || got.Status != "skipped" || got.Reason != "cancelled before start" || got.FinishedAt.IsZero() {
			t.Fatalf("Cancel of the requeued run = %+v, %v; want skipped (cancelled before start), finished", got, err)
		}
		// The job its dead node was running was interrupted; the queued one
		// never starts.
		interrupted.Status, interrupted.Reason, interrupted.FinishedAt = "failed", "interrupted", got.FinishedAt
		smoke.Status, smoke.Reason, smoke.FinishedAt = "skipped", "cancelled before start", got.FinishedAt
		h.wantJobs(requeued.ID, built, failed, interrupted, smoke)
		h.wantJobs(running.ID, building)
		h.wantJobs(other.ID, waiting)
	}},
	{"PruneDeletesJobs", func(t *testing.T, h *harness) {
		old := h.queue(t0, h.newRun("ship"))[0]
		kept := h.queue(t0, h.newRun("ship"))[0]
		h.claimWant("n1", t0, old.ID)
		h.claimWant("n1", t0, kept.ID)
		h.saveJobs(old.ID, []*store.Job{newJob("build", 0, 0, "succeeded"), newJob("test", 1, 0, "succeeded")}, nil)
		keptJob := newJob("build", 0, 0, "running")
		h.saveJobs(kept.ID, []*store.Job{keptJob}, nil)
		h.finish("n1", old.ID, "succeeded", at(time.Minute))

		if err := h.s.Prune(h.ctx, at(time.Hour), at(time.Hour)); err != nil {
			t.Fatalf("Prune: %v", err)
		}
		_, err := h.s.GetRun(h.ctx, old.ID)
		wantErr(t, "GetRun of a pruned run", err, store.ErrNotFound)
		h.wantJobs(old.ID)
		h.wantJobs(kept.ID, keptJob)
	}},
}

// newJob returns job id of a run, unique by id, at job index index and cell.
func newJob(id string, index, cell int, status string) *store.Job {
	return &store.Job{Key: id, ID: id, JobIndex: index, Cell: cell, Name: id, Status: status,
		RunsOn: []string{"local"}}
}

// saveJobs saves jobs of run runID and removes the jobs with keys remove.
func (h *harness) saveJobs(runID string, jobs []*store.Job, remove []string) {
	h.t.Helper()
	if err := h.s.SaveJobs(h.ctx, runID, jobs, remove); err != nil {
		h.t.Fatalf("SaveJobs(%s): %v", runID, err)
	}
}

// wantJobs checks the jobs of run runID, in order, and returns them.
func (h *harness) wantJobs(runID string, want ...*store.Job) []*store.Job {
	h.t.Helper()
	got, err := h.s.Jobs(h.ctx, runID)
	if err != nil {
		h.t.Fatalf("Jobs(%s): %v", runID, err)
	}
	if got == nil {
		h.t.Fatalf("Jobs(%s) = nil, want an empty list", runID)
	}
	if len(got) != len(want) {
		h.t.Fatalf("Jobs(%s) = %s, want %s", runID, jobKeys(got), jobKeys(want))
	}
	for i := range want {
		if diff := jobDiff(got[i], want[i]); diff != "" {
			h.t.Fatalf("Jobs(%s) #%d %s: %s", runID, i, want[i].Key, diff)
		}
	}
	return got
}

// jobKeys lists the keys of jobs, for messages.
func jobKeys(jobs []*store.Job) string {
	keys := make([]string, len(jobs))
	for i, j := range jobs {
		keys[i] = j.Key
	}
	return fmt.Sprintf("%q", keys)
}

// jobDiff lists the fields in which got differs from want, but RunID and
// Offer. JSON compares by value, and an empty list equals a nil one.
func jobDiff(got, want *store.Job) string {
	var d differ
	list := func(name string, g, w []string) {
		if len(g) != 0 || len(w) != 0 {
			d.field(name, g, w)
		}
	}
	d.field("Key", got.Key, want.Key)
	d.field("ID", got.ID, want.ID)
	d.field("JobIndex", got.JobIndex, want.JobIndex)
	d.field("Cell", got.Cell, want.Cell)
	d.field("Name", got.Name, want.Name)
	list("Needs", got.Needs, want.Needs)
	d.doc("Matrix", got.Matrix, want.Matrix)
	d.field("Status", got.Status, want.Status)
	d.field("Reason", got.Reason, want.Reason)
	list("RunsOn", got.RunsOn, want.RunsOn)
	d.field("Runner", got.Runner, want.Runner)
	d.field("ContinueOnError", got.ContinueOnError, want.ContinueOnError)
	d.when("StartedAt", got.StartedAt, want.StartedAt)
	d.when("FinishedAt", got.FinishedAt, want.FinishedAt)
	d.doc("Outputs", got.Outputs, want.Outputs)
	d.doc("Steps", got.Steps, want.Steps)
	d.field("Sandbox", got.Sandbox, want.Sandbox)
	d.when("OfferedAt", got.OfferedAt, want.OfferedAt)
	d.field("Attempt", got.Attempt, want.Attempt)
	d.when("LeaseUntil", got.LeaseUntil, want.LeaseUntil)
	d.field("CancelReason", got.CancelReason, want.CancelReason)
	return d.String()
}
