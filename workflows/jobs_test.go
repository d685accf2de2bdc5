package workflows_test

import (
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// TestJobsExample parses a workflow that uses every job field and checks
// that each arrived where it belongs.
func TestJobsExample(t *testing.T) {
	data, err := os.ReadFile("testdata/valid/jobs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w, err := workflows.Parse("jobs.yaml", data, registry(t))
	if err != nil {
		t.Fatal(err)
	}
	if w.Steps != nil {
		t.Errorf("Steps = %v, want nil for a jobs: workflow", w.Steps)
	}
	var ids []string
	for i, j := range w.Jobs {
		ids = append(ids, j.ID)
		if j.Index != i || j.Implicit {
			t.Errorf("job %s: Index %d, Implicit %v; want %d, false", j.ID, j.Index, j.Implicit, i)
		}
	}
	if want := []string{"build", "lint", "deploy", "alerts", "smoke"}; !slices.Equal(ids, want) {
		t.Fatalf("jobs %v, want %v in file order", ids, want)
	}
	build, lint, deploy, alerts, smoke := w.Jobs[0], w.Jobs[1], w.Jobs[2], w.Jobs[3], w.Jobs[4]
	sources := func(ts []*workflows.Template) []string {
		var s []string
		for _, t := range ts {
			s = append(s, t.Source)
		}
		return s
	}
	params := func(j *workflows.Job, i int) map[string]any {
		v, err := j.Steps[i].Params.Render(nil)
		if err != nil {
			t.Fatalf("job %s step %d: %v", j.ID, i, err)
		}
		return v.(map[string]any)
	}
	var matrix *workflows.Matrix
	if deploy.Strategy != nil {
		matrix = deploy.Strategy.Matrix
	}
	checks := map[string]bool{
		"positions":        build.Pos == workflows.Pos{File: "jobs.yaml", Line: 7, Col: 3} && smoke.Pos.Line == 57,
		"name":             build.Name.Source == "Build ${{ event.commit }}",
		"runs_on string":   slices.Equal(sources(build.RunsOn), []string{"builder"}),
		"runs_on list":     slices.Equal(sources(deploy.RunsOn), []string{"${{ matrix.host }}", "${{ secrets.RUNNER_LABEL }}"}),
		"env":              len(build.Env) == 1 && build.Env[0].Name == "TOKEN" && len(deploy.Env) == 1 && deploy.Env[0].Value.Source == "${{ needs.build.outputs.image }}",
		"outputs in order": len(build.Outputs) == 2 && build.Outputs[0].Name == "image" && build.Outputs[1].Name == "digest" && build.Outputs[0].Value.Source == "${{ steps.b.outputs.image }}",
		"defaults":         lint.Defaults.Shell == "sh" && lint.Defaults.WorkingDirectory == "src",
		"job shell":        params(lint, 0)["shell"] == "sh",
		"workflow shell":   params(build, 0)["shell"] == "bash",
		"needs list":       slices.Equal(deploy.Needs, []string{"build", "lint"}),
		"needs string":     slices.Equal(alerts.Needs, []string{"build"}),
		"if":               deploy.If.Source == `needs.build.outputs.image != "" && secrets.DEPLOY_GATE != ""`,
		"strategy":         deploy.Strategy != nil && deploy.Strategy.MaxParallel == 1 && !deploy.FailFast() && build.FailFast(),
		"matrix axes":      matrix != nil && len(matrix.Axes) == 2 && matrix.Axes[0].Name == "host" && matrix.Axes[1].Name == "arch" && reflect.DeepEqual(matrix.Axes[1].Values, []any{"amd64", "arm64"}),
		"matrix entries":   matrix != nil && reflect.DeepEqual(matrix.Exclude, []map[string]any{{"host": "web-02", "arch": "arm64"}}) && len(matrix.Include) == 2 && matrix.Include[0]["region"] == "eu",
		"matrix expr":      alerts.Strategy.Matrix.Expr != nil && alerts.Strategy.Matrix.Axes == nil,
		"sandbox":          deploy.Sandbox != nil && deploy.Sandbox.Pids == 128 && *deploy.Sandbox.Network,
		"timeout":          deploy.Timeout == workflows.Duration(15*time.Minute) && build.Timeout == 0,
		"concurrency":      deploy.Concurrency.Group.Source == "deploy-${{ matrix.host }}-${{ secrets.GROUP_SUFFIX }}" && deploy.Concurrency.Pending == workflows.PendingAll,
		"concurrency long": smoke.Concurrency.Group.Source == "smoke" && smoke.Concurrency.Pending == workflows.PendingAll,
		"continue":         deploy.ContinueOnError && !build.ContinueOnError,
		"step ids per job": build.Steps[0].ID == "b" && lint.Steps[0].ID == "b" && smoke.Steps[0].ID == "b",
		"step index":       smoke.Steps[0].Index == 0 && smoke.Steps[0].Key() == "b" && deploy.Steps[0].Key() == "step-1",
		"step action":      alerts.Steps[0].Action == "http",
	}
	for name, ok := range checks {
		if !ok {
			t.Errorf("%s not parsed as written", name)
		}
	}
	// Every place a job holds an expression is masked: each secret below is
	// read in one place only.
	want := []string{"HOOK_SECRET", "REGISTRY_TOKEN", "DIGEST_SALT", "DEPLOY_GATE", "RUNNER_LABEL", "GROUP_SUFFIX", "ALERT_LIMIT", "CHAT_TOKEN"}
	if !slices.Equal(w.Secrets, want) {
		t.Errorf("Secrets = %v, want %v", w.Secrets, want)
	}
}

// TestStepsWorkflowIsOneJob checks the short form: a steps: workflow has the
// one implicit job main, holding the workflow's steps.
func TestStepsWorkflowIsOneJob(t *testing.T) {
	w, err := workflows.Parse("one.yaml", []byte("on: {dispatch: {}}\nsteps:\n  - run: make\n  - run: make test\n"), registry(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Jobs) != 1 {
		t.Fatalf("%d jobs, want 1", len(w.Jobs))
	}
	j := w.Jobs[0]
	if j.ID != workflows.MainJob || !j.Implicit || len(j.Steps) != 2 || j.Steps[1] != w.Steps[1] {
		t.Errorf("job = %+v, want the implicit main job holding the workflow's steps", j)
	}
	cells, err := j.Cells(workflows.NewScope(nil))
	if err != nil || len(cells) != 1 || cells[0].Key != workflows.MainJob || cells[0].Values != nil {
		t.Errorf("Cells = %+v, %v; want one cell keyed main", cells, err)
	}
}
