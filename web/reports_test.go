package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
)

// TestRunPageShowsReports: a run's commit statuses and notices are listed
// with their status, attempts and last error (as text, whatever it holds),
// and the list reloads itself until none is waiting to be sent.
func TestRunPageShowsReports(t *testing.T) {
	f := newFixture(t, map[string]string{"deploy.yaml": `on: {dispatch: {}}
report: {commit_status: true, token: "${{ secrets.T }}"}
notify: [{when: failure, email: {to: ops@example.com}}]
steps:
  - {id: build, run: 'true'}
`})
	w, _ := f.source.Set().Lookup("deploy")
	ctx := context.Background()
	d := f.dispatch(t, 1, map[string]any{}, "deploy")[0]
	// The fixture queues runs without a plan; this one gets its workflow's.
	if err := f.store.Dispatch(ctx, []*store.Dispatch{{Runs: []*store.Run{{ID: "01RUPLANNED000000000000001",
		Workflow: "deploy", EventID: d.Event.ID, QueuedAt: f.now, Report: w.Plan()}}}}, 0, f.now); err != nil {
		t.Fatal(err)
	}
	// The first run queued is the fixture's, without reports.
	f.finish(t, "succeeded", "", nil)
	run := f.finish(t, "failed", "step build failed", nil)
	if _, err := f.store.PlanReports(ctx, 100, f.now); err != nil {
		t.Fatal(err)
	}
	claimed, err := f.store.ClaimReports(ctx, "n1", 10, time.Minute, f.now)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claimed %d reports: %v", len(claimed), err)
	}
	settle := func(r *store.Report, status, why string) {
		t.Helper()
		r.Status, r.Error, r.NextAt = status, why, f.now.Add(time.Minute)
		if err := f.store.SettleReport(ctx, "n1", r, f.now); err != nil {
			t.Fatal(err)
		}
	}
	status, notice := claimed[0], claimed[1]
	settle(status, store.ReportFailed, "POST gitea.example.com: 401 Unauthorized: "+hostile)
	settle(notice, store.ReportQueued, "smtp 127.0.0.1:25: connection refused")

	_, body := f.get(t, "/ui/runs/"+run.ID)
	for _, want := range []string{
		`<div id="run-reports" data-refresh="/ui/runs/` + run.ID + `?part=reports">`,
		`<td data-label="Report">Commit status <span class="muted">(failed)</span></td>`,
		`<td data-label="Says">failure</td>`,
		`<span class="pill st-failed">failed</span>`,
		`401 Unauthorized: &lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;`,
		`<td data-label="Report">email notice <span class="muted">(failed)</span></td>`,
		`<span class="pill st-queued">queued</span> <span class="muted">next try`,
		`smtp 127.0.0.1:25: connection refused`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("run page lacks %q", want)
		}
	}
	if strings.Contains(body, "<img") || strings.Contains(body, "data-settled") {
		t.Error("the run page holds raw HTML of an error, or says the reports are settled")
	}

	// Once the notice is sent, the part says it is settled.
	again, err := f.store.ClaimReports(ctx, "n1", 10, time.Minute, f.now.Add(time.Minute))
	if err != nil || len(again) != 1 {
		t.Fatalf("claimed %d: %v", len(again), err)
	}
	settle(again[0], store.ReportSent, "")
	_, part := f.get(t, "/ui/runs/"+run.ID+"?part=reports")
	if !strings.Contains(part, `<table class="list reports" data-settled>`) || !strings.Contains(part, `<span class="pill st-succeeded">sent</span>`) {
		t.Errorf("the reports part, all sent:\n%s", part)
	}

	// A run whose workflow reports nothing has no Reports section and
	// nothing reloading it.
	_, plain := f.get(t, "/ui/runs/"+d.Runs[0].ID)
	if strings.Contains(plain, "Reports") || strings.Contains(plain, "part=reports") {
		t.Error("a run without reports shows a Reports section or reloads one")
	}
}
