package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

const (
	// maxFollowFailures is how many reconnects in a row that bring no event
	// end `runs logs -f`.
	maxFollowFailures = 2
	// maxEventBytes bounds one line of the event stream: a log line is capped
	// at 64 KiB by the runner, and JSON escaping may grow it.
	maxEventBytes = 4 << 20
)

func runsLogs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newClientCall("runs logs", "ID [-f]", false, stdout, stderr)
	follow := c.fs.Bool("f", false, "follow the log until the run ends; exit 0 when it succeeded, 1 otherwise")
	pos, code, ok := c.parse(args, "ID")
	if !ok {
		return code
	}
	if *follow {
		f := &logFollower{c: c, id: pos[0], stream: &http.Client{}}
		return f.follow(ctx)
	}
	resp, err := c.api.send(ctx, c.api.http, http.MethodGet, clientPath("runs", pos[0], "logs"), nil, http.Header{"Accept": {"text/plain"}})
	if err != nil {
		return c.fail(err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(stdout, resp.Body); err != nil {
		return c.fail(fmt.Errorf("read the log: %w", err))
	}
	return exitOK
}

// logFollower prints a run's log as the server streams it, reconnecting where
// it left off when the stream breaks before the run ends.
type logFollower struct {
	c  *clientCall
	id string
	// stream has no timeout: a run may take hours. ctx ends it.
	stream *http.Client
	// lastID is the id of the last event, sent back as Last-Event-ID.
	lastID string
	// lastSeq is the Seq of the last line printed, so that a server that
	// repeats lines after a reconnect does not make them print twice.
	lastSeq int64
}

// follow streams the log until the `end` event and returns the exit code for
// the run's status.
func (f *logFollower) follow(ctx context.Context) int {
	path := clientPath("runs", f.id, "logs") + "?follow=1"
	failures, connected := 0, false
	var broke error
	for {
		header := http.Header{"Accept": {"text/event-stream"}}
		if f.lastID != "" {
			header.Set("Last-Event-ID", f.lastID)
		}
		resp, err := f.c.api.send(ctx, f.stream, http.MethodGet, path, nil, header)
		var ae *apiError
		switch {
		case err != nil && (!connected || ctx.Err() != nil || errors.As(err, &ae)):
			return f.c.fail(err)
		case err != nil:
			failures, broke = failures+1, err
		default:
			connected = true
			end, progressed, err := f.read(resp.Body)
			resp.Body.Close()
			if end != nil {
				return f.finish(end)
			}
			if ctx.Err() != nil {
				return f.c.fail(ctx.Err())
			}
			if progressed {
				failures = 0
			} else {
				failures++
			}
			broke = err
		}
		if failures >= maxFollowFailures {
			if broke == nil {
				return f.c.fail(fmt.Errorf("the server closed the log stream of run %s before the run ended", f.id))
			}
			return f.c.fail(fmt.Errorf("the log stream of run %s broke before the run ended: %w", f.id, broke))
		}
		select {
		case <-ctx.Done():
			return f.c.fail(ctx.Err())
		case <-time.After(time.Duration(failures) * time.Second):
		}
	}
}

// read prints the log events of one connection until the `end` event, whose
// run it returns, or until the stream ends (err nil) or breaks. progressed
// reports whether any event arrived.
func (f *logFollower) read(body io.Reader) (end *store.Run, progressed bool, err error) {
	events := newEventReader(body)
	for {
		ev, err := events.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return nil, progressed, err
		}
		progressed = true
		if ev.id != "" {
			f.lastID = ev.id
		}
		switch ev.name {
		case "end":
			var run store.Run
			if err := json.Unmarshal([]byte(ev.data), &run); err != nil {
				return nil, progressed, fmt.Errorf("the end event is not a run: %w", err)
			}
			return &run, progressed, nil
		case "log", "message":
			var line store.LogLine
			if err := json.Unmarshal([]byte(ev.data), &line); err != nil {
				return nil, progressed, fmt.Errorf("a log event is not a log line: %w", err)
			}
			f.print(line)
		}
	}
}

func (f *logFollower) print(l store.LogLine) {
	if l.Seq > 0 {
		if l.Seq <= f.lastSeq {
			return
		}
		f.lastSeq = l.Seq
	}
	switch l.Stream {
	case runner.Stderr:
		fmt.Fprintf(f.c.stdout, "! %s\n", l.Text)
	case runner.System:
		fmt.Fprintf(f.c.stdout, "==> %s\n", l.Text)
	default:
		fmt.Fprintln(f.c.stdout, l.Text)
	}
}

// finish prints how the run ended and returns its exit code.
func (f *logFollower) finish(r *store.Run) int {
	took := ""
	if d := clientDuration(r.StartedAt, r.FinishedAt); d != "-" {
		took = " in " + d
	}
	fmt.Fprintf(f.c.stdout, "==> run %s of %s: %s%s%s\n", r.ID, r.Workflow, r.Status, took, clientReason(r.Reason))
	if r.Status == workflows.StatusSucceeded {
		return exitOK
	}
	return exitFail
}

// sseEvent is one server-sent event.
type sseEvent struct {
	name string // "message" when the stream names none
	data string
	id   string
}

// eventReader reads the text/event-stream format (the WHATWG HTML standard's
// "server-sent events"): field lines, ended by a blank line.
type eventReader struct {
	lines *bufio.Scanner
	id    string // the id persists from event to event until changed
}

func newEventReader(r io.Reader) *eventReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventBytes)
	return &eventReader{lines: sc}
}

// next returns the next event that carries data; io.EOF when the stream ends.
// An event cut off by the end of the stream is dropped, as the standard says.
func (r *eventReader) next() (sseEvent, error) {
	var name string
	var data []string
	for r.lines.Scan() {
		line := strings.TrimSuffix(r.lines.Text(), "\r")
		if line == "" {
			if data == nil {
				name = ""
				continue
			}
			if name == "" {
				name = "message"
			}
			return sseEvent{name: name, data: strings.Join(data, "\n"), id: r.id}, nil
		}
		if strings.HasPrefix(line, ":") {
			continue // a comment, such as a keep-alive
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			name = value
		case "data":
			data = append(data, value)
		case "id":
			if !strings.ContainsRune(value, 0) {
				r.id = value
			}
		}
	}
	if err := r.lines.Err(); err != nil {
		return sseEvent{}, err
	}
	return sseEvent{}, io.EOF
}
