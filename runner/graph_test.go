package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// dagWorkflow is a run of seven jobs: build fans out to lint, unit, docs
// (skipped by its if) and flaky (failing, continue_on_error); lint and unit
// close a diamond into a matrix of 3×2 cells less one, two at a time; smoke
// needs the matrix and flaky. build's output reaches the matrix through
// lint's, two levels down.
const dagWorkflow = `
on: {dispatch: {}}
jobs:
  build:
    steps:
      - id: b
        run: |
          sleep 0.2
          echo "image=web:1" >> "$HOOKFLOW_OUTPUT"
    outputs: {image: "${{ steps.b.outputs.image }}"}
  lint:
    needs: build
    env: {IMAGE: "${{ needs.build.outputs.image }}"}
    steps:
      - id: l
        run: echo "tag=$IMAGE-linted" >> "$HOOKFLOW_OUTPUT"
    outputs: {tag: "${{ steps.l.outputs.tag }}"}
  unit:
    needs: [build]
    steps: [{run: sleep 0.2}]
  docs:
    needs: build
    if: needs.build.outputs.image == "nothing"
    steps: [{run: echo never}]
  flaky:
    needs: build
    continue_on_error: true
    steps: [{run: exit 3}]
  deploy:
    needs: [lint, unit]
    strategy:
      matrix:
        host: [web-01, web-02, web-03]
        arch: [amd64, arm64]
        exclude: [{host: web-03, arch: arm64}]
      max_parallel: 2
    env: {TAG: "${{ needs.lint.outputs.tag }}", HOST: "${{ matrix.host }}", ARCH: "${{ matrix.arch }}"}
    steps:
      - id: d
        run: |
          echo "hello from $HOST/$ARCH"
          sleep 0.3
          echo "seen=$TAG $HOST $ARCH" >> "$HOOKFLOW_OUTPUT"
  smoke:
    needs: [deploy, flaky]
    steps: [{run: echo smoke}]
`

func TestJobsRunInNeedsOrder(t *testing.T) {
	q := newQueue(t, 4, 0, map[string]string{"dag": dagWorkflow})
	q.startPool(t)
	rc := q.dispatch(t, "dag", nil)
	run := q.wait(t, rc.Runs[0].ID)
	jobs := storedJobs(t, q.store, run.ID)
	if run.Status != workflows.StatusSucceeded {
		t.Fatalf("run %s (%s), jobs %s", run.Status, run.Reason, describeJobs(jobs))
	}

	byKey := map[string]JobResult{}
	var keys []string
	for _, j := range jobs {
		byKey[j.Key] = j
		keys = append(keys, j.Key)
	}
	wantKeys := []string{"build", "lint", "unit", "docs", "flaky",
		"deploy (web-01, amd64)", "deploy (web-01, arm64)", "deploy (web-02, amd64)", "deploy (web-02, arm64)", "deploy (web-03, amd64)",
		"smoke"}
	if !slices.Equal(keys, wantKeys) {
		t.Fatalf("jobs %q, want %q", keys, wantKeys)
	}
	for key, want := range map[string]string{"build": "succeeded", "lint": "succeeded", "unit": "succeeded",
		"docs": "skipped", "flaky": "failed", "smoke": "succeeded", "deploy (web-03, amd64)": "succeeded"} {
		if got := byKey[key].Status; got != want {
			t.Errorf("job %s is %s (%s), want %s", key, got, byKey[key].Reason, want)
		}
	}
	if r := byKey["docs"].Reason; r != "if: false" {
		t.Errorf("docs skipped for %q, want if: false", r)
	}

	// Order: no job started before every job it needs finished.
	for _, j := range jobs {
		if j.Status == workflows.StatusSkipped {
			continue
		}
		for _, need := range j.Needs {
			for _, n := range jobs {
				if n.ID == need && j.StartedAt.Before(n.FinishedAt) {
					t.Errorf("%s started at %s, before %s (which it needs) finished at %s", j.Key, j.StartedAt, n.Key, n.FinishedAt)
				}
			}
		}
	}
	// The matrix: two cells at a time at most, and two at some point.
	var cells []JobResult
	for _, j := range jobs {
		if j.ID == "deploy" {
			cells = append(cells, j)
			if got, want := j.Steps[0].Outputs["seen"], "web:1-linted "+j.Matrix["host"].(string)+" "+j.Matrix["arch"].(string); got != want {
				t.Errorf("%s saw %v, want %q", j.Key, got, want)
			}
		}
	}
	if most := mostAtOnce(cells); most != 2 {
		t.Errorf("at most %d matrix cells ran at once, want 2 (max_parallel)", most)
	}

	// Each job's lines are its own.
	lines, err := q.store.Logs(context.Background(), run.ID, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range lines {
		if strings.HasPrefix(l.Text, "hello from ") {
			found = true
			j := byKey[l.Job]
			if want := "hello from " + j.Matrix["host"].(string) + "/" + j.Matrix["arch"].(string); l.Text != want {
				t.Errorf("line %q is recorded for job %q", l.Text, l.Job)
			}
		}
	}
	if !found {
		t.Error("no deploy line in the log")
	}
}

func TestJobsFailFastCancelsSiblings(t *testing.T) {
	q := newQueue(t, 4, 0, map[string]string{"ff": `
on: {dispatch: {}}
jobs:
  cells:
    strategy: {matrix: {n: [1, 2, 3]}}
    steps:
      - env: {N: "${{ matrix.n }}"}
        run: |
          if [ "$N" = 1 ]; then sleep 0.2; exit 1; fi
          sleep 60
  after:
    needs: cells
    steps: [{run: echo never}]
`})
	q.startPool(t)
	rc := q.dispatch(t, "ff", nil)
	run := q.wait(t, rc.Runs[0].ID)
	jobs := storedJobs(t, q.store, run.ID)
	if run.Status != workflows.StatusFailed || !strings.Contains(run.Reason, "cells (1) failed") {
		t.Errorf("run %s (%s), want failed by cells (1)", run.Status, run.Reason)
	}
	want := map[string]string{"cells (1)": "failed", "cells (2)": "cancelled", "cells (3)": "cancelled", "after": "skipped"}
	for _, j := range jobs {
		if j.Status != want[j.Key] {
			t.Errorf("%s is %s (%s), want %s", j.Key, j.Status, j.Reason, want[j.Key])
		}
		if j.Status == workflows.StatusCancelled && !strings.Contains(j.Reason, "fail_fast") {
			t.Errorf("%s cancelled for %q", j.Key, j.Reason)
		}
	}
	if len(jobs) != len(want) {
		t.Errorf("jobs %s", describeJobs(jobs))
	}
}

// storedJobs reads a run's jobs from the store.
func storedJobs(t *testing.T, st store.Store, runID string) []JobResult {
	t.Helper()
	rows, err := st.Jobs(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	jobs := make([]JobResult, len(rows))
	for i, r := range rows {
		jobs[i] = ViewJob(r)
	}
	return jobs
}

func describeJobs(jobs []JobResult) string {
	b, _ := json.MarshalIndent(jobs, "", "  ")
	return string(b)
}

// mostAtOnce is the largest number of jobs whose [start, finish) overlap.
func mostAtOnce(jobs []JobResult) int {
	most := 0
	for _, a := range jobs {
		n := 0
		for _, b := range jobs {
			if !a.StartedAt.Before(b.StartedAt) && a.StartedAt.Before(b.FinishedAt) {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// TestJobConcurrencyAcrossRuns checks that jobs of one concurrency group, in
// different runs, never run at once, while the runs' other jobs do.
func TestJobConcurrencyAcrossRuns(t *testing.T) {
	q := newQueue(t, 4, 0, map[string]string{"gated": `
on: {dispatch: {}}
jobs:
  prepare:
    steps: [{run: sleep 0.1}]
  deploy:
    needs: prepare
    concurrency: {group: "deploy-${{ workflow.name }}"}
    steps: [{run: sleep 0.5}]
`})
	q.startPool(t)
	var ids []string
	for range 3 {
		ids = append(ids, q.dispatch(t, "gated", nil).Runs[0].ID)
	}
	var deploys []JobResult
	for _, id := range ids {
		if r := q.wait(t, id); r.Status != workflows.StatusSucceeded {
			t.Fatalf("run %s %s (%s)", id, r.Status, r.Reason)
		}
		for _, j := range storedJobs(t, q.store, id) {
			if j.ID == "deploy" {
				deploys = append(deploys, j)
			}
		}
	}
	if most := mostAtOnce(deploys); most != 1 {
		t.Errorf("%d deploy jobs of one group ran at once:\n%s", most, describeJobs(deploys))
	}
}

// TestJobTimeoutAndCancel checks that a job's timeout ends that job alone
// (`timed_out`, failing the run), and that cancelling a run stops its running
// job and keeps the rest from starting.
func TestJobTimeoutAndCancel(t *testing.T) {
	q := newQueue(t, 4, 0, map[string]string{
		"slow": `
on: {dispatch: {}}
jobs:
  slow:
    timeout: 1s
    steps: [{run: sleep 30}]
  quick:
    steps: [{run: 'true'}]
`,
		"long": `
on: {dispatch: {}}
jobs:
  first:
    steps: [{run: sleep 30}]
  second:
    needs: first
    steps: [{run: 'true'}]
`})
	q.startPool(t)
	run := q.wait(t, q.dispatch(t, "slow", nil).Runs[0].ID)
	jobs := storedJobs(t, q.store, run.ID)
	if run.Status != workflows.StatusFailed || run.Reason != "job slow timed_out: job slow timed out after 1s" {
		t.Errorf("run %s (%q)", run.Status, run.Reason)
	}
	if len(jobs) != 2 || jobs[0].Status != workflows.StatusTimedOut || jobs[1].Status != workflows.StatusSucceeded {
		t.Errorf("jobs %s", describeJobs(jobs))
	}

	id := q.dispatch(t, "long", nil).Runs[0].ID
	deadline := time.Now().Add(time.Minute)
	for {
		jobs := storedJobs(t, q.store, id)
		if len(jobs) > 0 && jobs[0].Status == workflows.StatusRunning && len(jobs[0].Steps) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first job did not start: %s", describeJobs(jobs))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := q.store.Cancel(context.Background(), id, "cancelled by ada"); err != nil {
		t.Fatal(err)
	}
	q.pool.CancelRequested(id)
	run = q.wait(t, id)
	jobs = storedJobs(t, q.store, id)
	if run.Status != workflows.StatusCancelled || run.Reason != "cancelled by ada" {
		t.Errorf("run %s (%q), want cancelled by ada", run.Status, run.Reason)
	}
	if len(jobs) != 2 || jobs[0].Status != workflows.StatusCancelled || jobs[1].Status != workflows.StatusSkipped ||
		jobs[1].Reason != "cancelled before start" {
		t.Errorf("jobs %s", describeJobs(jobs))
	}
}

// TestJobsForEachItem checks that for_each keeps its meaning with jobs: one
// run per item, each job reading it.
func TestJobsForEachItem(t *testing.T) {
	q := newQueue(t, 4, 0, map[string]string{"each": `
on: {dispatch: {inputs: {hosts: {}}}}
for_each: fromJSON(inputs.hosts)
jobs:
  one:
    env: {HOST: "${{ item }}"}
    steps:
      - id: s
        run: echo "host=$HOST" >> "$HOOKFLOW_OUTPUT"
`})
	q.startPool(t)
	rc := q.dispatch(t, "each", map[string]any{"hosts": `["a", "b"]`})
	if len(rc.Runs) != 2 {
		t.Fatalf("%d runs, want 2", len(rc.Runs))
	}
	var hosts []string
	for _, r := range rc.Runs {
		q.wait(t, r.ID)
		jobs := storedJobs(t, q.store, r.ID)
		if len(jobs) != 1 || len(jobs[0].Steps) != 1 {
			t.Fatalf("jobs %s", describeJobs(jobs))
		}
		hosts = append(hosts, fmt.Sprint(jobs[0].Steps[0].Outputs["host"]))
	}
	slices.Sort(hosts)
	if !slices.Equal(hosts, []string{"a", "b"}) {
		t.Errorf("hosts %q", hosts)
	}
}

// TestMatrixValuesAsStored checks that a cell reads its matrix values as a
// resumed run reads them back from the store: numbers as float64, as every
// number from JSON.
func TestMatrixValuesAsStored(t *testing.T) {
	q := newQueue(t, 4, 0, map[string]string{"typed": `
on: {dispatch: {}}
jobs:
  cells:
    strategy: {matrix: {n: [1]}}
    steps:
      - id: s
        env: {KIND: "${{ type(matrix.n) }}"}
        run: echo "kind=$KIND" >> "$HOOKFLOW_OUTPUT"
`})
	q.startPool(t)
	run := q.wait(t, q.dispatch(t, "typed", nil).Runs[0].ID)
	jobs := storedJobs(t, q.store, run.ID)
	if len(jobs) != 1 || len(jobs[0].Steps) != 1 || jobs[0].Steps[0].Outputs["kind"] != "float" {
		t.Errorf("run %s, jobs %s; want matrix.n a float", run.Status, describeJobs(jobs))
	}
}

// TestJobFailuresFailTheRun checks that a job failing before it runs (its
// if cannot be evaluated) fails the run like one whose step failed.
func TestJobFailuresFailTheRun(t *testing.T) {
	q := newQueue(t, 4, 0, map[string]string{"bad": `
on: {dispatch: {inputs: {x: {default: nope}}}}
jobs:
  bad:
    if: fromJSON(inputs.x) == 1
    steps: [{run: 'true'}]
  good:
    steps: [{run: 'true'}]
`})
	q.startPool(t)
	run := q.wait(t, q.dispatch(t, "bad", map[string]any{"x": "nope"}).Runs[0].ID)
	jobs := storedJobs(t, q.store, run.ID)
	if run.Status != workflows.StatusFailed || !strings.HasPrefix(run.Reason, "job bad failed: if: ") {
		t.Errorf("run %s (%q), want failed by job bad", run.Status, run.Reason)
	}
	if len(jobs) != 2 || jobs[0].Status != workflows.StatusFailed || jobs[1].Status != workflows.StatusSucceeded {
		t.Errorf("jobs %s", describeJobs(jobs))
	}
}

// TestCancelEndsEveryJob cancels a run while jobs wait behind the run's
// bound: they, and the jobs that need them, end; none stays queued.
func TestCancelEndsEveryJob(t *testing.T) {
	q := newQueue(t, 1, 0, map[string]string{"chain": `
on: {dispatch: {}}
jobs:
  a:
    steps: [{run: sleep 30}]
  b:
    steps: [{run: 'true'}]
  c:
    needs: b
    steps: [{run: 'true'}]
`})
	q.startPool(t)
	id := q.dispatch(t, "chain", nil).Runs[0].ID
	deadline := time.Now().Add(time.Minute)
	for {
		jobs := storedJobs(t, q.store, id)
		if len(jobs) == 3 && jobs[0].Status == workflows.StatusRunning && len(jobs[0].Steps) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job a did not start: %s", describeJobs(jobs))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := q.store.Cancel(context.Background(), id, "cancelled by ada"); err != nil {
		t.Fatal(err)
	}
	q.pool.CancelRequested(id)
	run := q.wait(t, id)
	jobs := storedJobs(t, q.store, id)
	want := map[string]string{"a": "cancelled", "b": "skipped", "c": "skipped"}
	for _, j := range jobs {
		if j.Status != want[j.Key] {
			t.Errorf("job %s %s (%s), want %s", j.Key, j.Status, j.Reason, want[j.Key])
		}
	}
	if run.Status != workflows.StatusCancelled || len(jobs) != 3 {
		t.Errorf("run %s, jobs %s", run.Status, describeJobs(jobs))
	}
}
