package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// sse is one server-sent event.
type sse struct {
	id, event, data string
}

// readSSE reads the next event of a stream.
func readSSE(t *testing.T, r *bufio.Reader) sse {
	t.Helper()
	var e sse
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended inside an event: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && e.event != "":
			return e
		case strings.HasPrefix(line, "id: "):
			e.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			e.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			e.data = line[6:]
		}
	}
}

// logLine is line seq of the follow tests.
func logLine(seq int) store.LogLine {
	return store.LogLine{Step: 0, Stream: "stdout", Time: time.Now().UTC(), Text: "line " + strconv.Itoa(seq)}
}

// appendLines stores lines from..to of run id, and publishes them as the
// runner does, one batch each.
func (f *fixture) appendLines(t *testing.T, id string, from, to int) {
	t.Helper()
	for seq := from; seq <= to; seq++ {
		lines := []store.LogLine{logLine(seq)}
		if err := f.store.AppendLogs(context.Background(), id, lines); err != nil {
			t.Fatal(err)
		}
		stored, err := f.store.Logs(context.Background(), id, int64(seq-1), 1)
		if err != nil || len(stored) != 1 || stored[0].Seq != int64(seq) {
			t.Fatalf("line %d stored as %+v (%v)", seq, stored, err)
		}
		f.feed.Publish(id, stored)
	}
}

// TestFollowFinished checks ?follow=1 on a finished run: its stored lines
// from the resume point on, then an `end` event with the run.
func TestFollowFinished(t *testing.T) {
	f := newFixture(t, map[string]string{"manual.yaml": manualYAML}, nil)
	id := f.finishedRun(t, 3, workflows.StatusFailed)
	cases := []struct {
		name   string
		query  string
		header map[string]string
		ids    string
	}{
		{"from the start", "", nil, "1,2,3"},
		{"after Last-Event-ID", "", map[string]string{"Last-Event-ID": "2"}, "3"},
		{"after ?after=", "&after=1", map[string]string{"Last-Event-ID": "2"}, "2,3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			header := map[string]string{"Accept": "text/event-stream"}
			for k, v := range tc.header {
				header[k] = v
			}
			a := f.do(t, "GET", "/api/v1/runs/"+id+"/logs?follow=1"+tc.query, "", header)
			if a.code != http.StatusOK || a.header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("%d %s", a.code, a.header.Get("Content-Type"))
			}
			r := bufio.NewReader(strings.NewReader(a.body))
			var ids []string
			for {
				e := readSSE(t, r)
				if e.event == "end" {
					var run RunView
					if err := json.Unmarshal([]byte(e.data), &run); err != nil || run.ID != id || run.Status != workflows.StatusFailed {
						t.Errorf("end %s (%v)", e.data, err)
					}
					break
				}
				var l store.LogLine
				if err := json.Unmarshal([]byte(e.data), &l); err != nil || e.event != "log" || e.id != strconv.FormatInt(l.Seq, 10) ||
					l.Text != "line "+e.id {
					t.Fatalf("event %+v (%v)", e, err)
				}
				ids = append(ids, e.id)
			}
			if strings.Join(ids, ",") != tc.ids {
				t.Errorf("lines %v, want %s", ids, tc.ids)
			}
			if rest, _ := io.ReadAll(r); len(rest) != 0 {
				t.Errorf("after the end: %q", rest)
			}
		})
	}
	t.Run("without the Accept header", func(t *testing.T) {
		a := f.do(t, "GET", "/api/v1/runs/"+id+"/logs?follow=1", "", nil)
		if a.code != http.StatusOK || !strings.HasPrefix(a.header.Get("Content-Type"), "text/plain") || strings.Count(a.body, "\n") != 3 {
			t.Errorf("%d %s: %q", a.code, a.header.Get("Content-Type"), a.body)
		}
	})
}

// TestFollowLive checks ?follow=1 on a running run: stored lines, then live
// ones as they are published, then the end when the run ends.
func TestFollowLive(t *testing.T) {
	f := newFixture(t, map[string]string{"manual.yaml": manualYAML}, nil)
	id := f.dispatchRun(t, "manual").ID
	r := f.claim(t)
	f.appendLines(t, id, 1, 1)
	req, err := http.NewRequest("GET", f.url+"/api/v1/runs/"+id+"/logs?follow=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	stream := bufio.NewReader(resp.Body)
	if e := readSSE(t, stream); e.id != "1" {
		t.Fatalf("first event %+v", e)
	}
	f.appendLines(t, id, 2, 3)
	for _, want := range []string{"2", "3"} {
		if e := readSSE(t, stream); e.event != "log" || e.id != want {
			t.Fatalf("event %+v, want line %s", e, want)
		}
	}
	f.finish(t, r, workflows.StatusSucceeded)
	f.feed.End(id)
	if e := readSSE(t, stream); e.event != "end" || !strings.Contains(e.data, `"status":"succeeded"`) {
		t.Fatalf("event %+v, want the end", e)
	}
}

// gatedWriter is a response writer whose writes wait while it is closed, as
// a follower's connection does when the follower reads too slowly.
type gatedWriter struct {
	header http.Header
	mu     sync.Mutex
	cond   *sync.Cond
	open   bool
	body   strings.Builder
	// blocked counts writes waiting at the closed gate.
	blocked int
}

func newGatedWriter() *gatedWriter {
	w := &gatedWriter{header: http.Header{}, open: true}
	w.cond = sync.NewCond(&w.mu)
	return w
}

func (w *gatedWriter) Header() http.Header { return w.header }
func (w *gatedWriter) WriteHeader(int)     {}
func (w *gatedWriter) Flush()              {}

func (w *gatedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for !w.open {
		w.blocked++
		w.cond.Broadcast()
		w.cond.Wait()
		w.blocked--
	}
	w.body.Write(p)
	w.cond.Broadcast()
	return len(p), nil
}

// setOpen opens or closes the gate.
func (w *gatedWriter) setOpen(open bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.open = open
	w.cond.Broadcast()
}

// await waits until cond holds of the body written so far and the number of
// writes waiting.
func (w *gatedWriter) await(t *testing.T, what string, cond func(body string, blocked int) bool) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		for !cond(w.body.String(), w.blocked) {
			w.cond.Wait()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("no %s in a minute; written so far:\n%s", what, w.String())
	}
}

func (w *gatedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.body.String()
}

// TestFollowLagging checks that a follower too slow for its live feed, which
// then drops batches, still gets every line: what was dropped is in the
// store, and the follower must read it there.
func TestFollowLagging(t *testing.T) {
	f := newFixture(t, map[string]string{"manual.yaml": manualYAML}, nil)
	id := f.dispatchRun(t, "manual").ID
	r := f.claim(t)
	f.appendLines(t, id, 1, 1)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", "/api/v1/runs/"+id+"/logs?follow=1", nil)
	req.RemoteAddr, req.Host = "127.0.0.1:40000", "127.0.0.1:8080"
	req.Header.Set("Accept", "text/event-stream")
	w := newGatedWriter()
	served := make(chan struct{})
	go func() {
		defer close(served)
		f.echo.ServeHTTP(w, req)
	}()
	w.await(t, "line 1", func(body string, _ int) bool { return strings.Contains(body, "id: 1\n") })

	// The follower stops reading while it holds line 2; the runner goes on
	// and the feed overflows at line N.
	w.setOpen(false)
	f.appendLines(t, id, 2, 2)
	w.await(t, "blocked write", func(_ string, blocked int) bool { return blocked > 0 })
	const buffered = 256 // runner's followerBuffer
	overflow := 3 + buffered
	f.appendLines(t, id, 3, overflow)
	w.setOpen(true)
	w.await(t, "buffered lines", func(body string, _ int) bool {
		return strings.Contains(body, fmt.Sprintf("id: %d\n", overflow-1))
	})
	// The next line reaches the follower live again.
	f.appendLines(t, id, overflow+1, overflow+1)
	w.await(t, "the line after the overflow", func(body string, _ int) bool {
		return strings.Contains(body, fmt.Sprintf("id: %d\n", overflow+1))
	})
	f.finish(t, r, workflows.StatusSucceeded)
	f.feed.End(id)
	<-served

	stream := bufio.NewReader(strings.NewReader(w.String()))
	for seq := 1; seq <= overflow+1; seq++ {
		if e := readSSE(t, stream); e.event != "log" || e.id != strconv.Itoa(seq) {
			t.Fatalf("event %+v, want line %d", e, seq)
		}
	}
	if e := readSSE(t, stream); e.event != "end" {
		t.Fatalf("event %+v, want the end", e)
	}
}
