package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// TestManyWorkflowsAnswerCompact serves a push to a path with 10,000
// workflows, two of which run: the webhook answer names the runs and the first
// skips and counts the rest by reason, in under 4 KB, and the stored event
// keeps its verdicts in the same compact form, which the events API shows.
func TestManyWorkflowsAnswerCompact(t *testing.T) {
	const n = 10000
	files := map[string]string{}
	for i := range n {
		branch := fmt.Sprintf("release/%d", i)
		if i == 7 || i == 4242 {
			branch = "main"
		}
		files[fmt.Sprintf("wf%05d.yaml", i)] = fmt.Sprintf("name: deploy-%05d\non: {webhook: {path: gh, provider: github, events: [push], branches: [%q]}}\nsteps: [{run: 'true'}]\n", i, branch)
	}
	a := startApp(t, files)
	code, body := post(t, a.url+"/hooks/gh", `{"ref":"refs/heads/main"}`, http.Header{"X-Github-Event": {"push"}})
	if code != http.StatusAccepted {
		t.Fatalf("%d %.300s", code, body)
	}
	if len(body) >= 4096 {
		t.Errorf("answer is %d bytes, want under 4 KB", len(body))
	}
	var rc workflows.Receipt
	if err := json.Unmarshal([]byte(body), &rc); err != nil {
		t.Fatal(err)
	}
	if len(rc.Runs) != 2 || rc.Runs[0].Workflow != "deploy-00007" || rc.Runs[1].Workflow != "deploy-04242" {
		t.Errorf("runs %+v", rc.Runs)
	}
	if len(rc.Skipped) != workflows.SkipsListed || rc.Skipped[0] != (workflows.Skip{Workflow: "deploy-00000", Reason: "branches: no match for main"}) {
		t.Errorf("skipped %+v", rc.Skipped)
	}
	want := map[string]int{"branches: no match for main": n - 2 - workflows.SkipsListed}
	if len(rc.SkippedMore) != 1 || rc.SkippedMore["branches: no match for main"] != want["branches: no match for main"] {
		t.Errorf("skipped_more %v, want %v", rc.SkippedMore, want)
	}
	if rc.SkippedCount() != n-2 {
		t.Errorf("skipped count %d, want %d", rc.SkippedCount(), n-2)
	}

	var ev store.Event
	if code := a.call(t, "GET", "/api/v1/events/"+rc.EventID, nil, &ev); code != http.StatusOK {
		t.Fatalf("event: %d", code)
	}
	if len(ev.Verdicts) != 2+workflows.SkipsListed+1 {
		t.Fatalf("stored %d verdicts, want %d", len(ev.Verdicts), 2+workflows.SkipsListed+1)
	}
	last := ev.Verdicts[len(ev.Verdicts)-1]
	if last.Workflow != "" || last.Reason != "branches: no match for main" || last.Count != n-2-workflows.SkipsListed {
		t.Errorf("counted verdict %+v", last)
	}
	ran := 0
	for _, v := range ev.Verdicts {
		ran += len(v.Runs)
	}
	if ran != 2 {
		t.Errorf("stored verdicts name %d runs, want 2", ran)
	}
	resp, err := http.Get(a.url + "/ui/events/" + rc.EventID)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if more := fmt.Sprintf("%d more workflows", n-2-workflows.SkipsListed); resp.StatusCode != http.StatusOK || !strings.Contains(string(page), more) {
		t.Errorf("event page: %d, lacks %q", resp.StatusCode, more)
	}
}
