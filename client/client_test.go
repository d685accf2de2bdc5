package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/client"
	"github.com/hookflow/hookflow/client/clienttest"
	"github.com/hookflow/hookflow/workflows"
)

// newClient is a client of api with its token.
func newClient(t *testing.T, api *clienttest.API) *client.Client {
	t.Helper()
	c, err := client.New(api.URL+"/", clienttest.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRequests checks the one request each method sends.
func TestRequests(t *testing.T) {
	api := clienttest.NewAPI(t)
	c := newClient(t, api)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		req  clienttest.Request
	}{
		{"dispatch", func() error {
			_, err := c.Dispatch(ctx, "deploy", map[string]any{"who": "ada", "count": 2})
			return err
		}, clienttest.Request{Method: "POST", Path: "/api/v1/workflows/deploy/dispatch", Body: `{"inputs":{"count":2,"who":"ada"}}`}},
		{"dispatch without inputs", func() error { _, err := c.Dispatch(ctx, "deploy", nil); return err },
			clienttest.Request{Method: "POST", Path: "/api/v1/workflows/deploy/dispatch", Body: `{"inputs":{}}`}},
		{"list runs", func() error {
			_, err := c.ListRuns(ctx, client.RunFilter{Workflow: "deploy", Status: "failed", Event: clienttest.EventPush,
				Page: client.Page{Limit: 3, Before: "01JQ9"}})
			return err
		}, clienttest.Request{Method: "GET", Path: "/api/v1/runs", Query: "before=01JQ9&event=" + clienttest.EventPush + "&limit=3&status=failed&workflow=deploy"}},
		{"list every run", func() error { _, err := c.ListRuns(ctx, client.RunFilter{}); return err },
			clienttest.Request{Method: "GET", Path: "/api/v1/runs"}},
		{"get run", func() error { _, err := c.GetRun(ctx, clienttest.RunFailed); return err },
			clienttest.Request{Method: "GET", Path: "/api/v1/runs/" + clienttest.RunFailed}},
		{"cancel", func() error { _, err := c.Cancel(ctx, clienttest.RunQueued); return err },
			clienttest.Request{Method: "POST", Path: "/api/v1/runs/" + clienttest.RunQueued + "/cancel"}},
		{"rerun", func() error { _, err := c.Rerun(ctx, clienttest.RunFailed); return err },
			clienttest.Request{Method: "POST", Path: "/api/v1/runs/" + clienttest.RunFailed + "/rerun"}},
		{"log", func() error { return c.Log(ctx, clienttest.RunFailed, "", io.Discard) },
			clienttest.Request{Method: "GET", Path: "/api/v1/runs/" + clienttest.RunFailed + "/logs", Accept: "text/plain"}},
		{"list events", func() error {
			_, err := c.ListEvents(ctx, client.EventFilter{Path: "deploy", Page: client.Page{Limit: 2}})
			return err
		}, clienttest.Request{Method: "GET", Path: "/api/v1/events", Query: "limit=2&path=deploy"}},
		{"get event", func() error { _, err := c.GetEvent(ctx, clienttest.EventPush); return err },
			clienttest.Request{Method: "GET", Path: "/api/v1/events/" + clienttest.EventPush}},
		{"replay", func() error { _, err := c.Replay(ctx, clienttest.EventPush); return err },
			clienttest.Request{Method: "POST", Path: "/api/v1/events/" + clienttest.EventPush + "/replay"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(api.Requests())
			err := tt.call()
			var ae *client.Error
			if err != nil && !(errors.As(err, &ae) && ae.Status == http.StatusNotFound) {
				t.Fatal(err)
			}
			reqs := api.Requests()[before:]
			want := tt.req
			want.Auth = "Bearer " + clienttest.Token
			if want.Accept == "" {
				want.Accept = "application/json"
			}
			if len(reqs) != 1 || reqs[0] != want {
				t.Errorf("requests %+v, want one:\n%+v", reqs, want)
			}
		})
	}
}

// TestAnswers checks what the methods make of the API's answers, and that
// each keeps the answer as the server sent it.
func TestAnswers(t *testing.T) {
	api := clienttest.NewAPI(t)
	c := newClient(t, api)
	ctx := context.Background()
	t0 := clienttest.T0()
	exit := func(code int) *int { return &code }

	run, err := c.GetRun(ctx, clienttest.RunFailed)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON(t, run.JSON(), api.Runs[clienttest.RunFailed])
	want := &client.Run{Answer: run.Answer, ID: clienttest.RunFailed, Workflow: "deploy", Revision: "3f2a9c1",
		Status: workflows.StatusFailed, Reason: `step "build" failed: exit status 2`, EventID: clienttest.EventPush, Attempt: 1,
		Group: "deploy-main", Node: "node-1", Sandbox: "isolated",
		QueuedAt: t0.Add(time.Second), StartedAt: t0.Add(2 * time.Second), FinishedAt: t0.Add(9*time.Second + 200*time.Millisecond),
		Steps: []client.Step{
			{Index: 0, ID: "checkout", Name: "Check out", Outcome: workflows.OutcomeSuccess, ExitCode: exit(0), Attempts: 1,
				Outputs:   map[string]any{"commit": "59b20b8d", "changed": []any{"index.html"}},
				StartedAt: t0.Add(2 * time.Second), FinishedAt: t0.Add(2*time.Second + 350*time.Millisecond)},
			{Index: 1, ID: "build", Name: "Build", Outcome: workflows.OutcomeFailure, ExitCode: exit(2), Attempts: 1,
				Error: "exit status 2", StartedAt: t0.Add(3 * time.Second), FinishedAt: t0.Add(9*time.Second + 200*time.Millisecond)},
			{Index: 2, ID: "notify", Name: "Notify", Outcome: workflows.OutcomeSkipped},
		}}
	if !reflect.DeepEqual(run, want) {
		t.Errorf("run\n%+v\nwant\n%+v", run, want)
	}

	queued, err := c.GetRun(ctx, clienttest.RunQueued)
	if err != nil {
		t.Fatal(err)
	}
	if !queued.StartedAt.IsZero() || !queued.FinishedAt.IsZero() || queued.Steps != nil {
		t.Errorf("a queued run: %+v, want no start, end or steps", queued)
	}

	runs, err := c.ListRuns(ctx, client.RunFilter{Page: client.Page{Limit: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs.Runs) != 3 || runs.Runs[2].ID != clienttest.RunFailed || runs.Runs[2].Steps[1].Error != "exit status 2" ||
		runs.Next != clienttest.RunFailed || runs.Runs[0].JSON() != nil || !json.Valid(runs.JSON()) {
		t.Errorf("runs %+v", runs)
	}

	ev, err := c.GetEvent(ctx, clienttest.EventPush)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON(t, ev.JSON(), api.Events[clienttest.EventPush])
	if !reflect.DeepEqual(ev.Event, *api.Events[clienttest.EventPush]) {
		t.Errorf("event\n%+v\nwant\n%+v", ev.Event, *api.Events[clienttest.EventPush])
	}

	events, err := c.ListEvents(ctx, client.EventFilter{Path: "deploy"})
	if err != nil {
		t.Fatal(err)
	}
	if len(events.Events) != 1 || events.Events[0].ID != clienttest.EventPush || events.Next != "" {
		t.Errorf("events %+v", events)
	}

	rc, err := c.Replay(ctx, clienttest.EventPush)
	if err != nil {
		t.Fatal(err)
	}
	wantReceipt := workflows.Receipt{EventID: clienttest.EventReplay,
		Runs:    []workflows.RunRef{{ID: clienttest.RunNew, Workflow: "deploy", Status: workflows.StatusQueued}},
		Skipped: []workflows.Skip{{Workflow: "docs", Reason: `paths: no changed file matches "docs/**"`}}}
	if !reflect.DeepEqual(rc.Receipt, wantReceipt) || rc.JSON() == nil {
		t.Errorf("receipt\n%+v\nwant\n%+v", rc.Receipt, wantReceipt)
	}

	rerun, err := c.Rerun(ctx, clienttest.RunFailed)
	if err != nil {
		t.Fatal(err)
	}
	if rerun.ID != clienttest.RunNew || rerun.Attempt != 2 || rerun.RerunOf != clienttest.RunFailed || rerun.Status != workflows.StatusQueued {
		t.Errorf("rerun %+v", rerun)
	}

	var log bytes.Buffer
	if err := c.Log(ctx, clienttest.RunFailed, "", &log); err != nil {
		t.Fatal(err)
	}
	if want := "2025-03-14T09:26:55.000Z checkout stdout | cloning\n2025-03-14T09:26:56.000Z build stderr | boom\n"; log.String() != want {
		t.Errorf("log %q, want %q", log.String(), want)
	}
}

// wantJSON checks that raw is v as the fake API sent it.
func wantJSON(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, b) {
		t.Errorf("kept answer\n%s\nwant\n%s", raw, b)
	}
}

func TestErrors(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	api := clienttest.NewAPI(t)
	// other is a web server that is not hookflow: a page, a proxy's error, a
	// JSON answer of another shape and an endless one.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/runs/bad-gateway":
			http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
		case "/api/v1/runs/other-shape":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id": 42}`)
		case "/api/v1/runs/huge":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"reason": "`+strings.Repeat("x", 33<<20)+`"}`)
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, "<html>welcome</html>")
		}
	}))
	t.Cleanup(other.Close)
	connect := func(t *testing.T, server, token string) *client.Client {
		t.Helper()
		c, err := client.New(server, token, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := context.Background()

	tests := []struct {
		name   string
		server string
		token  string
		id     string
		err    string  // the start of the message
		status int     // of a *client.Error; 0 for another error
		is     []error // errors the error wraps
	}{
		{name: "unreachable", server: downURL, id: "x", err: "cannot reach the server at " + downURL + ": "},
		{name: "unreachable, password hidden", server: strings.Replace(downURL, "http://", "http://ops:hunter2@", 1), id: "x",
			err: "cannot reach the server at " + strings.Replace(downURL, "http://", "http://ops:xxxxx@", 1) + ": "},
		{name: "not hookflow", server: other.URL, id: "page",
			err: "the answer from " + other.URL + " is not hookflow's JSON (text/html; charset=utf-8): invalid character '<'"},
		{name: "error without JSON", server: other.URL, id: "bad-gateway", err: "Bad Gateway (HTTP 502)", status: http.StatusBadGateway},
		{name: "another shape", server: other.URL, id: "other-shape", err: "the answer from " + other.URL + " does not fit: "},
		{name: "too large", server: other.URL, id: "huge", err: "answer from " + other.URL + " is larger than 32 MiB"},
		{name: "the API's error", server: api.URL, token: clienttest.Token, id: "01NOPE", err: "run 01NOPE: not found (HTTP 404)", status: http.StatusNotFound},
		{name: "no token", server: api.URL, id: clienttest.RunFailed, err: "missing or invalid token (HTTP 401)", status: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, err := connect(t, tt.server, tt.token).GetRun(ctx, tt.id)
			if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
				t.Fatalf("%v, %+v; want an error starting with %q", err, run, tt.err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows the password: %v", err)
			}
			var ae *client.Error
			if got := errors.As(err, &ae); got != (tt.status != 0) || (got && ae.Status != tt.status) {
				t.Errorf("%#v, want a *client.Error with status %d", err, tt.status)
			}
		})
	}
	if reqs := api.Requests(); reqs[len(reqs)-1].Auth != "" {
		t.Errorf("sent Authorization %q without a token", reqs[len(reqs)-1].Auth)
	}

	t.Run("interrupted", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := connect(t, api.URL, clienttest.Token).GetRun(ctx, clienttest.RunFailed); !errors.Is(err, context.Canceled) {
			t.Errorf("%v, want context.Canceled", err)
		}
	})
}

func TestNew(t *testing.T) {
	for _, bad := range []string{"127.0.0.1:8080", "ftp://127.0.0.1", "http://", "http://127.0.0.1:8080/?x=1", "http://127.0.0.1:8080/#top", "://"} {
		if _, err := client.New(bad, "", nil); err == nil || err.Error() != `"`+bad+`": write a URL such as http://127.0.0.1:8080` {
			t.Errorf("%q: %v", bad, err)
		}
	}

	var seen http.Header
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, path = r.Header.Clone(), r.URL.EscapedPath()
		if r.URL.Path != "/hookflow/api/v1/runs/x" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, `{"id": "x"}`)
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL+"/hookflow//", "", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetRun(context.Background(), "x"); err != nil {
		t.Fatalf("a server under a prefix: %v", err)
	}
	if seen.Get("User-Agent") != "hookflow" || seen.Get("Authorization") != "" {
		t.Errorf("headers %v, want User-Agent hookflow and no Authorization", seen)
	}
	c.UserAgent = "hookflow/1.2.3"
	c.GetRun(context.Background(), "a/../b?c")
	if seen.Get("User-Agent") != "hookflow/1.2.3" {
		t.Errorf("User-Agent %q", seen.Get("User-Agent"))
	}
	if path != "/hookflow/api/v1/runs/a%2F..%2Fb%3Fc" {
		t.Errorf("an id with / and ? sent as %s, want it one path segment", path)
	}
}
