package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/config"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/postgres/pgtest"
	"github.com/hookflow/hookflow/workflows"
)

// These tests cancel a run whose step sleeps for stepSleep, through the API
// and by a newer run of its group (cancel_in_progress), and check that the
// step is stopped at once: the run ends cancelled well before the step would
// have, with a reason that says who cancelled it. The lease is so long that
// the heartbeat, which also reads cancel requests, comes too late to be what
// stopped it.

// stepSleep is how long the cancelled step would run.
const stepSleep = 30 * time.Second

// cancelLease is the lease of the servers in these tests: its heartbeat, every
// third of it, comes long after the step would have ended.
const cancelLease = 10 * time.Minute

// sleepWorkflow sleeps unless its input n is "second", in a group that
// cancels the run in progress.
var sleepWorkflow = map[string]string{"sleep.yaml": fmt.Sprintf(`
on: {dispatch: {inputs: {n: {}}}}
concurrency: {group: sleepers, cancel_in_progress: true}
env: {N: "${{ inputs.n }}"}
steps:
  - id: wait
    name: wait
    run: '[ "$N" = second ] || sleep %d'
`, int(stepSleep.Seconds()))}

// runJSON is a run as GET /api/v1/runs/{id} answers it, also as plain JSON
// to tell a missing field from a zero one.
type runJSON struct {
	api.RunView
	raw struct {
		Steps []map[string]any `json:"steps"`
	}
}

// getRunJSON reads run id from the server at base.
func getRunJSON(t *testing.T, base, id string) *runJSON {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/runs/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET run %s: %d %s %v", id, resp.StatusCode, body, err)
	}
	r := &runJSON{}
	if err := json.Unmarshal(body, &r.RunView); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(body, &r.raw); err != nil {
		t.Fatal(err)
	}
	return r
}

// dispatchSleep dispatches the sleep workflow with input n through the API
// at base and returns the run's id.
func dispatchSleep(t *testing.T, base, n string) string {
	t.Helper()
	resp, err := http.Post(base+"/api/v1/workflows/sleep/dispatch", "application/json",
		strings.NewReader(fmt.Sprintf(`{"inputs":{"n":%q}}`, n)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var run api.RunView
	if err := json.NewDecoder(resp.Body).Decode(&run); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("dispatch %s: %d %+v %v", n, resp.StatusCode, run, err)
	}
	return run.ID
}

// waitStepRunning waits until the run's step has started, and checks that
// the API shows it `running`, with no exit code.
func waitStepRunning(t *testing.T, base, id string) *runJSON {
	t.Helper()
	var r *runJSON
	waitFor(t, time.Minute, "the step starts", func() bool {
		r = getRunJSON(t, base, id)
		return len(r.raw.Steps) > 0 && r.raw.Steps[0]["started_at"] != nil
	})
	step := r.raw.Steps[0]
	if _, has := step["exit_code"]; has || step["outcome"] != workflows.OutcomeRunning {
		t.Errorf("the running step is shown as %v, want outcome running and no exit_code", step)
	}
	return r
}

// cancelThroughAPI cancels run id through the API at base.
func cancelThroughAPI(t *testing.T, base, id string) {
	t.Helper()
	resp, err := http.Post(base+"/api/v1/runs/"+id+"/cancel", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cancel %s: %d", id, resp.StatusCode)
	}
}

// wantStoppedEarly waits for run id to finish and checks that it ended
// cancelled for reason before its step would have ended, and that its step
// says why it stopped and has the exit code of its killed process.
func wantStoppedEarly(t *testing.T, base, id, reason string) {
	t.Helper()
	var r *runJSON
	waitFor(t, 2*time.Minute, "the run ends", func() bool {
		r = getRunJSON(t, base, id)
		return api.Finished(r.Status)
	})
	if r.Status != workflows.StatusCancelled || r.Reason != reason {
		t.Errorf("run %s ended %s (%q), want cancelled (%q)", id, r.Status, r.Reason, reason)
	}
	// A step that ran out its sleep would have succeeded: the outcome below
	// says it was stopped.
	t.Logf("run %s ran for %s", id, r.FinishedAt.Sub(*r.StartedAt))
	step := r.raw.Steps[0]
	if want := "step stopped: " + reason; step["outcome"] != workflows.OutcomeCancelled || step["error"] != want {
		t.Errorf("step %v, want cancelled with error %q", step, want)
	}
	if _, ok := step["exit_code"].(float64); !ok {
		t.Errorf("the stopped step has exit_code %v, want its process's", step["exit_code"])
	}
}

// TestCancelStopsTheStepAtOnce cancels a running step through the API and by
// a second dispatch with cancel_in_progress, on SQLite and on PostgreSQL.
// While the step runs, the API, `hookflow runs show` and the run page show it
// running, with no exit code.
func TestCancelStopsTheStepAtOnce(t *testing.T) {
	t.Setenv("HOOKFLOW_SERVER", "")
	t.Setenv("HOOKFLOW_TOKEN", "")
	for _, st := range []struct {
		name string
		dsn  func(t *testing.T) string // "" for the default SQLite store
	}{
		{"sqlite", func(*testing.T) string { return "" }},
		{"postgres", func(t *testing.T) string { return pgtest.Database(t) }},
	} {
		t.Run(st.name, func(t *testing.T) {
			dsn := st.dsn(t)
			a := startApp(t, sleepWorkflow, func(c *config.Config) {
				c.Store = dsn
				c.Limits.Lease = workflows.Duration(cancelLease)
			})

			t.Run("api", func(t *testing.T) {
				id := dispatchSleep(t, a.url, "first")
				waitStepRunning(t, a.url, id)
				showsRunning(t, a.url, id)
				cancelThroughAPI(t, a.url, id)
				wantStoppedEarly(t, a.url, id, "cancelled through the API")
			})
			t.Run("cancel_in_progress", func(t *testing.T) {
				first := dispatchSleep(t, a.url, "first")
				waitStepRunning(t, a.url, first)
				second := dispatchSleep(t, a.url, "second")
				wantStoppedEarly(t, a.url, first, store.CancelInProgressReason(second))
				waitFor(t, time.Minute, "the second run ends", func() bool {
					return getRunJSON(t, a.url, second).Status == workflows.StatusSucceeded
				})
			})
		})
	}
}

// showsRunning checks that `hookflow runs show` and the run page show the
// run's first step running, with no exit code.
func showsRunning(t *testing.T, base, id string) {
	t.Helper()
	code, out, errOut := clientMain(t, context.Background(), "runs", "show", id, "--server", base)
	if code != exitOK {
		t.Fatalf("runs show: %d %s", code, errOut)
	}
	if !regexp.MustCompile(`(?m)^  wait\s+wait\s+running\s+-\s`).MatchString(out) {
		t.Errorf("runs show does not show the step running without an exit code:\n%s", out)
	}
	resp, err := http.Get(base + "/ui/runs/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("run page: %d %v", resp.StatusCode, err)
	}
	for _, want := range []string{`<span class="pill st-running">running</span>`, `<td data-label="Exit code">—</td>`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the run page lacks %s:\n%s", want, page)
		}
	}
}

// TestNodesCancelAcrossNodes runs the sleeping step on one node of two that
// share PostgreSQL, and cancels it through the other: through the other's
// API, and by a dispatch to the other with cancel_in_progress. The node that
// runs the step hears of it through LISTEN/NOTIFY.
func TestNodesCancelAcrossNodes(t *testing.T) {
	nodes, _ := startClusterWithLease(t, t.TempDir(), 2, sleepWorkflow, cancelLease)
	// other is the node that does not run run.
	other := func(run *runJSON) *node {
		t.Helper()
		for _, nd := range nodes {
			if nd.name != run.Node {
				return nd
			}
		}
		t.Fatalf("every node is named %s", run.Node)
		return nil
	}

	t.Run("api", func(t *testing.T) {
		id := dispatchSleep(t, nodes[0].url, "first")
		b := other(waitStepRunning(t, nodes[0].url, id))
		cancelThroughAPI(t, b.url, id)
		wantStoppedEarly(t, b.url, id, "cancelled through the API")
	})
	t.Run("cancel_in_progress", func(t *testing.T) {
		first := dispatchSleep(t, nodes[0].url, "first")
		b := other(waitStepRunning(t, nodes[0].url, first))
		second := dispatchSleep(t, b.url, "second")
		wantStoppedEarly(t, b.url, first, store.CancelInProgressReason(second))
	})
}
