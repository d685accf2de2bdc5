package gitaction

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/actions/actiontest"
	"github.com/hookflow/hookflow/internal/mask"
)

// gitEnv is the environment of the git commands tests run: no user or
// system configuration, fixed identities and dates.
func gitEnv(home string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
		"LANG=C",
	}
}

// gitIn runs the git CLI in dir and returns its trimmed output.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv(t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(string(out))
}

// remote is a bare repository made by the test, with a clone of its own
// to commit and push from.
type remote struct {
	t    *testing.T
	bare string // the repository; also its URL as a local path
	work string
}

// newRemote makes an empty bare repository whose default branch is main.
func newRemote(t *testing.T) *remote {
	t.Helper()
	root := t.TempDir()
	r := &remote{t: t, bare: filepath.Join(root, "repo.git"), work: filepath.Join(root, "work")}
	gitIn(t, root, "init", "--quiet", "--bare", "--initial-branch=main", r.bare)
	gitIn(t, root, "init", "--quiet", "--initial-branch=main", r.work)
	gitIn(t, r.work, "remote", "add", "origin", r.bare)
	return r
}

// commit writes files (path to content; an empty content deletes the file)
// on the current branch of the work clone, commits, pushes and returns the
// commit's hash.
func (r *remote) commit(files map[string]string) string {
	r.t.Helper()
	for path, content := range files {
		full := filepath.Join(r.work, path)
		if content == "" {
			if err := os.Remove(full); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	gitIn(r.t, r.work, "add", "--all")
	gitIn(r.t, r.work, "commit", "--quiet", "--allow-empty", "-m", "change")
	branch := gitIn(r.t, r.work, "rev-parse", "--abbrev-ref", "HEAD")
	gitIn(r.t, r.work, "push", "--quiet", "--force", "origin", branch)
	return gitIn(r.t, r.work, "rev-parse", "HEAD")
}

// git runs a git command in the work clone.
func (r *remote) git(args ...string) string {
	r.t.Helper()
	return gitIn(r.t, r.work, args...)
}

// newStep returns a step with a workspace of its own and a log to read, and
// a masker of secrets, as the runner builds a run's.
func newStep(t *testing.T, secrets ...string) (*actions.Step, *syncBuffer) {
	t.Helper()
	ws := t.TempDir()
	tmp := filepath.Join(ws, ".hookflow", "step-1")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	return &actions.Step{Workspace: ws, Dir: ws, TempDir: tmp, Stdout: log, Stderr: log, Mask: mask.New(secrets)}, log
}

// build makes an action of kind from with, failing the test if it does not
// build.
func build(t *testing.T, kind actions.Kind, with map[string]any) actions.Action {
	t.Helper()
	a, err := kind.New(with)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// runIn builds with and runs it once in s with a generous timeout.
func runIn(t *testing.T, s *actions.Step, with map[string]any) (actions.Result, error) {
	t.Helper()
	return runKind(t, Kind(), s, with)
}

func runKind(t *testing.T, kind actions.Kind, s *actions.Step, with map[string]any) (actions.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return build(t, kind, with).Run(ctx, s)
}

// mustRun runs with in s and fails the test on an error.
func mustRun(t *testing.T, s *actions.Step, with map[string]any) actions.Result {
	t.Helper()
	res, err := runIn(t, s, with)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

// syncBuffer is a log sink safe for the two writers a Step may have.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// wantPermanent fails the test unless err holds every part, and is permanent.
func wantPermanent(t *testing.T, err error, parts ...string) {
	t.Helper()
	actiontest.WantErrorContains(t, err, parts...)
	actiontest.WantRetryable(t, err, false)
}

// wantOutputs checks the outputs of a finished step.
func wantOutputs(t *testing.T, res actions.Result, commit, previous string, changed []string, dir string) {
	t.Helper()
	o := res.Outputs
	if o["commit"] != commit {
		t.Errorf("commit = %v, want %s", o["commit"], commit)
	}
	if o["previous"] != previous {
		t.Errorf("previous = %v, want %q", o["previous"], previous)
	}
	got, ok := o["changed"].([]string)
	if !ok || got == nil {
		t.Fatalf("changed = %#v, want a non-nil []string", o["changed"])
	}
	if !slices.Equal(got, changed) {
		t.Errorf("changed = %q, want %q", got, changed)
	}
	if o["dir"] != dir {
		t.Errorf("dir = %v, want %s", o["dir"], dir)
	}
}

// readFile returns the content of a file, or "<missing>".
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
