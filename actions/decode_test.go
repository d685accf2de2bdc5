package actions

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

func TestDecode(t *testing.T) {
	type params struct {
		URL     string   `json:"url"`
		Timeout Duration `json:"timeout"`
		Max     ByteSize `json:"max"`
	}
	var p params
	if err := Decode(map[string]any{"url": "x", "timeout": "5s", "max": "1Mi"}, &p); err != nil {
		t.Fatal(err)
	}
	if p.URL != "x" || time.Duration(p.Timeout) != 5*time.Second || p.Max != 1<<20 {
		t.Errorf("decoded %+v", p)
	}
	if err := Decode(map[string]any{"timeout": "1d12h"}, &p); err != nil || time.Duration(p.Timeout) != 36*time.Hour {
		t.Errorf("timeout 1d12h decoded as %s, %v", time.Duration(p.Timeout), err)
	}
	for with, want := range map[string]map[string]any{
		`with: unknown field "urll"`:                                                   {"urll": "x"},
		`with: timeout: invalid duration "soon"`:                                       {"url": "x", "timeout": "soon"},
		`with: max: invalid size "lots"`:                                               {"max": "lots"},
		`with: cannot unmarshal number into Go struct field params.url of type string`: {"url": 1},
	} {
		if err := Decode(want, &params{}); err == nil || !strings.HasPrefix(err.Error(), with) {
			t.Errorf("Decode(%v) = %v, want prefix %q", want, err, with)
		}
	}
}

func TestRegistry(t *testing.T) {
	kind := Kind{Name: "demo", Params: &struct {
		URL string `json:"url"`
	}{}, New: func(with map[string]any) (Action, error) { return nil, nil }}
	if _, err := NewRegistry(kind, kind); err == nil || !strings.Contains(err.Error(), "registered twice") {
		t.Errorf("duplicate kinds: %v", err)
	}
	r, err := NewRegistry(kind)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.CheckAction("demo", []string{"url"}, nil); err != nil {
		t.Error(err)
	}
	if err := r.CheckAction("demo", []string{"ulr"}, nil); err == nil || !strings.Contains(err.Error(), `did you mean "url"`) {
		t.Errorf("unknown key: %v", err)
	}
	if err := r.CheckAction("nope", nil, nil); err == nil || !strings.Contains(err.Error(), "use one of demo") {
		t.Errorf("unknown kind: %v", err)
	}
}

// TestRegistryRunKind checks that the kind of run: steps is registered like
// any other, once, but is not offered to uses:.
func TestRegistryRunKind(t *testing.T) {
	newKind := func(name string) Kind {
		return Kind{Name: name, Params: &struct {
			Script string `json:"script"`
		}{}, New: func(with map[string]any) (Action, error) { return nil, nil }}
	}
	run, demo := newKind(workflows.RunAction), newKind("demo")
	if _, err := NewRegistry(run, demo, run); err == nil || !strings.Contains(err.Error(), `"run" registered twice`) {
		t.Errorf("the run kind twice: %v", err)
	}
	r, err := NewRegistry(run, demo)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := r.Lookup(workflows.RunAction); !ok || k.Name != workflows.RunAction {
		t.Errorf("Lookup(run) = %v, %v", k.Name, ok)
	}
	if got := r.Names(); !slices.Equal(got, []string{"demo"}) {
		t.Errorf("Names = %v, want [demo]", got)
	}
	if err := r.CheckAction(workflows.RunAction, []string{"script"}, map[string]any{"script": "true"}); err != nil {
		t.Errorf("CheckAction(run): %v", err)
	}
	if err := r.CheckAction("nope", nil, nil); err == nil || !strings.HasSuffix(err.Error(), "use one of demo") {
		t.Errorf("unknown kind: %v", err)
	}
}

func TestRegistryURLKeys(t *testing.T) {
	newKind := func(params any) Kind {
		return Kind{Name: "demo", Params: params, New: func(map[string]any) (Action, error) { return nil, nil }}
	}
	r, err := NewRegistry(newKind(&struct {
		URL      string `json:"url" template:"url"`
		Callback string `json:"callback,omitempty" template:"url"`
		Method   string `json:"method"`
	}{}))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.URLKeys("demo"); !slices.Equal(got, []string{"url", "callback"}) {
		t.Errorf("URLKeys(demo) = %v, want [url callback]", got)
	}
	if got := r.URLKeys("nope"); got != nil {
		t.Errorf("URLKeys(nope) = %v, want none", got)
	}

	for name, tt := range map[string]struct {
		params any
		want   string
	}{
		"misspelt tag": {&struct {
			URL string `json:"url" template:"uri"`
		}{}, `with: url: template tag "uri"`},
		"not a string": {&struct {
			URLs []string `json:"urls" template:"url"`
		}{}, `with: urls: template:"url" goes on a string field`},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewRegistry(newKind(tt.params)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewRegistry: %v, want an error with %q", err, tt.want)
			}
		})
	}
}
