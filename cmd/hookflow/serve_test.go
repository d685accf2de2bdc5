package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/config"
	"github.com/hookflow/hookflow/store/sqlite"
	"github.com/hookflow/hookflow/workflows"
)

// testApp is a server started in-process on 127.0.0.1:0.
type testApp struct {
	*App
	url   string
	token string
	stop  func()
}

// startApp writes the workflow files and starts a server on them with a
// temporary data folder. It is stopped when the test ends.
func startApp(t testing.TB, files map[string]string, mod ...func(*config.Config)) *testApp {
	t.Helper()
	dir := t.TempDir()
	wfs := filepath.Join(dir, "workflows")
	for name, content := range files {
		writeFile(t, filepath.Join(wfs, name), content)
	}
	if len(files) == 0 {
		os.MkdirAll(wfs, 0o755)
	}
	cfg := config.Config{Listen: "127.0.0.1:0", Workflows: config.Workflows{Folder: wfs}, DataDir: filepath.Join(dir, "data")}
	for _, m := range mod {
		m(&cfg)
	}
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	a := &App{Config: cfg}
	ctx, cancel := context.WithCancel(context.Background())
	if err := a.Open(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	ta := &testApp{App: a, url: a.URL()}
	if len(cfg.API.Tokens) > 0 {
		ta.token = cfg.API.Tokens[0]
	}
	var once bool
	ta.stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stopped with %v", err)
		}
	}
	t.Cleanup(ta.stop)
	return ta
}

// call sends a JSON request and decodes the JSON answer into out (if not nil).
func (a *testApp) call(t testing.TB, method, path string, body any, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.url+path, r)
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

// waitRun polls a run until it has finished.
func (a *testApp) waitRun(t *testing.T, id string) *api.RunView {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		var run api.RunView
		if code := a.call(t, "GET", "/api/v1/runs/"+id, nil, &run); code != http.StatusOK {
			t.Fatalf("get run: %d", code)
		}
		if api.Finished(run.Status) {
			return &run
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("run %s did not finish", id)
	return nil
}

const dispatchWorkflow = `
on:
  dispatch:
    inputs:
      who: {required: true}
env: {WHO: "${{ inputs.who }}"}
steps:
  - id: greet
    run: |
      echo "hello $WHO"
      echo "greeting=hello $WHO" >> "$HOOKFLOW_OUTPUT"
`

func TestAPIDispatchRunAndLogs(t *testing.T) {
	a := startApp(t, map[string]string{"greet.yaml": dispatchWorkflow})

	var wfs struct {
		Workflows []api.WorkflowView `json:"workflows"`
		Revision  string             `json:"revision"`
	}
	if code := a.call(t, "GET", "/api/v1/workflows", nil, &wfs); code != 200 || len(wfs.Workflows) != 1 || wfs.Workflows[0].Dispatch == nil {
		t.Fatalf("workflows: %d %+v", code, wfs)
	}
	var errBody map[string]string
	if code := a.call(t, "POST", "/api/v1/workflows/greet/dispatch", map[string]any{"inputs": map[string]any{}}, &errBody); code != 422 || !strings.Contains(errBody["error"], `input "who" is required`) {
		t.Errorf("dispatch without input: %d %v", code, errBody)
	}
	if code := a.call(t, "POST", "/api/v1/workflows/nope/dispatch", nil, &errBody); code != 404 {
		t.Errorf("dispatch unknown workflow: %d", code)
	}
	var one api.WorkflowView
	if code := a.call(t, "GET", "/api/v1/workflows/greet", nil, &one); code != 200 || one.Name != "greet" || one.Dispatch.Inputs[0].Name != "who" {
		t.Errorf("get workflow: %d %+v", code, one)
	}
	if code := a.call(t, "GET", "/api/v1/workflows/nope", nil, &errBody); code != 404 {
		t.Errorf("get unknown workflow: %d", code)
	}
	var run api.RunView
	if code := a.call(t, "POST", "/api/v1/workflows/greet/dispatch", map[string]any{"inputs": map[string]any{"who": "ada"}}, &run); code != 202 {
		t.Fatalf("dispatch: %d", code)
	}
	done := a.waitRun(t, run.ID)
	if done.Status != "succeeded" || done.Steps[0].Outputs["greeting"] != "hello ada" || done.StartedAt == nil || done.Sandbox == "" {
		t.Fatalf("run %+v", done)
	}

	resp, err := http.Get(a.url + "/api/v1/runs/" + run.ID + "/logs")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(text), "greet stdout | hello ada") {
		t.Errorf("plain log:\n%s", text)
	}

	var list struct {
		Runs []api.RunView `json:"runs"`
		Next string        `json:"next"`
	}
	if code := a.call(t, "GET", "/api/v1/runs?workflow=greet&status=succeeded", nil, &list); code != 200 || len(list.Runs) != 1 {
		t.Errorf("list runs: %d %+v", code, list)
	}
	var rerun api.RunView
	if code := a.call(t, "POST", "/api/v1/runs/"+run.ID+"/rerun", nil, &rerun); code != 202 || rerun.Attempt != 2 || rerun.RerunOf != run.ID {
		t.Fatalf("rerun: %d %+v", code, rerun)
	}
	if again := a.waitRun(t, rerun.ID); again.Status != "succeeded" {
		t.Errorf("rerun status %s", again.Status)
	}
	if code := a.call(t, "GET", "/api/v1/runs?limit=1", nil, &list); code != 200 || len(list.Runs) != 1 || list.Next == "" {
		t.Errorf("paging: %+v", list)
	}
	next := list.Next
	if code := a.call(t, "GET", "/api/v1/runs?limit=1&before="+next, nil, &list); code != 200 || len(list.Runs) != 1 || list.Runs[0].ID != run.ID {
		t.Errorf("second page: %+v", list)
	}

	var ev struct {
		ID       string `json:"id"`
		Trigger  string `json:"trigger"`
		Verdicts []struct {
			Workflow string   `json:"workflow"`
			Runs     []string `json:"runs"`
		} `json:"verdicts"`
	}
	if code := a.call(t, "GET", "/api/v1/events/"+run.EventID, nil, &ev); code != 200 || ev.Trigger != "dispatch" || len(ev.Verdicts) != 1 || ev.Verdicts[0].Runs[0] != run.ID {
		t.Errorf("event: %d %+v", code, ev)
	}
	var receipt struct {
		EventID string `json:"event_id"`
		Runs    []struct {
			ID string `json:"id"`
		} `json:"runs"`
	}
	if code := a.call(t, "POST", "/api/v1/events/"+run.EventID+"/replay", nil, &receipt); code != 202 || len(receipt.Runs) != 1 || receipt.EventID == run.EventID {
		t.Fatalf("replay: %d %+v", code, receipt)
	}
	a.waitRun(t, receipt.Runs[0].ID)
	var events struct {
		Events []struct {
			ID      string `json:"id"`
			Trigger string `json:"trigger"`
		} `json:"events"`
	}
	if code := a.call(t, "GET", "/api/v1/events?limit=10", nil, &events); code != 200 || len(events.Events) != 2 || events.Events[0].Trigger != "replay" {
		t.Errorf("list events: %d %+v", code, events)
	}
	if code := a.call(t, "GET", "/api/v1/events/nope", nil, &errBody); code != 404 {
		t.Errorf("unknown event: %d", code)
	}
}

func TestAPIFollowAndCancel(t *testing.T) {
	a := startApp(t, map[string]string{"slow.yaml": `
on: {dispatch: {}}
steps:
  - id: tick
    run: |
      for i in 1 2 3; do echo "tick $i"; sleep 0.1; done
      echo "waiting"
      sleep 600
  - {id: after, if: always(), run: echo cleanup}
`})
	var run api.RunView
	if code := a.call(t, "POST", "/api/v1/workflows/slow/dispatch", nil, &run); code != 202 {
		t.Fatalf("dispatch: %d", code)
	}
	req, _ := http.NewRequest("GET", a.url+"/api/v1/runs/"+run.ID+"/logs?follow=1", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan [2]string)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		var name, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			case line == "" && name != "":
				events <- [2]string{name, data}
				name, data = "", ""
			}
		}
	}()
	var texts []string
	for e := range events {
		if e[0] == "end" {
			var final api.RunView
			if err := json.Unmarshal([]byte(e[1]), &final); err != nil || final.Status != "cancelled" {
				t.Errorf("end event %s (%v)", e[1], err)
			}
			break
		}
		var line struct{ Text string }
		json.Unmarshal([]byte(e[1]), &line)
		texts = append(texts, line.Text)
		if line.Text == "waiting" {
			var cancelled api.RunView
			if code := a.call(t, "POST", "/api/v1/runs/"+run.ID+"/cancel", nil, &cancelled); code != 200 || !cancelled.CancelRequested {
				t.Fatalf("cancel: %d %+v", code, cancelled)
			}
		}
	}
	joined := strings.Join(texts, "\n")
	for _, want := range []string{"tick 1", "tick 2", "tick 3", "waiting", "cleanup"} {
		if !strings.Contains(joined, want) {
			t.Errorf("streamed log lacks %q:\n%s", want, joined)
		}
	}
	final := a.waitRun(t, run.ID)
	if final.Status != "cancelled" || final.Steps[0].Outcome != "cancelled" || final.Steps[1].Outcome != "success" {
		t.Errorf("final run %+v", final)
	}
	var errBody map[string]string
	if code := a.call(t, "POST", "/api/v1/runs/"+run.ID+"/cancel", nil, &errBody); code != 409 {
		t.Errorf("cancel of a finished run: %d %v", code, errBody)
	}
}

func TestAPIAuth(t *testing.T) {
	token := "a-long-enough-test-token"
	a := startApp(t, map[string]string{"greet.yaml": dispatchWorkflow}, func(c *config.Config) { c.API.Tokens = []string{token} })
	for _, tt := range []struct {
		name, auth string
		want       int
	}{
		{"no token", "", 401},
		{"wrong token", "Bearer a-long-enough-test-tokeX", 401},
		{"right token", "Bearer " + token, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", a.url+"/api/v1/runs", nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want || strings.Contains(string(body), token) {
				t.Errorf("status %d body %s", resp.StatusCode, body)
			}
		})
	}
	if resp, err := http.Get(a.url + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("healthz without token: %v %v", resp, err)
	}
}

func TestAPILoopbackOnlyWithoutToken(t *testing.T) {
	a := startApp(t, map[string]string{"greet.yaml": dispatchWorkflow})
	for _, tt := range []struct {
		remote, forwarded string
		want              int
	}{
		{"127.0.0.1:5000", "", 200},
		{"[::1]:5000", "", 200},
		{"192.0.2.10:5000", "", 403},
		{"192.0.2.10:5000", "127.0.0.1", 403},
	} {
		req := httptest.NewRequest("GET", "/api/v1/workflows", nil)
		req.RemoteAddr, req.Host = tt.remote, "localhost:8080"
		if tt.forwarded != "" {
			req.Header.Set("X-Forwarded-For", tt.forwarded)
			req.Header.Set("X-Real-IP", tt.forwarded)
		}
		rec := httptest.NewRecorder()
		a.echo.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("from %s (forwarded %q): %d, want %d", tt.remote, tt.forwarded, rec.Code, tt.want)
		}
	}
}

// TestMetricsAccess checks `metrics.public`: off, /metrics has the API's
// access rule (a token, or a loopback client when there is none); on, any
// client reads it without a token, while the API stays closed.
func TestMetricsAccess(t *testing.T) {
	token := "a-long-enough-test-token"
	for _, tt := range []struct {
		name          string
		public        bool
		tokens        []string
		noToken       int // over HTTP from 127.0.0.1, without a token
		remote        int // from another host, without a token
		withToken     int // over HTTP, with the token (when there is one)
		apiWithout    int // the API over HTTP without a token
		apiFromRemote int
	}{
		{"private with a token", false, []string{token}, 401, 401, 200, 401, 401},
		{"public with a token", true, []string{token}, 200, 200, 200, 401, 401},
		{"private without tokens", false, nil, 200, 403, 0, 200, 403},
		{"public without tokens", true, nil, 200, 200, 0, 200, 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := startApp(t, map[string]string{"greet.yaml": dispatchWorkflow}, func(c *config.Config) {
				c.API.Tokens = tt.tokens
				c.Metrics.Public = tt.public
			})
			get := func(path, auth string) (int, string) {
				t.Helper()
				req, _ := http.NewRequest("GET", a.url+path, nil)
				if auth != "" {
					req.Header.Set("Authorization", "Bearer "+auth)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(body)
			}
			fromRemote := func(path string) int {
				req := httptest.NewRequest("GET", path, nil)
				req.RemoteAddr, req.Host = "192.0.2.10:5000", "hookflow.example.com"
				rec := httptest.NewRecorder()
				a.echo.ServeHTTP(rec, req)
				return rec.Code
			}
			code, body := get("/metrics", "")
			if code != tt.noToken {
				t.Errorf("/metrics without a token: %d, want %d", code, tt.noToken)
			}
			if code == http.StatusOK && !strings.Contains(body, "hookflow_workflows_loaded 1") {
				t.Errorf("/metrics without a token answered 200 without the metrics: %.300s", body)
			}
			if code := fromRemote("/metrics"); code != tt.remote {
				t.Errorf("/metrics from another host: %d, want %d", code, tt.remote)
			}
			if tt.withToken != 0 {
				if code, body := get("/metrics", token); code != tt.withToken || !strings.Contains(body, "hookflow_queue_depth") {
					t.Errorf("/metrics with the token: %d, want %d with the metrics", code, tt.withToken)
				}
			}
			if code, _ := get("/api/v1/runs", ""); code != tt.apiWithout {
				t.Errorf("API without a token: %d, want %d", code, tt.apiWithout)
			}
			if code := fromRemote("/api/v1/runs"); code != tt.apiFromRemote {
				t.Errorf("API from another host: %d, want %d", code, tt.apiFromRemote)
			}
		})
	}
}

func TestAPIRefusesOtherSites(t *testing.T) {
	a := startApp(t, map[string]string{"greet.yaml": dispatchWorkflow})
	for _, tt := range []struct {
		name    string
		host    string
		headers map[string]string
		want    int
	}{
		{"cross-site form post", "127.0.0.1:8080", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403},
		{"other origin, no fetch metadata", "127.0.0.1:8080", map[string]string{"Origin": "https://evil.example"}, 403},
		{"rebound DNS name", "evil.example:8080", nil, 403},
		{"command-line client", "127.0.0.1:8080", nil, 422},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/api/v1/workflows/greet/dispatch", strings.NewReader(`{"inputs":{}}`))
			req.RemoteAddr, req.Host = "127.0.0.1:5000", tt.host
			req.Header.Set("Content-Type", "text/plain")
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			a.echo.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("%d %s, want %d", rec.Code, rec.Body, tt.want)
			}
		})
	}
}

func TestAPIMatchAndMetrics(t *testing.T) {
	a := startApp(t, map[string]string{
		"deploy.yaml": "on: {webhook: {path: gh, provider: github, events: [push], branches: [main]}}\nsteps: [{run: 'true'}]\n",
		"docs.yaml":   "on: {webhook: {path: gh, provider: github, paths: ['docs/**']}}\nsteps: [{run: 'true'}]\n",
	})
	var got struct {
		Verdicts []api.MatchVerdict `json:"verdicts"`
	}
	body := map[string]any{"path": "gh", "headers": map[string]string{"X-GitHub-Event": "push"},
		"body": map[string]any{"ref": "refs/heads/main", "commits": []any{map[string]any{"modified": []string{"src/a.go"}}}}}
	if code := a.call(t, "POST", "/api/v1/match", body, &got); code != 200 || len(got.Verdicts) != 2 {
		t.Fatalf("match: %d %+v", code, got)
	}
	if !got.Verdicts[0].Run || got.Verdicts[1].Run || got.Verdicts[1].Reason != "paths: no changed file matches docs/**" {
		t.Errorf("verdicts %+v", got.Verdicts)
	}
	var runs struct {
		Runs []api.RunView `json:"runs"`
	}
	if a.call(t, "GET", "/api/v1/runs", nil, &runs); len(runs.Runs) != 0 {
		t.Errorf("match stored runs: %+v", runs.Runs)
	}
	resp, err := http.Get(a.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"hookflow_workflows_loaded 2", "hookflow_queue_depth 0", "hookflow_reload_errors_total 0", "hookflow_runs_running 0"} {
		if !strings.Contains(string(metrics), name) {
			t.Errorf("metrics lack %q", name)
		}
	}
}

func TestReloadKeepsLastGoodSet(t *testing.T) {
	a := startApp(t, map[string]string{"greet.yaml": dispatchWorkflow})
	wfs := a.Config.Workflows.Folder
	writeFile(t, filepath.Join(wfs, "broken.yaml"), "on: {dispatch: {}}\nsteps:\n  - run: echo ${{ event.ref }}\n")
	var body map[string]any
	if code := a.call(t, "POST", "/api/v1/workflows/reload", nil, &body); code != 422 || !strings.Contains(body["error"].(string), "broken.yaml:3:15: ${{ }} inside run:") {
		t.Fatalf("reload of a broken set: %d %v", code, body)
	}
	var list struct {
		Workflows   []api.WorkflowView `json:"workflows"`
		ReloadError string             `json:"reload_error"`
	}
	a.call(t, "GET", "/api/v1/workflows", nil, &list)
	if len(list.Workflows) != 1 || !strings.Contains(list.ReloadError, "broken.yaml") {
		t.Errorf("after a failed reload: %+v", list)
	}
	os.Remove(filepath.Join(wfs, "broken.yaml"))
	writeFile(t, filepath.Join(wfs, "second.yaml"), "on: {dispatch: {}}\nsteps: [{run: 'true'}]\n")
	if code := a.call(t, "POST", "/api/v1/workflows/reload", nil, &body); code != 200 {
		t.Fatalf("reload: %d %v", code, body)
	}
	a.call(t, "GET", "/api/v1/workflows", nil, &list)
	if len(list.Workflows) != 2 || list.ReloadError != "" {
		t.Errorf("after a good reload: %+v", list)
	}
}

func TestCronFires(t *testing.T) {
	a := startApp(t, map[string]string{"tick.yaml": `
on: {cron: "@every 1s"}
steps:
  - env: {AT: "${{ event.scheduled_at }}", SCHEDULE: "${{ event.schedule }}"}
    run: echo "tick $SCHEDULE"
`})
	deadline := time.Now().Add(time.Minute)
	for {
		var list struct{ Runs []api.RunView }
		a.call(t, "GET", "/api/v1/runs?workflow=tick&status=succeeded", nil, &list)
		if len(list.Runs) > 0 {
			var ev struct {
				Trigger string `json:"trigger"`
				Type    string `json:"type"`
			}
			a.call(t, "GET", "/api/v1/events/"+list.Runs[0].EventID, nil, &ev)
			if ev.Trigger != "cron" || ev.Type != "schedule" {
				t.Errorf("cron event %+v", ev)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the @every 1s schedule started no run in a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestGracefulShutdown(t *testing.T) {
	a := startApp(t, map[string]string{
		"short.yaml": "on: {dispatch: {}}\nsteps:\n  - run: echo started; sleep 0.3\n",
		"long.yaml":  "on: {dispatch: {}}\nsteps:\n  - run: echo started; sleep 600\n",
	}, func(c *config.Config) { c.ShutdownTimeout = workflows.Duration(time.Second) })
	var short, long api.RunView
	a.call(t, "POST", "/api/v1/workflows/short/dispatch", nil, &short)
	a.call(t, "POST", "/api/v1/workflows/long/dispatch", nil, &long)
	for _, id := range []string{short.ID, long.ID} {
		for {
			var r api.RunView
			a.call(t, "GET", "/api/v1/runs/"+id, nil, &r)
			if r.Status == "running" {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	a.stop()
	st, err := sqlite.Open(context.Background(), filepath.Join(a.Config.DataDir, "hookflow.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for id, want := range map[string][2]string{short.ID: {"succeeded", ""}, long.ID: {"failed", "interrupted"}} {
		r, err := st.GetRun(context.Background(), id)
		if err != nil || r.Status != want[0] || r.Reason != want[1] {
			t.Errorf("run %s: %v %+v, want %v", id, err, r, want)
		}
	}
	r, err := st.GetRun(context.Background(), long.ID)
	if err != nil {
		t.Fatal(err)
	}
	var steps []struct{ Error string }
	if err := json.Unmarshal(r.Steps, &steps); err != nil || len(steps) != 1 || steps[0].Error != "step stopped: the server is shutting down" {
		t.Errorf("the interrupted step: %s (%v), want it stopped by the shutdown", r.Steps, err)
	}
}

func TestFolderChangesReload(t *testing.T) {
	a := startApp(t, map[string]string{"greet.yaml": dispatchWorkflow})
	writeFile(t, filepath.Join(a.Config.Workflows.Folder, "team", "added.yaml"), "on: {dispatch: {}}\nsteps: [{run: 'true'}]\n")
	deadline := time.Now().Add(time.Minute)
	for {
		var list struct{ Workflows []api.WorkflowView }
		a.call(t, "GET", "/api/v1/workflows", nil, &list)
		if len(list.Workflows) == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a new file was not picked up in a minute: %+v", list.Workflows)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
