package workflows

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustParse(t testing.TB, name, src string) *Workflow {
	t.Helper()
	w, err := Parse(name+".yaml", []byte(src), nil)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return w
}

func mustSet(t testing.TB, ws ...*Workflow) *Set {
	t.Helper()
	s, err := NewSet("test", ws)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMatchReasons(t *testing.T) {
	push := func(mod func(*Event)) *Event {
		ev := &Event{Path: "github", Method: "POST", Type: "push", Name: "push", Branch: "main",
			Sender: "alice", Changed: []string{"deploy/app.yaml", "README.md"}}
		if mod != nil {
			mod(ev)
		}
		return ev
	}
	tests := []struct {
		name, on, extra string
		event           *Event
		run             bool
		reason          string
	}{
		{"plain", `{path: github}`, "", push(nil), true, ""},
		{"events match type", `{path: github, events: [push]}`, "", push(nil), true, ""},
		{"events miss", `{path: github, events: [tag]}`, "", push(nil), false, "events: push not in [tag]"},
		{"events type.action", `{path: github, events: [pull_request.opened]}`, "",
			push(func(e *Event) { e.Type, e.Name, e.Action = "pull_request", "pull_request", "opened" }), true, ""},
		{"branches match glob", `{path: github, branches: ["release/*"]}`, "",
			push(func(e *Event) { e.Branch = "release/1.2" }), true, ""},
		{"branches negated", `{path: github, branches: ["release/*", "!release/old"]}`, "",
			push(func(e *Event) { e.Branch = "release/old" }), false, "branches: no match for release/old"},
		{"branches miss", `{path: github, branches: [main]}`, "",
			push(func(e *Event) { e.Branch = "dev" }), false, "branches: no match for dev"},
		{"branches no branch", `{path: github, branches: [main]}`, "",
			push(func(e *Event) { e.Branch, e.Type, e.Tag = "", "tag", "v1" }), false, "branches: event has no branch"},
		{"pull request base branch", `{path: github, branches: [main]}`, "",
			push(func(e *Event) { e.Type, e.Branch, e.PullRequest.Base = "pull_request", "", "main" }), true, ""},
		{"paths match", `{path: github, paths: ["deploy/**"]}`, "", push(nil), true, ""},
		{"paths miss", `{path: github, paths: ["charts/**"]}`, "", push(nil), false, "paths: no changed file matches charts/**"},
		{"method", `{path: github}`, "", push(func(e *Event) { e.Method = "GET" }), false, "methods: GET not in [POST]"},
		{"if false", `{path: github}`, `if: event.branch == "prod"`, push(nil), false, "if: false"},
		{"if sender bot", `{path: github}`, `if: '!(event.sender endsWith "[bot]")'`,
			push(func(e *Event) { e.Sender = "dependabot[bot]" }), false, "if: false"},
		{"if absent field", `{path: github}`, `if: event.body.repository.private == nil`, push(nil), true, ""},
		{"disabled", `{path: github}`, "disabled: true", push(nil), false, "workflow disabled"},
		{"changed()", `{path: github}`, `if: changed("deploy/**")`, push(nil), true, ""},
		{"changed() miss", `{path: github}`, `if: changed("src/**", "go.mod")`, push(nil), false, "if: false"},
		{"glob()", `{path: github}`, `if: glob(event.branch, "ma*")`, push(nil), true, ""},
		{"for_each empty", `{path: github}`, "for_each: event.alerts", push(nil), false, "for_each: no items"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := mustParse(t, "wf", "on:\n  webhook: "+tt.on+"\n"+tt.extra+"\nsteps: [{run: echo}]\n")
			verdicts := mustSet(t, w).Match(NewScope(tt.event))
			if len(verdicts) != 1 {
				t.Fatalf("got %d verdicts, want 1", len(verdicts))
			}
			v := verdicts[0]
			if v.Run != tt.run || v.Reason != tt.reason {
				t.Errorf("run=%v reason=%q, want run=%v reason=%q", v.Run, v.Reason, tt.run, tt.reason)
			}
		})
	}
}

func TestMatchOnlyPath(t *testing.T) {
	a := mustParse(t, "a", "on: {webhook: {path: one}}\nsteps: [{run: echo}]")
	b := mustParse(t, "b", "on: {webhook: [{path: two}, {path: one, events: [tag]}]}\nsteps: [{run: echo}]")
	s := mustSet(t, a, b)
	verdicts := s.Match(NewScope(&Event{Path: "two", Method: "POST"}))
	if len(verdicts) != 1 || verdicts[0].Workflow.Name != "b" || !verdicts[0].Run {
		t.Fatalf("verdicts for /hooks/two: %+v", verdicts)
	}
	verdicts = s.Match(NewScope(&Event{Path: "one", Method: "POST", Type: "push"}))
	if len(verdicts) != 2 || !verdicts[0].Run || verdicts[1].Run {
		t.Fatalf("verdicts for /hooks/one: %+v", verdicts)
	}
}

func TestForEachWithIf(t *testing.T) {
	w := mustParse(t, "heal", `
on: {webhook: {path: am, provider: alertmanager}}
for_each: event.alerts
if: item.status == "firing" && item.labels.severity == "critical"
steps: [{run: echo}]
`)
	ev := &Event{Path: "am", Method: "POST", Alerts: []Alert{
		{Status: "firing", Labels: map[string]string{"severity": "critical", "instance": "a"}},
		{Status: "resolved", Labels: map[string]string{"severity": "critical", "instance": "b"}},
		{Status: "firing", Labels: map[string]string{"severity": "warning", "instance": "c"}},
		{Status: "firing", Labels: map[string]string{"severity": "critical", "instance": "d"}},
		{Status: "firing"},
	}}
	v := w.Decide(NewScope(ev))
	if !v.Run || len(v.Items) != 2 {
		t.Fatalf("verdict %+v, want 2 items", v)
	}
	for i, want := range []string{"a", "d"} {
		if got := v.Items[i].(Alert).Labels["instance"]; got != want {
			t.Errorf("item %d instance = %q, want %q", i, got, want)
		}
	}
	ev.Alerts = ev.Alerts[1:3]
	if v := w.Decide(NewScope(ev)); v.Run || v.Reason != "if: false for all 2 items" {
		t.Errorf("verdict %+v", v)
	}
}

func TestTemplateTypes(t *testing.T) {
	w := mustParse(t, "t", `
on: {dispatch: {}}
steps:
  - uses: demo
    with:
      number: ${{ inputs.n }}
      bool: "${{ inputs.n > 1 }}"
      list: ${{ event.changed }}
      map: ${{ event.labels }}
      mixed: "n=${{ inputs.n }} ok=${{ inputs.n > 1 }} missing=${{ item.x }}"
      literal: plain
      nested: {deep: ["a-${{ event.branch }}", 7, true]}
      json: ${{ toJSON(event.labels) }}
      parsed: ${{ fromJSON("[1,2]") }}
      huge: ${{ fromJSON("[1e999,2]") }}
      braces: ${{ "}}" + event.branch }}
`)
	ev := &Event{Branch: "main", Changed: []string{"a", "b"}, Labels: map[string]string{"k": "v"}}
	scope := NewScope(ev)
	scope.Inputs = map[string]any{"n": 3}
	got, err := w.Steps[0].With.Render(scope)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"number":  3,
		"bool":    true,
		"list":    []string{"a", "b"},
		"map":     map[string]string{"k": "v"},
		"mixed":   "n=3 ok=true missing=",
		"literal": "plain",
		"nested":  map[string]any{"deep": []any{"a-main", 7, true}},
		"json":    `{"k":"v"}`,
		"parsed":  []any{1.0, 2.0},
		"huge":    []any{"1e999", 2.0},
		"braces":  "}}main",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rendered\n%#v\nwant\n%#v", got, want)
	}
}

func TestSecretsCollected(t *testing.T) {
	w := mustParse(t, "s", `
on: {webhook: {path: x, secret: "${{ secrets.HOOK }}"}}
env: {TOKEN: "${{ secrets.API_TOKEN }}"}
steps:
  - run: echo
    env: {B: "${{ secrets['OTHER'] }}"}
`)
	want := []string{"HOOK", "API_TOKEN", "OTHER"}
	if !reflect.DeepEqual(w.Secrets, want) {
		t.Errorf("secrets %v, want %v", w.Secrets, want)
	}
}

func TestNamesAndPaths(t *testing.T) {
	a := mustParse(t, "deploy", "on: {webhook: {path: /gh, provider: github, secret: a}}\nsteps: [{run: echo}]")
	if a.Name != "deploy" || a.On.Webhook[0].Path != "gh" {
		t.Errorf("name %q path %q", a.Name, a.On.Webhook[0].Path)
	}
	dup := mustParse(t, "other", "name: deploy\non: {dispatch: {}}\nsteps: [{run: echo}]")
	if _, err := NewSet("x", []*Workflow{a, dup}); err == nil || !strings.Contains(err.Error(), `workflow name "deploy" is also used`) {
		t.Errorf("duplicate names: %v", err)
	}
	clash := mustParse(t, "clash", "on: {webhook: {path: gh, provider: gitlab, secret: a}}\nsteps: [{run: echo}]")
	if _, err := NewSet("x", []*Workflow{a, clash}); err == nil || !strings.Contains(err.Error(), "same provider and secret") {
		t.Errorf("path clash: %v", err)
	}
}

// TestGlobs pins the glob language (docs/workflows.md#globs): `*` and `?`
// within a segment, `**` across segments wherever it stands, classes, and
// everything else literal.
func TestGlobs(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"*.go", "main.go", true},
		{"*.go", "cmd/main.go", false},
		{"*", "", true},
		{"*", "a/b", false},
		{"release/*", "release/1.0", true},
		{"release/*", "release/1.0/x", false},
		{"release/*", "release/", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "ax/bc", false},

		// ** at the start: any folders, none included.
		{"**/*.go", "cmd/main.go", true},
		{"**/*.go", "main.go", true},
		{"**/x.txt", "a/b/x.txt", true},
		{"**/x.txt", "ax.txt", false},
		// ** in the middle: zero or more folders.
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"a/**/b", "a/xb", false},
		{"src/**/*_test.go", "src/a/b/c_test.go", true},
		{"src/**/*_test.go", "src/c_test.go", true},
		// ** at the end: everything below, not the folder itself.
		{"deploy/**", "deploy/a/b.yaml", true},
		{"deploy/**", "deploy/", true},
		{"deploy/**", "deploy", false},
		{"deploy/**", "deployment/a", false},
		{"**", "any/thing/at/all", true},
		// ** inside a segment still crosses segments, as in GitHub Actions.
		{"**.js", "a/b/c.js", true},
		{"docs/**.md", "docs/a/b.md", true},
		{"feature**", "feature/x/y", true},

		{"v?.*", "v1.2", true},
		{"v?", "v12", false},
		{"a?b", "a/b", false},
		{"[abc].txt", "b.txt", true},
		{"[abc].txt", "d.txt", false},
		{"[a-c]x", "bx", true},
		{"[a-c]x", "dx", false},
		{"[!abc].txt", "b.txt", false},
		{"[!abc].txt", "d.txt", true},
		{"[^abc].txt", "d.txt", true},
		{"v[0-9].[0-9]*", "v1.25", true},
		{"v[0-9].[0-9]*", "vx.25", false},

		// Regular-expression and other glob syntax is literal.
		{"a+b(c).txt", "a+b(c).txt", true},
		{"a+b(c).txt", "aab(c).txt", false},
		{"{a,b}.txt", "{a,b}.txt", true},
		{"{a,b}.txt", "a.txt", false},
		{`a\b`, `a\b`, true},
		{"a.b", "axb", false},
		{"$x^", "$x^", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.path, func(t *testing.T) {
			m, err := compileGlob(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.MatchString(tt.path); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestBadGlobs checks that a malformed pattern is refused, with a message
// that names it and says what is wrong.
func TestBadGlobs(t *testing.T) {
	for pattern, want := range map[string]string{
		"[":          `bad glob "[": [ without a closing ]`,
		"release/[a": `bad glob "release/[a": [ without a closing ]`,
		"[]":         `bad glob "[]": empty character class []`,
		"x[!]":       `bad glob "x[!]": empty character class [!]`,
		"[z-a]":      `bad glob "[z-a]": invalid character class range: z-a`,
	} {
		if _, err := compileGlob(pattern); err == nil || err.Error() != want {
			t.Errorf("compileGlob(%q) = %v, want %s", pattern, err, want)
		}
	}
}

func TestResolveInputs(t *testing.T) {
	w := mustParse(t, "d", `
on:
  dispatch:
    inputs:
      version: {type: string, required: true}
      replicas: {type: number, default: 2}
      dry: {type: boolean, default: false}
      env: {type: choice, options: [staging, prod], default: staging}
steps: [{run: echo}]
`)
	d := w.On.Dispatch
	got, err := d.ResolveInputs(map[string]any{"version": "1.2", "replicas": "3", "dry": "true"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"version": "1.2", "replicas": 3.0, "dry": true, "env": "staging"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for name, given := range map[string]map[string]any{
		`input "version" is required`:                  {},
		`input "verson" is not declared`:               {"version": "1", "verson": "x"},
		`input "replicas": abc is not a number`:        {"version": "1", "replicas": "abc"},
		`input "env": dev is not one of staging, prod`: {"version": "1", "env": "dev"},
	} {
		if _, err := d.ResolveInputs(given); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%v: error %v, want %q", given, err, name)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	r := &Retry{Attempts: 5, Delay: Duration(time.Second), Backoff: 2, MaxDelay: Duration(5 * time.Second)}
	for attempt, want := range map[int]time.Duration{2: time.Second, 3: 2 * time.Second, 4: 4 * time.Second, 5: 5 * time.Second} {
		if got := r.DelayBefore(attempt); got != want {
			t.Errorf("delay before attempt %d = %s, want %s", attempt, got, want)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"512": 512, "1Ki": 1024, "1Gi": 1 << 30, "8MiB": 8 << 20, "10MB": 10e6, "2K": 2000} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "lots", "-1", "1.5Gi", "99999999999Ti"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) accepted", bad)
		}
	}
}

// TestProviderNamesIsACopy checks that changing the list ProviderNames
// returns changes neither what later callers get nor what workflows accept.
func TestProviderNamesIsACopy(t *testing.T) {
	names := ProviderNames()
	names[slices.Index(names, "github")] = "gitbucket"
	if got := ProviderNames(); !slices.Contains(got, "github") || slices.Contains(got, "gitbucket") {
		t.Errorf("ProviderNames() = %v after a caller changed its copy", got)
	}
	mustParse(t, "gh", "on: {webhook: {path: gh, provider: github}}\nsteps: [{run: echo}]")
	_, err := Parse("gb.yaml", []byte("on: {webhook: {path: gh, provider: gitbucket}}\nsteps: [{run: echo}]"), nil)
	if err == nil || !strings.Contains(err.Error(), `webhook provider "gitbucket" is not known`) {
		t.Errorf("provider gitbucket: %v", err)
	}
}

// TestSpecExample parses the complete example of SPEC §2 and checks that every
// field arrived where it belongs.
func TestSpecExample(t *testing.T) {
	data, err := os.ReadFile("testdata/valid/spec-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w, err := Parse("spec-example.yaml", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := w.On.Webhook[0]
	checks := map[string]bool{
		"name":         w.Name == "deploy-web" && w.Description == "Pull and deploy on push to main",
		"webhook":      h.Path == "github" && h.Provider == "github" && h.Secret.Source == "${{ secrets.GITHUB_WEBHOOK_SECRET }}",
		"filters":      slices.Equal(h.Events, []string{"push"}) && slices.Equal(h.Branches.Patterns, []string{"main", "release/*", "!release/old"}) && slices.Equal(h.Paths.Patterns, []string{"deploy/**"}),
		"methods":      slices.Equal(h.Methods, []string{"POST"}) && h.Respond == RespondAsync,
		"cron":         len(w.On.Cron) == 1 && w.On.Cron[0].Schedule == "0 3 * * *" && w.On.Cron[0].Timezone == "Europe/Berlin",
		"dispatch":     len(w.On.Dispatch.Inputs) == 1 && w.On.Dispatch.Inputs[0].Name == "version" && w.On.Dispatch.Inputs[0].Required,
		"if":           w.If.Source == `event.branch == "main" && !(event.sender endsWith "[bot]")`,
		"for_each":     w.ForEach.Source == "event.alerts",
		"concurrency":  w.Concurrency.Group.Source == "deploy-${{ event.repo }}" && !w.Concurrency.CancelInProgress && w.Concurrency.Pending == PendingAll,
		"cooldown":     w.Cooldown.Period == Duration(15*time.Minute),
		"timeout":      w.Timeout == Duration(30*time.Minute),
		"env":          len(w.Env) == 2 && w.Env[0].Name == "APP" && w.Env[1].Value.Source == "${{ event.commit }}",
		"sandbox":      *w.Sandbox.Network && w.Sandbox.Memory == 1<<30 && w.Sandbox.Pids == 512,
		"defaults":     w.Defaults.Shell == "bash" && w.Defaults.WorkingDirectory == "src",
		"steps":        len(w.Steps) == 4 && w.Steps[0].Uses == "git" && w.Steps[1].ID == "build",
		"retry":        w.Steps[1].Retry.Attempts == 3 && w.Steps[1].Retry.Backoff == 2 && w.Steps[1].Retry.MaxDelay == Duration(time.Minute),
		"step timeout": w.Steps[1].Timeout == Duration(10*time.Minute),
		"step if":      w.Steps[3].If.Source == "failure()" && w.Steps[3].If.UsesStatus(),
		"secrets":      slices.Equal(w.Secrets, []string{"GITHUB_WEBHOOK_SECRET"}),
	}
	for name, ok := range checks {
		if !ok {
			t.Errorf("%s not parsed as written", name)
		}
	}
}

// TestAbsentMapsAreEmpty: a key of a map the event lacks (no query, no
// headers, an alert without annotations) reads as "", so that a filter on it
// is false, never an error (SPEC §4).
func TestAbsentMapsAreEmpty(t *testing.T) {
	events := map[string]*Event{
		"no maps":    {Alerts: []Alert{{Status: "firing"}}},
		"other keys": {Headers: map[string]string{"a": "b"}, Query: map[string]string{"a": "b"}, Labels: map[string]string{"a": "b"}, Annotations: map[string]string{"a": "b"}, Alerts: []Alert{{Labels: map[string]string{"a": "b"}, Annotations: map[string]string{"a": "b"}}}},
	}
	for _, src := range []string{`event.query.env == "prod"`, `event.headers.foo == "x"`, `event.labels.foo == "x"`,
		`event.annotations.foo == "x"`, `event.alerts[0].labels.foo == "x"`, `event.alerts[0].annotations.foo startsWith "x"`} {
		e, err := compileExpr(src)
		if err != nil {
			t.Fatal(err)
		}
		for name, ev := range events {
			t.Run(src+"/"+name, func(t *testing.T) {
				if ok, err := e.Bool(NewScope(ev)); ok || err != nil {
					t.Errorf("= %v, %v; want false, no error", ok, err)
				}
			})
		}
	}
	ev := &Event{}
	NewScope(ev)
	if ev.Headers != nil || ev.Query != nil {
		t.Error("NewScope modified the event")
	}
}
