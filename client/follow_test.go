package client_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/client"
	"github.com/hookflow/hookflow/client/clienttest"
	"github.com/hookflow/hookflow/runner"
)

// followed are the log lines Follow passed on, which a fake server can
// watch, to check that a line is passed on before the next one is sent.
type followed struct {
	mu    sync.Mutex
	lines []string // stream: text
}

func (f *followed) add(l client.LogLine) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lines = append(f.lines, l.Stream+": "+l.Text)
}

func (f *followed) get() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.lines...)
}

// waitFor reports whether n lines were passed on within five seconds.
func (f *followed) waitFor(n int) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if len(f.get()) >= n {
			return true
		}
	}
	return false
}

func TestFollow(t *testing.T) {
	tests := []struct {
		name string
		id   string
		// stream answers the conn-th connection; cancel ends Follow's context.
		stream func(t *testing.T, api *clienttest.API, w http.ResponseWriter, r *http.Request, conn int, got *followed, cancel func())
		lines  []string
		end    string // the id of the run Follow returns
		err    string // Follow's error, when it returns one
		status int    // of a *client.Error
		// lastEventIDs are the Last-Event-ID of each connection.
		lastEventIDs []string
	}{
		{
			name: "lines in order as they arrive",
			id:   clienttest.RunFailed,
			stream: func(t *testing.T, api *clienttest.API, w http.ResponseWriter, r *http.Request, _ int, got *followed, _ func()) {
				clienttest.Send(w, ": keep-alive\n\n"+clienttest.LogEvent(t, 1, runner.System, `step "build"`))
				if !got.waitFor(1) {
					t.Error("the first line was not passed on before the next was sent")
					return
				}
				clienttest.Send(w, clienttest.LogEvent(t, 2, runner.Stdout, "compiling")+clienttest.LogEvent(t, 3, runner.Stderr, "error: boom"))
				clienttest.Send(w, "event: heartbeat\ndata: {}\n\n"+clienttest.EndEvent(t, api.Runs[clienttest.RunFailed]))
			},
			lines:        []string{`system: step "build"`, "stdout: compiling", "stderr: error: boom"},
			end:          clienttest.RunFailed,
			lastEventIDs: []string{""},
		},
		{
			name: "reconnects after the last line",
			id:   clienttest.RunSucceeded,
			stream: func(t *testing.T, api *clienttest.API, w http.ResponseWriter, r *http.Request, conn int, _ *followed, _ func()) {
				if conn == 1 {
					clienttest.Send(w, clienttest.LogEvent(t, 1, runner.Stdout, "one")+clienttest.LogEvent(t, 2, runner.Stdout, "two"))
					return
				}
				// A server that starts over must not make lines pass twice;
				// and CRLF ends lines as well as LF.
				all := clienttest.LogEvent(t, 1, runner.Stdout, "one") + clienttest.LogEvent(t, 2, runner.Stdout, "two") +
					clienttest.LogEvent(t, 3, runner.Stdout, "three") + clienttest.EndEvent(t, api.Runs[clienttest.RunSucceeded])
				clienttest.Send(w, strings.ReplaceAll(all, "\n", "\r\n"))
			},
			lines:        []string{"stdout: one", "stdout: two", "stdout: three"},
			end:          clienttest.RunSucceeded,
			lastEventIDs: []string{"", "2"},
		},
		{
			name: "gives up when the stream keeps ending",
			id:   "silent",
			stream: func(t *testing.T, api *clienttest.API, w http.ResponseWriter, r *http.Request, _ int, _ *followed, _ func()) {
				clienttest.Send(w, ": keep-alive\n\n")
			},
			err:          "the server closed the log stream of run silent before the run ended",
			lastEventIDs: []string{"", ""},
		},
		{
			name: "gives up when the stream keeps breaking",
			id:   "broken",
			stream: func(t *testing.T, api *clienttest.API, w http.ResponseWriter, r *http.Request, _ int, _ *followed, _ func()) {
				clienttest.Send(w, "data: "+strings.Repeat("x", 5<<20)+"\n\n")
			},
			err:          "the log stream of run broken broke before the run ended: bufio.Scanner: token too long",
			lastEventIDs: []string{"", ""},
		},
		{
			name: "unknown run",
			id:   "nope",
			stream: func(t *testing.T, api *clienttest.API, w http.ResponseWriter, r *http.Request, _ int, _ *followed, _ func()) {
				clienttest.JSON(w, http.StatusNotFound, map[string]string{"error": "run nope: not found"})
			},
			err:          "run nope: not found (HTTP 404)",
			status:       http.StatusNotFound,
			lastEventIDs: []string{""},
		},
		{
			name: "interrupted",
			id:   clienttest.RunFailed,
			stream: func(t *testing.T, api *clienttest.API, w http.ResponseWriter, r *http.Request, _ int, got *followed, cancel func()) {
				clienttest.Send(w, clienttest.LogEvent(t, 1, runner.Stdout, "working"))
				if got.waitFor(1) {
					cancel()
				}
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
					t.Error("the client did not hang up when interrupted")
				}
			},
			lines:        []string{"stdout: working"},
			err:          context.Canceled.Error(),
			lastEventIDs: []string{""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := clienttest.NewAPI(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			got := &followed{}
			api.Follow = func(w http.ResponseWriter, r *http.Request, id string, conn int) {
				if id != tt.id {
					t.Errorf("followed run %s, want %s", id, tt.id)
				}
				tt.stream(t, api, w, r, conn, got, cancel)
			}
			// The client's timeout must not cut a followed log.
			c, err := client.New(api.URL, clienttest.Token, &http.Client{Timeout: time.Nanosecond})
			if err != nil {
				t.Fatal(err)
			}
			end, err := c.Follow(ctx, tt.id, "", got.add)
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.err != "" && (err == nil || err.Error() != tt.err):
				t.Errorf("error %v, want %q", err, tt.err)
			}
			var ae *client.Error
			if errors.As(err, &ae) != (tt.status != 0) || (tt.status != 0 && ae.Status != tt.status) {
				t.Errorf("%#v, want a *client.Error with status %d", err, tt.status)
			}
			if tt.end != "" && (end == nil || end.ID != tt.end || end.Status != api.Runs[tt.end].Status || string(end.JSON()) == "") {
				t.Errorf("ended with %+v, want run %s as the server sent it", end, tt.end)
			}
			if lines := got.get(); !reflect.DeepEqual(lines, tt.lines) {
				t.Errorf("lines %q, want %q", lines, tt.lines)
			}
			var ids []string
			for _, r := range api.Requests() {
				want := clienttest.Request{Method: "GET", Path: "/api/v1/runs/" + tt.id + "/logs", Query: "follow=1",
					Auth: "Bearer " + clienttest.Token, Accept: "text/event-stream", LastEventID: r.LastEventID}
				if r != want {
					t.Errorf("request\n%+v\nwant\n%+v", r, want)
				}
				ids = append(ids, r.LastEventID)
			}
			if !reflect.DeepEqual(ids, tt.lastEventIDs) {
				t.Errorf("Last-Event-IDs %q, want %q", ids, tt.lastEventIDs)
			}
		})
	}
}
