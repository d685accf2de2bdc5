package runner

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// hostsFanOut builds on this node, then runs one cell per host on the runner with
// that host's label, and reports back on this node what each host said.
const hostsFanOut = `
on: {dispatch: {}}
jobs:
  build:
    steps:
      - id: b
        run: echo "version=7" >> "$HOOKFLOW_OUTPUT"
    outputs: {version: "${{ steps.b.outputs.version }}"}
  deploy:
    needs: build
    strategy:
      matrix: {host: [web-01, web-02]}
    runs_on: ["${{ matrix.host }}"]
    env: {VERSION: "${{ needs.build.outputs.version }}", RUNNER: "${{ job.runner }}"}
    steps:
      - id: d
        run: |
          echo "deploying $VERSION on $RUNNER"
          echo "where=$RUNNER" >> "$HOOKFLOW_OUTPUT"
    outputs: {where: "${{ steps.d.outputs.where }}"}
  report:
    needs: deploy
    env: {WHERE: "${{ needs.deploy.outputs.where }}"}
    steps:
      - run: echo "last deployed on $WHERE"
`

// testAgent runs, through the store, the jobs offered to a runner with its
// labels, as the agent protocol's server side hands them out: the store is
// real, and so is the execution of the job from its assignment.
type testAgent struct {
	t      *testing.T
	st     store.Store
	name   string
	labels []string
	x      *Executor
	// hold, when set, keeps each claimed job from running until it is
	// closed; the jobs claimed are sent on claimed.
	hold    chan struct{}
	claimed chan store.JobRef
}

func (a *testAgent) run(ctx context.Context) {
	for ctx.Err() == nil {
		j, err := a.st.ClaimJob(ctx, a.name, a.labels, time.Minute, time.Now().UTC())
		if err != nil || j == nil {
			if err != nil && ctx.Err() == nil {
				a.t.Errorf("claim: %v", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		a.execute(ctx, j)
	}
}

func (a *testAgent) execute(ctx context.Context, j *store.Job) {
	ref := store.JobRef{Run: j.RunID, Job: j.Key, Attempt: j.Attempt}
	if a.claimed != nil {
		a.claimed <- ref
	}
	if a.hold != nil {
		<-a.hold
		// As an agent's renewal would tell it: a job stopped meanwhile is
		// not run.
		if stops, err := a.st.RenewJobs(ctx, a.name, []store.JobRef{ref}, time.Now().Add(time.Minute)); err != nil || len(stops) > 0 {
			return
		}
	}
	asg := Assignment{JobRef: ref, Runner: a.name}
	if err := json.Unmarshal(j.Offer, &asg.Offer); err != nil {
		a.t.Errorf("offer: %v", err)
		return
	}
	run, err := a.st.GetRun(ctx, j.RunID)
	if err != nil {
		a.t.Errorf("run: %v", err)
		return
	}
	ev, err := a.st.GetEvent(ctx, run.EventID)
	if err != nil {
		a.t.Errorf("event: %v", err)
		return
	}
	asg.Event, asg.Item = ev.Data, run.Item
	job, err := asg.Job(a.x.Actions, a.name)
	if err != nil {
		a.t.Errorf("job: %v", err)
		return
	}
	obs := &lineCollector{}
	res := a.x.Execute(ctx, job, obs)
	lines := make([]store.LogLine, len(obs.lines))
	for i, l := range obs.lines {
		lines[i] = store.LogLine{Step: l.Step, Stream: l.Stream, Time: l.Time, Text: l.Text}
	}
	if _, err := a.st.AppendJobLogs(ctx, ref, a.name, 0, lines, nil, ""); err != nil {
		a.t.Errorf("logs: %v", err)
	}
	steps, _ := json.Marshal(res.Steps)
	outputs, _ := json.Marshal(res.Outputs)
	if err := a.st.FinishJob(ctx, ref, a.name, &store.Job{Status: res.Status, Reason: res.Reason, Steps: steps,
		Outputs: outputs, FinishedAt: res.FinishedAt.UTC()}); err != nil {
		a.t.Errorf("finish: %v", err)
	}
}

// lineCollector keeps a job's log lines.
type lineCollector struct {
	mu    sync.Mutex
	lines []LogLine
}

func (c *lineCollector) StepStarted(StepResult)  {}
func (c *lineCollector) StepFinished(StepResult) {}
func (c *lineCollector) Log(l LogLine) {
	c.mu.Lock()
	c.lines = append(c.lines, l)
	c.mu.Unlock()
}

func (q *queue) startAgent(t *testing.T, a *testAgent) {
	t.Helper()
	a.t, a.st, a.x = t, q.store, newExecutor(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func TestJobsRunWhereTheirLabelsAre(t *testing.T) {
	q := newQueue(t, 1, 0, map[string]string{"fan": hostsFanOut})
	q.pool.c.Executor.Labels = []string{"local"}
	q.startAgent(t, &testAgent{name: "agent-1", labels: []string{"web-01", "linux"}})
	q.startAgent(t, &testAgent{name: "agent-2", labels: []string{"web-02"}})
	q.startPool(t)
	rc := q.dispatch(t, "fan", nil)
	run := q.wait(t, rc.Runs[0].ID)
	jobs := storedJobs(t, q.store, run.ID)
	if run.Status != workflows.StatusSucceeded {
		t.Fatalf("run %s (%s), jobs %s", run.Status, run.Reason, describeJobs(jobs))
	}
	want := map[string]string{"build": "test", "deploy (web-01)": "agent-1", "deploy (web-02)": "agent-2", "report": "test"}
	for _, j := range jobs {
		if j.Runner != want[j.Key] || j.Status != workflows.StatusSucceeded {
			t.Errorf("job %s ran on %q (%s), want %q succeeded", j.Key, j.Runner, j.Status, want[j.Key])
		}
		if strings.HasPrefix(j.Key, "deploy") && (j.Attempt != 1 || j.Outputs["where"] != want[j.Key]) {
			t.Errorf("job %s: attempt %d, outputs %v", j.Key, j.Attempt, j.Outputs)
		}
	}
	logs, err := q.store.Logs(context.Background(), run.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var text []string
	for _, l := range logs {
		text = append(text, l.Job+": "+l.Text)
	}
	all := strings.Join(text, "\n")
	for _, line := range []string{"deploy (web-01): deploying 7 on agent-1", "deploy (web-02): deploying 7 on agent-2",
		"report: last deployed on agent-2"} {
		if !strings.Contains(all, line) {
			t.Errorf("log lacks %q:\n%s", line, all)
		}
	}
}

func TestJobWaitsForARunnerThenTimesOut(t *testing.T) {
	q := newQueue(t, 1, 0, map[string]string{"fan": hostsFanOut})
	q.pool.c.Executor.Labels = []string{"local"}
	q.pool.c.QueueTimeout = time.Millisecond
	q.startPool(t)
	rc := q.dispatch(t, "fan", nil)
	id := rc.Runs[0].ID
	// Nobody has the labels: the cells wait, saying so, until the queue
	// timeout is enforced.
	waitJob(t, q.store, id, "deploy (web-01)", func(j JobResult) bool {
		return j.Status == workflows.StatusQueued && j.Reason == "waiting for a runner with labels [web-01]"
	})
	q.pool.recoverJobs(context.Background())
	run := q.wait(t, id)
	if run.Status != workflows.StatusFailed || !strings.Contains(run.Reason, "waiting for a runner with labels [web-0") {
		t.Fatalf("run %s (%s), want failed waiting for a runner", run.Status, run.Reason)
	}
	for _, j := range storedJobs(t, q.store, id) {
		if j.Key == "report" && j.Status != workflows.StatusSkipped {
			t.Errorf("report %s, want skipped", j.Status)
		}
	}
}

func TestCancelStopsAJobOnAnotherHost(t *testing.T) {
	q := newQueue(t, 1, 0, map[string]string{"fan": hostsFanOut})
	q.pool.c.Executor.Labels = []string{"local"}
	agent := &testAgent{name: "agent-1", labels: []string{"web-01", "web-02"}, hold: make(chan struct{}), claimed: make(chan store.JobRef, 4)}
	q.startAgent(t, agent)
	q.startPool(t)
	rc := q.dispatch(t, "fan", nil)
	id := rc.Runs[0].ID
	ref := <-agent.claimed
	if _, err := q.store.Cancel(context.Background(), id, "cancelled by the test"); err != nil {
		t.Fatal(err)
	}
	q.pool.CancelRequested(id)
	// The runner hears of the cancel on its renewal.
	deadline := time.Now().Add(time.Minute)
	var stops []store.JobStop
	for len(stops) == 0 && time.Now().Before(deadline) {
		var err error
		if stops, err = q.store.RenewJobs(context.Background(), "agent-1", []store.JobRef{ref}, time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(stops) != 1 || stops[0].Gone {
		t.Fatalf("renewal told %+v, want a stop", stops)
	}
	if err := q.store.FinishJob(context.Background(), ref, "agent-1", &store.Job{Status: workflows.StatusCancelled,
		Reason: stops[0].Reason, FinishedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	close(agent.hold)
	run := q.wait(t, id)
	jobs := storedJobs(t, q.store, id)
	if run.Status != workflows.StatusCancelled {
		t.Fatalf("run %s (%s), jobs %s", run.Status, run.Reason, describeJobs(jobs))
	}
	for _, j := range jobs {
		if !workflows.Finished(j.Status) {
			t.Errorf("job %s left %s", j.Key, j.Status)
		}
	}
}

// waitJob waits until job key of run id satisfies ok.
func waitJob(t *testing.T, st store.Store, id, key string, ok func(JobResult) bool) JobResult {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for _, j := range storedJobs(t, st, id) {
			if j.Key == key && ok(j) {
				return j
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("job %s of %s never got there: %s", key, id, describeJobs(storedJobs(t, st, id)))
	return JobResult{}
}

// TestRunTimesOutWithCellsNobodyClaims times a run out while every cell of a
// fail_fast matrix waits for a runner nobody has: each fails with the reason
// it waited, and the run times out.
func TestRunTimesOutWithCellsNobodyClaims(t *testing.T) {
	q := newQueue(t, 1, 0, map[string]string{"wait": `
on: {dispatch: {}}
timeout: 1s
jobs:
  heal:
    strategy:
      matrix: {host: [web-01, web-02, web-03]}
    runs_on: ["${{ matrix.host }}"]
    steps: [{run: "true"}]
`})
	q.pool.c.Executor.Labels = []string{"local"}
	q.startPool(t)
	rc := q.dispatch(t, "wait", nil)
	run := q.wait(t, rc.Runs[0].ID)
	jobs := storedJobs(t, q.store, run.ID)
	if run.Status != workflows.StatusTimedOut || len(jobs) != 3 {
		t.Fatalf("run %s (%s), jobs %s", run.Status, run.Reason, describeJobs(jobs))
	}
	for _, j := range jobs {
		if !workflows.Finished(j.Status) || !strings.HasPrefix(j.Reason, "waiting for a runner with labels [web-0") && !strings.HasPrefix(j.Reason, "cancelled") {
			t.Errorf("job %s: %s (%s)", j.Key, j.Status, j.Reason)
		}
	}
}
