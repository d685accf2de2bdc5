// Package clienttest is a hookflow server's management API as far as the
// client package and the CLI use it: fixtures built from the store's and
// runner's own types, answered over real HTTP, with every request recorded.
package clienttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// The fixtures' token and ids.
const (
	// Token is the one token the API takes.
	Token = "s3cret-t0ken"

	RunFailed    = "01JQ8Z5N3T0000000000000001" // deploy, failed in its second step
	RunSucceeded = "01JQ8Z5N3T0000000000000002" // lint, succeeded without steps
	RunQueued    = "01JQ8Z5N3T0000000000000003" // deploy, not started
	RunNew       = "01JQ8Z5N3T0000000000000004" // what dispatch and rerun queue
	RunRunning   = "01JQ8Z5N3T0000000000000005" // lint, running
	EventPush    = "01JQ8Y2K7M0000000000000001" // a GitHub push that started RunFailed and RunSucceeded
	EventReplay  = "01JQ8Y2K7M0000000000000002" // a dispatch without verdicts
)

// T0 is when the fixtures' first event arrived.
func T0() time.Time { return time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC) }

// Request is what the fake API saw of one request.
type Request struct {
	Method, Path, Query, Body, Auth, Accept, LastEventID string
}

// API is the fake management API, listening on 127.0.0.1.
type API struct {
	*httptest.Server
	// Runs and Events are the fixtures, by id.
	Runs   map[string]*store.Run
	Events map[string]*store.Event
	// Follow, when set, streams the log of a run asked for with ?follow=1,
	// as text/event-stream; conn counts the connections to this run's
	// stream, from 1.
	Follow func(w http.ResponseWriter, r *http.Request, id string, conn int)

	mu    sync.Mutex
	reqs  []Request
	conns map[string]int
}

// NewAPI starts the fake API; it stops when the test ends.
func NewAPI(t testing.TB) *API {
	t.Helper()
	t0 := T0()
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
	a := &API{
		Runs: map[string]*store.Run{
			RunFailed: {ID: RunFailed, Workflow: "deploy", Revision: "3f2a9c1", EventID: EventPush,
				Attempt: 1, Group: "deploy-main", Status: workflows.StatusFailed, Reason: `step "build" failed: exit status 2`,
				QueuedAt: t0.Add(time.Second), StartedAt: t0.Add(2 * time.Second), FinishedAt: t0.Add(9*time.Second + 200*time.Millisecond),
				Node: "node-1", Sandbox: "isolated", Steps: steps},
			RunSucceeded: {ID: RunSucceeded, Workflow: "lint", EventID: EventPush, Attempt: 1,
				Status: workflows.StatusSucceeded, QueuedAt: t0.Add(time.Second), StartedAt: t0.Add(10 * time.Second),
				FinishedAt: t0.Add(10*time.Second + 450*time.Millisecond), Sandbox: "process", Steps: json.RawMessage(`[]`)},
			RunRunning: {ID: RunRunning, Workflow: "lint", EventID: EventReplay, Attempt: 1,
				Status: workflows.StatusRunning, QueuedAt: t0.Add(time.Hour), StartedAt: t0.Add(time.Hour + time.Second),
				Node: "node-2", Sandbox: "process", Steps: json.RawMessage(`[]`)},
			RunQueued: {ID: RunQueued, Workflow: "deploy", EventID: EventPush, Attempt: 1,
				Status: workflows.StatusQueued, QueuedAt: t0.Add(time.Minute), Steps: json.RawMessage(`null`)},
		},
		Events: map[string]*store.Event{
			EventPush: {ID: EventPush, Trigger: workflows.TriggerWebhook, Provider: "github", Path: "deploy",
				Type: "push", Delivery: "72d3162e-cc78-11e3", ReceivedAt: t0, Data: json.RawMessage(`{"ref":"refs/heads/main"}`),
				Verdicts: []store.Verdict{
					{Workflow: "deploy", Runs: []string{RunFailed}},
					{Workflow: "lint", Runs: []string{RunSucceeded}},
					{Workflow: "docs", Reason: `paths: no changed file matches "docs/**"`},
				}},
			EventReplay: {ID: EventReplay, Trigger: workflows.TriggerDispatch, Type: "dispatch",
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
func (a *API) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		a.reqs = append(a.reqs, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body),
			Auth: r.Header.Get("Authorization"), Accept: r.Header.Get("Accept"), LastEventID: r.Header.Get("Last-Event-ID")})
		a.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+Token {
			JSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or invalid token"})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// Requests returns the requests seen so far.
func (a *API) Requests() []Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Request(nil), a.reqs...)
}

// JSON answers v with status, as the API does.
func JSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func (a *API) run(w http.ResponseWriter, r *http.Request) (*store.Run, bool) {
	run, ok := a.Runs[r.PathValue("id")]
	if !ok {
		JSON(w, http.StatusNotFound, map[string]string{"error": "run " + r.PathValue("id") + ": not found"})
	}
	return run, ok
}

func (a *API) dispatch(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Inputs map[string]any `json:"inputs"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		JSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if r.PathValue("name") != "deploy" {
		JSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no workflow %q", r.PathValue("name"))})
		return
	}
	JSON(w, http.StatusAccepted, &store.Run{ID: RunNew, Workflow: "deploy", EventID: EventReplay,
		Attempt: 1, Status: workflows.StatusQueued, QueuedAt: T0().Add(time.Hour)})
}

func (a *API) listRuns(w http.ResponseWriter, r *http.Request) {
	runs := []*store.Run{a.Runs[RunQueued], a.Runs[RunSucceeded], a.Runs[RunFailed]}
	next := ""
	if r.URL.Query().Get("limit") == "3" {
		next = RunFailed
	}
	if r.URL.Query().Get("status") == workflows.StatusCancelled {
		runs = []*store.Run{}
	}
	JSON(w, http.StatusOK, map[string]any{"runs": runs, "next": next})
}

func (a *API) getRun(w http.ResponseWriter, r *http.Request) {
	if run, ok := a.run(w, r); ok {
		JSON(w, http.StatusOK, run)
	}
}

func (a *API) cancel(w http.ResponseWriter, r *http.Request) {
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
		JSON(w, http.StatusConflict, map[string]string{"error": "run " + run.ID + " has already finished"})
		return
	}
	JSON(w, http.StatusOK, &cancelled)
}

func (a *API) rerun(w http.ResponseWriter, r *http.Request) {
	run, ok := a.run(w, r)
	if !ok {
		return
	}
	JSON(w, http.StatusAccepted, &store.Run{ID: RunNew, Workflow: run.Workflow, EventID: run.EventID,
		Attempt: run.Attempt + 1, RerunOf: run.ID, Status: workflows.StatusQueued, QueuedAt: T0().Add(time.Hour)})
}

func (a *API) logs(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if r.URL.Query().Get("follow") != "" && a.Follow != nil {
		a.mu.Lock()
		a.conns[id]++
		conn := a.conns[id]
		a.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		a.Follow(w, r, id, conn)
		return
	}
	if _, ok := a.run(w, r); !ok {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "2025-03-14T09:26:55.000Z checkout stdout | cloning\n2025-03-14T09:26:56.000Z build stderr | boom\n")
}

func (a *API) listEvents(w http.ResponseWriter, r *http.Request) {
	events := []*store.Event{a.Events[EventReplay], a.Events[EventPush]}
	if p := r.URL.Query().Get("path"); p != "" {
		events = []*store.Event{}
		if p == "deploy" {
			events = []*store.Event{a.Events[EventPush]}
		}
	}
	next := ""
	if r.URL.Query().Get("limit") == "2" {
		next = EventPush
	}
	JSON(w, http.StatusOK, map[string]any{"events": events, "next": next})
}

func (a *API) getEvent(w http.ResponseWriter, r *http.Request) {
	ev, ok := a.Events[r.PathValue("id")]
	if !ok {
		JSON(w, http.StatusNotFound, map[string]string{"error": "event " + r.PathValue("id") + ": not found"})
		return
	}
	JSON(w, http.StatusOK, ev)
}

func (a *API) replay(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.Events[r.PathValue("id")]; !ok {
		JSON(w, http.StatusNotFound, map[string]string{"error": "event " + r.PathValue("id") + ": not found"})
		return
	}
	JSON(w, http.StatusAccepted, &workflows.Receipt{EventID: EventReplay,
		Runs:    []workflows.RunRef{{ID: RunNew, Workflow: "deploy", Status: workflows.StatusQueued}},
		Skipped: []workflows.Skip{{Workflow: "docs", Reason: `paths: no changed file matches "docs/**"`}}})
}

// stepExit is a step's exit code as runner.StepResult holds it.
func stepExit(code int) *int { return &code }

// Send writes server-sent event text and flushes it to the client.
func Send(w http.ResponseWriter, text string) {
	io.WriteString(w, text)
	w.(http.Flusher).Flush()
}

// LogEvent is a log line as the API streams it.
func LogEvent(t testing.TB, seq int64, stream, text string) string {
	t.Helper()
	b, err := json.Marshal(store.LogLine{Seq: seq, Step: 0, Stream: stream, Time: T0().Add(time.Duration(seq) * time.Second), Text: text})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("id: %d\nevent: log\ndata: %s\n\n", seq, b)
}

// EndEvent is the `end` event with run, its JSON spread over several data
// lines, as the standard allows.
func EndEvent(t testing.TB, run *store.Run) string {
	t.Helper()
	b, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return "event: end\ndata: " + strings.ReplaceAll(string(b), "\n", "\ndata: ") + "\n\n"
}
