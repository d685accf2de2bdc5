package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

const (
	clientToken = "s3cret-t0ken"

	clientRunFailed    = "01JQ8Z5N3T0000000000000001"
	clientRunSucceeded = "01JQ8Z5N3T0000000000000002"
	clientRunQueued    = "01JQ8Z5N3T0000000000000003"
	clientRunNew       = "01JQ8Z5N3T0000000000000004"
	clientRunRunning   = "01JQ8Z5N3T0000000000000005"
	clientEventPush    = "01JQ8Y2K7M0000000000000001"
	clientEventReplay  = "01JQ8Y2K7M0000000000000002"
)

// clientT0 is when the fixtures' first event arrived.
func clientT0() time.Time { return time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC) }

// clientLocal is a time as the clients show it.
func clientLocal(ts time.Time) string { return ts.Local().Format("2006-01-02 15:04:05") }

// clientRequest is what the fake API saw of one request.
type clientRequest struct {
	Method, Path, Query, Body, Auth, Accept, LastEventID string
}

// clientAPI is a hookflow server's management API as far as the server
// clients use it, answering fixtures built from the store's and runner's own
// types, and recording every request.
type clientAPI struct {
	*httptest.Server
	runs   map[string]*store.Run
	events map[string]*store.Event
	// follow streams the log of a run for `runs logs -f`; conn counts the
	// connections to this run's stream, from 1.
	follow func(w http.ResponseWriter, r *http.Request, id string, conn int)

	mu    sync.Mutex
	reqs  []clientRequest
	conns map[string]int
}

func newClientAPI(t *testing.T) *clientAPI {
	t.Helper()
	t0 := clientT0()
	steps, err := json.Marshal([]runner.StepResult{
		{Index: 0, ID: "checkout", Name: "Check out", Outcome: workflows.OutcomeSuccess, ExitCode: stepExit(0), Attempts: 1,
			Outputs:   map[string]any{"commit": "59b20b8d", "changed": []any{"index.html"}},
			StartedAt: t0.Add(2 * time.Second), FinishedAt: t0.Add(2*time.Second + 350*time.Millisecond)},
		{Index: 1, ID: "build", Name: "Build", Outcome: workflows.OutcomeFailure, ExitCode: stepExit(2), Attempts: 1,
			Error: "exit status 2", StartedAt: t0.Add(3 * time.Second), FinishedAt: t0.Add(9*time.Second + 200*time.Millisecond)},
		{Index: 2, ID: "notify", Name: "Notify", Outcome: workflows.OutcomeSkipped},
	})
	if err != nil {
		t.Fatal(err)
	}
	a := &clientAPI{
		runs: map[string]*store.Run{
			clientRunFailed: {ID: clientRunFailed, Workflow: "deploy", Revision: "3f2a9c1", EventID: clientEventPush,
				Attempt: 1, Group: "deploy-main", Status: workflows.StatusFailed, Reason: `step "build" failed: exit status 2`,
				QueuedAt: t0.Add(time.Second), StartedAt: t0.Add(2 * time.Second), FinishedAt: t0.Add(9*time.Second + 200*time.Millisecond),
				Node: "node-1", Sandbox: "isolated", Steps: steps},
			clientRunSucceeded: {ID: clientRunSucceeded, Workflow: "lint", EventID: clientEventPush, Attempt: 1,
				Status: workflows.StatusSucceeded, QueuedAt: t0.Add(time.Second), StartedAt: t0.Add(10 * time.Second),
				FinishedAt: t0.Add(10*time.Second + 450*time.Millisecond), Sandbox: "process", Steps: json.RawMessage(`[]`)},
			clientRunRunning: {ID: clientRunRunning, Workflow: "lint", EventID: clientEventReplay, Attempt: 1,
				Status: workflows.StatusRunning, QueuedAt: t0.Add(time.Hour), StartedAt: t0.Add(time.Hour + time.Second),
				Node: "node-2", Sandbox: "process", Steps: json.RawMessage(`[]`)},
			clientRunQueued: {ID: clientRunQueued, Workflow: "deploy", EventID: clientEventPush, Attempt: 1,
				Status: workflows.StatusQueued, QueuedAt: t0.Add(time.Minute), Steps: json.RawMessage(`null`)},
		},
		events: map[string]*store.Event{
			clientEventPush: {ID: clientEventPush, Trigger: workflows.TriggerWebhook, Provider: "github", Path: "deploy",
				Type: "push", Delivery: "72d3162e-cc78-11e3", ReceivedAt: t0, Data: json.RawMessage(`{"ref":"refs/heads/main"}`),
				Verdicts: []store.Verdict{
					{Workflow: "deploy", Runs: []string{clientRunFailed}},
					{Workflow: "lint", Runs: []string{clientRunSucceeded}},
					{Workflow: "docs", Reason: `paths: no changed file matches "docs/**"`},
				}},
			clientEventReplay: {ID: clientEventReplay, Trigger: workflows.TriggerDispatch, Type: "dispatch",
				ReceivedAt: t0.Add(time.Hour), Data: json.RawMessage(`{}`), Verdicts: []store.Verdict{}},
		},
		conns: map[string]int{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/workflows/{name}/dispatch", a.dispatch)
	mux.HandleFunc("GET /api/v1/runs", a.listRuns)
	mux.HandleFunc("GET /api/v1/runs/{id}", a.getRun)
	mux.HandleFunc("GET /api/v1/runs/{id}/logs", a.logs)
	mux.HandleFunc("POST /api/v1/runs/{id}/cancel", a.cancel)
	mux.HandleFunc("POST /api/v1/runs/{id}/rerun", a.rerun)
	mux.HandleFunc("GET /api/v1/events", a.listEvents)
	mux.HandleFunc("GET /api/v1/events/{id}", a.getEvent)
	mux.HandleFunc("POST /api/v1/events/{id}/replay", a.replay)
	a.Server = httptest.NewServer(a.authorize(mux))
	t.Cleanup(a.Close)
	return a
}

// authorize records the request and answers 401 without the token, as the
// real API does.
func (a *clientAPI) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		a.reqs = append(a.reqs, clientRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body),
			Auth: r.Header.Get("Authorization"), Accept: r.Header.Get("Accept"), LastEventID: r.Header.Get("Last-Event-ID")})
		a.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+clientToken {
			clientJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or invalid token"})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// requests returns the requests seen so far.
func (a *clientAPI) requests() []clientRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]clientRequest(nil), a.reqs...)
}

func clientJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func (a *clientAPI) run(w http.ResponseWriter, r *http.Request) (*store.Run, bool) {
	run, ok := a.runs[r.PathValue("id")]
	if !ok {
		clientJSON(w, http.StatusNotFound, map[string]string{"error": "run " + r.PathValue("id") + ": not found"})
	}
	return run, ok
}

func (a *clientAPI) dispatch(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Inputs map[string]any `json:"inputs"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		clientJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if r.PathValue("name") != "deploy" {
		clientJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no workflow %q", r.PathValue("name"))})
		return
	}
	clientJSON(w, http.StatusAccepted, &store.Run{ID: clientRunNew, Workflow: "deploy", EventID: clientEventReplay,
		Attempt: 1, Status: workflows.StatusQueued, QueuedAt: clientT0().Add(time.Hour)})
}

func (a *clientAPI) listRuns(w http.ResponseWriter, r *http.Request) {
	runs := []*store.Run{a.runs[clientRunQueued], a.runs[clientRunSucceeded], a.runs[clientRunFailed]}
	next := ""
	if r.URL.Query().Get("limit") == "3" {
		next = clientRunFailed
	}
	if r.URL.Query().Get("status") == workflows.StatusCancelled {
		runs = []*store.Run{}
	}
	clientJSON(w, http.StatusOK, map[string]any{"runs": runs, "next": next})
}

func (a *clientAPI) getRun(w http.ResponseWriter, r *http.Request) {
	if run, ok := a.run(w, r); ok {
		clientJSON(w, http.StatusOK, run)
	}
}

func (a *clientAPI) cancel(w http.ResponseWriter, r *http.Request) {
	run, ok := a.run(w, r)
	if !ok {
		return
	}
	cancelled := *run
	switch run.Status {
	case workflows.StatusQueued:
		cancelled.Status, cancelled.Reason = workflows.StatusSkipped, "cancelled before start"
	case workflows.StatusRunning:
		cancelled.CancelRequested = true
	default:
		clientJSON(w, http.StatusConflict, map[string]string{"error": "run " + run.ID + " has already finished"})
		return
	}
	clientJSON(w, http.StatusOK, &cancelled)
}

func (a *clientAPI) rerun(w http.ResponseWriter, r *http.Request) {
	run, ok := a.run(w, r)
	if !ok {
		return
	}
	clientJSON(w, http.StatusAccepted, &store.Run{ID: clientRunNew, Workflow: run.Workflow, EventID: run.EventID,
		Attempt: run.Attempt + 1, RerunOf: run.ID, Status: workflows.StatusQueued, QueuedAt: clientT0().Add(time.Hour)})
}

func (a *clientAPI) logs(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if r.URL.Query().Get("follow") != "" && a.follow != nil {
		a.mu.Lock()
		a.conns[id]++
		conn := a.conns[id]
		a.mu.Unlock()
		a.follow(w, r, id, conn)
		return
	}
	if _, ok := a.run(w, r); !ok {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "2025-03-14T09:26:55.000Z checkout stdout | cloning\n2025-03-14T09:26:56.000Z build stderr | boom\n")
}

func (a *clientAPI) listEvents(w http.ResponseWriter, r *http.Request) {
	events := []*store.Event{a.events[clientEventReplay], a.events[clientEventPush]}
	if p := r.URL.Query().Get("path"); p != "" {
		events = []*store.Event{}
		if p == "deploy" {
			events = []*store.Event{a.events[clientEventPush]}
		}
	}
	next := ""
	if r.URL.Query().Get("limit") == "2" {
		next = clientEventPush
	}
	clientJSON(w, http.StatusOK, map[string]any{"events": events, "next": next})
}

func (a *clientAPI) getEvent(w http.ResponseWriter, r *http.Request) {
	ev, ok := a.events[r.PathValue("id")]
	if !ok {
		clientJSON(w, http.StatusNotFound, map[string]string{"error": "event " + r.PathValue("id") + ": not found"})
		return
	}
	clientJSON(w, http.StatusOK, ev)
}

func (a *clientAPI) replay(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.events[r.PathValue("id")]; !ok {
		clientJSON(w, http.StatusNotFound, map[string]string{"error": "event " + r.PathValue("id") + ": not found"})
		return
	}
	clientJSON(w, http.StatusAccepted, &workflows.Receipt{EventID: clientEventReplay,
		Runs:    []workflows.RunRef{{ID: clientRunNew, Workflow: "deploy", Status: workflows.StatusQueued}},
		Skipped: []workflows.Skip{{Workflow: "docs", Reason: `paths: no changed file matches "docs/**"`}}})
}

// stepExit is a step's exit code as runner.StepResult holds it.
func stepExit(code int) *int { return &code }

// clientMain runs the command line in-process with ctx.
func clientMain(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// clientJSONOut is v as `-o json` prints it: the server's JSON, indented.
func clientJSONOut(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}
