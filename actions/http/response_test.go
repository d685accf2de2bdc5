package httpaction

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/actions/actiontest"
)

func TestExpect(t *testing.T) {
	tests := []struct {
		name    string
		expect  any // nil: not set
		status  int
		wantErr string // "" means success
	}{
		{"default accepts 200", nil, 200, ""},
		{"default accepts 204", nil, 204, ""},
		{"default rejects 404", nil, 404, "unexpected status 404 (expected 2xx)"},
		{"code", 404, 404, ""},
		{"code rejects another in its class", 200, 201, "unexpected status 201 (expected 200)"},
		{"code as a string", "202", 202, ""},
		{"class", "4xx", 418, ""},
		{"list matches a class", []any{200, "3xx"}, 304, ""},
		{"list matches nothing", []any{200, "3xx"}, 500, "unexpected status 500 (expected 200, 3xx)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := respond(t, tt.status, "")
			with := map[string]any{"url": srv.URL}
			if tt.expect != nil {
				with["expect"] = tt.expect
			}
			res, _, err := run(t, context.Background(), with)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Run: %v", err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
			if res.Outputs["status"] != tt.status {
				t.Errorf("status output = %v, want %d", res.Outputs["status"], tt.status)
			}
		})
	}
}

// TestUnexpectedStatus checks the classification of a status that does not
// match, and that the outputs are there anyway for later steps.
func TestUnexpectedStatus(t *testing.T) {
	tests := []struct {
		status    int
		retryable bool
	}{
		{http.StatusInternalServerError, true},
		{http.StatusServiceUnavailable, true},
		{http.StatusTooManyRequests, true},
		{http.StatusRequestTimeout, true},
		{http.StatusNotFound, false},
		{http.StatusBadRequest, false},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			srv := respond(t, tt.status, `{"error":"nope"}`, "Content-Type", "application/json", "X-Request-Id", "r1")
			res, log, err := run(t, context.Background(), map[string]any{"url": srv.URL, "method": "POST"})
			if err == nil || !strings.HasPrefix(err.Error(), "unexpected status ") {
				t.Fatalf("error = %v, want unexpected status", err)
			}
			actiontest.WantRetryable(t, err, tt.retryable)
			want := map[string]any{"status": tt.status, "body": `{"error":"nope"}`, "json": map[string]any{"error": "nope"}}
			for k, v := range want {
				if !reflect.DeepEqual(res.Outputs[k], v) {
					t.Errorf("output %s = %#v, want %#v", k, res.Outputs[k], v)
				}
			}
			if h, _ := res.Outputs["headers"].(map[string]string); h["x-request-id"] != "r1" {
				t.Errorf("headers output = %v, want x-request-id: r1", res.Outputs["headers"])
			}
			if !strings.HasPrefix(log, fmt.Sprintf("POST %s -> %d (16 B, ", srv.URL, tt.status)) {
				t.Errorf("log = %q, want POST %s -> %d (16 B, ...)", log, srv.URL, tt.status)
			}
		})
	}
}

func TestOutputs(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		json        any // nil: no json output
	}{
		{"json object", "application/json", `{"ok":true,"n":2}`, map[string]any{"ok": true, "n": 2.0}},
		{"json with charset", "application/json; charset=utf-8", `[1,"a"]`, []any{1.0, "a"}},
		{"problem+json", "application/problem+json", `{"title":"x"}`, map[string]any{"title": "x"}},
		{"json that does not decode", "application/json", `{"ok":`, nil},
		{"empty json body", "application/json", ``, nil},
		{"json text as text/plain", "text/plain", `{"ok":true}`, nil},
		{"no content type", "", `{"ok":true}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := respond(t, 200, tt.body, "Content-Type", tt.contentType)
			res, _, err := run(t, context.Background(), map[string]any{"url": srv.URL})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Outputs["body"] != tt.body {
				t.Errorf("body output = %q, want %q", res.Outputs["body"], tt.body)
			}
			got, ok := res.Outputs["json"]
			if tt.json == nil && ok {
				t.Errorf("json output = %#v, want none", got)
			}
			if tt.json != nil && !reflect.DeepEqual(got, tt.json) {
				t.Errorf("json output = %#v, want %#v", got, tt.json)
			}
		})
	}
}

func TestHeadersOutput(t *testing.T) {
	srv := respond(t, 200, "", "X-Multi", "a", "X-Multi", "b", "ETag", `"v1"`)
	res, _, err := run(t, context.Background(), map[string]any{"url": srv.URL})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	h, ok := res.Outputs["headers"].(map[string]string)
	if !ok {
		t.Fatalf("headers output is %T, want map[string]string", res.Outputs["headers"])
	}
	for name, want := range map[string]string{"x-multi": "a, b", "etag": `"v1"`, "content-length": "0"} {
		if h[name] != want {
			t.Errorf("headers[%q] = %q, want %q (all: %v)", name, h[name], want, h)
		}
	}
}

func TestMaxResponse(t *testing.T) {
	const limit = 1024
	tests := []struct {
		name string
		size int
		ok   bool
	}{
		{"empty", 0, true},
		{"exactly the limit", limit, true},
		{"one byte over", limit + 1, false},
		{"far over", 1 << 20, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := respond(t, 200, strings.Repeat("x", tt.size))
			res, _, err := run(t, context.Background(), map[string]any{"url": srv.URL, "max_response": "1Ki"})
			if tt.ok {
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				if n := len(res.Outputs["body"].(string)); n != tt.size {
					t.Errorf("body output has %d bytes, want %d", n, tt.size)
				}
				return
			}
			if err == nil || err.Error() != "response body larger than max_response 1024 bytes" {
				t.Fatalf("error = %v, want the max_response error", err)
			}
			actiontest.WantRetryable(t, err, false)
			if _, ok := res.Outputs["body"]; ok {
				t.Error("body output set for a body over the limit")
			}
			if res.Outputs["status"] != 200 {
				t.Errorf("status output = %v, want 200", res.Outputs["status"])
			}
		})
	}
}
