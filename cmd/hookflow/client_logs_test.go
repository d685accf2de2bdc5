package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/client/clienttest"
	"github.com/hookflow/hookflow/runner"
)

// clientStdout is a stdout that a fake server can watch, to check that a line
// is printed before the next one is sent.
type clientStdout struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *clientStdout) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *clientStdout) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor reports whether s was printed within five seconds.
func (o *clientStdout) waitFor(s string) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if strings.Contains(o.String(), s) {
			return true
		}
	}
	return false
}

func TestClientFollowLogs(t *testing.T) {
	t.Setenv("HOOKFLOW_SERVER", "")
	t.Setenv("HOOKFLOW_TOKEN", "")

	tests := []struct {
		name string
		id   string
		// stream answers the conn-th connection; cancel ends the command's
		// context.
		stream func(t *testing.T, api *clienttest.API, w http.ResponseWriter, r *http.Request, conn int, out *clientStdout, cancel func())
		code   int
		out    string
		err    string
	}{
		{
			name: "lines in order as they arrive, failed run",
			id:   clienttest.RunFailed,
			stream: func(t *testing.T, api *clienttest.API, w http.ResponseWriter, r *http.Request, _ int, out *clientStdout, _ func()) {
				clienttest.Send(w, ": keep-alive\n\n"+clienttest.LogEvent(t, 1, runner.System, `step "build"`))
				if !out.waitFor(`==> step "build"`) {
					t.Error("the first line was not printed before the next was sent")
					return
				}
				clienttest.Send(w, clienttest.LogEvent(t, 2, runner.Stdout, "compiling")+clienttest.LogEvent(t, 3, runner.Stderr, "error: boom"))
				clienttest.Send(w, clienttest.EndEvent(t, api.Runs[clienttest.RunFailed]))
			},
			code: exitFail,
			out:  "==> step \"build\"\ncompiling\n! error: boom\n==> run " + clienttest.RunFailed + " of deploy: failed in 7.2s (step \"build\" failed: exit status 2)\n",
		},
		{
			name: "succeeded run",
			id:   clienttest.RunSucceeded,
			stream: func(t *testing.T, api *clienttest.API, w http.ResponseWriter, r *http.Request, _ int, _ *clientStdout, _ func()) {
				clienttest.Send(w, clienttest.LogEvent(t, 1, runner.Stdout, "ok")+"event: heartbeat\ndata: {}\n\n"+clienttest.EndEvent(t, api.Runs[clienttest.RunSucceeded]))
			},
			out: "ok\n==> run " + clienttest.RunSucceeded + " of lint: succeeded in 450ms\n",
		},
		{
			name: "interrupted",
			id:   clienttest.RunFailed,
			stream: func(t *testing.T, api *clienttest.API, w http.ResponseWriter, r *http.Request, _ int, out *clientStdout, cancel func()) {
				clienttest.Send(w, clienttest.LogEvent(t, 1, runner.Stdout, "working"))
				if out.waitFor("working") {
					cancel()
				}
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
					t.Error("the client did not hang up when interrupted")
				}
			},
			code: exitFail,
			out:  "working\n",
			err:  "hookflow runs logs: interrupted\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := clienttest.NewAPI(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := &clientStdout{}
			api.Follow = func(w http.ResponseWriter, r *http.Request, id string, conn int) {
				if id != tt.id {
					t.Errorf("followed run %s, want %s", id, tt.id)
				}
				tt.stream(t, api, w, r, conn, out, cancel)
			}
			var errOut bytes.Buffer
			code := Main(ctx, []string{"runs", "logs", tt.id, "-f", "--server", api.URL, "--token", clienttest.Token}, out, &errOut)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstderr: %s", code, tt.code, errOut.String())
			}
			if got := out.String(); got != tt.out {
				t.Errorf("stdout:\n%s\nwant:\n%s", got, tt.out)
			}
			if got := errOut.String(); got != tt.err {
				t.Errorf("stderr %q, want %q", got, tt.err)
			}
			want := clienttest.Request{Method: "GET", Path: "/api/v1/runs/" + tt.id + "/logs", Query: "follow=1",
				Auth: "Bearer " + clienttest.Token, Accept: "text/event-stream"}
			if reqs := api.Requests(); len(reqs) != 1 || reqs[0] != want {
				t.Errorf("requests %+v, want one: %+v", reqs, want)
			}
		})
	}
}
