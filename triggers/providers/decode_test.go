package providers

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name        string
		method      string // default POST
		contentType string
		header      string // Content-Type header, used when contentType is empty
		query       url.Values
		body        string
		want        any
	}{
		{
			name: "JSON object", contentType: "application/json",
			body: `{"a": 1, "b": [true, null, "x"], "c": {"d": 2.5}}`,
			want: map[string]any{"a": 1.0, "b": []any{true, nil, "x"}, "c": map[string]any{"d": 2.5}},
		},
		{
			name: "JSON with parameters and upper case", contentType: "Application/JSON; charset=UTF-8",
			body: `{"a": "b"}`, want: map[string]any{"a": "b"},
		},
		{
			name: "JSON under a +json type", contentType: "application/vnd.api+json",
			body: `[1, 2]`, want: []any{1.0, 2.0},
		},
		{
			name: "content type from the header", header: "application/json",
			body: `{"a": "b"}`, want: map[string]any{"a": "b"},
		},
		{
			name: "JSON sniffed without a content type",
			body: "\n  {\"a\": \"b\"}", want: map[string]any{"a": "b"},
		},
		{
			name: "broken JSON without a content type is raw only",
			body: `{"a" 1}`, want: nil,
		},
		{
			name: "JSON sent as a form, as curl -d does", contentType: "application/x-www-form-urlencoded",
			body: `{"a": ["b"]}`, want: map[string]any{"a": []any{"b"}},
		},
		{
			name: "a form starting with a brace that is not JSON", contentType: "application/x-www-form-urlencoded",
			body: `{x=1`, want: map[string]any{"{x": "1"},
		},
		{
			name: "text without a content type is raw only",
			body: "deploy web", want: nil,
		},
		{
			name: "plain text is raw only", contentType: "text/plain",
			body: `{"looks": "like JSON"}`, want: nil,
		},
		{
			name: "empty JSON body is no payload", contentType: "application/json",
			body: "  \n", want: nil,
		},
		{
			name: "form", contentType: "application/x-www-form-urlencoded",
			body: "env=prod&host=a&host=b&note=hello+world%21",
			want: map[string]any{"env": "prod", "host": []any{"a", "b"}, "note": "hello world!"},
		},
		{
			name: "GitHub payload= form", contentType: "application/x-www-form-urlencoded",
			body: "payload=" + url.QueryEscape(`{"ref": "refs/heads/main", "commits": []}`),
			want: map[string]any{"ref": "refs/heads/main", "commits": []any{}},
		},
		{
			name: "a payload field with plain text is an ordinary field", contentType: "application/x-www-form-urlencoded",
			body: "payload=hello&x=1", want: map[string]any{"payload": "hello", "x": "1"},
		},
		{
			name: "GET takes the query string", method: http.MethodGet,
			query: url.Values{"env": {"prod"}, "host": {"a", "b"}}, want: map[string]any{"env": "prod", "host": []any{"a", "b"}},
		},
		{
			name: "GET with payload= in the query", method: http.MethodGet,
			query: url.Values{"payload": {`{"ok": true}`}}, want: map[string]any{"ok": true},
		},
		{
			name: "GET without a query", method: http.MethodGet, want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Request{Method: tt.method, Query: tt.query, Body: []byte(tt.body), ContentType: tt.contentType}
			if r.Method == "" {
				r.Method = http.MethodPost
			}
			if tt.header != "" {
				r.Headers = http.Header{"Content-Type": {tt.header}}
			}
			body, raw, err := Decode(r)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if raw != tt.body {
				t.Errorf("raw %q, want %q", raw, tt.body)
			}
			if !jsonEqual(t, body, tt.want) {
				t.Errorf("body %#v, want %#v", body, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		wantMsg     string
	}{
		{"trailing comma", "application/json", `{"a": 1,}`, `invalid JSON at byte 9: invalid character '}' looking for beginning of object key string`},
		{"truncated", "application/json", `{"a": [1, 2`, "invalid JSON at byte 11: unexpected end of JSON input"},
		{"two values", "application/json", `{} {}`, "invalid JSON at byte 4: invalid character '{' after top-level value"},
		{"bad escape in a form", "application/x-www-form-urlencoded", "a=%zz", `invalid form body: invalid URL escape "%zz"`},
		{"semicolon in a form", "application/x-www-form-urlencoded", "a=1;b=2", "invalid form body: invalid semicolon separator in query"},
		{"broken JSON in payload=", "application/x-www-form-urlencoded", "payload=" + url.QueryEscape(`{"a":`), "invalid JSON in form field payload at byte 5: unexpected end of JSON input"},
		{"too deep", "application/json", strings.Repeat("[", 10000) + strings.Repeat("]", 10000), "invalid JSON at byte 128: nested deeper than 128 levels"},
		{"too deep in payload=", "application/x-www-form-urlencoded", "payload=" + strings.Repeat("%7B%22a%22%3A", 200), "invalid JSON in form field payload at byte 640: nested deeper than 128 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Request{Method: http.MethodPost, Body: []byte(tt.body), ContentType: tt.contentType}
			body, raw, err := Decode(r)
			if err == nil {
				t.Fatalf("Decode accepted %q as %v", tt.body, body)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("error %q\nwant  %q", err, tt.wantMsg)
			}
			if code := workflows.ErrorCode(err); code != workflows.EInvalid {
				t.Errorf("code %q, want %q so that the sender gets a 400", code, workflows.EInvalid)
			}
			if body != nil || raw != tt.body {
				t.Errorf("body %v, raw %q: want no body and the raw text", body, raw)
			}
		})
	}
}

// TestDecodeOutOfRangeNumbers checks that valid JSON whose numbers float64
// cannot hold is accepted, those numbers kept as their text, while the other
// numbers of the same payload are float64 as usual.
func TestDecodeOutOfRangeNumbers(t *testing.T) {
	long := "9" + strings.Repeat("0", 500000)
	tests := []struct {
		name, contentType, body string
		want                    any
	}{
		{"huge exponent", "application/json", `{"big": 1e999999, "count": 5}`,
			map[string]any{"big": "1e999999", "count": 5.0}},
		{"negative huge exponent in an array", "application/json", `[-1e999999, 2.5, {"n": -12}]`,
			[]any{"-1e999999", 2.5, map[string]any{"n": -12.0}}},
		{"half a million digits", "application/json", `{"id": ` + long + `, "ok": true}`,
			map[string]any{"id": long, "ok": true}},
		{"tiny numbers round to zero", "application/json", `{"tiny": 1e-999999}`,
			map[string]any{"tiny": 0.0}},
		{"sniffed without a content type", "", `{"big": 1E400}`,
			map[string]any{"big": "1E400"}},
		{"in a payload= form", "application/x-www-form-urlencoded", "payload=" + url.QueryEscape(`{"big": 1e400, "n": 1}`),
			map[string]any{"big": "1e400", "n": 1.0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _, err := Decode(&Request{Method: http.MethodPost, Body: []byte(tt.body), ContentType: tt.contentType})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(body, tt.want) {
				t.Errorf("body %.200v, want %.200v", body, tt.want)
			}
		})
	}
	// Syntax errors are still errors when an out-of-range number comes first.
	_, _, err := Decode(&Request{Method: http.MethodPost, Body: []byte(`{"big": 1e999999,}`), ContentType: "application/json"})
	if err == nil || workflows.ErrorCode(err) != workflows.EInvalid || !strings.Contains(err.Error(), "at byte 18") {
		t.Errorf("broken JSON with a huge number: %v, want an invalid JSON error at byte 18", err)
	}
}

func TestDecodeDepthLimit(t *testing.T) {
	nested := func(depth int) string {
		return strings.Repeat(`{"a":`, depth-1) + "[]" + strings.Repeat("}", depth-1)
	}
	for _, tt := range []struct {
		name  string
		body  string
		valid bool
	}{
		{"at the limit", nested(MaxJSONDepth), true},
		{"one past the limit", nested(MaxJSONDepth + 1), false},
		{"brackets inside strings do not count", `{"s": "` + strings.Repeat(`[{\"`, 500) + `"}`, true},
		{"escaped quotes do not end strings", `["\"[[[[", "` + strings.Repeat("[", 300) + `"]`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Decode(&Request{Method: http.MethodPost, Body: []byte(tt.body), ContentType: "application/json"})
			if tt.valid && err != nil {
				t.Errorf("rejected: %v", err)
			}
			if !tt.valid && (err == nil || !strings.Contains(err.Error(), "nested deeper than 128 levels")) {
				t.Errorf("error %v, want a nesting error", err)
			}
		})
	}
}

func TestDecodeInvalidUTF8(t *testing.T) {
	t.Run("JSON", func(t *testing.T) {
		in := []byte("{\"name\": \"caf\xe9\", \"\xff\": \"\xc3\"}")
		body, raw, err := Decode(&Request{Method: http.MethodPost, Body: in, ContentType: "application/json"})
		if err != nil {
			t.Fatal(err)
		}
		if raw != string(in) {
			t.Error("raw must keep the bytes as received")
		}
		// encoding/json replaces each invalid byte with U+FFFD.
		if got := str(body, "name"); got != "caf\uFFFD" {
			t.Errorf("name %q", got)
		}
	})
	t.Run("form", func(t *testing.T) {
		body, _, err := Decode(&Request{Method: http.MethodPost, Body: []byte("a=%ff%fe&b=\xff"), ContentType: "application/x-www-form-urlencoded"})
		if err != nil {
			t.Fatal(err)
		}
		if got := str(body, "a"); got != "\xff\xfe" {
			t.Errorf("a %q", got)
		}
	})
	t.Run("normalised event encodes", func(t *testing.T) {
		var ev workflows.Event
		r := &Request{Method: http.MethodPost, Headers: http.Header{"X-Github-Event": {"push\xff"}},
			Body: []byte("{\"ref\": \"refs/heads/ma\xffin\"}"), ContentType: "application/json"}
		if err := Normalize("github", r, Options{}, &ev); err != nil {
			t.Fatal(err)
		}
		if _, err := json.Marshal(ev); err != nil {
			t.Errorf("event does not encode: %v", err)
		}
	})
}
