package client

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestEventReader(t *testing.T) {
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
