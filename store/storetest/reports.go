package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
)

// plan is a report plan as workflows.Workflow.Plan writes it: a commit
// status, per job with perJob, and a notice on failure and recovery.
func plan(perJob bool) func(*store.Run) {
	return func(r *store.Run) {
		r.Report = fmt.Appendf(nil, `{"report":{"commit_status":true,"token":"${{ secrets.T }}","per_job":%t},
			"notify":[{"when":["failure","recovered"],"repeat":3600000000000,"email":{"to":["ops@example.com"]}}]}`, perJob)
	}
}

var reportTests = []test{
	{"RunWithoutPlanReportsNothing", func(t *testing.T, h *harness) {
		r := h.queue(at(0), h.newRun("wf"))[0]
		h.claim("n1", at(time.Second))
		h.finish("n1", r.ID, "failed", at(2*time.Second))
		if n := h.plan(at(3 * time.Second)); n != 0 {
			t.Errorf("PlanReports took %d changes of a run without a plan", n)
		}
		h.wantReports(r.ID)
	}},
	{"EveryStatusChangeIsPlanned", func(t *testing.T, h *harness) {
		r := h.queue(at(0), h.newRun("wf", plan(false)))[0]
		h.claim("n1", at(time.Second))
		h.finish("n1", r.ID, "failed", at(2*time.Second))
		if n := h.plan(at(3 * time.Second)); n != 3 {
			t.Errorf("PlanReports took %d changes, want 3 (queued, running, failed)", n)
		}
		// The two pending statuses were never sent: the failure supersedes them.
		h.wantReports(r.ID, "commit_status pending superseded", "commit_status pending superseded",
			"commit_status failure queued", "email failure queued")
		if n := h.plan(at(4 * time.Second)); n != 0 {
			t.Errorf("PlanReports took %d changes twice", n)
		}
	}},
	{"RecoveredOnceAfterFailure", func(t *testing.T, h *harness) {
		var notices []string
		for i, status := range []string{"succeeded", "failed", "failed", "succeeded", "succeeded"} {
			now := at(time.Duration(i) * time.Minute)
			r := h.queue(now, h.newRun("wf", plan(false)))[0]
			h.claim("n1", now)
			h.finish("n1", r.ID, status, now.Add(time.Second))
			h.plan(now.Add(2 * time.Second))
			for _, rep := range h.reports(r.ID) {
				if rep.Kind == "email" {
					notices = append(notices, fmt.Sprintf("%d:%s", i, rep.State))
				}
			}
		}
		// A first success is no recovery; the second failure, within
		// repeat, is not told again.
		if want := []string{"1:failure", "3:recovered"}; !slices.Equal(notices, want) {
			t.Errorf("notices %v, want %v", notices, want)
		}
	}},
	{"StreaksArePerGroup", func(t *testing.T, h *harness) {
		a := h.queue(at(0), h.newRun("wf", plan(false), inGroup("wf/a")))[0]
		h.claim("n1", at(0))
		h.finish("n1", a.ID, "failed", at(time.Second))
		b := h.queue(at(2*time.Second), h.newRun("wf", plan(false), inGroup("wf/b")))[0]
		h.claim("n1", at(2*time.Second))
		h.finish("n1", b.ID, "succeeded", at(3*time.Second))
		h.plan(at(4 * time.Second))
		h.wantReports(b.ID, "commit_status pending superseded", "commit_status pending superseded",
			"commit_status success queued")
	}},
	{"PerJobStatuses", func(t *testing.T, h *harness) {
		r := h.queue(at(0), h.newRun("wf", plan(true)))[0]
		h.claim("n1", at(0))
		h.saveJobs(r.ID, []*store.Job{newJob("build", 0, 0, "queued")}, nil)
		running := newJob("build", 0, 0, "running")
		running.StartedAt = at(time.Second)
		h.saveJobs(r.ID, []*store.Job{running}, nil)
		done := newJob("build", 0, 0, "succeeded")
		done.StartedAt, done.FinishedAt = at(time.Second), at(2*time.Second)
		h.saveJobs(r.ID, []*store.Job{done}, nil)
		h.plan(at(3 * time.Second))
		var jobs []string
		for _, rep := range h.reports(r.ID) {
			if rep.Job != "" {
				jobs = append(jobs, rep.Job+" "+rep.State+" "+rep.Status)
			}
		}
		want := []string{"build pending superseded", "build pending superseded", "build success queued"}
		if !slices.Equal(jobs, want) {
			t.Errorf("job reports %v, want %v", jobs, want)
		}
	}},
	{"ClaimSettleAndRetry", func(t *testing.T, h *harness) {
		r := h.queue(at(0), h.newRun("wf", plan(false)))[0]
		h.plan(at(time.Second))
		got := h.claimReports("n1", at(time.Second))
		if len(got) != 1 || got[0].State != "pending" || got[0].Attempts != 1 || got[0].Workflow != "wf" ||
			got[0].EventID != r.EventID || !strings.Contains(string(got[0].Plan), "commit_status") {
			t.Fatalf("claimed %+v", got)
		}
		if again := h.claimReports("n2", at(2*time.Second)); len(again) != 0 {
			t.Errorf("a held report was claimed again: %+v", again)
		}
		pending := got[0]
		// The run starts and fails while the pending status is on its way:
		// the newer statuses wait for it.
		h.claim("n1", at(2*time.Second))
		h.finish("n1", r.ID, "failed", at(3*time.Second))
		h.plan(at(4 * time.Second))
		if held := h.claimReports("n2", at(5*time.Second)); len(held) != 1 || held[0].Kind != "email" {
			t.Errorf("claimed %v while an older commit status is held, want the notice alone", kinds(held))
		}
		// The pending status fails and would be retried, but a newer one is
		// queued: it is superseded.
		pending.Status, pending.Error, pending.NextAt = store.ReportQueued, "503 Service Unavailable", at(time.Minute)
		h.settle("n1", pending, at(5*time.Second))
		next := h.claimReports("n1", at(6*time.Second))
		if len(next) != 1 || next[0].State != "failure" {
			t.Fatalf("claimed %v after the held status settled, want the failure", kinds(next))
		}
		next[0].Status, next[0].Error, next[0].NextAt = store.ReportQueued, "connection refused", at(time.Minute)
		h.settle("n1", next[0], at(7*time.Second))
		if early := h.claimReports("n1", at(30*time.Second)); len(early) != 0 {
			t.Errorf("claimed %v before it was due", kinds(early))
		}
		retry := h.claimReports("n1", at(time.Minute))
		if len(retry) != 1 || retry[0].Attempts != 2 {
			t.Fatalf("retry claimed %+v", retry)
		}
		retry[0].Status, retry[0].Error = store.ReportSent, ""
		h.settle("n1", retry[0], at(61*time.Second))
		reports := h.reports(r.ID)
		var last *store.Report
		for _, rep := range reports {
			if rep.Kind == "commit_status" {
				last = rep
			}
		}
		if last == nil || last.Status != "sent" || !last.SentAt.Equal(at(61*time.Second)) || last.Attempts != 2 {
			t.Errorf("the failure status ends as %+v", last)
		}
		h.wantReports(r.ID, "commit_status pending superseded", "commit_status pending superseded",
			"commit_status failure sent", "email failure queued")
	}},
	{"SettleNeedsTheLease", func(t *testing.T, h *harness) {
		h.queue(at(0), h.newRun("wf", plan(false)))
		h.plan(at(0))
		got := h.claimReports("n1", at(0))
		if len(got) != 1 {
			t.Fatalf("claimed %d", len(got))
		}
		// n1's lease ends; n2 takes the report over.
		taken := h.claimReports("n2", at(2*time.Minute))
		if len(taken) != 1 || taken[0].Attempts != 2 {
			t.Fatalf("after the lease, claimed %+v", taken)
		}
		got[0].Status = store.ReportSent
		if err := h.s.SettleReport(h.ctx, "n1", got[0], at(2*time.Minute)); !errors.Is(err, store.ErrConflict) {
			t.Errorf("settling a report another node holds: %v, want ErrConflict", err)
		}
		// n2 restarts: what it held is due again at once, and another
		// attempt is counted.
		if err := h.s.ReleaseReports(h.ctx, "n2"); err != nil {
			t.Fatal(err)
		}
		taken = h.claimReports("n3", at(2*time.Minute))
		if len(taken) != 1 || taken[0].Attempts != 3 {
			t.Fatalf("after a release, claimed %+v", taken)
		}
		taken[0].Status = store.ReportFailed
		taken[0].Error = "401 Unauthorized"
		h.settle("n3", taken[0], at(2*time.Minute))
		reps := h.reports(got[0].RunID)
		if len(reps) != 1 || reps[0].Status != "failed" || reps[0].Error != "401 Unauthorized" {
			t.Errorf("reports %+v", reps)
		}
	}},
}

func (h *harness) plan(now time.Time) int {
	h.t.Helper()
	n, err := h.s.PlanReports(h.ctx, 100, now)
	if err != nil {
		h.t.Fatalf("PlanReports: %v", err)
	}
	return n
}

func (h *harness) claimReports(node string, now time.Time) []*store.Report {
	h.t.Helper()
	got, err := h.s.ClaimReports(h.ctx, node, 10, time.Minute, now)
	if err != nil {
		h.t.Fatalf("ClaimReports: %v", err)
	}
	return got
}

func (h *harness) settle(node string, r *store.Report, now time.Time) {
	h.t.Helper()
	if err := h.s.SettleReport(h.ctx, node, r, now); err != nil {
		h.t.Fatalf("SettleReport %d: %v", r.Seq, err)
	}
}

func (h *harness) reports(runID string) []*store.Report {
	h.t.Helper()
	got, err := h.s.RunReports(h.ctx, runID)
	if err != nil {
		h.t.Fatalf("RunReports: %v", err)
	}
	return got
}

// wantReports checks run runID's reports, as "kind state status".
func (h *harness) wantReports(runID string, want ...string) {
	h.t.Helper()
	var got []string
	for _, r := range h.reports(runID) {
		got = append(got, r.Kind+" "+r.State+" "+r.Status)
	}
	if !slices.Equal(got, want) {
		h.t.Errorf("reports of %s:\n  %q\nwant\n  %q", runID, got, want)
	}
}

func kinds(reports []*store.Report) []string {
	var out []string
	for _, r := range reports {
		out = append(out, r.Kind+" "+r.State)
	}
	return out
}
