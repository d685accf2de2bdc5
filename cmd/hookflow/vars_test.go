package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/config"
)

// varsWorkflow starts only where vars.TARGET is "prod", and prints what its
// step sees of vars.APP_DIR, vars.REGION and an unset variable with a default.
const varsWorkflow = `
on: {dispatch: {}}
if: vars.TARGET == "prod"
env:
  APP_DIR: ${{ vars.APP_DIR }}
  REGION: ${{ vars.REGION }}
  UNSET: '${{ vars.NOT_SET != "" ? vars.NOT_SET : "the default" }}'
steps:
  - run: 'echo "app dir $APP_DIR, region $REGION, unset: $UNSET"'
`

// TestVarsReachSteps checks that a served workflow's filter and its steps'
// env: read the configuration variables of hookflow.yaml and of
// HOOKFLOW_VAR_<NAME>, the environment winning, and that `hookflow run` reads
// HOOKFLOW_VAR_<NAME> and --var.
func TestVarsReachSteps(t *testing.T) {
	t.Setenv("HOOKFLOW_VAR_REGION", "eu-west")
	t.Run("served", func(t *testing.T) {
		a := startApp(t, map[string]string{"vars.yaml": varsWorkflow}, func(c *config.Config) {
			c.Vars = map[string]string{"TARGET": "prod", "APP_DIR": "/tmp/app", "REGION": "from the file"}
		})
		var run api.RunView
		if code := a.call(t, "POST", "/api/v1/workflows/vars/dispatch", map[string]any{}, &run); code != http.StatusAccepted {
			t.Fatalf("dispatch: %d", code)
		}
		if done := a.waitRun(t, run.ID); done.Status != "succeeded" {
			t.Fatalf("run %+v", done)
		}
		if log, want := runLog(t, a.url, run.ID), "app dir /tmp/app, region eu-west, unset: the default"; !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}

		other := startApp(t, map[string]string{"vars.yaml": varsWorkflow}, func(c *config.Config) {
			c.Vars = map[string]string{"TARGET": "staging"}
		})
		var refusal map[string]string
		if code := other.call(t, "POST", "/api/v1/workflows/vars/dispatch", map[string]any{}, &refusal); code != http.StatusConflict ||
			!strings.Contains(refusal["error"], "if:") {
			t.Errorf("dispatch with TARGET=staging: %d %v, want 409 for its if:", code, refusal)
		}
	})

	t.Run("hookflow run", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "workflows")
		writeFile(t, filepath.Join(dir, "vars.yaml"), varsWorkflow)
		code, out, errOut := hookflow(t, "run", "vars", "--workflows", dir, "--var", "TARGET=prod", "--var", "APP_DIR=/tmp/flag")
		if want := "app dir /tmp/flag, region eu-west, unset: the default"; code != exitOK || !strings.Contains(out, want) {
			t.Errorf("exit %d, want 0 and %q:\n%s%s", code, want, out, errOut)
		}
		code, out, errOut = hookflow(t, "run", "vars", "--workflows", dir)
		if code != exitFail || !strings.Contains(errOut, "did not start: if: false") {
			t.Errorf("without TARGET: exit %d, want 1 for its if:\n%s%s", code, out, errOut)
		}
	})
}
