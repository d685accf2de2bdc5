// Package examples_test checks the example workflow sets under examples/: every
// set loads with the actions this binary ships, and every sample payload gets
// the verdicts its README promises when it is matched the way `hookflow match`
// matches it.
package examples_test

import (
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions/builtin"
	"github.com/hookflow/hookflow/triggers/providers"
	"github.com/hookflow/hookflow/workflows"
)

// configFile is the server configuration an example may carry next to its
// workflows (see gitops); it is not a workflow file.
const configFile = "hookflow.yaml"

// knownSets are workflow folders that must be found, so that a change to the
// discovery cannot quietly test nothing.
var knownSets = []string{
	"alertmanager-heal/workflows",
	"build-deploy/workflows",
	"github-deploy/workflows",
	"gitops/hookflow",
	"quickstart/workflows",
}

// workflowDirs returns every folder under examples/ that holds workflow files
// (YAML other than a hookflow.yaml), outermost first; a folder's subfolders
// belong to its set, as LoadPaths reads folders recursively.
func workflowDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || p == "." {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
			return filepath.SkipDir
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return err
		}
		for _, e := range entries {
			ext := filepath.Ext(e.Name())
			if !e.IsDir() && (ext == ".yaml" || ext == ".yml") && e.Name() != configFile {
				dirs = append(dirs, filepath.ToSlash(p))
				return filepath.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range knownSets {
		if !slices.Contains(dirs, want) {
			t.Errorf("workflow folder %s not found; found %v", want, dirs)
		}
	}
	// Every example is a set of workflows.
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && !slices.ContainsFunc(dirs, func(d string) bool { return strings.HasPrefix(d, e.Name()+"/") }) {
			t.Errorf("example %s has no folder of workflow files", e.Name())
		}
	}
	return dirs
}

// load reads one workflow folder as `hookflow validate` does, failing with its
// file:line:col errors.
func load(t *testing.T, dir string) *workflows.Set {
	t.Helper()
	set, err := workflows.LoadPaths(builtin.Registry(), dir)
	if err != nil {
		t.Fatalf("%s does not load:\n%v", dir, err)
	}
	return set
}

func TestExamplesLoad(t *testing.T) {
	for _, dir := range workflowDirs(t) {
		t.Run(dir, func(t *testing.T) {
			set := load(t, dir)
			if len(set.Workflows()) == 0 {
				t.Fatalf("%s: no workflows", dir)
			}
			for _, w := range set.Workflows() {
				if w.Description == "" {
					t.Errorf("%s: workflow %s has no description", w.File, w.Name)
				}
				// Examples get copied: each webhook should show how it is verified.
				for _, h := range w.On.Webhook {
					if h.Secret == nil && h.BasicAuth == nil {
						t.Errorf("%s: webhook /hooks/%s of %s is not verified: set secret:", h.Pos, h.Path, w.Name)
					}
				}
			}
		})
	}
}

// verdict is what a workflow should make of a delivery: runs > 0 runs (that
// many for a for_each workflow), else it is skipped for reason.
type verdict struct {
	runs   int
	reason string
}

func runs(n int) verdict         { return verdict{runs: n} }
func skip(reason string) verdict { return verdict{reason: reason} }

// github returns the headers GitHub sends with an event.
func github(event string) map[string]string {
	return map[string]string{
		"X-GitHub-Event":    event,
		"X-GitHub-Delivery": "5a4b3c2d-1e0f-11ef-9a8b-7c6d5e4f3a2b",
		"User-Agent":        "GitHub-Hookshot/3f1c2d4",
	}
}

// alertmanager returns the headers Alertmanager sends.
func alertmanager() map[string]string {
	return map[string]string{"User-Agent": "Alertmanager/0.27.0"}
}

// delivery is one sample payload posted to a webhook path, and the verdict of
// every workflow served on that path.
type delivery struct {
	set     string // workflow folder
	payload string // payload file
	path    string // as in /hooks/<path>
	headers map[string]string
	want    map[string]verdict
}

// deliveries are the verdicts the examples' READMEs show.
var deliveries = []delivery{
	{"quickstart/workflows", "quickstart/push.json", "quickstart", github("push"),
		map[string]verdict{"hello-push": runs(1)}},

	{"github-deploy/workflows", "github-deploy/push-main.json", "github", github("push"),
		map[string]verdict{"deploy": runs(1)}},
	{"build-deploy/workflows", "build-deploy/push-main.json", "github-release", github("push"),
		map[string]verdict{"release": runs(1)}},
	{"github-deploy/workflows", "github-deploy/push-feature.json", "github", github("push"),
		map[string]verdict{"deploy": skip("branches: no match for feature/express-checkout")}},
	{"github-deploy/workflows", "github-deploy/push-docs-only.json", "github", github("push"),
		map[string]verdict{"deploy": skip("paths: no changed file matches src/**, deploy/**, Makefile")}},
	{"github-deploy/workflows", "github-deploy/ping.json", "github", github("ping"),
		map[string]verdict{"deploy": skip("events: ping not in [push]")}},

	{"alertmanager-heal/workflows", "alertmanager-heal/firing.json", "alertmanager", alertmanager(),
		map[string]verdict{"heal": runs(2)}},
	{"alertmanager-heal/workflows", "alertmanager-heal/resolved.json", "alertmanager", alertmanager(),
		map[string]verdict{"heal": skip("if: false for all 3 items")}},

	{"gitops/hookflow", "gitops/push-ops.json", "ops", github("push"),
		map[string]verdict{"sync-workflows": runs(1)}},
}

// deliver builds the event of body posted to path, as cmd/hookflow's
// deliveryEvent does for `hookflow match` and POST /api/v1/match: the provider
// of the path's first trigger, JSON content, no signature check.
func deliver(t *testing.T, set *workflows.Set, path string, headers map[string]string, body []byte) *workflows.Event {
	t.Helper()
	hooks := set.Hooks(path)
	if len(hooks) == 0 {
		t.Fatalf("no workflow serves /hooks/%s", path)
	}
	req := &providers.Request{Method: http.MethodPost, Path: path, Headers: http.Header{}, Query: url.Values{},
		Body: body, ContentType: "application/json"}
	for k, v := range headers {
		req.Headers.Set(k, v)
	}
	req.Headers.Set("Content-Type", "application/json")
	ev := &workflows.Event{ID: "01J0EXAMPLE0000000000000000", Trigger: workflows.TriggerWebhook, ReceivedAt: time.Now().UTC()}
	if err := providers.Normalize(hooks[0].Provider, req, providers.Options{}, ev); err != nil {
		t.Fatalf("normalise: %v", err)
	}
	return ev
}

// match posts payload to path and returns each workflow's verdict by name.
func match(t *testing.T, set *workflows.Set, path string, headers map[string]string, payload []byte) map[string]workflows.Verdict {
	t.Helper()
	ev := deliver(t, set, path, headers, payload)
	got := map[string]workflows.Verdict{}
	for _, v := range set.Match(workflows.NewScope(ev)) {
		got[v.Workflow.Name] = v
	}
	return got
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExampleDeliveries(t *testing.T) {
	sets := map[string]*workflows.Set{}
	for _, d := range deliveries {
		t.Run(strings.TrimSuffix(d.payload, ".json"), func(t *testing.T) {
			set := sets[d.set]
			if set == nil {
				set = load(t, d.set)
				sets[d.set] = set
			}
			got := match(t, set, d.path, d.headers, readFile(t, d.payload))
			if names := slices.Sorted(maps.Keys(got)); !slices.Equal(names, slices.Sorted(maps.Keys(d.want))) {
				t.Errorf("verdicts for %v, want exactly %v", names, slices.Sorted(maps.Keys(d.want)))
			}
			for name, want := range d.want {
				v, ok := got[name]
				switch {
				case !ok:
				case want.runs > 0 && !v.Run:
					t.Errorf("%s skipped (%s), want %d run(s)", name, v.Reason, want.runs)
				case want.runs > 0 && max(1, len(v.Items)) != want.runs:
					t.Errorf("%s: %d run(s), want %d", name, max(1, len(v.Items)), want.runs)
				case want.runs == 0 && v.Run:
					t.Errorf("%s runs (%d run(s)), want it skipped with %q", name, max(1, len(v.Items)), want.reason)
				case want.runs == 0 && v.Reason != want.reason:
					t.Errorf("%s skipped with %q, want %q", name, v.Reason, want.reason)
				}
			}
		})
	}
}

// TestEveryPayloadHasVerdicts keeps the table above complete: a sample payload
// that nothing checks could drift from its README.
func TestEveryPayloadHasVerdicts(t *testing.T) {
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".json" {
			return err
		}
		p = filepath.ToSlash(p)
		if !slices.ContainsFunc(deliveries, func(d delivery) bool { return d.payload == p }) {
			t.Errorf("%s is in no delivery of the table in examples_test.go", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// alertPayload reads the alertmanager example's payload file as JSON.
func alertPayload(t *testing.T, name string) map[string]any {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(readFile(t, filepath.Join("alertmanager-heal", name)), &body); err != nil {
		t.Fatal(err)
	}
	return body
}

func TestHealRunsOncePerFiringAlert(t *testing.T) {
	set := load(t, "alertmanager-heal/workflows")
	heal, _ := set.Lookup("heal")
	body := alertPayload(t, "firing.json")

	// What the filter should let through, counted from the payload itself.
	var wantInstances []string
	for _, a := range body["alerts"].([]any) {
		a := a.(map[string]any)
		labels := a["labels"].(map[string]any)
		if a["status"] == "firing" && (labels["severity"] == "critical" || labels["severity"] == "page") {
			wantInstances = append(wantInstances, labels["instance"].(string))
		}
	}
	if len(wantInstances) != 2 {
		t.Fatalf("firing.json has %d firing critical alerts, want 2 (the README says so)", len(wantInstances))
	}

	raw, _ := json.Marshal(body)
	v := match(t, set, "alertmanager", alertmanager(), raw)["heal"]
	if !v.Run || len(v.Items) != len(wantInstances) {
		t.Fatalf("heal: run %v with %d items (%s), want %d runs", v.Run, len(v.Items), v.Reason, len(wantInstances))
	}

	// Each run's remedy goes to the agent of the host that alerted: its one
	// runs_on label is the instance's host name, as docs/agents.md registers
	// agents.
	hosts := map[string]string{"web-1:8080": "web-1", "web-2:8080": "web-2"}
	remedy, ok := heal.Job("remedy")
	if !ok || len(remedy.RunsOn) != 1 {
		t.Fatalf("heal: want a job remedy with one runs_on label")
	}

	// Each run's cooldown key and concurrency group name its own alert and
	// instance, rendered as the dispatcher renders them (the item as matched),
	// and its environment and runs_on as the runner renders them (the item
	// read back from the store as JSON).
	ev := deliver(t, set, "alertmanager", alertmanager(), raw)
	for i, item := range v.Items {
		scope := workflows.NewScope(ev).WithItem(item)
		instance := wantInstances[i]
		if got, _ := heal.Cooldown.Key.RenderString(scope); got != "ServiceDown-"+instance {
			t.Errorf("item %d: cooldown key %q, want %q", i, got, "ServiceDown-"+instance)
		}
		if got, _ := heal.Concurrency.Group.RenderString(scope); got != "heal-"+instance {
			t.Errorf("item %d: concurrency group %q, want %q", i, got, "heal-"+instance)
		}
		if time.Duration(heal.Cooldown.Period) != 15*time.Minute {
			t.Errorf("cooldown period %s, want 15m", time.Duration(heal.Cooldown.Period))
		}

		b, err := json.Marshal(item)
		if err != nil {
			t.Fatal(err)
		}
		var stored any
		if err := json.Unmarshal(b, &stored); err != nil {
			t.Fatal(err)
		}
		env := renderEnv(t, heal.Env, workflows.NewScope(ev).WithItem(stored))
		want := map[string]string{"ALERTNAME": "ServiceDown", "INSTANCE": instance, "SEVERITY": "critical", "ALERT_JOB": "api"}
		for k, w := range want {
			if env[k] != w {
				t.Errorf("item %d: env %s=%q, want %q", i, k, env[k], w)
			}
		}
		label, err := remedy.RunsOn[0].RenderString(workflows.NewScope(ev).WithItem(stored))
		if err != nil || label != hosts[instance] {
			t.Errorf("item %d: remedy runs_on [%q] (err %v), want [%q], the host of %s", i, label, err, hosts[instance], instance)
		}
	}

	// The label filter: a firing alert that is only a warning starts nothing.
	first := body["alerts"].([]any)[0].(map[string]any)
	first["labels"].(map[string]any)["severity"] = "warning"
	raw, _ = json.Marshal(body)
	if v := match(t, set, "alertmanager", alertmanager(), raw)["heal"]; !v.Run || len(v.Items) != 1 {
		t.Errorf("with one firing alert a warning: run %v with %d items (%s), want 1 run", v.Run, len(v.Items), v.Reason)
	}
}

// renderEnv renders a workflow's env: block.
func renderEnv(t *testing.T, env workflows.Env, scope *workflows.Scope) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, e := range env {
		s, err := e.Value.RenderString(scope)
		if err != nil {
			t.Fatalf("env %s: %v", e.Name, err)
		}
		out[e.Name] = s
	}
	return out
}

func TestGitOpsDispatchAndCron(t *testing.T) {
	set := load(t, "gitops/hookflow")

	t.Run("deploy-version", func(t *testing.T) {
		w, ok := set.Lookup("deploy-version")
		if !ok || w.On.Dispatch == nil {
			t.Fatal("deploy-version: no dispatch trigger")
		}
		in, err := w.On.Dispatch.ResolveInputs(map[string]any{"service": "api", "version": "1.4.2"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"service": "api", "version": "1.4.2", "environment": "staging", "dry_run": false}
		if !maps.Equal(in, want) {
			t.Errorf("inputs %v, want %v", in, want)
		}
		for _, bad := range []map[string]any{
			{"service": "api"},                           // version is required
			{"service": "db", "version": "1.4.2"},        // not a choice
			{"service": "api", "version": "1", "x": "y"}, // not declared
		} {
			if _, err := w.On.Dispatch.ResolveInputs(bad); err == nil {
				t.Errorf("inputs %v accepted", bad)
			}
		}
		ev := &workflows.Event{ID: "e", Trigger: workflows.TriggerDispatch, Type: "dispatch", Name: "dispatch", Inputs: in, Actor: "jberg"}
		scope := workflows.NewScope(ev)
		scope.Inputs = in
		if v := w.Decide(scope); !v.Run {
			t.Errorf("dispatch skipped: %s", v.Reason)
		}
		if g, _ := w.Concurrency.Group.RenderString(scope); g != "deploy-staging-api" {
			t.Errorf("concurrency group %q", g)
		}
		env := renderEnv(t, w.Env, scope)
		if env["SERVICE"] != "api" || env["VERSION"] != "1.4.2" || env["NAMESPACE"] != "staging" || env["DRY_RUN"] != "false" {
			t.Errorf("env %v", env)
		}
	})

	t.Run("nightly-cleanup", func(t *testing.T) {
		w, ok := set.Lookup("nightly-cleanup")
		if !ok || len(w.On.Cron) != 1 {
			t.Fatal("nightly-cleanup: want one cron schedule")
		}
		c := w.On.Cron[0]
		sched, err := workflows.CronParser().Parse(c.Schedule)
		if err != nil {
			t.Fatal(err)
		}
		loc, err := time.LoadLocation(c.Timezone)
		if err != nil {
			t.Fatal(err)
		}
		next := sched.Next(time.Date(2024, 11, 5, 12, 0, 0, 0, loc))
		if want := time.Date(2024, 11, 6, 2, 30, 0, 0, loc); !next.Equal(want) {
			t.Errorf("next run after noon %s, want %s", next, want)
		}

		// A cron run has no inputs: the env falls back to the defaults.
		ev := &workflows.Event{ID: "e", Trigger: workflows.TriggerCron, Type: "schedule", Name: "schedule", Schedule: c.Schedule}
		scope := workflows.NewScope(ev)
		if v := w.Decide(scope); !v.Run {
			t.Errorf("cron run skipped: %s", v.Reason)
		}
		if env := renderEnv(t, w.Env, scope); env["DAYS"] != "14" || env["DRY_RUN"] != "false" {
			t.Errorf("cron env %v, want DAYS=14 DRY_RUN=false", env)
		}
		// By hand, with inputs.
		in, err := w.On.Dispatch.ResolveInputs(map[string]any{"days": "3", "dry_run": "true"})
		if err != nil {
			t.Fatal(err)
		}
		scope.Inputs = in
		if env := renderEnv(t, w.Env, scope); env["DAYS"] != "3" || env["DRY_RUN"] != "true" {
			t.Errorf("dispatch env %v, want DAYS=3 DRY_RUN=true", env)
		}
	})
}

// gitopsConfig is the part of hookflow.yaml (SPEC §8) the gitops example sets,
// decoded strictly so that a misspelt key fails here.
type gitopsConfig struct {
	Listen    string `yaml:"listen"`
	PublicURL string `yaml:"public_url"`
	DataDir   string `yaml:"data_dir"`
	Workflows struct {
		Git    string             `yaml:"git"`
		Branch string             `yaml:"branch"`
		Dir    string             `yaml:"dir"`
		Poll   workflows.Duration `yaml:"poll"`
		Token  string             `yaml:"token"`
		SSHKey string             `yaml:"ssh_key"`
	} `yaml:"workflows"`
	Secrets struct {
		Dir       string `yaml:"dir"`
		EnvPrefix string `yaml:"env_prefix"`
	} `yaml:"secrets"`
	API struct {
		Tokens    []string `yaml:"tokens"`
		TokenFile string   `yaml:"token_file"`
	} `yaml:"api"`
}

// TestGitOpsConfig checks that the example's hookflow.yaml names the git
// source the README describes, that its dir is the folder of workflows next to
// it, and that the README shows the same file.
func TestGitOpsConfig(t *testing.T) {
	name := filepath.Join("gitops", configFile)
	data := readFile(t, name)
	var c gitopsConfig
	if err := workflows.DecodeYAML(name, data, &c); err != nil {
		t.Fatal(err)
	}
	w := c.Workflows
	if w.Git == "" || w.Branch != "main" || w.Dir != "hookflow" || time.Duration(w.Poll) != time.Minute {
		t.Errorf("workflows: %+v, want {git: URL, branch: main, dir: hookflow, poll: 1m}", w)
	}
	if st, err := os.Stat(filepath.Join("gitops", w.Dir)); err != nil || !st.IsDir() {
		t.Errorf("dir: %s is not the example's folder of workflows", w.Dir)
	}
	readme := string(readFile(t, filepath.Join("gitops", "README.md")))
	for _, line := range strings.Split(string(data), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") && !strings.Contains(readme, line+"\n") {
			t.Errorf("README.md does not show this line of %s: %q", configFile, line)
		}
	}
}
