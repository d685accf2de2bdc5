package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// page is one page of a list route.
type page struct {
	IDs  []string
	Next *string
}

// listPage reads a list route's answer: the ids of its items under key.
func listPage(t *testing.T, a answer, key string) page {
	t.Helper()
	body := decode[map[string]json.RawMessage](t, a, http.StatusOK)
	var items []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body[key], &items); err != nil || items == nil {
		t.Fatalf("%s in %s: %v", key, a.body, err)
	}
	var p page
	for _, it := range items {
		p.IDs = append(p.IDs, it.ID)
	}
	if err := json.Unmarshal(body["next"], &p.Next); err != nil || p.Next == nil {
		t.Fatalf("next in %s: %v", a.body, err)
	}
	return p
}

// TestListPages checks the cursor and limit of the run and event lists: a
// full page has `next`, the id to pass as ?before= for the rest, and the
// last page has none; a bad limit is a 400 and a large one is capped.
func TestListPages(t *testing.T) {
	f := newFixture(t, map[string]string{"manual.yaml": manualYAML}, nil)
	var runs, events []string // newest first
	for range 3 {
		r := f.dispatchRun(t, "manual")
		runs, events = append([]string{r.ID}, runs...), append([]string{r.EventID}, events...)
	}
	for _, list := range []struct {
		key string
		ids []string
	}{{"runs", runs}, {"events", events}} {
		t.Run(list.key, func(t *testing.T) {
			route := "/api/v1/" + list.key
			cases := []struct {
				name  string
				query string
				ids   []string
				next  string
			}{
				{"default limit", "", list.ids, ""},
				{"first page", "?limit=2", list.ids[:2], list.ids[1]},
				{"next page", "?limit=2&before=" + list.ids[1], list.ids[2:], ""},
				{"exactly all", "?limit=3", list.ids, ""},
				{"one", "?limit=1", list.ids[:1], list.ids[0]},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					p := listPage(t, f.do(t, "GET", route+tc.query, "", nil), list.key)
					if strings.Join(p.IDs, ",") != strings.Join(tc.ids, ",") || *p.Next != tc.next {
						t.Errorf("ids %v next %q, want %v next %q", p.IDs, *p.Next, tc.ids, tc.next)
					}
				})
			}
			for _, limit := range []string{"0", "-1", "x", "1.5", ""} {
				t.Run("limit "+limit, func(t *testing.T) {
					a := f.do(t, "GET", route+"?limit="+limit, "", nil)
					if limit == "" {
						// An empty value is no limit given.
						listPage(t, a, list.key)
						return
					}
					want := fmt.Sprintf("limit %q: use a whole number from 1 to 500", limit)
					if a.code != http.StatusBadRequest || a.errorMessage(t) != want {
						t.Errorf("%d %s, want 400 %s", a.code, a.body, want)
					}
				})
			}
		})
	}
}

// TestListCap checks that a limit beyond 500 answers 500 items and a cursor.
func TestListCap(t *testing.T) {
	f := newFixture(t, nil, nil)
	now := time.Now().UTC()
	var batch []*store.Dispatch
	ev := &store.Event{ID: ulid.Make().String(), Trigger: "dispatch", ReceivedAt: now, Data: json.RawMessage(`{}`)}
	runs := &store.Dispatch{Event: ev}
	batch = append(batch, runs)
	for range maxLimit {
		batch = append(batch, &store.Dispatch{Event: &store.Event{ID: ulid.Make().String(), Trigger: "dispatch",
			ReceivedAt: now, Data: json.RawMessage(`{}`)}})
	}
	for range maxLimit + 1 {
		runs.Runs = append(runs.Runs, &store.Run{ID: ulid.Make().String(), Workflow: "w", EventID: ev.ID, Attempt: 1, QueuedAt: now})
	}
	if err := f.store.Dispatch(context.Background(), batch, 0, now); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"runs", "events"} {
		t.Run(key, func(t *testing.T) {
			p := listPage(t, f.do(t, "GET", "/api/v1/"+key+"?limit=100000", "", nil), key)
			if len(p.IDs) != maxLimit || *p.Next != p.IDs[maxLimit-1] {
				t.Errorf("%d items, next %q", len(p.IDs), *p.Next)
			}
		})
	}
}

// TestListFilters checks that each query parameter of the run list filters
// by what it names.
func TestListFilters(t *testing.T) {
	f := newFixture(t, map[string]string{"manual.yaml": manualYAML, "other.yaml": manualYAML}, nil)
	first, second, other := f.dispatchRun(t, "manual"), f.dispatchRun(t, "manual"), f.dispatchRun(t, "other")
	running := f.claim(t) // the oldest: first
	cases := []struct {
		query string
		ids   []string
	}{
		{"?workflow=manual", []string{second.ID, first.ID}},
		{"?workflow=other", []string{other.ID}},
		{"?status=running", []string{running.ID}},
		{"?status=queued", []string{other.ID, second.ID}},
		{"?event=" + second.EventID, []string{second.ID}},
		{"?workflow=manual&status=queued", []string{second.ID}},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			p := listPage(t, f.do(t, "GET", "/api/v1/runs"+tc.query, "", nil), "runs")
			if strings.Join(p.IDs, ",") != strings.Join(tc.ids, ",") {
				t.Errorf("ids %v, want %v", p.IDs, tc.ids)
			}
		})
	}
}

// TestGetRun checks one run's view: every field SPEC §8 names is present,
// times not yet reached are null, and an unknown id is a 404.
func TestGetRun(t *testing.T) {
	f := newFixture(t, map[string]string{"manual.yaml": manualYAML}, nil)
	queued := f.dispatchRun(t, "manual")
	t.Run("queued", func(t *testing.T) {
		run := decode[map[string]any](t, f.do(t, "GET", "/api/v1/runs/"+queued.ID, "", nil), http.StatusOK)
		for _, key := range []string{"id", "workflow", "status", "reason", "event_id", "attempt", "queued_at", "started_at",
			"finished_at", "sandbox", "steps"} {
			if _, ok := run[key]; !ok {
				t.Errorf("no %s in %v", key, run)
			}
		}
		if run["id"] != queued.ID || run["status"] != "queued" || run["started_at"] != nil || run["finished_at"] != nil {
			t.Errorf("run %v", run)
		}
		if steps, ok := run["steps"].([]any); !ok || len(steps) != 0 {
			t.Errorf("steps %#v, want []", run["steps"])
		}
	})
	t.Run("finished", func(t *testing.T) {
		r := f.claim(t)
		if err := f.store.UpdateSteps(context.Background(), r.ID,
			json.RawMessage(`[{"id":"build","outcome":"success","exit_code":0}]`), "none"); err != nil {
			t.Fatal(err)
		}
		f.finish(t, r, workflows.StatusSucceeded)
		run := decode[*RunView](t, f.do(t, "GET", "/api/v1/runs/"+r.ID, "", nil), http.StatusOK)
		if run.Status != workflows.StatusSucceeded || run.StartedAt == nil || run.FinishedAt == nil || run.Node != "node-a" ||
			len(run.Steps) != 1 || run.Steps[0].ID != "build" || run.Sandbox != "none" {
			t.Errorf("run %+v", run)
		}
	})
}

// TestCancel checks POST /api/v1/runs/{id}/cancel: a queued run is skipped in
// the store alone; a running one is marked and this process is asked to stop
// it, for the reason recorded; a finished one is a conflict.
func TestCancel(t *testing.T) {
	cases := []struct {
		name    string
		state   string // queued, running, or a final status
		earlier string // a reason the run's cancel was already requested for
		want    int
		status  string
		reason  string
		cancels bool
	}{
		{"queued", "queued", "", http.StatusOK, "skipped", "cancelled before start", false},
		{"running", "running", "", http.StatusOK, "running", cancelReason, true},
		{"running, asked before", "running", "cancelled by a newer run X (cancel_in_progress)", http.StatusOK, "running",
			"cancelled by a newer run X (cancel_in_progress)", true},
		{"succeeded", workflows.StatusSucceeded, "", http.StatusConflict, "", "", false},
		{"failed", workflows.StatusFailed, "", http.StatusConflict, "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, map[string]string{"manual.yaml": manualYAML}, nil)
			id := f.dispatchRun(t, "manual").ID
			if tc.state != "queued" {
				r := f.claim(t)
				if tc.state != "running" {
					f.finish(t, r, tc.state)
				}
			}
			if tc.earlier != "" {
				if _, err := f.store.Cancel(context.Background(), id, tc.earlier); err != nil {
					t.Fatal(err)
				}
			}
			a := f.do(t, "POST", "/api/v1/runs/"+id+"/cancel", "", nil)
			if tc.want != http.StatusOK {
				want := fmt.Sprintf("run %s has already finished", id)
				if a.code != tc.want || a.errorMessage(t) != want {
					t.Errorf("%d %s, want %d %s", a.code, a.body, tc.want, want)
				}
			} else {
				run := decode[*RunView](t, a, http.StatusOK)
				if run.ID != id || run.Status != tc.status || run.Reason != tc.reason || run.CancelRequested != (tc.status == "running") {
					t.Errorf("run %+v", run)
				}
			}
			calls := f.runs.calls()
			var want []cancelCall
			if tc.cancels {
				want = []cancelCall{{id: id, cause: tc.reason}}
			}
			if fmt.Sprint(calls) != fmt.Sprint(want) {
				t.Errorf("Runs.Cancel calls %v, want %v", calls, want)
			}
		})
	}
}

// TestRerun checks POST /api/v1/runs/{id}/rerun: a new attempt of the run is
// queued for its event with the active revision; a run whose workflow is no
// longer loaded cannot be run again.
func TestRerun(t *testing.T) {
	// finished dispatches a run of manual and ends it as failed.
	finished := func(t *testing.T, f *fixture) *store.Run {
		t.Helper()
		f.dispatchRun(t, "manual")
		r := f.claim(t)
		f.finish(t, r, workflows.StatusFailed)
		return r
	}
	t.Run("new attempt", func(t *testing.T) {
		f := newFixture(t, map[string]string{"manual.yaml": manualYAML}, nil)
		old := finished(t, f)
		f.write(t, "manual.yaml", "description: changed\n"+manualYAML)
		if err := f.server.Workflows.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		run := decode[*RunView](t, f.do(t, "POST", "/api/v1/runs/"+old.ID+"/rerun", "", nil), http.StatusAccepted)
		w, _ := f.server.Workflows.Set().Lookup("manual")
		if run.ID == old.ID || run.Workflow != "manual" || run.EventID != old.EventID || run.Attempt != 2 || run.RerunOf != old.ID ||
			run.Status != "queued" || run.Revision != w.Revision || run.Revision == old.Revision {
			t.Errorf("rerun %+v of %+v", run, old)
		}
		stored, err := f.store.GetRun(context.Background(), run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Status != "queued" || stored.Attempt != 2 || stored.RerunOf != old.ID {
			t.Errorf("stored %+v", stored)
		}
	})
	t.Run("workflow gone", func(t *testing.T) {
		f := newFixture(t, map[string]string{"manual.yaml": manualYAML, "other.yaml": manualYAML}, nil)
		old := finished(t, f)
		if err := os.Remove(filepath.Join(f.dir, "manual.yaml")); err != nil {
			t.Fatal(err)
		}
		if err := f.server.Workflows.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		a := f.do(t, "POST", "/api/v1/runs/"+old.ID+"/rerun", "", nil)
		if a.code != http.StatusConflict || a.errorMessage(t) != "workflow manual is no longer loaded" {
			t.Errorf("%d %s", a.code, a.body)
		}
	})
	t.Run("queue full", func(t *testing.T) {
		f := newFixture(t, map[string]string{"manual.yaml": manualYAML}, func(c *fixtureConfig) { c.dispatcher.MaxQueued = 1 })
		old := finished(t, f)
		f.dispatchRun(t, "manual")
		a := f.do(t, "POST", "/api/v1/runs/"+old.ID+"/rerun", "", nil)
		if a.code != http.StatusTooManyRequests || a.header.Get("Retry-After") != "5" {
			t.Errorf("%d Retry-After %q: %s", a.code, a.header.Get("Retry-After"), a.body)
		}
	})
}

// TestLogs checks GET /api/v1/runs/{id}/logs as text: one line per stored
// line, with its time, step id (or run, or the step's number) and stream.
func TestLogs(t *testing.T) {
	f := newFixture(t, map[string]string{"manual.yaml": manualYAML}, nil)
	id := f.dispatchRun(t, "manual").ID
	r := f.claim(t)
	if err := f.store.UpdateSteps(context.Background(), id, json.RawMessage(`[{"id":"build","outcome":"success"}]`), ""); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 6e6, time.UTC)
	lines := []store.LogLine{{Step: -1, Stream: "system", Time: at, Text: "started"},
		{Step: 0, Stream: "stdout", Time: at, Text: "compiling"},
		{Step: 1, Stream: "stderr", Time: at.Add(time.Second), Text: "oops"}}
	if err := f.store.AppendLogs(context.Background(), id, lines); err != nil {
		t.Fatal(err)
	}
	f.finish(t, r, workflows.StatusFailed)
	a := f.do(t, "GET", "/api/v1/runs/"+id+"/logs", "", nil)
	want := "2030-01-02T03:04:05.006Z run system | started\n" +
		"2030-01-02T03:04:05.006Z build stdout | compiling\n" +
		"2030-01-02T03:04:06.006Z step-2 stderr | oops\n"
	if a.code != http.StatusOK || a.header.Get("Content-Type") != "text/plain; charset=utf-8" || a.body != want {
		t.Errorf("%d %s:\n%s\nwant\n%s", a.code, a.header.Get("Content-Type"), a.body, want)
	}
}
