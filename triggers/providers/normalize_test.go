package providers

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// normalizeCase is one delivery of a sample payload and the event it must
// normalise to.
type normalizeCase struct {
	name     string
	provider string
	file     string            // under testdata/; .form files are form-encoded
	asForm   bool              // send the JSON file as GitHub's payload= form
	headers  map[string]string // besides Content-Type
	opt      Options
	// want is compared in full except Body, Raw, Headers and Query, which
	// other tests cover; Provider, Method and Path are filled in by the runner.
	want workflows.Event
}

// testPath is the trigger path every sample delivery arrives on.
const testPath = "hooks-test"

// readTestdata returns the content of testdata/name.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// contentTypeOf is the Content-Type a sender uses for a testdata file.
func contentTypeOf(file string) string {
	if strings.HasSuffix(file, ".form") {
		return "application/x-www-form-urlencoded"
	}
	return "application/json"
}

// request builds the POST delivery of c.
func (c normalizeCase) request(t *testing.T) *Request {
	t.Helper()
	body := readTestdata(t, c.file)
	ct := contentTypeOf(c.file)
	if c.asForm {
		body = []byte(url.Values{"payload": {string(body)}}.Encode())
		ct = "application/x-www-form-urlencoded"
	}
	h := http.Header{}
	for k, v := range c.headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", ct)
	return &Request{Method: http.MethodPost, Path: testPath, Headers: h, Body: body}
}

// runNormalizeCases normalises each case's delivery and compares the result.
func runNormalizeCases(t *testing.T, cases []normalizeCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.request(t)
			var ev workflows.Event
			if err := Normalize(c.provider, r, c.opt, &ev); err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			if ev.Body == nil {
				t.Error("body was not decoded")
			}
			if ev.Raw != string(r.Body) {
				t.Error("raw is not the body as received")
			}
			got := ev
			got.Body, got.Raw, got.Headers, got.Query = nil, "", nil, nil
			want := c.want
			want.Provider, want.Method, want.Path = c.provider, http.MethodPost, testPath
			assertSameEvent(t, got, want)
		})
	}
}

// assertSameEvent compares events by their JSON form, which is what steps and
// the store see, and which compares times by instant and offset.
func assertSameEvent(t *testing.T, got, want workflows.Event) {
	t.Helper()
	g, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("event:\n%s\nwant:\n%s", g, w)
	}
}

// mustTime parses an RFC 3339 time for expected values.
func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestEveryWorkflowProviderHasANormalizer(t *testing.T) {
	names := slices.Sorted(maps.Keys(normalizers))
	want := slices.Sorted(slices.Values(workflows.ProviderNames()))
	if !slices.Equal(names, want) {
		t.Errorf("normalizers %v, workflows.ProviderNames() %v", names, want)
	}
}

func TestNormalizeRequestFields(t *testing.T) {
	h := http.Header{}
	h.Add("X-Custom", "a")
	h.Add("X-Custom", "b")
	h["x-custom"] = []string{"c"} // a hand-built header that differs only in case
	h.Set("Content-Type", "application/json")
	r := &Request{
		Method:  http.MethodPost,
		Path:    "ops",
		Headers: h,
		Query:   url.Values{"env": {"prod", "dev"}, "empty": {}},
		Body:    []byte(`{"ok": true}`),
	}
	var ev workflows.Event
	if err := Normalize("generic", r, Options{}, &ev); err != nil {
		t.Fatal(err)
	}
	wantHeaders := map[string]string{"x-custom": "a, b, c", "content-type": "application/json"}
	if !maps.Equal(ev.Headers, wantHeaders) {
		t.Errorf("headers %v, want %v", ev.Headers, wantHeaders)
	}
	wantQuery := map[string]string{"env": "prod", "empty": ""}
	if !maps.Equal(ev.Query, wantQuery) {
		t.Errorf("query %v, want %v", ev.Query, wantQuery)
	}
	if ev.Provider != "generic" || ev.Method != "POST" || ev.Path != "ops" {
		t.Errorf("provider, method, path = %q, %q, %q", ev.Provider, ev.Method, ev.Path)
	}
	if ev.Raw != `{"ok": true}` || !boolean(ev.Body, "ok") {
		t.Errorf("raw %q, body %v", ev.Raw, ev.Body)
	}
}

func TestNormalizeProviderNames(t *testing.T) {
	r := &Request{Method: http.MethodPost, Body: []byte(`{}`), ContentType: "application/json"}
	t.Run("empty means generic", func(t *testing.T) {
		var ev workflows.Event
		if err := Normalize("", r, Options{}, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Provider != "generic" {
			t.Errorf("provider %q, want generic", ev.Provider)
		}
	})
	t.Run("unknown is an internal error", func(t *testing.T) {
		var ev workflows.Event
		err := Normalize("gitbucket", r, Options{}, &ev)
		if err == nil || !strings.Contains(err.Error(), `unknown provider "gitbucket"`) {
			t.Fatalf("error %v, want unknown provider", err)
		}
		if code := workflows.ErrorCode(err); code != workflows.EInternal {
			t.Errorf("code %q, want %q", code, workflows.EInternal)
		}
	})
}

func TestNormalizeMalformedBody(t *testing.T) {
	r := &Request{
		Method:      http.MethodPost,
		Path:        "github",
		Headers:     http.Header{"X-Github-Event": {"push"}},
		Body:        []byte(`{"ref": "refs/heads/main",}`),
		ContentType: "application/json",
	}
	var ev workflows.Event
	err := Normalize("github", r, Options{}, &ev)
	if workflows.ErrorCode(err) != workflows.EInvalid {
		t.Fatalf("error %v, want an EInvalid error", err)
	}
	if !strings.Contains(err.Error(), "invalid JSON at byte") {
		t.Errorf("message %q does not say where the JSON is wrong", err)
	}
	// The request-level fields are there for logging the rejected delivery.
	if ev.Path != "github" || ev.Headers["x-github-event"] != "push" || ev.Raw != string(r.Body) {
		t.Errorf("request fields not filled: %+v", ev)
	}
	if ev.Body != nil || ev.Type != "" {
		t.Errorf("body %v, type %q: nothing should be normalised from a bad body", ev.Body, ev.Type)
	}
}

func TestNormalizeGeneric(t *testing.T) {
	runNormalizeCases(t, []normalizeCase{
		{
			name: "event and delivery headers", provider: "generic", file: "generic/deploy.json",
			headers: map[string]string{"X-Deploy-Event": "Deploy.Requested", "X-Deploy-Id": "dep-77"},
			opt:     Options{EventHeader: "X-Deploy-Event", DeliveryHeader: "x-deploy-id"},
			want:    workflows.Event{Name: "Deploy.Requested", Type: "deploy.requested", Delivery: "dep-77"},
		},
		{
			name: "no headers configured", provider: "generic", file: "generic/deploy.json",
			headers: map[string]string{"X-Deploy-Event": "deploy"},
			want:    workflows.Event{},
		},
	})
}

func TestNormalizeGenericGET(t *testing.T) {
	r := &Request{
		Method: http.MethodGet,
		Path:   "nightly",
		Query:  url.Values{"job": {"backup"}, "target": {"db-1", "db-2"}},
	}
	var ev workflows.Event
	if err := Normalize("generic", r, Options{}, &ev); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"job": "backup", "target": []any{"db-1", "db-2"}}
	if !jsonEqual(t, ev.Body, want) {
		t.Errorf("body %v, want %v", ev.Body, want)
	}
	if ev.Query["target"] != "db-1" {
		t.Errorf("query %v: want the first value of target", ev.Query)
	}
}

// jsonEqual reports whether a and b have the same JSON form.
func jsonEqual(t *testing.T, a, b any) bool {
	t.Helper()
	x, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(x, y)
}
