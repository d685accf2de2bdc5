package workflows_test

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/actions/actiontest"
	httpaction "github.com/hookflow/hookflow/actions/http"
	"github.com/hookflow/hookflow/workflows"
)

var update = flag.Bool("update", false, "rewrite golden files")

// registry is the real action registry the binary ships with the kinds that
// this package's tests name.
func registry(t testing.TB) *actions.Registry {
	t.Helper()
	return actiontest.Registry(t, httpaction.Kind())
}

// TestInvalidGolden parses every file in testdata/invalid and compares the
// errors with the .golden file beside it.
func TestInvalidGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, err = workflows.Parse(file, data, registry(t))
			if err == nil {
				t.Fatal("parsed without error")
			}
			got := err.Error() + "\n"
			for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
				if !strings.HasPrefix(line, file+":") {
					t.Errorf("error line does not start with file:line:col: %q", line)
				}
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./workflows -run Golden -update)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

// TestStepActions checks the action each step is given when its workflow
// loads: a run: step's is the run kind with the script and the shell that
// applies to it (its own, else defaults.shell, else none), which no template
// reaches; a uses: step's is its kind with its with:.
func TestStepActions(t *testing.T) {
	src := `
on: {dispatch: {}}
defaults: {shell: sh}
steps:
  - run: echo "$A"
  - run: print(1)
    shell: python3
  - uses: http
    with: {url: "https://example.com/${{ event.ref }}"}
  - uses: http
    with: {url: "https://example.com/"}
`
	w, err := workflows.Parse("steps.yaml", []byte(src), registry(t))
	if err != nil {
		t.Fatal(err)
	}
	scope := workflows.NewScope(&workflows.Event{Ref: "main"})
	want := []struct {
		action string
		params map[string]any
	}{
		{workflows.RunAction, map[string]any{"script": `echo "$A"`, "shell": "sh"}},
		{workflows.RunAction, map[string]any{"script": "print(1)", "shell": "python3"}},
		{"http", map[string]any{"url": "https://example.com/main"}},
		{"http", map[string]any{"url": "https://example.com/"}},
	}
	for i, s := range w.Steps {
		if s.Action != want[i].action {
			t.Errorf("step %d: Action = %q, want %q", i, s.Action, want[i].action)
		}
		got, err := s.Params.Render(scope)
		if err != nil {
			t.Fatalf("step %d: render: %v", i, err)
		}
		if !reflect.DeepEqual(got, want[i].params) {
			t.Errorf("step %d: Params = %v, want %v", i, got, want[i].params)
		}
	}

	noDefault, err := workflows.Parse("plain.yaml", []byte("on: {dispatch: {}}\nsteps: [{run: 'true'}]\n"), registry(t))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := noDefault.Steps[0].Params.Render(nil); !reflect.DeepEqual(got, map[string]any{"script": "true", "shell": ""}) {
		t.Errorf("without a shell: Params = %v, want no shell (bash, else sh, chosen when it runs)", got)
	}
}

// TestRunStepsNeedTheRunKind checks that run: steps are checked against the
// registry like uses: steps: a registry without the run kind cannot load them.
func TestRunStepsNeedTheRunKind(t *testing.T) {
	reg, err := actions.NewRegistry(httpaction.Kind())
	if err != nil {
		t.Fatal(err)
	}
	_, err = workflows.Parse("run.yaml", []byte("on: {dispatch: {}}\nsteps:\n  - run: 'true'\n"), reg)
	if err == nil || !strings.Contains(err.Error(), `run.yaml:3:5: run: unknown action "run": use one of http`) {
		t.Errorf("error = %v, want the run kind reported missing", err)
	}
}
