package gitaction

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/actions/actiontest"
	"github.com/hookflow/hookflow/internal/gitclient/gittest"
	"github.com/hookflow/hookflow/internal/mask"
)

// newRemote makes an empty bare repository whose default branch is main,
// with a clone to commit and push from.
func newRemote(t *testing.T) *gittest.Repo {
	t.Helper()
	return gittest.NewRepo(t, t.TempDir())
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
