package runner

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/actions/actiontest"
	httpaction "github.com/hookflow/hookflow/actions/http"
	"github.com/hookflow/hookflow/workflows"
)

// recorder is an Observer that keeps everything it is told.
type recorder struct {
	mu        sync.Mutex
	lines     []LogLine
	started   []string
	startedAs []StepResult
	finished  []StepResult
}

func (r *recorder) StepStarted(s StepResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = append(r.started, s.ID)
	r.startedAs = append(r.startedAs, s)
}

func (r *recorder) StepFinished(s StepResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finished = append(r.finished, s)
}

func (r *recorder) Log(l LogLine) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, l)
}

// text returns the log lines of stream ("" for all), joined by newlines.
func (r *recorder) text(stream string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, l := range r.lines {
		if stream == "" || l.Stream == stream {
			b.WriteString(l.Text + "\n")
		}
	}
	return b.String()
}

func newExecutor(t *testing.T) *Executor {
	t.Helper()
	return &Executor{Actions: actiontest.Registry(t, httpaction.Kind()), WorkspaceRoot: t.TempDir(), Path: os.Getenv("PATH"), KillGrace: 200 * time.Millisecond, CleanupTimeout: 30 * time.Second}
}

func parse(t *testing.T, src string) *workflows.Workflow {
	t.Helper()
	w, err := workflows.Parse("test.yaml", []byte(src), actiontest.Registry(t, httpaction.Kind()))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// execute runs src for ev with a generous safety timeout.
func execute(t *testing.T, x *Executor, src string, ev *workflows.Event, mod ...func(*Job)) (Result, *recorder) {
	t.Helper()
	if ev == nil {
		ev = &workflows.Event{ID: "ev1", Type: "push", Branch: "main"}
	}
	job := &Job{ID: strings.ReplaceAll(t.Name(), "/", "_"), Workflow: parse(t, src), Event: ev, Attempt: 1}
	for _, m := range mod {
		m(job)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rec := &recorder{}
	return x.Execute(ctx, job, rec), rec
}

func outcomes(res Result) map[string]string {
	m := map[string]string{}
	for _, s := range res.Steps {
		m[s.ID] = s.Outcome
	}
	return m
}

func TestOutputsFlowBetweenSteps(t *testing.T) {
	res, rec := execute(t, newExecutor(t), `
on: {dispatch: {}}
env: {BRANCH: "${{ event.branch }}"}
steps:
  - id: one
    run: |
      echo "tag=v-$BRANCH" >> "$HOOKFLOW_OUTPUT"
      printf 'notes<<EOF\nline 1\nline 2\nEOF\n' >> "$HOOKFLOW_OUTPUT"
  - id: two
    env: {TAG: "${{ steps.one.outputs.tag }}", NOTES: "${{ steps.one.outputs.notes }}", OUTCOME: "${{ steps.one.outcome }}"}
    run: echo "got $TAG/$OUTCOME/$(echo "$NOTES" | wc -l)"
`, nil)
	if res.Status != workflows.StatusSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Reason)
	}
	if got := res.Steps[0].Outputs["notes"]; got != "line 1\nline 2" {
		t.Errorf("multi-line output %q", got)
	}
	if !strings.Contains(rec.text(Stdout), "got v-main/success/2") {
		t.Errorf("log:\n%s", rec.text(""))
	}
}

// TestStepStates: a step is `running`, with no exit code, from its start
// until it ends; then it has the exit code of what it ran, and a step that ran
// nothing has none.
func TestStepStates(t *testing.T) {
	res, rec := execute(t, newExecutor(t), `
on: {dispatch: {}}
steps:
  - {id: ran, run: "true"}
  - {id: skipped, if: event.branch == "nope", run: "true"}
  - {id: nowhere, working_directory: missing, run: "true"}
`, nil)
	asJSON := func(s StepResult) map[string]any {
		t.Helper()
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	// A step is reported started again once its process runs, to record it.
	var started []string
	for _, s := range rec.startedAs {
		if !slices.Contains(started, s.ID) {
			started = append(started, s.ID)
		}
	}
	if !slices.Equal(started, []string{"ran", "nowhere"}) {
		t.Fatalf("steps started: %v, want [ran nowhere]", started)
	}
	for _, s := range rec.startedAs {
		if m := asJSON(s); m["outcome"] != workflows.OutcomeRunning || m["exit_code"] != nil || s.ExitCode != nil {
			t.Errorf("step %s started as %v, want running without exit_code", s.ID, m)
		}
	}
	for _, tc := range []struct {
		outcome string
		exit    any // as JSON decodes it; nil for absent
	}{
		{workflows.OutcomeSuccess, 0.0},
		{workflows.OutcomeSkipped, nil},
		{workflows.OutcomeFailure, nil}, // its working directory is missing: nothing ran
	} {
		i := slices.IndexFunc(res.Steps, func(s StepResult) bool { return s.Outcome == tc.outcome })
		if i < 0 {
			t.Fatalf("no step ended %s: %+v", tc.outcome, res.Steps)
		}
		if m := asJSON(res.Steps[i]); m["exit_code"] != tc.exit {
			t.Errorf("step %s (%s): exit_code %v, want %v", res.Steps[i].ID, tc.outcome, m["exit_code"], tc.exit)
		}
	}
}

func TestStatusFunctions(t *testing.T) {
	dir := t.TempDir()
	order := filepath.Join(dir, "order")
	res, _ := execute(t, newExecutor(t), `
on: {dispatch: {}}
env: {ORDER: `+order+`}
steps:
  - {id: ok, run: echo ok >> "$ORDER"}
  - {id: fails, run: 'echo fails >> "$ORDER"; exit 3'}
  - {id: normal, run: echo normal >> "$ORDER"}
  - {id: on_failure, if: failure(), run: echo on_failure >> "$ORDER"}
  - {id: on_success, if: success(), run: echo on_success >> "$ORDER"}
  - {id: plain_if, if: event.branch == "main", run: echo plain_if >> "$ORDER"}
  - {id: always, if: always(), run: echo always >> "$ORDER"}
  - {id: on_cancel, if: cancelled(), run: echo on_cancel >> "$ORDER"}
`, nil)
	if res.Status != workflows.StatusFailed || !strings.Contains(res.Reason, "step fails failed") {
		t.Fatalf("status %s reason %q", res.Status, res.Reason)
	}
	data, _ := os.ReadFile(order)
	if got, want := strings.Fields(string(data)), []string{"ok", "fails", "on_failure", "always"}; !slices.Equal(got, want) {
		t.Errorf("steps ran in order %v, want %v", got, want)
	}
	want := map[string]string{"ok": "success", "fails": "failure", "normal": "skipped", "on_failure": "success",
		"on_success": "skipped", "plain_if": "skipped", "always": "success", "on_cancel": "skipped"}
	if got := outcomes(res); !mapsEqual(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
	if c := res.Steps[1].ExitCode; c == nil || *c != 3 {
		t.Errorf("exit code %v, want 3", c)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestContinueOnError(t *testing.T) {
	res, _ := execute(t, newExecutor(t), `
on: {dispatch: {}}
steps:
  - {id: flaky, run: exit 1, continue_on_error: true}
  - {id: next, run: 'true'}
  - {id: report, if: steps.flaky.outcome == "failure", run: 'true'}
`, nil)
	if res.Status != workflows.StatusSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Reason)
	}
	if got := outcomes(res); got["flaky"] != "failure" || got["next"] != "success" || got["report"] != "success" {
		t.Errorf("outcomes %v", got)
	}
	res, _ = execute(t, newExecutor(t), `
on: {dispatch: {}}
steps:
  - {id: lint, run: exit 1, continue_on_error: true}
  - {id: deploy, run: exit 2}
`, nil)
	if res.Status != workflows.StatusFailed || res.Reason != "step deploy failed: exit code 2" {
		t.Errorf("status %s reason %q, want the step that failed the run", res.Status, res.Reason)
	}
}

func TestRetry(t *testing.T) {
	counter := filepath.Join(t.TempDir(), "count")
	res, rec := execute(t, newExecutor(t), `
on: {dispatch: {}}
env: {COUNTER: `+counter+`}
steps:
  - id: flaky
    retry: {attempts: 4, delay: 10ms, backoff: 2}
    run: |
      echo x >> "$COUNTER"
      [ "$(wc -l < "$COUNTER")" -ge 3 ]
  - id: hopeless
    retry: {attempts: 2, delay: 10ms}
    run: exit 7
`, nil)
	if res.Steps[0].Outcome != workflows.OutcomeSuccess || res.Steps[0].Attempts != 3 {
		t.Errorf("flaky: outcome %s after %d attempts, want success after 3", res.Steps[0].Outcome, res.Steps[0].Attempts)
	}
	if res.Steps[1].Outcome != workflows.OutcomeFailure || res.Steps[1].Attempts != 2 || res.Steps[1].ExitCode == nil || *res.Steps[1].ExitCode != 7 {
		t.Errorf("hopeless: %+v", res.Steps[1])
	}
	if n := strings.Count(rec.text(System), "retrying in"); n != 3 {
		t.Errorf("%d retry lines, want 3:\n%s", n, rec.text(System))
	}
}

func TestStepTimeoutFailsStepAndRunGoesOn(t *testing.T) {
	res, _ := execute(t, newExecutor(t), `
on: {dispatch: {}}
steps:
  - {id: slow, timeout: 200ms, run: sleep 600}
  - {id: cleanup, if: failure(), run: 'true'}
`, nil)
	if res.Status != workflows.StatusFailed || !strings.Contains(res.Reason, "timed out") {
		t.Fatalf("status %s reason %q", res.Status, res.Reason)
	}
	if got := outcomes(res); got["slow"] != "failure" || got["cleanup"] != "success" {
		t.Errorf("outcomes %v", got)
	}
}

func TestRunTimeout(t *testing.T) {
	res, _ := execute(t, newExecutor(t), `
on: {dispatch: {}}
timeout: 300ms
steps:
  - {id: slow, run: sleep 600}
  - {id: never, run: 'true'}
  - {id: always, if: always(), run: 'true'}
`, nil)
	if res.Status != workflows.StatusTimedOut {
		t.Fatalf("status %s reason %q", res.Status, res.Reason)
	}
	if got := outcomes(res); got["slow"] != "cancelled" || got["never"] != "cancelled" || got["always"] != "success" {
		t.Errorf("outcomes %v", got)
	}
	if want := "step stopped: run timed out after 300ms"; res.Steps[0].Error != want {
		t.Errorf("the stopped step's error is %q, want %q", res.Steps[0].Error, want)
	}
}

func TestCancel(t *testing.T) {
	x := newExecutor(t)
	job := &Job{ID: "cancel", Workflow: parse(t, "on: {dispatch: {}}\nsteps:\n  - {id: a, run: 'echo started; sleep 600'}\n  - {id: b, run: 'true'}\n"),
		Event: &workflows.Event{}, Attempt: 1}
	ctx, cancel := context.WithCancelCause(context.Background())
	rec := &recorder{}
	done := make(chan Result)
	go func() { done <- x.Execute(ctx, job, rec) }()
	for !strings.Contains(rec.text(Stdout), "started") {
		time.Sleep(10 * time.Millisecond)
	}
	cancel(errCancelledByTest)
	res := <-done
	if res.Status != workflows.StatusCancelled || res.Reason != errCancelledByTest.Error() {
		t.Fatalf("status %s reason %q", res.Status, res.Reason)
	}
	if got := outcomes(res); got["a"] != "cancelled" || got["b"] != "cancelled" {
		t.Errorf("outcomes %v", got)
	}
	// The step says who stopped it, not "context canceled".
	if want := "step stopped: cancelled by test"; res.Steps[0].Error != want {
		t.Errorf("the stopped step's error is %q, want %q", res.Steps[0].Error, want)
	}
	if log := rec.text(System); !strings.Contains(log, "step a stopped: cancelled by test") {
		t.Errorf("the log does not say who stopped the step:\n%s", log)
	}
}

// scriptRecorder is a stand-in for the kind of run: steps that records what
// it was built with and given.
type scriptRecorder struct {
	mu    sync.Mutex
	with  []map[string]any
	steps []*actions.Step
}

func (r *scriptRecorder) kind() actions.Kind {
	return actions.Kind{Name: workflows.RunAction, Params: &struct {
		Script string `json:"script"`
		Shell  string `json:"shell"`
	}{}, New: func(with map[string]any) (actions.Action, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.with = append(r.with, with)
		return r, nil
	}}
}

func (r *scriptRecorder) Run(_ context.Context, s *actions.Step) (actions.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps = append(r.steps, s)
	return actions.Result{Outputs: map[string]any{"ran": "yes"}}, nil
}

// TestRunStepsUseTheRegisteredKind checks that the runner builds a run:
// step's action from the registry, like any other, with the settings the
// loader gave it, and still confines it and hands it the kill grace.
func TestRunStepsUseTheRegisteredKind(t *testing.T) {
	rec := &scriptRecorder{}
	reg, err := actions.NewRegistry(rec.kind())
	if err != nil {
		t.Fatal(err)
	}
	x := newExecutor(t)
	x.Actions = reg
	w, err := workflows.Parse("run.yaml", []byte(`
on: {dispatch: {}}
defaults: {shell: sh}
steps:
  - {id: one, run: 'exit 3'}
  - {id: two, run: 'print(2)', shell: python3}
`), reg)
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{{"script": "exit 3", "shell": "sh"}, {"script": "print(2)", "shell": "python3"}}
	if !reflect.DeepEqual(rec.with, want) {
		t.Errorf("loading built the run kind with %v, want %v", rec.with, want)
	}
	rec.with = nil
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res := x.Execute(ctx, &Job{ID: "kind", Workflow: w, Event: &workflows.Event{}, Attempt: 1}, &recorder{})
	if res.Status != workflows.StatusSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Reason)
	}
	if !reflect.DeepEqual(rec.with, want) {
		t.Errorf("the run kind was built with %v, want %v", rec.with, want)
	}
	for i, s := range rec.steps {
		if s.Sandbox == nil || s.KillGrace != x.KillGrace {
			t.Errorf("step %d: Sandbox %v, KillGrace %s; want a sandbox and %s", i, s.Sandbox, s.KillGrace, x.KillGrace)
		}
	}
	if res.Steps[0].Outputs["ran"] != "yes" || res.Steps[0].Sandbox == "" {
		t.Errorf("step one: outputs %v, sandbox %q", res.Steps[0].Outputs, res.Steps[0].Sandbox)
	}
}

var errCancelledByTest = &cancelCause{}

type cancelCause struct{}

func (*cancelCause) Error() string { return "cancelled by test" }

func TestEnvironmentIsExplicit(t *testing.T) {
	t.Setenv("HOOKFLOW_LEAK_CANARY", "leaked")
	res, rec := execute(t, newExecutor(t), `
on: {dispatch: {}}
env: {A: from-workflow, B: from-workflow}
steps:
  - env: {B: from-step, HOOKFLOW_RUN_ID: spoofed}
    run: env | sort
`, &workflows.Event{Type: "push"})
	if res.Status != workflows.StatusSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Reason)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(rec.text(Stdout)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	for _, shellVar := range []string{"PWD", "SHLVL", "_", "OLDPWD"} {
		delete(got, shellVar)
	}
	var names []string
	for k := range got {
		names = append(names, k)
	}
	slices.Sort(names)
	want := []string{"A", "B", "HOME", "HOOKFLOW_ENV", "HOOKFLOW_EVENT", "HOOKFLOW_EVENT_TYPE", "HOOKFLOW_OUTPUT", "HOOKFLOW_RUN_ID", "HOOKFLOW_STEP_SUMMARY", "HOOKFLOW_WORKFLOW", "HOOKFLOW_WORKSPACE", "LANG", "PATH"}
	if !slices.Equal(names, want) {
		t.Errorf("step saw variables %v, want %v", names, want)
	}
	if got["B"] != "from-step" || got["HOOKFLOW_RUN_ID"] == "spoofed" || got["HOOKFLOW_EVENT_TYPE"] != "push" || got["LANG"] != "C.UTF-8" {
		t.Errorf("values: %v", got)
	}
	if !strings.HasPrefix(got["HOME"], got["HOOKFLOW_WORKSPACE"]) {
		t.Errorf("HOME %s is not inside the workspace %s", got["HOME"], got["HOOKFLOW_WORKSPACE"])
	}
}

func TestEventFile(t *testing.T) {
	ev := &workflows.Event{ID: "e1", Type: "push", Branch: "main; rm -rf /", Body: map[string]any{"x": "$(touch pwned)"}}
	res, rec := execute(t, newExecutor(t), `
on: {dispatch: {}}
steps:
  - run: cat "$HOOKFLOW_EVENT"; echo; echo ---; ls -A
`, ev)
	if res.Status != workflows.StatusSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Reason)
	}
	var got workflows.Event
	if err := json.Unmarshal([]byte(strings.SplitN(rec.text(Stdout), "\n", 2)[0]), &got); err != nil {
		t.Fatal(err)
	}
	if got.Branch != ev.Branch || got.ID != "e1" {
		t.Errorf("event file %+v", got)
	}
	_, listing, _ := strings.Cut(rec.text(Stdout), "---\n")
	if !strings.Contains(listing, ".hookflow") || strings.Contains(listing, "pwned") {
		t.Errorf("workspace listing %q: event data was executed, or the listing is wrong", listing)
	}
}

func TestSecretsMasked(t *testing.T) {
	secret := "s3cr3t-value-42"
	res, rec := execute(t, newExecutor(t), `
on: {dispatch: {}}
env: {TOKEN: "${{ secrets.API_TOKEN }}"}
steps:
  - run: |
      echo "plain $TOKEN"
      echo "b64 $(printf %s "$TOKEN" | base64)"
      echo "err $TOKEN" >&2
      exit 1
`, nil, func(j *Job) { j.Secrets = map[string]string{"API_TOKEN": secret} })
	if res.Status != workflows.StatusFailed {
		t.Fatalf("status %s", res.Status)
	}
	all := rec.text("")
	if strings.Contains(all, secret) || strings.Contains(all, base64.StdEncoding.EncodeToString([]byte(secret))) {
		t.Errorf("secret in log:\n%s", all)
	}
	for _, want := range []string{"plain ***", "b64 ***", "err ***"} {
		if !strings.Contains(all, want) {
			t.Errorf("log lacks %q:\n%s", want, all)
		}
	}
}

// TestSecretsMaskedInResult checks what a run reports beside its log: step
// names, outputs, errors and the reason hide the secrets, while later steps
// still read an output's real value.
func TestSecretsMaskedInResult(t *testing.T) {
	const secret = `s3cr3t-v@lue/with+chars "q"`
	res, rec := execute(t, newExecutor(t), `
on: {dispatch: {}}
env: {TOKEN: "${{ secrets.API_TOKEN }}"}
steps:
  - id: one
    name: "deploy with ${{ secrets.API_TOKEN }}"
    run: |
      echo "tok=$TOKEN" >> "$HOOKFLOW_OUTPUT"
      echo "url=https://example.com/?t=`+uriEscape(secret)+`" >> "$HOOKFLOW_OUTPUT"
  - id: two
    env: {FROM: "${{ steps.one.outputs.tok }}"}
    run: |
      if [ "$FROM" = "$TOKEN" ]; then echo "later steps read the value itself"; fi
      echo "x<<$TOKEN" >> "$HOOKFLOW_OUTPUT"
`, nil, func(j *Job) { j.Secrets = map[string]string{"API_TOKEN": secret} })
	if res.Status != workflows.StatusFailed || res.Steps[1].Outcome != workflows.OutcomeFailure {
		t.Fatalf("status %s, steps %+v", res.Status, res.Steps)
	}
	if !strings.Contains(rec.text(Stdout), "later steps read the value itself") {
		t.Errorf("step two did not read the output's value:\n%s", rec.text(""))
	}
	one := res.Steps[0]
	if one.Name != "deploy with ***" || one.Outputs["tok"] != "***" || one.Outputs["url"] != "https://example.com/?t=***" {
		t.Errorf("step one: name %q, outputs %q", one.Name, one.Outputs)
	}
	if !strings.Contains(res.Steps[1].Error, "***") || !strings.Contains(res.Reason, "***") {
		t.Errorf("error %q, reason %q: want the secret masked in them", res.Steps[1].Error, res.Reason)
	}
	reported, _ := json.Marshal(append(rec.finished, res.Steps...))
	all := rec.text("") + string(reported) + res.Reason
	for _, form := range []string{secret, strconv.Quote(secret), url.QueryEscape(secret), "s3cr3t"} {
		if strings.Contains(all, form) {
			t.Errorf("%q shows in what the run reported:\n%s", form, all)
		}
	}
}

// uriEscape percent-encodes every byte of s but the unreserved ones, as a
// script's URL encoder (jq's @uri, Python's quote) does.
func uriEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func TestLogCapped(t *testing.T) {
	x := newExecutor(t)
	x.MaxLogBytes = 64 << 10
	res, rec := execute(t, x, `
on: {dispatch: {}}
steps:
  - run: head -c 10000000 /dev/zero | tr '\0' a | fold -w 100
  - {id: after, run: echo still running}
`, nil)
	if res.Status != workflows.StatusSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Reason)
	}
	all := rec.text("")
	if len(all) > 70<<10 || !strings.Contains(all, TruncatedMarker) {
		t.Errorf("log of %d bytes, marker present: %v", len(all), strings.Contains(all, TruncatedMarker))
	}
	if res.Steps[1].Outcome != workflows.OutcomeSuccess {
		t.Errorf("step after the cap: %s", res.Steps[1].Outcome)
	}
}

func TestHTTPStep(t *testing.T) {
	var got struct {
		Text string `json:"text"`
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		json.Unmarshal(body, &got)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true,"id":42}`)
	}))
	defer srv.Close()
	res, rec := execute(t, newExecutor(t), `
on: {dispatch: {}}
steps:
  - id: notify
    uses: http
    with:
      url: `+srv.URL+`/hook
      method: POST
      json: {text: "deploy of ${{ event.branch }} done"}
  - env: {ID: "${{ steps.notify.outputs.json.id }}"}
    run: echo "id=$ID"
`, nil)
	if res.Status != workflows.StatusSucceeded {
		t.Fatalf("status %s: %s\n%s", res.Status, res.Reason, rec.text(""))
	}
	if got.Text != "deploy of main done" {
		t.Errorf("server got %q", got.Text)
	}
	if !strings.Contains(rec.text(Stdout), "id=42") {
		t.Errorf("log:\n%s", rec.text(""))
	}
}

func TestWorkspace(t *testing.T) {
	x := newExecutor(t)
	src := "on: {dispatch: {}}\nkeep_workspace: on_failure\nsteps:\n  - run: mkdir sub && echo hi > sub/f && test -d \"$HOME\"\n  - {working_directory: sub, run: 'cat f; exit $FAIL'}\n"
	for _, fail := range []string{"0", "1"} {
		t.Run("fail="+fail, func(t *testing.T) {
			res, rec := execute(t, x, src, nil, func(j *Job) {
				j.Workflow.Env = workflows.Env{{Name: "FAIL", Value: workflows.NewLiteral(fail)}}
			})
			if !strings.Contains(rec.text(Stdout), "hi") {
				t.Errorf("log:\n%s", rec.text(""))
			}
			_, err := os.Stat(filepath.Join(x.WorkspaceRoot, strings.ReplaceAll(t.Name(), "/", "_")))
			if kept := err == nil; kept != (res.Status == workflows.StatusFailed) {
				t.Errorf("status %s, workspace kept: %v", res.Status, kept)
			}
		})
	}
}
