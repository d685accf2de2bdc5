package shell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
)

// testPath is the PATH steps get in tests unless a test says otherwise.
const testPath = "/usr/local/bin:/usr/bin:/bin"

// testKillGrace keeps cancellation tests quick.
const testKillGrace = 200 * time.Millisecond

// safetyNet bounds every Run in the tests, so that a bug makes a test fail
// instead of hang. It is not a performance expectation.
const safetyNet = 60 * time.Second

// newStep returns a step in a fresh workspace, laid out as the runner does: an
// empty output file and a temp folder inside the workspace, the working
// directory at its root, and an environment of PATH, HOME, LANG,
// HOOKFLOW_OUTPUT and env. Output is collected in *bytes.Buffer.
func newStep(t testing.TB, env ...string) *actions.Step {
	t.Helper()
	ws := t.TempDir()
	tmp := filepath.Join(ws, ".hookflow", "step-1")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "output")
	if err := os.WriteFile(out, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return &actions.Step{
		Workspace:  ws,
		Dir:        ws,
		Env:        append([]string{"PATH=" + testPath, "HOME=" + ws, "LANG=C.UTF-8", "HOOKFLOW_OUTPUT=" + out}, env...),
		Stdout:     &bytes.Buffer{},
		Stderr:     &bytes.Buffer{},
		OutputFile: out,
		TempDir:    tmp,
		KillGrace:  testKillGrace,
	}
}

// mustNew builds an Action.
func mustNew(t testing.TB, script, shell string) *Action {
	t.Helper()
	a, err := New(Params{Script: script, Shell: shell})
	if err != nil {
		t.Fatalf("New(%q): %v", shell, err)
	}
	return a
}

// runStep runs a in s under the safety net, logging the step's output when the
// test fails.
func runStep(t testing.TB, a *Action, s *actions.Step) (actions.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), safetyNet)
	defer cancel()
	res, err := a.Run(ctx, s)
	logOutput(t, s)
	return res, err
}

// logOutput shows the step's output if the test fails.
func logOutput(t testing.TB, s *actions.Step) {
	t.Helper()
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for name, w := range map[string]any{"stdout": s.Stdout, "stderr": s.Stderr} {
			if b, ok := w.(*bytes.Buffer); ok && b.Len() > 0 {
				t.Logf("step %s:\n%s", name, b)
			}
		}
	})
}

// checkErr fails the test unless err contains every one of want, or, with no
// want, unless err is nil.
func checkErr(t testing.TB, err error, want ...string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

// checkOutputs compares a Result's outputs with want.
func checkOutputs(t testing.TB, got map[string]any, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("outputs = %v, want %v", got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("output %s = %#v, want %q", k, got[k], v)
		}
	}
}

// pythonDir returns the folder of a real python3 executable (not a pyenv shim,
// which needs an environment of its own), or skips the test.
func pythonDir(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin"
	}
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Skip("python3 is not installed")
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// waitForFile waits until the script has created path. ctx is the test's
// safety net.
func waitForFile(t testing.TB, ctx context.Context, path string) {
	t.Helper()
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the script never created %s", path)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// readPID reads a process ID the script wrote to path.
func readPID(t testing.TB, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscan(string(b), &pid); err != nil || pid <= 1 {
		t.Fatalf("%s holds %q, not a process ID", path, b)
	}
	return pid
}

// processGone reports whether pid has stopped running: it no longer exists,
// or it is a zombie waiting for a parent (often init) to reap it.
func processGone(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the command name, which is in parentheses.
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z") || strings.HasPrefix(rest, "X")
}

// checkGone fails the test if pid is still running. A SIGKILLed process takes
// a moment to disappear, so it polls, for at most the safety net.
func checkGone(t testing.TB, name string, pid int) {
	t.Helper()
	deadline := time.Now().Add(safetyNet)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			t.Errorf("%s (pid %d) is still running", name, pid)
			syscall.Kill(pid, syscall.SIGKILL)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// expiringContext is a context whose deadline passes when expire is called, so
// that a test can time a "timeout" to its script being ready instead of to the
// clock.
type expiringContext struct {
	context.Context
	done chan struct{}
}

func newExpiringContext() *expiringContext {
	return &expiringContext{Context: context.Background(), done: make(chan struct{})}
}

func (c *expiringContext) expire()               { close(c.done) }
func (c *expiringContext) Done() <-chan struct{} { return c.done }

func (c *expiringContext) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}
