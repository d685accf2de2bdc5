package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/client/clienttest"
	"github.com/hookflow/hookflow/config"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

func TestClientCommands(t *testing.T) {
	// The clients read these; the developer's own must not leak in.
	t.Setenv("HOOKFLOW_SERVER", "")
	t.Setenv("HOOKFLOW_TOKEN", "")
	api := clienttest.NewAPI(t)
	t0 := clienttest.T0()
	conn := []string{"--server", api.URL + "/", "--token", clienttest.Token}
	auth := "Bearer " + clienttest.Token

	tests := []struct {
		name string
		args []string
		code int
		req  *clienttest.Request // the one request the command makes; nil for none
		out  string              // all of stdout
		err  string              // all of stderr
	}{
		{
			name: "dispatch",
			args: []string{"dispatch", "deploy", "--input", "who=ada", "--input", "env=prod"},
			req:  &clienttest.Request{Method: "POST", Path: "/api/v1/workflows/deploy/dispatch", Body: `{"inputs":{"env":"prod","who":"ada"}}`},
			out:  "started run " + clienttest.RunNew + " of deploy\n  follow: hookflow runs watch " + clienttest.RunNew + "\n",
		},
		{
			name: "dispatch without inputs",
			args: []string{"dispatch", "deploy", "-o", "json"},
			req:  &clienttest.Request{Method: "POST", Path: "/api/v1/workflows/deploy/dispatch", Body: `{"inputs":{}}`},
			out: clientJSONOut(t, &store.Run{ID: clienttest.RunNew, Workflow: "deploy", EventID: clienttest.EventReplay,
				Attempt: 1, Status: workflows.StatusQueued, QueuedAt: t0.Add(time.Hour)}),
		},
		{
			name: "dispatch unknown workflow",
			args: []string{"dispatch", "nope"},
			code: exitFail,
			req:  &clienttest.Request{Method: "POST", Path: "/api/v1/workflows/nope/dispatch", Body: `{"inputs":{}}`},
			err:  "hookflow dispatch: no workflow \"nope\" (HTTP 404)\n",
		},
		{
			name: "runs list",
			args: []string{"runs", "list", "--workflow", "deploy", "--limit", "3", "--status", "failed", "--event", clienttest.EventPush, "--before", "01JQ9"},
			req:  &clienttest.Request{Method: "GET", Path: "/api/v1/runs", Query: "before=01JQ9&event=" + clienttest.EventPush + "&limit=3&status=failed&workflow=deploy"},
			out: "ID                          WORKFLOW  STATUS     TRIGGER  QUEUED               DURATION  REASON\n" +
				clienttest.RunQueued + "  deploy    queued     -        " + clientLocal(t0.Add(time.Minute)) + "  -         -\n" +
				clienttest.RunSucceeded + "  lint      succeeded  -        " + clientLocal(t0.Add(time.Second)) + "  450ms     -\n" +
				clienttest.RunFailed + "  deploy    failed     -        " + clientLocal(t0.Add(time.Second)) + "  7.2s      step \"build\" failed: exit status 2\n" +
				"next: " + clienttest.RunFailed + "\n",
		},
		{
			name: "runs list empty",
			args: []string{"runs", "list", "--status", "cancelled"},
			req:  &clienttest.Request{Method: "GET", Path: "/api/v1/runs", Query: "status=cancelled"},
			out:  "no runs\n",
		},
		{
			name: "runs list json",
			args: []string{"runs", "list", "-o", "json"},
			req:  &clienttest.Request{Method: "GET", Path: "/api/v1/runs"},
			out: clientJSONOut(t, map[string]any{"runs": []*store.Run{api.Runs[clienttest.RunQueued], api.Runs[clienttest.RunSucceeded],
				api.Runs[clienttest.RunFailed]}, "next": ""}),
		},
		{
			name: "runs show",
			args: []string{"runs", "show", clienttest.RunFailed},
			req:  &clienttest.Request{Method: "GET", Path: "/api/v1/runs/" + clienttest.RunFailed},
			out: "run:       " + clienttest.RunFailed + "\n" +
				"workflow:  deploy\n" +
				"revision:  3f2a9c1\n" +
				"status:    failed\n" +
				"reason:    step \"build\" failed: exit status 2\n" +
				"event:     " + clienttest.EventPush + "\n" +
				"attempt:   1\n" +
				"group:     deploy-main\n" +
				"queued:    " + clientLocal(t0.Add(time.Second)) + "\n" +
				"started:   " + clientLocal(t0.Add(2*time.Second)) + "\n" +
				"finished:  " + clientLocal(t0.Add(9*time.Second)) + "\n" +
				"duration:  7.2s\n" +
				"node:      node-1\n" +
				"sandbox:   isolated\n" +
				"\nsteps:\n" +
				"  ID        NAME       OUTCOME  EXIT  DURATION\n" +
				"  checkout  Check out  success  0     350ms\n" +
				"  build     Build      failure  2     6.2s\n" +
				"  notify    Notify     skipped  -     -\n" +
				"\ncheckout:\n" +
				"  changed = [\"index.html\"]\n" +
				"  commit = 59b20b8d\n" +
				"\nbuild:\n" +
				"  error: exit status 2\n",
		},
		{
			name: "runs show queued",
			args: []string{"runs", "show", clienttest.RunQueued},
			req:  &clienttest.Request{Method: "GET", Path: "/api/v1/runs/" + clienttest.RunQueued},
			out: "run:       " + clienttest.RunQueued + "\n" +
				"workflow:  deploy\n" +
				"status:    queued\n" +
				"event:     " + clienttest.EventPush + "\n" +
				"attempt:   1\n" +
				"queued:    " + clientLocal(t0.Add(time.Minute)) + "\n" +
				"started:   -\n" +
				"finished:  -\n" +
				"duration:  -\n",
		},
		{
			name: "runs show json",
			args: []string{"runs", "show", "-o", "json", clienttest.RunFailed},
			req:  &clienttest.Request{Method: "GET", Path: "/api/v1/runs/" + clienttest.RunFailed},
			out:  clientJSONOut(t, api.Runs[clienttest.RunFailed]),
		},
		{
			name: "runs show unknown",
			args: []string{"runs", "show", "01NOPE"},
			code: exitFail,
			req:  &clienttest.Request{Method: "GET", Path: "/api/v1/runs/01NOPE"},
			err:  "hookflow runs show: run 01NOPE: not found (HTTP 404)\n",
		},
		{
			name: "runs logs",
			args: []string{"runs", "logs", clienttest.RunFailed},
			req:  &clienttest.Request{Method: "GET", Path: "/api/v1/runs/" + clienttest.RunFailed + "/logs", Accept: "text/plain"},
			out:  "2025-03-14T09:26:55.000Z checkout stdout | cloning\n2025-03-14T09:26:56.000Z build stderr | boom\n",
		},
		{
			name: "runs cancel queued",
			args: []string{"runs", "cancel", clienttest.RunQueued},
			req:  &clienttest.Request{Method: "POST", Path: "/api/v1/runs/" + clienttest.RunQueued + "/cancel"},
			out:  "run " + clienttest.RunQueued + " of deploy: skipped (cancelled before start)\n",
		},
		{
			name: "runs cancel running",
			args: []string{"runs", "cancel", clienttest.RunRunning},
			req:  &clienttest.Request{Method: "POST", Path: "/api/v1/runs/" + clienttest.RunRunning + "/cancel"},
			out:  "cancelling run " + clienttest.RunRunning + " of lint\n",
		},
		{
			name: "runs cancel finished",
			args: []string{"runs", "cancel", clienttest.RunFailed},
			code: exitFail,
			req:  &clienttest.Request{Method: "POST", Path: "/api/v1/runs/" + clienttest.RunFailed + "/cancel"},
			err:  "hookflow runs cancel: run " + clienttest.RunFailed + " has already finished (HTTP 409)\n",
		},
		{
			name: "runs rerun",
			args: []string{"runs", "rerun", clienttest.RunFailed},
			req:  &clienttest.Request{Method: "POST", Path: "/api/v1/runs/" + clienttest.RunFailed + "/rerun"},
			out:  "started run " + clienttest.RunNew + " of deploy (attempt 2)\n  follow: hookflow runs watch " + clienttest.RunNew + "\n",
		},
		{
			name: "events list",
			args: []string{"events", "list", "--limit", "2"},
			req:  &clienttest.Request{Method: "GET", Path: "/api/v1/events", Query: "limit=2"},
			out: "ID                          RECEIVED             TRIGGER           PATH    TYPE      RUNS  SKIPPED\n" +
				clienttest.EventReplay + "  " + clientLocal(t0.Add(time.Hour)) + "  dispatch          -       dispatch  0     0\n" +
				clienttest.EventPush + "  " + clientLocal(t0) + "  webhook (github)  deploy  push      2     1\n" +
				"next: " + clienttest.EventPush + "\n",
		},
		{
			name: "events list by path",
			args: []string{"events", "list", "--path", "nowhere", "--before", clienttest.EventPush},
			req:  &clienttest.Request{Method: "GET", Path: "/api/v1/events", Query: "before=" + clienttest.EventPush + "&path=nowhere"},
			out:  "no events\n",
		},
		{
			name: "events show",
			args: []string{"events", "show", clienttest.EventPush},
			req:  &clienttest.Request{Method: "GET", Path: "/api/v1/events/" + clienttest.EventPush},
			out: "event:     " + clienttest.EventPush + "\n" +
				"trigger:   webhook (github)\n" +
				"path:      deploy\n" +
				"type:      push\n" +
				"delivery:  72d3162e-cc78-11e3\n" +
				"received:  " + clientLocal(t0) + "\n" +
				"\nverdicts:\n" +
				"  run   deploy  " + clienttest.RunFailed + "\n" +
				"  run   lint    " + clienttest.RunSucceeded + "\n" +
				"  skip  docs    paths: no changed file matches \"docs/**\"\n",
		},
		{
			name: "events show without verdicts",
			args: []string{"events", "show", clienttest.EventReplay},
			req:  &clienttest.Request{Method: "GET", Path: "/api/v1/events/" + clienttest.EventReplay},
			out: "event:     " + clienttest.EventReplay + "\n" +
				"trigger:   dispatch\n" +
				"type:      dispatch\n" +
				"received:  " + clientLocal(t0.Add(time.Hour)) + "\n" +
				"\nno workflow listens for it\n",
		},
		{
			name: "events show json",
			args: []string{"events", "show", clienttest.EventPush, "-o", "json"},
			req:  &clienttest.Request{Method: "GET", Path: "/api/v1/events/" + clienttest.EventPush},
			out:  clientJSONOut(t, api.Events[clienttest.EventPush]),
		},
		{
			name: "events replay",
			args: []string{"events", "replay", clienttest.EventPush},
			req:  &clienttest.Request{Method: "POST", Path: "/api/v1/events/" + clienttest.EventPush + "/replay"},
			out: "event " + clienttest.EventReplay + ": 1 run(s) queued, 1 workflow(s) skipped\n" +
				"started run " + clienttest.RunNew + " of deploy\n  follow: hookflow runs watch " + clienttest.RunNew + "\n" +
				"  skip  docs  paths: no changed file matches \"docs/**\"\n",
		},
		{
			name: "events replay json",
			args: []string{"events", "replay", clienttest.EventPush, "-o", "json"},
			req:  &clienttest.Request{Method: "POST", Path: "/api/v1/events/" + clienttest.EventPush + "/replay"},
			out: clientJSONOut(t, &workflows.Receipt{EventID: clienttest.EventReplay,
				Runs:    []workflows.RunRef{{ID: clienttest.RunNew, Workflow: "deploy", Status: workflows.StatusQueued}},
				Skipped: []workflows.Skip{{Workflow: "docs", Reason: `paths: no changed file matches "docs/**"`}}}),
		},
		{
			name: "events replay unknown",
			args: []string{"events", "replay", "01NOPE"},
			code: exitFail,
			req:  &clienttest.Request{Method: "POST", Path: "/api/v1/events/01NOPE/replay"},
			err:  "hookflow events replay: event 01NOPE: not found (HTTP 404)\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(api.Requests())
			code, out, errOut := clientMain(t, context.Background(), append(tt.args, conn...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstderr: %s", code, tt.code, errOut)
			}
			if out != tt.out {
				t.Errorf("stdout:\n%s\nwant:\n%s", out, tt.out)
			}
			if errOut != tt.err {
				t.Errorf("stderr %q, want %q", errOut, tt.err)
			}
			reqs := api.Requests()[before:]
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1: %+v", len(reqs), reqs)
			}
			want := *tt.req
			want.Auth = auth
			if want.Accept == "" {
				want.Accept = "application/json"
			}
			if reqs[0] != want {
				t.Errorf("request\n%+v\nwant\n%+v", reqs[0], want)
			}
		})
	}
}

func TestClientEnvironment(t *testing.T) {
	api := clienttest.NewAPI(t)

	t.Run("server and token from the environment", func(t *testing.T) {
		t.Setenv("HOOKFLOW_SERVER", api.URL)
		t.Setenv("HOOKFLOW_TOKEN", clienttest.Token)
		code, out, errOut := clientMain(t, context.Background(), "runs", "rerun", clienttest.RunFailed)
		if code != exitOK || out != "started run "+clienttest.RunNew+" of deploy (attempt 2)\n  follow: hookflow runs watch "+clienttest.RunNew+"\n" {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		reqs := api.Requests()
		if got := reqs[len(reqs)-1].Auth; got != "Bearer "+clienttest.Token {
			t.Errorf("Authorization %q", got)
		}
	})
	t.Run("flags win over the environment", func(t *testing.T) {
		t.Setenv("HOOKFLOW_SERVER", "http://127.0.0.1:1")
		t.Setenv("HOOKFLOW_TOKEN", "stale")
		code, _, errOut := clientMain(t, context.Background(), "runs", "show", clienttest.RunFailed, "--server", api.URL, "--token", clienttest.Token)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})
	t.Run("no token", func(t *testing.T) {
		t.Setenv("HOOKFLOW_SERVER", api.URL)
		t.Setenv("HOOKFLOW_TOKEN", "")
		code, out, errOut := clientMain(t, context.Background(), "runs", "list")
		want := "hookflow runs list: missing or invalid token (HTTP 401); pass --token or set HOOKFLOW_TOKEN\n"
		if code != exitFail || out != "" || errOut != want {
			t.Errorf("exit %d, stdout %q, stderr %q; want stderr %q", code, out, errOut, want)
		}
		if reqs := api.Requests(); reqs[len(reqs)-1].Auth != "" {
			t.Errorf("sent Authorization %q without a token", reqs[len(reqs)-1].Auth)
		}
	})
	t.Run("the token is never printed", func(t *testing.T) {
		t.Setenv("HOOKFLOW_SERVER", api.URL)
		t.Setenv("HOOKFLOW_TOKEN", "wrong-"+clienttest.Token)
		for _, args := range [][]string{{"runs", "list"}, {"runs", "list", "-h"}, {"events", "show", "-h"}, {"runs", "logs", "x", "-f"}} {
			_, out, errOut := clientMain(t, context.Background(), args...)
			if strings.Contains(out+errOut, clienttest.Token) {
				t.Errorf("%v printed the token:\n%s%s", args, out, errOut)
			}
		}
	})
}

func TestClientErrors(t *testing.T) {
	t.Setenv("HOOKFLOW_SERVER", "")
	t.Setenv("HOOKFLOW_TOKEN", "")
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	api := clienttest.NewAPI(t)
	// other is a web server that is not hookflow: a page, and a proxy's error.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/runs/") {
			http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<html>welcome</html>")
	}))
	t.Cleanup(other.Close)

	tests := []struct {
		name string
		args []string
		code int
		err  string // the start of stderr
	}{
		{"unreachable server", []string{"runs", "list", "--server", downURL}, exitFail, "hookflow runs list: cannot reach the server at " + downURL + ": "},
		{"unreachable server when following", []string{"runs", "logs", "-f", "x", "--server", downURL}, exitFail, "hookflow runs logs: cannot reach the server at " + downURL + ": "},
		{"not hookflow", []string{"events", "list", "--server", other.URL}, exitFail, "hookflow events list: the answer from " + other.URL + " is not hookflow's JSON (text/html; charset=utf-8): invalid character '<'"},
		{"error without JSON", []string{"runs", "show", "x", "--server", other.URL}, exitFail, "hookflow runs show: Bad Gateway (HTTP 502)\n"},
		{"runs show without ID", []string{"runs", "show"}, exitUsage, "hookflow runs show: name the ID: hookflow runs show ID"},
		{"runs logs without ID", []string{"runs", "logs", "-f"}, exitUsage, "hookflow runs logs: name the ID"},
		{"runs cancel without ID", []string{"runs", "cancel"}, exitUsage, "hookflow runs cancel: name the ID"},
		{"runs rerun two IDs", []string{"runs", "rerun", "a", "b"}, exitUsage, "hookflow runs rerun: name the ID"},
		{"events show without ID", []string{"events", "show"}, exitUsage, "hookflow events show: name the ID"},
		{"events replay without ID", []string{"events", "replay"}, exitUsage, "hookflow events replay: name the ID"},
		{"dispatch without workflow", []string{"dispatch", "--input", "a=b"}, exitUsage, "hookflow dispatch: name the WORKFLOW"},
		{"dispatch bad input", []string{"dispatch", "deploy", "--input", "nokey"}, exitUsage, `hookflow dispatch: invalid value "nokey" for flag -input`},
		{"runs list with an argument", []string{"runs", "list", "deploy"}, exitUsage, `hookflow runs list: unexpected argument "deploy"`},
		{"negative limit", []string{"events", "list", "--limit", "-1"}, exitUsage, "hookflow events list: --limit -1: use a positive number"},
		{"bad output", []string{"runs", "show", "x", "-o", "yaml"}, exitUsage, `hookflow runs show: -o "yaml": use text or json`},
		{"logs has no -o", []string{"runs", "logs", "x", "-o", "json"}, exitUsage, "hookflow runs logs: runs logs takes no flag -o\n"},
		{"bad server", []string{"runs", "list", "--server", "127.0.0.1:8080"}, exitUsage, `hookflow runs list: --server "127.0.0.1:8080": write a URL such as http://127.0.0.1:8080`},
		{"no subcommand", []string{"runs"}, exitUsage, "hookflow runs: name a subcommand: hookflow runs list|show|logs|watch|cancel|rerun"},
		{"unknown subcommand", []string{"events", "delete", "x"}, exitUsage, `hookflow events: unknown subcommand "delete": use list|show|replay`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(api.Requests())
			code, out, errOut := clientMain(t, context.Background(), tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstderr: %s", code, tt.code, errOut)
			}
			if out != "" {
				t.Errorf("stdout %q, want none", out)
			}
			if !strings.HasPrefix(errOut, tt.err) {
				t.Errorf("stderr %q, want it to start with %q", errOut, tt.err)
			}
			if code == exitFail && strings.Count(errOut, "\n") != 1 {
				t.Errorf("want one line, got:\n%s", errOut)
			}
			if n := len(api.Requests()) - before; code == exitUsage && n != 0 {
				t.Errorf("a usage error sent %d request(s)", n)
			}
		})
	}
}

// clientLocal is a time as the clients show it.
func clientLocal(ts time.Time) string { return ts.Local().Format("2006-01-02 15:04:05") }

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

// TestClientAgainstServer runs the server clients against a real server, to
// prove that they read what it answers.
func TestClientAgainstServer(t *testing.T) {
	const token = "cli-token-0123456789"
	a := startApp(t, map[string]string{"greet.yaml": dispatchWorkflow}, func(c *config.Config) { c.API.Tokens = []string{token} })
	hookflow := func(t *testing.T, wantCode int, args ...string) string {
		t.Helper()
		code, out, errOut := clientMain(t, context.Background(), append(args, "--server", a.url, "--token", token)...)
		if code != wantCode {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, wantCode, out, errOut)
		}
		return out + errOut
	}

	var run struct {
		ID      string `json:"id"`
		EventID string `json:"event_id"`
		Status  string `json:"status"`
	}
	if err := json.Unmarshal([]byte(hookflow(t, exitOK, "dispatch", "greet", "--input", "who=ada", "-o", "json")), &run); err != nil || run.Status != workflows.StatusQueued {
		t.Fatalf("dispatch: %+v, %v", run, err)
	}
	if out := hookflow(t, exitOK, "runs", "logs", run.ID, "-f"); !strings.Contains(out, "\nhello ada\n") ||
		!regexp.MustCompile(`==> run `+run.ID+` of greet: succeeded in \S+\n$`).MatchString(out) {
		t.Errorf("runs logs -f:\n%s", out)
	}
	if out := hookflow(t, exitOK, "runs", "logs", run.ID); !regexp.MustCompile(`(?m)^\S+ greet stdout \| hello ada$`).MatchString(out) {
		t.Errorf("runs logs:\n%s", out)
	}
	if out := hookflow(t, exitOK, "runs", "show", run.ID); !regexp.MustCompile(`(?m)^status:\s+succeeded$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^  greet\s.*\ssuccess\s+0\s`).MatchString(out) || !strings.Contains(out, "\n  greeting = hello ada\n") ||
		!regexp.MustCompile(`(?m)^trigger:\s+dispatch$`).MatchString(out) || !regexp.MustCompile(`(?m)^inputs:\s+who=ada$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^started by:\s+api token 1 from 127\.0\.0\.1$`).MatchString(out) {
		t.Errorf("runs show:\n%s", out)
	}
	if out := hookflow(t, exitOK, "runs", "list", "--workflow", "greet"); !regexp.MustCompile(`(?m)^` + run.ID + `\s+greet\s+succeeded\s+dispatch\s`).MatchString(out) {
		t.Errorf("runs list:\n%s", out)
	}
	if out := hookflow(t, exitOK, "events", "list"); !regexp.MustCompile(`(?m)^` + run.EventID + `\s.*\sdispatch\s+-\s+dispatch\s+1\s+0$`).MatchString(out) {
		t.Errorf("events list:\n%s", out)
	}
	if out := hookflow(t, exitOK, "events", "show", run.EventID); !regexp.MustCompile(`(?m)^  run\s+greet\s+` + run.ID + `$`).MatchString(out) {
		t.Errorf("events show:\n%s", out)
	}
	if out := hookflow(t, exitOK, "runs", "rerun", run.ID); !regexp.MustCompile(`^started run (\S+) of greet \(attempt 2\)\n  follow: hookflow runs watch \S+\n$`).MatchString(out) {
		t.Errorf("runs rerun:\n%s", out)
	}
	if out := hookflow(t, exitFail, "runs", "cancel", run.ID); out != "hookflow runs cancel: run "+run.ID+" has already finished (HTTP 409)\n" {
		t.Errorf("runs cancel of a finished run:\n%s", out)
	}
}

// TestClientShowsJobs runs a `jobs:` workflow on a real server and reads it
// with the clients: `runs show` prints the jobs as a tree, `runs logs`
// prefixes each line with its job, `--job` keeps one job's lines.
func TestClientShowsJobs(t *testing.T) {
	a := startApp(t, map[string]string{"ship.yaml": `
on: {dispatch: {}}
jobs:
  build:
    steps:
      - id: b
        run: |
          echo built
          echo "image=web:1" >> "$HOOKFLOW_OUTPUT"
    outputs: {image: "${{ steps.b.outputs.image }}"}
  deploy:
    needs: build
    strategy: {matrix: {host: [a, b]}}
    env: {HOST: "${{ matrix.host }}"}
    steps:
      - id: d
        run: echo "deployed to $HOST"
`})
	hookflow := func(t *testing.T, args ...string) string {
		t.Helper()
		code, out, errOut := clientMain(t, context.Background(), append(args, "--server", a.url)...)
		if code != exitOK {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	var run struct{ ID string }
	if err := json.Unmarshal([]byte(hookflow(t, "dispatch", "ship", "-o", "json")), &run); err != nil {
		t.Fatal(err)
	}
	if out := hookflow(t, "runs", "logs", run.ID, "-f"); !strings.Contains(out, "[deploy (b)] deployed to b\n") ||
		!strings.Contains(out, "[build] built\n") {
		t.Errorf("runs logs -f:\n%s", out)
	}
	out := hookflow(t, "runs", "show", run.ID)
	for _, want := range []string{
		`(?m)^jobs:$`,
		`(?m)^  build  succeeded  \S+  on \S+$`,
		`(?m)^    b\s+.*\ssuccess\s+0\s`,
		`(?m)^    outputs:\n      image = web:1$`,
		`(?m)^  deploy ← build$`,
		`(?m)^    \(a\)  succeeded  \S+  on \S+\n      ID\s+NAME\s+OUTCOME\s+EXIT\s+DURATION\n      d\s`,
		`(?m)^    \(b\)  succeeded `,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("runs show lacks %s:\n%s", want, out)
		}
	}
	if out := hookflow(t, "runs", "logs", run.ID, "--job", "deploy (a)"); !strings.Contains(out, "| deployed to a\n") ||
		strings.Contains(out, "deployed to b") || strings.Contains(out, "built") {
		t.Errorf("runs logs --job:\n%s", out)
	}
}
