package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/store"
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

// clientSend writes server-sent event text and flushes it to the client.
func clientSend(w http.ResponseWriter, text string) {
	io.WriteString(w, text)
	w.(http.Flusher).Flush()
}

// clientLogEvent is a log line as the API streams it.
func clientLogEvent(t *testing.T, seq int64, stream, text string) string {
	t.Helper()
	b, err := json.Marshal(store.LogLine{Seq: seq, Step: 0, Stream: stream, Time: clientT0().Add(time.Duration(seq) * time.Second), Text: text})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("id: %d\nevent: log\ndata: %s\n\n", seq, b)
}

// clientEndEvent is the `end` event with run, its JSON spread over several
// data lines, as the standard allows.
func clientEndEvent(t *testing.T, run *store.Run) string {
	t.Helper()
	b, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return "event: end\ndata: " + strings.ReplaceAll(string(b), "\n", "\ndata: ") + "\n\n"
}

func TestClientFollowLogs(t *testing.T) {
	t.Setenv("HOOKFLOW_SERVER", "")
	t.Setenv("HOOKFLOW_TOKEN", "")

	tests := []struct {
		name string
		id   string
		// stream answers the conn-th connection; cancel ends the command's
		// context.
		stream func(t *testing.T, api *clientAPI, w http.ResponseWriter, r *http.Request, conn int, out *clientStdout, cancel func())
		code   int
		out    string
		err    string
		conns  int
	}{
		{
			name: "lines in order as they arrive, failed run",
			id:   clientRunFailed,
			stream: func(t *testing.T, api *clientAPI, w http.ResponseWriter, r *http.Request, _ int, out *clientStdout, _ func()) {
				clientSend(w, ": keep-alive\n\n"+clientLogEvent(t, 1, runner.System, `step "build"`))
				if !out.waitFor(`==> step "build"`) {
					t.Error("the first line was not printed before the next was sent")
					return
				}
				clientSend(w, clientLogEvent(t, 2, runner.Stdout, "compiling")+clientLogEvent(t, 3, runner.Stderr, "error: boom"))
				clientSend(w, clientEndEvent(t, api.runs[clientRunFailed]))
			},
			code:  exitFail,
			out:   "==> step \"build\"\ncompiling\n! error: boom\n==> run " + clientRunFailed + " of deploy: failed in 7.2s (step \"build\" failed: exit status 2)\n",
			conns: 1,
		},
		{
			name: "succeeded run",
			id:   clientRunSucceeded,
			stream: func(t *testing.T, api *clientAPI, w http.ResponseWriter, r *http.Request, _ int, _ *clientStdout, _ func()) {
				clientSend(w, clientLogEvent(t, 1, runner.Stdout, "ok")+"event: heartbeat\ndata: {}\n\n"+clientEndEvent(t, api.runs[clientRunSucceeded]))
			},
			out:   "ok\n==> run " + clientRunSucceeded + " of lint: succeeded in 450ms\n",
			conns: 1,
		},
		{
			name: "reconnects after the last line",
			id:   clientRunSucceeded,
			stream: func(t *testing.T, api *clientAPI, w http.ResponseWriter, r *http.Request, conn int, _ *clientStdout, _ func()) {
				if conn == 1 {
					clientSend(w, clientLogEvent(t, 1, runner.Stdout, "one")+clientLogEvent(t, 2, runner.Stdout, "two"))
					return
				}
				// A server that starts over must not make lines print twice;
				// and CRLF ends lines as well as LF.
				all := clientLogEvent(t, 1, runner.Stdout, "one") + clientLogEvent(t, 2, runner.Stdout, "two") +
					clientLogEvent(t, 3, runner.Stdout, "three") + clientEndEvent(t, api.runs[clientRunSucceeded])
				clientSend(w, strings.ReplaceAll(all, "\n", "\r\n"))
			},
			out:   "one\ntwo\nthree\n==> run " + clientRunSucceeded + " of lint: succeeded in 450ms\n",
			conns: 2,
		},
		{
			name: "gives up when the stream keeps ending",
			id:   "silent",
			stream: func(t *testing.T, api *clientAPI, w http.ResponseWriter, r *http.Request, _ int, _ *clientStdout, _ func()) {
				clientSend(w, ": keep-alive\n\n")
			},
			code:  exitFail,
			err:   "hookflow runs logs: the server closed the log stream of run silent before the run ended\n",
			conns: 2,
		},
		{
			name: "unknown run",
			id:   "nope",
			stream: func(t *testing.T, api *clientAPI, w http.ResponseWriter, r *http.Request, _ int, _ *clientStdout, _ func()) {
				clientJSON(w, http.StatusNotFound, map[string]string{"error": "run nope: not found"})
			},
			code:  exitFail,
			err:   "hookflow runs logs: run nope: not found (HTTP 404)\n",
			conns: 1,
		},
		{
			name: "interrupted",
			id:   clientRunFailed,
			stream: func(t *testing.T, api *clientAPI, w http.ResponseWriter, r *http.Request, _ int, out *clientStdout, cancel func()) {
				clientSend(w, clientLogEvent(t, 1, runner.Stdout, "working"))
				if out.waitFor("working") {
					cancel()
				}
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
					t.Error("the client did not hang up when interrupted")
				}
			},
			code:  exitFail,
			out:   "working\n",
			err:   "hookflow runs logs: interrupted\n",
			conns: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newClientAPI(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := &clientStdout{}
			api.follow = func(w http.ResponseWriter, r *http.Request, id string, conn int) {
				if id != tt.id {
					t.Errorf("followed run %s, want %s", id, tt.id)
				}
				w.Header().Set("Content-Type", "text/event-stream")
				tt.stream(t, api, w, r, conn, out, cancel)
			}
			var errOut bytes.Buffer
			code := Main(ctx, []string{"runs", "logs", tt.id, "-f", "--server", api.URL, "--token", clientToken}, out, &errOut)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstderr: %s", code, tt.code, errOut.String())
			}
			if got := out.String(); got != tt.out {
				t.Errorf("stdout:\n%s\nwant:\n%s", got, tt.out)
			}
			if got := errOut.String(); got != tt.err {
				t.Errorf("stderr %q, want %q", got, tt.err)
			}
			reqs := api.requests()
			if len(reqs) != tt.conns {
				t.Fatalf("%d requests, want %d: %+v", len(reqs), tt.conns, reqs)
			}
			for i, r := range reqs {
				want := clientRequest{Method: "GET", Path: "/api/v1/runs/" + tt.id + "/logs", Query: "follow=1",
					Auth: "Bearer " + clientToken, Accept: "text/event-stream"}
				if i > 0 && tt.name == "reconnects after the last line" {
					want.LastEventID = "2"
				}
				if r != want {
					t.Errorf("request %d\n%+v\nwant\n%+v", i+1, r, want)
				}
			}
		})
	}
}

func TestClientEventReader(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		want   []sseEvent
	}{
		{"comments only", ": keep-alive\n\n: again\n\n", nil},
		{"unnamed event", "data: x\n\n", []sseEvent{{name: "message", data: "x"}}},
		{"no space after the colon", "event:log\ndata:{}\nid:4\n\n", []sseEvent{{name: "log", data: "{}", id: "4"}}},
		{"only one space is dropped", "data:  two\n\n", []sseEvent{{name: "message", data: " two"}}},
		{"data lines join", "event: end\ndata: {\ndata: }\n\n", []sseEvent{{name: "end", data: "{\n}"}}},
		{"the id persists", "id: 7\ndata: a\n\ndata: b\n\n", []sseEvent{{name: "message", data: "a", id: "7"}, {name: "message", data: "b", id: "7"}}},
		{"a name without data is dropped", "event: log\n\ndata: b\n\n", []sseEvent{{name: "message", data: "b"}}},
		{"a field without a colon", "data\n\n", []sseEvent{{name: "message", data: ""}}},
		{"unknown fields", "retry: 10\nfoo: bar\ndata: x\n\n", []sseEvent{{name: "message", data: "x"}}},
		{"CRLF", "event: log\r\ndata: x\r\n\r\n", []sseEvent{{name: "log", data: "x"}}},
		{"an event cut off is dropped", "data: a\n\ndata: b", []sseEvent{{name: "message", data: "a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newEventReader(strings.NewReader(tt.stream))
			var got []sseEvent
			for {
				ev, err := r.next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ev)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("events %+v, want %+v", got, tt.want)
			}
		})
	}
}
