package providers

import (
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// sample is one testdata payload and the provider that sends it.
type sample struct {
	provider, file string
	body           []byte
}

// samples returns every payload under testdata/, its provider named by its
// folder.
func samples(t testing.TB) []sample {
	t.Helper()
	var out []sample
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel("testdata", path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		provider, _, ok := strings.Cut(rel, "/")
		if !ok {
			return nil
		}
		out = append(out, sample{provider: provider, file: rel, body: readTestdata(t, rel)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no samples under testdata/")
	}
	return out
}

// eventHeaders sends event under every header a provider reads an event name
// or delivery id from, so that fuzzed names reach every normaliser's switch.
func eventHeaders(event string) http.Header {
	h := http.Header{}
	for _, name := range []string{"X-GitHub-Event", "X-Gitea-Event", "X-Forgejo-Event", "X-Gitlab-Event",
		"X-Event-Key", "X-Event", "X-GitHub-Delivery", "Idempotency-Key", "X-Request-UUID", "Webhook-Id"} {
		h.Set(name, event)
	}
	return h
}

// normalizeNoPanic normalises a delivery with every provider and checks that
// a successful result can be encoded as JSON, as the store and steps need.
func normalizeNoPanic(t *testing.T, r *Request) {
	t.Helper()
	for _, provider := range workflows.ProviderNames() {
		var ev workflows.Event
		err := Normalize(provider, r, Options{EventHeader: "X-Event", DeliveryHeader: "X-GitHub-Delivery"}, &ev)
		if err != nil {
			if workflows.ErrorCode(err) != workflows.EInvalid {
				t.Fatalf("%s: error %v is not EInvalid", provider, err)
			}
			continue
		}
		if _, err := json.Marshal(ev); err != nil {
			t.Fatalf("%s: event does not encode: %v", provider, err)
		}
	}
}

// TestNormalizeToleratesWrongTypes puts a value of every other JSON type in
// place of each value of every sample payload, one at a time, and normalises
// the result with every provider: no payload shape may make a normaliser
// panic.
func TestNormalizeToleratesWrongTypes(t *testing.T) {
	replacements := []any{nil, 7.5, -1e300, "x", []any{nil, "y"}, map[string]any{}}
	for _, s := range samples(t) {
		if !strings.HasSuffix(s.file, ".json") {
			continue
		}
		t.Run(s.file, func(t *testing.T) {
			var orig any
			if err := json.Unmarshal(s.body, &orig); err != nil {
				t.Fatal(err)
			}
			for i := range countNodes(orig) {
				for _, rep := range replacements {
					mutated := replaceNode(orig, i, rep)
					body, err := json.Marshal(mutated)
					if err != nil {
						t.Fatal(err)
					}
					normalizeNoPanic(t, &Request{Method: http.MethodPost, Headers: eventHeaders(eventFor(s)),
						Body: body, ContentType: "application/json"})
				}
			}
		})
	}
	for _, body := range []string{`null`, `[]`, `"push"`, `42`, `[{"ref": 1}]`, `{"": {}}`} {
		normalizeNoPanic(t, &Request{Method: http.MethodPost, Headers: eventHeaders("push"), Body: []byte(body), ContentType: "application/json"})
	}
}

// eventFor is the event name a sample is sent with, so that mutations reach
// the code for its kind of event.
func eventFor(s sample) string {
	name := strings.TrimSuffix(filepath.Base(s.file), filepath.Ext(s.file))
	switch {
	case strings.Contains(name, "pull"), strings.Contains(name, "merge_request"), strings.HasPrefix(name, "server_pr"):
		return "pull_request"
	case strings.Contains(name, "release"):
		return "release"
	case strings.Contains(name, "create"):
		return "create"
	}
	return "push"
}

// countNodes returns how many values v holds, itself included.
func countNodes(v any) int {
	n := 1
	switch v := v.(type) {
	case map[string]any:
		for _, c := range v {
			n += countNodes(c)
		}
	case []any:
		for _, c := range v {
			n += countNodes(c)
		}
	}
	return n
}

// replaceNode returns a copy of v with its i-th value, counted depth first
// with object keys in sorted order as countNodes counts them, replaced by rep.
// Only the objects and lists on the way to that value are copied.
func replaceNode(v any, i int, rep any) any {
	if i == 0 {
		return rep
	}
	i-- // v itself
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			out[k] = replaceChild(v[k], &i, rep)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for j, c := range v {
			out[j] = replaceChild(c, &i, rep)
		}
		return out
	}
	return v
}

// replaceChild replaces the *i-th value within c when c holds it, and moves
// *i past c's values.
func replaceChild(c any, i *int, rep any) any {
	n := countNodes(c)
	if *i >= 0 && *i < n {
		c = replaceNode(c, *i, rep)
	}
	*i -= n
	return c
}

func FuzzDecode(f *testing.F) {
	for _, s := range samples(f) {
		f.Add(http.MethodPost, contentTypeOf(s.file), s.body)
	}
	f.Add(http.MethodPost, "", []byte(`[[[{"a":"\u00e9\"]"}]]]`))
	f.Add(http.MethodPost, "application/x-www-form-urlencoded", []byte("payload=%7B%22a%22%3A%5B1%5D%7D&x=%zz"))
	f.Add(http.MethodGet, "text/plain", []byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, method, contentType string, data []byte) {
		// A GET reads the query; feed it the same bytes as a query string.
		query, _ := url.ParseQuery(string(data))
		body, raw, err := Decode(&Request{Method: method, ContentType: contentType, Body: data, Query: query})
		if raw != string(data) {
			t.Fatalf("raw %q, want the body", raw)
		}
		if err != nil {
			if body != nil || workflows.ErrorCode(err) != workflows.EInvalid {
				t.Fatalf("error %v with body %v", err, body)
			}
			return
		}
		if _, err := json.Marshal(body); err != nil {
			t.Fatalf("decoded body does not encode: %v", err)
		}
	})
}

// FuzzNormalize sends each input to every provider, since any provider may be
// configured on a path that anyone can POST to.
func FuzzNormalize(f *testing.F) {
	for _, s := range samples(f) {
		f.Add(eventFor(s), contentTypeOf(s.file), s.body)
	}
	f.Fuzz(func(t *testing.T, event, contentType string, data []byte) {
		normalizeNoPanic(t, &Request{Method: http.MethodPost, Headers: eventHeaders(event), Body: data, ContentType: contentType})
	})
}

func TestReplaceNode(t *testing.T) {
	v := map[string]any{"b": "x", "a": []any{1.0, 2.0}}
	// Depth first, keys sorted: the root, a, a[0], a[1], b.
	if n := countNodes(v); n != 5 {
		t.Fatalf("countNodes = %d, want 5", n)
	}
	for i, want := range []any{
		"R",
		map[string]any{"a": "R", "b": "x"},
		map[string]any{"a": []any{"R", 2.0}, "b": "x"},
		map[string]any{"a": []any{1.0, "R"}, "b": "x"},
		map[string]any{"a": []any{1.0, 2.0}, "b": "R"},
	} {
		if got := replaceNode(v, i, "R"); !jsonEqual(t, got, want) {
			t.Errorf("replaceNode(v, %d) = %v, want %v", i, got, want)
		}
	}
	if !jsonEqual(t, v, map[string]any{"a": []any{1.0, 2.0}, "b": "x"}) {
		t.Errorf("replaceNode changed its input: %v", v)
	}
}
