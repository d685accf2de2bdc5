package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/triggers"
)

// deployYAML takes typed dispatch inputs, one of them required.
const deployYAML = `on:
  dispatch:
    inputs:
      version: {type: string, required: true}
      count: {type: number, default: 1}
steps: [{run: 'true'}]
`

// TestDispatch checks POST /api/v1/workflows/{name}/dispatch: a started
// workflow answers 202 with its queued run, stored as the event's run; every
// refusal has the status it answers today, and stores nothing.
func TestDispatch(t *testing.T) {
	files := map[string]string{
		"deploy.yaml":  deployYAML,
		"nightly.yaml": "on: {cron: '0 3 * * *'}\nsteps: [{run: 'true'}]\n",
		"guarded.yaml": "on: {dispatch: {inputs: {go: {type: boolean, default: false}}}}\nif: inputs.go\nsteps: [{run: 'true'}]\n",
	}
	cases := []struct {
		name     string
		workflow string
		body     string
		want     int
		msg      string // the error, or what the run's event must hold
	}{
		{"started", "deploy", `{"inputs":{"version":"1.2","count":"3"}}`, http.StatusAccepted, `"inputs":{"count":3,"version":"1.2"}`},
		{"if true", "guarded", `{"inputs":{"go":true}}`, http.StatusAccepted, `"actor":"api"`},
		{"unknown workflow", "nope", `{}`, http.StatusNotFound, `no workflow "nope"`},
		{"no dispatch trigger", "nightly", `{}`, http.StatusConflict,
			"workflow nightly has no dispatch trigger: add `on: {dispatch: {}}`"},
		{"if false", "guarded", "", http.StatusConflict, "workflow guarded did not start: if: false"},
		{"required input missing", "deploy", `{"inputs":{}}`, http.StatusUnprocessableEntity, `input "version" is required`},
		{"undeclared input", "deploy", `{"inputs":{"version":"1","verison":"2"}}`, http.StatusUnprocessableEntity,
			`input "verison" is not declared`},
		{"input of the wrong type", "deploy", `{"inputs":{"version":"1","count":"many"}}`, http.StatusUnprocessableEntity,
			`input "count": many is not a number`},
		{"body not JSON", "deploy", `version=1`, http.StatusBadRequest, "invalid JSON: "},
		{"inputs not an object", "deploy", `{"inputs":["1"]}`, http.StatusBadRequest, "invalid JSON: "},
		{"body too large", "deploy", `{"inputs":{"version":"` + strings.Repeat("x", maxAPIBody) + `"}}`, http.StatusBadRequest,
			"request body larger than 1 MiB"},
		{"unknown key", "deploy", `{"input":{"version":"1"}}`, http.StatusBadRequest, `invalid JSON: json: unknown field "input"`},
		{"two values", "deploy", `{"inputs":{"version":"1"}} {}`, http.StatusBadRequest, "invalid JSON: more than one value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, files, nil)
			a := f.do(t, "POST", "/api/v1/workflows/"+tc.workflow+"/dispatch", tc.body, nil)
			runs, err := f.store.ListRuns(context.Background(), store.RunFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != http.StatusAccepted {
				if a.code != tc.want {
					t.Fatalf("%d %s, want %d", a.code, a.body, tc.want)
				}
				if msg := a.errorMessage(t); !strings.Contains(msg, tc.msg) {
					t.Errorf("error %q, want %q in it", msg, tc.msg)
				}
				if len(runs) != 0 {
					t.Errorf("%d runs stored", len(runs))
				}
				return
			}
			run := decode[*RunView](t, a, http.StatusAccepted)
			if run.Workflow != tc.workflow || run.Status != "queued" || run.Attempt != 1 || run.StartedAt != nil || run.Steps == nil {
				t.Errorf("run %+v", run)
			}
			if len(runs) != 1 || runs[0].ID != run.ID || runs[0].EventID != run.EventID {
				t.Fatalf("stored %+v, answered %+v", runs, run)
			}
			ev, err := f.store.GetEvent(context.Background(), run.EventID)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Trigger != "dispatch" || !strings.Contains(string(ev.Data), tc.msg) {
				t.Errorf("event %s %s, want %s in it", ev.Trigger, ev.Data, tc.msg)
			}
		})
	}
}

// TestDispatchOverloaded checks that a dispatch beyond the queue limit is
// refused with a time to retry after, through the dispatcher's real limit.
func TestDispatchOverloaded(t *testing.T) {
	f := newFixture(t, map[string]string{"manual.yaml": manualYAML}, func(c *fixtureConfig) { c.dispatcher.MaxQueued = 1 })
	f.dispatchRun(t, "manual")
	a := f.do(t, "POST", "/api/v1/workflows/manual/dispatch", "", nil)
	if a.code != http.StatusTooManyRequests || a.header.Get("Retry-After") != "5" ||
		!strings.HasSuffix(a.errorMessage(t), "limit 1: queue full") {
		t.Fatalf("%d Retry-After %q: %s", a.code, a.header.Get("Retry-After"), a.body)
	}
}

// TestDispatchSkipped checks that a dispatch whose run the store skips (a
// cooldown) is a conflict that says why, not a 202 with no run.
func TestDispatchSkipped(t *testing.T) {
	f := newFixture(t, map[string]string{
		"calm.yaml": "on: {dispatch: {}}\ncooldown: {key: once, period: 1h}\nsteps: [{run: 'true'}]\n",
	}, nil)
	f.dispatchRun(t, "calm")
	a := f.do(t, "POST", "/api/v1/workflows/calm/dispatch", "", nil)
	if a.code != http.StatusConflict {
		t.Fatalf("%d %s", a.code, a.body)
	}
	if msg := a.errorMessage(t); !strings.HasPrefix(msg, "workflow calm did not start: cooldown: key calm/once ran ") {
		t.Errorf("error %q", msg)
	}
}

// TestWorkflowRoutes checks the workflow list and one workflow's view.
func TestWorkflowRoutes(t *testing.T) {
	f := newFixture(t, map[string]string{"deploy.yaml": deployYAML, "hook.yaml": hookYAML}, nil)
	t.Run("list", func(t *testing.T) {
		list := decode[struct {
			Workflows []WorkflowView `json:"workflows"`
			Next      *string        `json:"next"`
			Revision  string         `json:"revision"`
			LoadedAt  time.Time      `json:"loaded_at"`
		}](t, f.do(t, "GET", "/api/v1/workflows", "", nil), http.StatusOK)
		var names []string
		for _, w := range list.Workflows {
			names = append(names, w.Name)
		}
		if strings.Join(names, ",") != "deploy,hook" || list.Next == nil || *list.Next != "" ||
			list.Revision != f.server.Workflows.Status().Revision || list.LoadedAt.IsZero() {
			t.Errorf("list %+v", list)
		}
	})
	t.Run("get", func(t *testing.T) {
		w := decode[WorkflowView](t, f.do(t, "GET", "/api/v1/workflows/hook", "", nil), http.StatusOK)
		if w.Name != "hook" || len(w.Webhooks) != 1 || w.Webhooks[0].Path != "gh" || w.Dispatch != nil || len(w.Steps) != 1 {
			t.Errorf("workflow %+v", w)
		}
	})
}

// TestReload checks POST /api/v1/workflows/reload: a good folder becomes the
// active set and the answer is its status; a bad one is a 422 that says what
// is wrong, and the last good set stays active.
func TestReload(t *testing.T) {
	f := newFixture(t, map[string]string{"manual.yaml": manualYAML}, nil)
	first := f.server.Workflows.Status()

	f.write(t, "deploy.yaml", deployYAML)
	status := decode[triggers.SourceStatus](t, f.do(t, "POST", "/api/v1/workflows/reload", "", nil), http.StatusOK)
	if status.Revision == first.Revision || status.Error != "" {
		t.Fatalf("after a good reload: %+v (was %+v)", status, first)
	}
	if _, ok := f.server.Workflows.Set().Lookup("deploy"); !ok {
		t.Fatal("the new workflow is not active")
	}

	f.write(t, "broken.yaml", "on: {dispatch: {}}\nstep: []\n")
	failed := decode[struct {
		Error  string                `json:"error"`
		Status triggers.SourceStatus `json:"status"`
	}](t, f.do(t, "POST", "/api/v1/workflows/reload", "", nil), http.StatusUnprocessableEntity)
	if !strings.Contains(failed.Error, "broken.yaml:2:1") || failed.Status.Error != failed.Error ||
		failed.Status.Revision != status.Revision {
		t.Fatalf("after a bad reload: %+v", failed)
	}
	// The last good set still serves.
	if a := f.do(t, "GET", "/api/v1/workflows/deploy", "", nil); a.code != http.StatusOK {
		t.Errorf("after a bad reload: %d %s", a.code, a.body)
	}
}
