package gitaction_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions/actiontest"
	gitaction "github.com/hookflow/hookflow/actions/git"
	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/workflows"
)

// logRecorder is a runner.Observer that keeps the log lines.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) StepStarted(runner.StepResult)  {}
func (r *logRecorder) StepFinished(runner.StepResult) {}
func (r *logRecorder) Log(l runner.LogLine) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, l.Stream+": "+l.Text)
}

func (r *logRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

// TestWorkflow runs a workflow whose first step checks a repository out with
// `uses: git` and whose second reads a file of the checkout and the step's
// outputs, through the runner as the server would.
func TestWorkflow(t *testing.T) {
	root := t.TempDir()
	bare := filepath.Join(root, "site.git")
	work := filepath.Join(root, "work")
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + root, "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=T", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=T", "GIT_COMMITTER_EMAIL=t@example.com"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git(root, "init", "--quiet", "--bare", "--initial-branch=main", bare)
	git(root, "clone", "--quiet", bare, work)
	if err := os.MkdirAll(filepath.Join(work, "deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "deploy", "version.txt"), []byte("v42\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(work, "add", "--all")
	git(work, "commit", "--quiet", "-m", "first")
	git(work, "push", "--quiet", "origin", "main")
	head := git(work, "rev-parse", "HEAD")

	reg := actiontest.Registry(t, gitaction.Kind())
	src := `
on: {dispatch: {}}
steps:
  - id: src
    uses: git
    with: {url: "${{ event.clone_url }}", ref: "${{ event.branch }}", depth: 1}
  - id: show
    working_directory: src
    env:
      COMMIT: ${{ steps.src.outputs.commit }}
      CHANGED: ${{ steps.src.outputs.changed }}
      DIR: ${{ steps.src.outputs.dir }}
    run: |
      echo "version $(cat deploy/version.txt) at $COMMIT"
      echo "changed $CHANGED"
      test "$DIR" = "$PWD"
  - id: deploy
    if: any(steps.src.outputs.changed, glob(#, "deploy/**"))
    run: echo "deploy/ changed"
  - id: nginx
    if: any(steps.src.outputs.changed, glob(#, "nginx/**"))
    run: echo "nginx/ changed"
`
	w, err := workflows.Parse("deploy.yaml", []byte(src), reg)
	if err != nil {
		t.Fatal(err)
	}
	x := &runner.Executor{Actions: reg, WorkspaceRoot: t.TempDir(), Path: os.Getenv("PATH"),
		KillGrace: 200 * time.Millisecond, CleanupTimeout: 30 * time.Second}
	job := &runner.Job{ID: "e2e", Workflow: w, Attempt: 1,
		Event: &workflows.Event{ID: "ev1", Type: "push", Branch: "main", CloneURL: bare}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rec := &logRecorder{}
	res := x.Execute(ctx, job, rec)
	if res.Status != workflows.StatusSucceeded {
		t.Fatalf("status %s: %s\n%s", res.Status, res.Reason, rec)
	}
	if got := res.Steps[2].Outcome + "/" + res.Steps[3].Outcome; got != "success/skipped" {
		t.Errorf("outcomes of the steps filtered on changed paths: %s, want success/skipped", got)
	}
	if got := res.Steps[0].Outputs["commit"]; got != head {
		t.Errorf("outputs.commit = %v, want %s", got, head)
	}
	log := rec.String()
	for _, want := range []string{
		"stdout: clone " + bare + " (ref main, depth 1) into ",
		"stdout: version v42 at " + head,
		`stdout: changed ["deploy/version.txt"]`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log does not contain %q:\n%s", want, log)
		}
	}
}
