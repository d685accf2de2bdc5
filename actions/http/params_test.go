package httpaction

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
)

func TestKind(t *testing.T) {
	k := Kind()
	if k.Name != "http" {
		t.Errorf("Name = %q, want http", k.Name)
	}
	want := []string{"url", "method", "headers", "body", "json", "form", "basic_auth", "timeout", "expect", "max_response"}
	if got := actions.ParamKeys(k.Params); !slices.Equal(got, want) {
		t.Errorf("ParamKeys = %v, want %v", got, want)
	}
	if got := actions.URLKeys(k.Params); !slices.Equal(got, []string{"url"}) {
		t.Errorf("URLKeys = %v, want [url]", got)
	}
	if _, err := actions.NewRegistry(k); err != nil {
		t.Errorf("NewRegistry: %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	const u = "https://example.com/hook"
	tests := []struct {
		name string
		with map[string]any
		want string // part of the error
	}{
		{"unknown key", map[string]any{"url": u, "retries": 3}, `unknown field "retries"`},
		{"unknown basic_auth key", map[string]any{"url": u, "basic_auth": map[string]any{"user": "a"}}, `unknown field "user"`},
		{"wrong type", map[string]any{"url": u, "headers": "X-A: b"}, "headers"},
		{"missing url", map[string]any{"method": "POST"}, "url: is required"},
		{"ftp scheme", map[string]any{"url": "ftp://example.com/x"}, `scheme "ftp" is not supported`},
		{"no scheme", map[string]any{"url": "example.com/x"}, `scheme "" is not supported`},
		{"no host", map[string]any{"url": "https:///x"}, "host is missing"},
		{"unparsable url", map[string]any{"url": "https://exa mple.com/"}, "url: invalid character"},
		{"body and json", map[string]any{"url": u, "body": "", "json": map[string]any{}}, "body and json: give at most one"},
		{"json and form", map[string]any{"url": u, "json": 1, "form": map[string]any{}}, "json and form: give at most one"},
		{"all three bodies", map[string]any{"url": u, "body": "x", "json": 1, "form": map[string]any{}}, "give at most one"},
		{"bad method", map[string]any{"url": u, "method": "GE T"}, `method "GE T"`},
		{"bad header name", map[string]any{"url": u, "headers": map[string]any{"X A": "b"}}, `"X A" is not a valid header name`},
		{"header value with newline", map[string]any{"url": u, "headers": map[string]any{"X-A": "b\r\nX-B: c"}}, "line break"},
		{"header twice", map[string]any{"url": u, "headers": map[string]any{"x-a": "1", "X-A": "2"}}, "given twice"},
		{"basic_auth empty", map[string]any{"url": u, "basic_auth": map[string]any{}}, "basic_auth: give a username"},
		{"basic_auth colon", map[string]any{"url": u, "basic_auth": map[string]any{"username": "a:b"}}, "colon"},
		{"basic_auth and Authorization", map[string]any{"url": u, "basic_auth": map[string]any{"username": "a"},
			"headers": map[string]any{"authorization": "Bearer x"}}, "only one"},
		{"zero timeout", map[string]any{"url": u, "timeout": "0s"}, "timeout: must be more than 0"},
		{"bad timeout", map[string]any{"url": u, "timeout": "soon"}, "invalid duration"},
		{"zero max_response", map[string]any{"url": u, "max_response": 0}, "max_response: must be from 1 byte"},
		{"huge max_response", map[string]any{"url": u, "max_response": "2Gi"}, "max_response: must be from 1 byte"},
		{"expect out of range", map[string]any{"url": u, "expect": 600}, `expect: "600" is not a status code`},
		{"expect bad class", map[string]any{"url": u, "expect": "2x"}, `expect: "2x"`},
		{"expect 6xx", map[string]any{"url": u, "expect": "6xx"}, `expect: "6xx"`},
		{"expect word", map[string]any{"url": u, "expect": []any{200, "ok"}}, `expect: "ok"`},
		{"expect fraction", map[string]any{"url": u, "expect": 200.5}, "expect: 200.5 is not a status code"},
		{"expect bool", map[string]any{"url": u, "expect": true}, "expect: true is not a status code"},
		{"expect empty list", map[string]any{"url": u, "expect": []any{}}, "expect: the list is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Kind().New(tt.with)
			if err == nil {
				t.Fatalf("New succeeded (%+v), want an error containing %q", a, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// TestNewRejectsQuietly checks that a rejected URL is not repeated in the
// error: it may hold a rendered secret, and New has no list of them.
func TestNewRejectsQuietly(t *testing.T) {
	for _, raw := range []string{"ftp://user:hunter2@example.com/?token=hunter2", "https://ex ample.com/?token=hunter2"} {
		_, err := Kind().New(map[string]any{"url": raw})
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("New(%q) error = %v, want one without the URL", raw, err)
		}
	}
}

func TestNewSettings(t *testing.T) {
	const u = "https://example.com/hook"
	tests := []struct {
		name        string
		with        map[string]any
		method      string
		timeout     time.Duration
		expect      Expect
		maxResponse int64
		header      http.Header // headers that must be set, beyond User-Agent
	}{
		{
			name: "defaults", with: map[string]any{"url": u},
			method: "GET", timeout: 30 * time.Second, expect: Expect{"2xx"}, maxResponse: 1 << 20,
			header: http.Header{"User-Agent": {"hookflow"}},
		},
		{
			name: "everything set",
			with: map[string]any{"url": u, "method": "patch", "timeout": "5s", "expect": 204, "max_response": "2Ki",
				"headers": map[string]any{"user-agent": "mine/1", "content-type": "application/vnd.x+json"}, "json": []any{1}},
			method: "PATCH", timeout: 5 * time.Second, expect: Expect{"204"}, maxResponse: 2048,
			header: http.Header{"User-Agent": {"mine/1"}, "Content-Type": {"application/vnd.x+json"}},
		},
		{
			name: "timeout in seconds, expect list", with: map[string]any{"url": u, "timeout": 2, "expect": []any{"200", "3XX", 404}},
			method: "GET", timeout: 2 * time.Second, expect: Expect{"200", "3xx", "404"}, maxResponse: 1 << 20,
		},
		{
			name: "expect null keeps the default", with: map[string]any{"url": u, "expect": nil},
			method: "GET", timeout: 30 * time.Second, expect: Expect{"2xx"}, maxResponse: 1 << 20,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := build(t, tt.with).(*Action)
			if a.method != tt.method || a.timeout != tt.timeout || a.maxResponse != tt.maxResponse {
				t.Errorf("method, timeout, max_response = %s, %v, %d; want %s, %v, %d",
					a.method, a.timeout, a.maxResponse, tt.method, tt.timeout, tt.maxResponse)
			}
			if !slices.Equal(a.expect, tt.expect) {
				t.Errorf("expect = %v, want %v", a.expect, tt.expect)
			}
			for name, want := range tt.header {
				if got := a.header.Values(name); !slices.Equal(got, want) {
					t.Errorf("header %s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestExpectMatch(t *testing.T) {
	tests := []struct {
		name   string
		expect Expect
		status int
		want   bool
	}{
		{"class matches", Expect{"2xx"}, 204, true},
		{"class does not match", Expect{"2xx"}, 301, false},
		{"code matches", Expect{"404"}, 404, true},
		{"code does not match", Expect{"404"}, 400, false},
		{"list, second item", Expect{"200", "5xx"}, 503, true},
		{"list, no item", Expect{"200", "5xx"}, 201, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.expect.Match(tt.status); got != tt.want {
				t.Errorf("%v.Match(%d) = %v, want %v", tt.expect, tt.status, got, tt.want)
			}
		})
	}
}
