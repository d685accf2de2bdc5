package runner

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/runner/sandbox"
	"github.com/hookflow/hookflow/workflows"
)

// TestStepSandbox checks how the runner confines `run:` steps: the server's
// defaults under the workflow's and the step's `sandbox:`, what each step
// and the run record, and a level this machine lacks failing the step.
func TestStepSandbox(t *testing.T) {
	x := newExecutor(t)
	// A machine without bubblewrap.
	x.Sandbox = sandbox.NewHost(sandbox.Options{Bwrap: filepath.Join(t.TempDir(), "no-bwrap")})
	x.SandboxDefaults = workflows.Sandbox{Level: workflows.LevelAuto}

	res, _ := execute(t, x, `
on: {dispatch: {}}
steps:
  - {id: auto, run: 'true'}
  - {id: process, run: 'true', sandbox: {level: process, cpu: 1m}}
  - {id: call, uses: http, with: {url: "http://127.0.0.1:9/"}, continue_on_error: true}
`, nil)
	if res.Status != workflows.StatusSucceeded {
		t.Fatalf("status %s: %s", res.Status, res.Reason)
	}
	auto, process, call := res.Steps[0].Sandbox, res.Steps[1].Sandbox, res.Steps[2].Sandbox
	if !strings.HasPrefix(auto, "process (") || !strings.Contains(auto, "unavailable: isolated: bubblewrap is not installed") {
		t.Errorf("auto without bubblewrap: %q", auto)
	}
	if !strings.HasPrefix(process, "process (") || !strings.Contains(process, "rlimit cpu,") || strings.Contains(process, "unavailable: isolated") {
		t.Errorf("process with a CPU limit: %q", process)
	}
	if call != "" {
		t.Errorf("a step that starts no process records sandbox %q", call)
	}
	if got, want := RunSandbox(res.Steps), auto+" | "+process; got != want {
		t.Errorf("run sandbox %q, want %q", got, want)
	}

	res, _ = execute(t, x, `
on: {dispatch: {}}
sandbox: {level: isolated}
steps:
  - {id: build, run: 'true'}
`, nil)
	if res.Status != workflows.StatusFailed || !strings.Contains(res.Reason, "step build failed: sandbox level isolated is not available on this machine: bubblewrap is not installed") {
		t.Errorf("isolated without bubblewrap: %s %q", res.Status, res.Reason)
	}
}
