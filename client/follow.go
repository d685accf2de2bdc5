package client

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
)

const (
	// maxFollowFailures is how many reconnects in a row that bring no event
	// end Follow.
	maxFollowFailures = 2
	// maxEventBytes bounds one line of the event stream: a log line is capped
	// at 64 KiB by the runner, and JSON escaping may grow it.
	maxEventBytes = 4 << 20
)

// Follow calls line with each line of run id's log as the server streams it,
// from the first, until the run ends, and returns the run as it ended. When
// the stream breaks before, it reconnects where it left off, and gives up
// after two attempts in a row that bring nothing; line is never called twice
// for a line. job, when not "", is the key or the id of the job whose lines
// to follow. It returns ctx's error when ctx ends first.
func (c *Client) Follow(ctx context.Context, id, job string, line func(LogLine)) (*Run, error) {
	f := &follower{line: line}
	path := logPath(id, job, true)
	failures, connected := 0, false
	var broke error
	for {
		header := http.Header{"Accept": {"text/event-stream"}}
		if f.lastID != "" {
			header.Set("Last-Event-ID", f.lastID)
		}
		resp, err := c.send(ctx, c.stream, http.MethodGet, path, nil, header)
		var ae *Error
		switch {
		case err != nil && (!connected || ctx.Err() != nil || errors.As(err, &ae)):
			return nil, err
		case err != nil:
			failures, broke = failures+1, err
		default:
			connected = true
			end, progressed, err := f.read(resp.Body)
			resp.Body.Close()
			if end != nil {
				return end, nil
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
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
				return nil, fmt.Errorf("the server closed the log stream of run %s before the run ended", id)
			}
			return nil, fmt.Errorf("the log stream of run %s broke before the run ended: %w", id, broke)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(failures) * time.Second):
		}
	}
}

// follower is where Follow is in the stream.
type follower struct {
	line func(LogLine)
	// lastID is the id of the last event, sent back as Last-Event-ID.
	lastID string
	// lastSeq is the Seq of the last line passed on, so that a server that
	// repeats lines after a reconnect does not pass them twice.
	lastSeq int64
}

// read passes on the log events of one connection until the `end` event,
// whose run it returns, or until the stream ends (err nil) or breaks.
// progressed reports whether any event arrived.
func (f *follower) read(body io.Reader) (end *Run, progressed bool, err error) {
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
			run := &Run{}
			if err := json.Unmarshal([]byte(ev.data), run); err != nil {
				return nil, progressed, fmt.Errorf("the end event is not a run: %w", err)
			}
			run.keep(json.RawMessage(ev.data))
			return run, progressed, nil
		case "log", "message":
			var l LogLine
			if err := json.Unmarshal([]byte(ev.data), &l); err != nil {
				return nil, progressed, fmt.Errorf("a log event is not a log line: %w", err)
			}
			if l.Seq > 0 {
				if l.Seq <= f.lastSeq {
					continue
				}
				f.lastSeq = l.Seq
			}
			f.line(l)
		}
	}
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
