package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// shipYAML is a `jobs:` workflow started by hand.
const shipYAML = `
on: {dispatch: {}}
jobs:
  build:
    steps: [{run: make}]
  deploy:
    needs: build
    strategy: {matrix: {host: [a, b]}}
    steps: [{run: ./deploy}]
`

// jobsRun queues a run, records jobs build, deploy (a) and deploy (b) for it,
// with one line each and one of the run's own, and returns the run.
func jobsRun(t *testing.T, f *fixture) *store.Run {
	t.Helper()
	f.dispatchRun(t, "manual")
	r := f.claim(t)
	steps, _ := json.Marshal([]runner.StepResult{{Index: 0, ID: "make", Outcome: workflows.OutcomeSuccess}})
	jobs := []*store.Job{
		{Key: "build", ID: "build", Name: "build", Status: workflows.StatusSucceeded, RunsOn: []string{"local"},
			Outputs: json.RawMessage(`{"image":"web:1"}`), Steps: steps},
		{Key: "deploy (a)", ID: "deploy", JobIndex: 1, Name: "deploy (a)", Needs: []string{"build"},
			Matrix: json.RawMessage(`{"host":"a"}`), Status: workflows.StatusRunning, RunsOn: []string{"local"}},
		{Key: "deploy (b)", ID: "deploy", JobIndex: 1, Cell: 1, Name: "deploy (b)", Needs: []string{"build"},
			Matrix: json.RawMessage(`{"host":"b"}`), Status: workflows.StatusQueued, RunsOn: []string{"local"}},
	}
	if err := f.store.SaveJobs(context.Background(), r.ID, jobs, nil); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	lines := []store.LogLine{
		{Job: "build", Step: 0, Stream: runner.Stdout, Time: now, Text: "built"},
		{Job: "deploy (a)", Step: 0, Stream: runner.Stdout, Time: now, Text: "to a"},
		{Job: "deploy (b)", Step: 0, Stream: runner.Stdout, Time: now, Text: "to b"},
	}
	if err := f.store.AppendLogs(context.Background(), r.ID, lines); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRunJobs checks a `jobs:` run's object and its log answers: jobs in
// order with what they recorded, logs of one job by key or by id, every
// line prefixed by its job without one, and an unknown job refused.
func TestRunJobs(t *testing.T) {
	f := newFixture(t, map[string]string{"manual.yaml": manualYAML, "ship.yaml": shipYAML}, nil)
	r := jobsRun(t, f)

	a := f.do(t, "GET", "/api/v1/runs/"+r.ID, "", nil)
	var view RunView
	if err := json.Unmarshal([]byte(a.body), &view); err != nil || a.code != http.StatusOK {
		t.Fatalf("%d %s (%v)", a.code, a.body, err)
	}
	var keys []string
	for _, j := range view.Jobs {
		keys = append(keys, j.Key)
	}
	if !slices.Equal(keys, []string{"build", "deploy (a)", "deploy (b)"}) {
		t.Fatalf("jobs %q", keys)
	}
	if b := view.Jobs[0]; b.Outputs["image"] != "web:1" || len(b.Steps) != 1 || b.Steps[0].ID != "make" {
		t.Errorf("build %+v", b)
	}
	if d := view.Jobs[2]; d.Matrix["host"] != "b" || !slices.Equal(d.Needs, []string{"build"}) || d.Status != workflows.StatusQueued {
		t.Errorf("deploy (b) %+v", d)
	}

	for _, tc := range []struct{ query, want string }{
		{"", "[build] built|[deploy (a)] to a|[deploy (b)] to b"},
		{"?job=build", "built"},
		{"?job=deploy%20(b)", "to b"},
		{"?job=deploy", "[deploy (a)] to a|[deploy (b)] to b"},
	} {
		a := f.do(t, "GET", "/api/v1/runs/"+r.ID+"/logs"+tc.query, "", nil)
		if a.code != http.StatusOK {
			t.Fatalf("logs%s: %d %s", tc.query, a.code, a.body)
		}
		var got []string
		for line := range strings.Lines(a.body) {
			prefix, rest, _ := strings.Cut(line, "] ")
			if !strings.HasPrefix(line, "[") {
				prefix, rest = "", line
			} else {
				prefix += "] "
			}
			_, text, _ := strings.Cut(strings.TrimSuffix(rest, "\n"), "| ")
			got = append(got, prefix+text)
		}
		if strings.Join(got, "|") != tc.want {
			t.Errorf("logs%s: %q, want %s", tc.query, got, tc.want)
		}
	}
	if a := f.do(t, "GET", "/api/v1/runs/"+r.ID+"/logs?job=nope", "", nil); a.code != http.StatusNotFound ||
		!strings.Contains(a.body, `has no job \"nope\"`) {
		t.Errorf("unknown job: %d %s", a.code, a.body)
	}

	// A run that has not stored its jobs yet knows them from its workflow.
	queued := f.dispatchRun(t, "ship")
	if a := f.do(t, "GET", "/api/v1/runs/"+queued.ID+"/logs?job=deploy", "", nil); a.code != http.StatusOK {
		t.Errorf("a queued run's job: %d %s", a.code, a.body)
	}
	if a := f.do(t, "GET", "/api/v1/runs/"+queued.ID+"/logs?job=nope", "", nil); a.code != http.StatusNotFound {
		t.Errorf("a queued run's unknown job: %d %s", a.code, a.body)
	}

	// Following one job's log sends its lines only, then the run with its jobs.
	f.finish(t, r, workflows.StatusSucceeded)
	a = f.do(t, "GET", "/api/v1/runs/"+r.ID+"/logs?follow=1&job=deploy%20(a)", "", map[string]string{"Accept": "text/event-stream"})
	sr := bufio.NewReader(strings.NewReader(a.body))
	var texts []string
	for {
		e := readSSE(t, sr)
		if e.event == "end" {
			var end RunView
			if err := json.Unmarshal([]byte(e.data), &end); err != nil || len(end.Jobs) != 3 {
				t.Errorf("end %s (%v)", e.data, err)
			}
			break
		}
		var l store.LogLine
		if err := json.Unmarshal([]byte(e.data), &l); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, l.Job+": "+l.Text)
	}
	if !slices.Equal(texts, []string{"deploy (a): to a"}) {
		t.Errorf("followed %q", texts)
	}
}
