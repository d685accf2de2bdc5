package gitaction

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/actions/actiontest"
	"github.com/hookflow/hookflow/internal/gitclient/gittest"
)

func TestClone(t *testing.T) {
	r := newRemote(t)
	r.Commit(map[string]string{"README.md": "hello\n", "deploy/app.yaml": "kind: x\n", "run.sh": "#!/bin/sh\n"})
	if err := os.Chmod(filepath.Join(r.Work, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	head := r.Commit(nil)
	if r.Git("ls-files", "--stage", "run.sh")[:6] != "100755" {
		t.Fatal("run.sh was not committed executable")
	}

	s, log := newStep(t)
	res := mustRun(t, s, map[string]any{"url": r.Bare})
	dir := filepath.Join(s.Workspace, "src")
	wantOutputs(t, res, head, "", []string{"README.md", "deploy/app.yaml", "run.sh"}, dir)
	if got := gittest.ReadFile(t, filepath.Join(dir, "deploy", "app.yaml")); got != "kind: x\n" {
		t.Errorf("deploy/app.yaml = %q", got)
	}
	if fi, err := os.Stat(filepath.Join(dir, "run.sh")); err != nil || fi.Mode()&0o100 == 0 {
		t.Errorf("run.sh is not executable: %v %v", fi.Mode(), err)
	}
	// The git CLI must see a clean checkout on the default branch, with an
	// upstream, so that an operator can work with it by hand.
	if got := gittest.Git(t, dir, "status", "--porcelain"); got != "" {
		t.Errorf("git status --porcelain = %q, want nothing", got)
	}
	if got := gittest.Git(t, dir, "rev-parse", "--abbrev-ref", "HEAD"); got != "main" {
		t.Errorf("HEAD is on %q, want main", got)
	}
	if got := gittest.Git(t, dir, "rev-parse", "--abbrev-ref", "main@{upstream}"); got != "origin/main" {
		t.Errorf("upstream of main = %q, want origin/main", got)
	}
	if got := gittest.Git(t, dir, "remote", "get-url", "origin"); got != r.Bare {
		t.Errorf("origin = %q, want %s", got, r.Bare)
	}
	for _, want := range []string{"clone " + r.Bare + " (the remote's default branch) into " + dir, "checked out " + head[:12] + " (branch main): 3 files"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log does not contain %q:\n%s", want, log)
		}
	}
	// `changed` renders as a JSON list in templates.
	if b, _ := json.Marshal(res.Outputs["changed"]); string(b) != `["README.md","deploy/app.yaml","run.sh"]` {
		t.Errorf("changed as JSON = %s", b)
	}
}

func TestPullInPlace(t *testing.T) {
	r := newRemote(t)
	first := r.Commit(map[string]string{
		"keep.txt": "same\n", "edit.txt": "v1\n", "gone.txt": "bye\n", ".gitignore": "*.log\n",
	})
	dir := filepath.Join(t.TempDir(), "srv", "app") // parents are made too
	with := map[string]any{"url": r.Bare, "dir": dir}

	s, _ := newStep(t)
	res := mustRun(t, s, with)
	wantOutputs(t, res, first, "", []string{".gitignore", "edit.txt", "gone.txt", "keep.txt"}, dir)

	// Files of the deployment that git does not track survive every pull.
	for name, content := range map[string]string{".env": "SECRET=1\n", "app.log": "started\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r.Commit(map[string]string{"edit.txt": "v2\n", "gone.txt": "", "new/dir/file.txt": "new\n"})
	third := r.Commit(map[string]string{"edit.txt": "v3\n"})

	s, log := newStep(t)
	res = mustRun(t, s, with)
	wantOutputs(t, res, third, first, []string{"edit.txt", "gone.txt", "new/dir/file.txt"}, dir)
	for name, want := range map[string]string{
		"keep.txt": "same\n", "edit.txt": "v3\n", "gone.txt": "<missing>", "new/dir/file.txt": "new\n",
		".env": "SECRET=1\n", "app.log": "started\n",
	} {
		if got := gittest.ReadFile(t, filepath.Join(dir, name)); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got := gittest.Git(t, dir, "status", "--porcelain", "--untracked-files=no"); got != "" {
		t.Errorf("git status = %q, want a clean checkout", got)
	}
	want := fmt.Sprintf("checked out %s (branch main): 3 files changed since %s", third[:12], first[:12])
	if !strings.Contains(log.String(), want) {
		t.Errorf("log does not contain %q:\n%s", want, log)
	}

	t.Run("nothing new", func(t *testing.T) {
		s, log := newStep(t)
		res := mustRun(t, s, with)
		wantOutputs(t, res, third, third, []string{}, dir)
		if !strings.Contains(log.String(), "already at "+third[:12]) {
			t.Errorf("log:\n%s", log)
		}
	})

	t.Run("history rewritten", func(t *testing.T) {
		r.Git("reset", "--quiet", "--hard", first)
		forced := r.Commit(map[string]string{"other.txt": "x\n"})
		s, _ := newStep(t)
		res := mustRun(t, s, with)
		wantOutputs(t, res, forced, third, []string{"edit.txt", "gone.txt", "new/dir/file.txt", "other.txt"}, dir)
	})
}

// TestPullCheckoutOfGitCLI updates a checkout an operator made with `git
// clone`, the usual start of a deploy folder on a server.
func TestPullCheckoutOfGitCLI(t *testing.T) {
	r := newRemote(t)
	first := r.Commit(map[string]string{"a": "1\n"})
	dir := filepath.Join(t.TempDir(), "app")
	gittest.Git(t, filepath.Dir(dir), "clone", "--quiet", r.Bare, dir)
	next := r.Commit(map[string]string{"a": "2\n"})

	s, _ := newStep(t)
	res := mustRun(t, s, map[string]any{"url": r.Bare, "dir": dir, "ref": "main"})
	wantOutputs(t, res, next, first, []string{"a"}, dir)
	if got := gittest.Git(t, dir, "status", "--porcelain"); got != "" {
		t.Errorf("git status = %q", got)
	}
	// The git CLI can go on pulling by hand.
	if got := gittest.Git(t, dir, "pull", "--ff-only", "--quiet"); got != "" {
		t.Errorf("git pull said %q", got)
	}
}

func TestRefs(t *testing.T) {
	r := newRemote(t)
	c1 := r.Commit(map[string]string{"v": "1\n"})
	r.Git("tag", "light")
	r.Git("tag", "-a", "-m", "release", "v1.0")
	c2 := r.Commit(map[string]string{"v": "2\n"})
	r.Git("checkout", "--quiet", "-b", "dev")
	c3 := r.Commit(map[string]string{"v": "3\n"})
	r.Git("checkout", "--quiet", "main")
	c4 := r.Commit(map[string]string{"v": "4\n"})
	r.Git("push", "--quiet", "--tags", "origin")

	tests := []struct {
		ref, commit, content string
		branch               string // HEAD's branch; "HEAD" when detached
	}{
		{"", c4, "4\n", "main"},
		{"HEAD", c4, "4\n", "main"},
		{"main", c4, "4\n", "main"},
		{"dev", c3, "3\n", "dev"},
		{"refs/heads/dev", c3, "3\n", "dev"},
		{"light", c1, "1\n", "HEAD"},
		{"v1.0", c1, "1\n", "HEAD"}, // annotated: peeled to the commit
		{"refs/tags/v1.0", c1, "1\n", "HEAD"},
		{c2, c2, "2\n", "HEAD"},     // on no branch tip
		{c3, c3, "3\n", "HEAD"},     // a branch tip
		{c2[:7], c2, "2\n", "HEAD"}, // abbreviated
		{c1, c1, "1\n", "HEAD"},     // a tag's commit
	}
	for _, tt := range tests {
		t.Run("ref "+tt.ref, func(t *testing.T) {
			s, _ := newStep(t)
			res := mustRun(t, s, map[string]any{"url": r.Bare, "ref": tt.ref, "dir": "checkout"})
			dir := filepath.Join(s.Workspace, "checkout")
			if res.Outputs["commit"] != tt.commit {
				t.Errorf("commit = %v, want %s", res.Outputs["commit"], tt.commit)
			}
			if got := gittest.ReadFile(t, filepath.Join(dir, "v")); got != tt.content {
				t.Errorf("v = %q, want %q", got, tt.content)
			}
			if got := gittest.Git(t, dir, "rev-parse", "--abbrev-ref", "HEAD"); got != tt.branch {
				t.Errorf("HEAD is %q, want %q", got, tt.branch)
			}
			if got := gittest.Git(t, dir, "status", "--porcelain"); got != "" {
				t.Errorf("git status = %q", got)
			}
		})
	}

	t.Run("switching refs in place", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "app")
		s, _ := newStep(t)
		mustRun(t, s, map[string]any{"url": r.Bare, "ref": "v1.0", "dir": dir})
		res := mustRun(t, s, map[string]any{"url": r.Bare, "ref": "dev", "dir": dir})
		wantOutputs(t, res, c3, c1, []string{"v"}, dir)
		// A commit the checkout already holds needs no remote.
		res = mustRun(t, s, map[string]any{"url": "/nonexistent/repo.git", "ref": c1, "dir": dir})
		wantOutputs(t, res, c1, c3, []string{"v"}, dir)
	})
}

// TestCommitByHash checks both ways to a commit no branch or tag points at:
// asked for by hash where the server allows it, so that depth 1 fetches that
// commit alone, and else found among the branches, within depth.
func TestCommitByHash(t *testing.T) {
	r := newRemote(t)
	old := r.Commit(map[string]string{"v": "1\n"})
	r.Commit(map[string]string{"v": "2\n"})
	with := map[string]any{"url": r.Bare, "ref": old, "depth": 1}

	s, _ := newStep(t)
	_, err := runIn(t, s, with)
	wantPermanent(t, err, "no commit with that hash on any branch or tag within depth 1")

	with["depth"] = 2
	res := mustRun(t, s, with)
	if res.Outputs["commit"] != old {
		t.Errorf("commit = %v, want %s", res.Outputs["commit"], old)
	}

	gittest.Git(t, r.Bare, "config", "uploadpack.allowReachableSHA1InWant", "true")
	with["depth"] = 1
	s, _ = newStep(t)
	res = mustRun(t, s, with)
	dir := filepath.Join(s.Workspace, "src")
	if res.Outputs["commit"] != old || gittest.ReadFile(t, filepath.Join(dir, "v")) != "1\n" {
		t.Errorf("outputs %v", res.Outputs)
	}
	if got := gittest.Git(t, dir, "rev-list", "--count", "--all"); got != "1" {
		t.Errorf("the checkout holds %s commits, want only the one asked for", got)
	}
}

func TestUnknownRef(t *testing.T) {
	r := newRemote(t)
	r.Commit(map[string]string{"a": "1\n"})
	r.Git("tag", "dev")
	r.Git("branch", "dev")
	r.Git("push", "--quiet", "--all", "origin")
	r.Git("push", "--quiet", "--tags", "origin")
	tests := []struct {
		ref   string
		depth int
		want  []string
	}{
		{"nope", 0, []string{`unknown ref "nope": the remote has no branch or tag of that name; its branches are dev, main`}},
		{"refs/heads/nope", 0, []string{`unknown ref "refs/heads/nope": the remote has no ref of that name`}},
		{"dead", 0, []string{`unknown ref "dead"`, "no commit with that hash on any branch or tag"}},
		{strings.Repeat("0", 40), 1, []string{"no commit with that hash on any branch or tag within depth 1"}},
		{"dev", 0, []string{`ref "dev" names both a branch and a tag: write refs/heads/dev or refs/tags/dev`}},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			s, log := newStep(t)
			_, err := runIn(t, s, map[string]any{"url": r.Bare, "ref": tt.ref, "depth": tt.depth})
			wantPermanent(t, err, tt.want...)
			if !strings.HasPrefix(err.Error(), "git "+r.Bare+": ") {
				t.Errorf("error %q does not name the repository first", err)
			}
			if !strings.Contains(log.String(), "failed: ") {
				t.Errorf("log has no failure line:\n%s", log)
			}
			// A failed clone leaves nothing behind.
			if _, err := os.Stat(filepath.Join(s.Workspace, "src")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("src after a failed clone: %v", err)
			}
		})
	}
}

func TestDepth(t *testing.T) {
	r := newRemote(t)
	r.Commit(map[string]string{"a": "1\n"})
	c2 := r.Commit(map[string]string{"a": "2\n"})
	dir := filepath.Join(t.TempDir(), "app")
	with := map[string]any{"url": "file://" + r.Bare, "depth": 1, "dir": dir}

	s, _ := newStep(t)
	res := mustRun(t, s, with)
	wantOutputs(t, res, c2, "", []string{"a"}, dir)
	if got := gittest.Git(t, dir, "rev-list", "--count", "HEAD"); got != "1" {
		t.Errorf("history holds %s commits, want 1", got)
	}
	if got := gittest.Git(t, dir, "rev-parse", "--is-shallow-repository"); got != "true" {
		t.Errorf("is-shallow-repository = %s", got)
	}

	c3 := r.Commit(map[string]string{"a": "3\n", "b": "new\n"})
	res = mustRun(t, s, with)
	wantOutputs(t, res, c3, c2, []string{"a", "b"}, dir)
	if got := gittest.ReadFile(t, filepath.Join(dir, "b")); got != "new\n" {
		t.Errorf("b = %q", got)
	}
	if got := gittest.Git(t, dir, "status", "--porcelain"); got != "" {
		t.Errorf("git status = %q", got)
	}
}

func TestLocalChanges(t *testing.T) {
	r := newRemote(t)
	r.Commit(map[string]string{"a.txt": "1\n", "b.txt": "1\n", "c.txt": "1\n"})

	// setup clones, makes local changes, then pushes a new commit. It
	// returns the checkout, its commit and the new one.
	setup := func(t *testing.T, change func(dir string)) (dir, first, next string) {
		t.Helper()
		dir = filepath.Join(t.TempDir(), "app")
		s, _ := newStep(t)
		first = mustRun(t, s, map[string]any{"url": r.Bare, "dir": dir}).Outputs["commit"].(string)
		change(dir)
		return dir, first, r.Commit(map[string]string{"a.txt": fmt.Sprintf("%s\n", t.Name())})
	}
	write := func(t *testing.T, path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	changeAll := func(dir string) {
		write(t, filepath.Join(dir, "a.txt"), "local\n")
		os.Remove(filepath.Join(dir, "b.txt"))
		write(t, filepath.Join(dir, "c.txt"), "staged\n")
		gittest.Git(t, dir, "add", "c.txt")
		write(t, filepath.Join(dir, "untracked.txt"), "mine\n")
	}

	t.Run("refused without clean", func(t *testing.T) {
		dir, first, _ := setup(t, changeAll)
		s, _ := newStep(t)
		_, err := runIn(t, s, map[string]any{"url": r.Bare, "dir": dir})
		wantPermanent(t, err, dir+" has local changes to a.txt, b.txt, c.txt;", "set clean: true")
		if strings.Contains(err.Error(), "untracked.txt") {
			t.Errorf("error %q names an untracked file", err)
		}
		// Nothing was touched.
		if got := gittest.Git(t, dir, "rev-parse", "HEAD"); got != first {
			t.Errorf("HEAD moved to %s", got)
		}
		if got := gittest.ReadFile(t, filepath.Join(dir, "a.txt")); got != "local\n" {
			t.Errorf("a.txt = %q", got)
		}
	})

	t.Run("discarded with clean", func(t *testing.T) {
		dir, first, next := setup(t, changeAll)
		s, log := newStep(t)
		res := mustRun(t, s, map[string]any{"url": r.Bare, "dir": dir, "clean": true})
		if res.Outputs["commit"] != next || res.Outputs["previous"] != first {
			t.Errorf("outputs %v", res.Outputs)
		}
		for name, want := range map[string]string{"a.txt": t.Name() + "\n", "b.txt": "1\n", "c.txt": "1\n", "untracked.txt": "mine\n"} {
			if got := gittest.ReadFile(t, filepath.Join(dir, name)); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		if got := gittest.Git(t, dir, "status", "--porcelain", "--untracked-files=no"); got != "" {
			t.Errorf("git status = %q", got)
		}
		if !strings.Contains(log.String(), "discard local changes to a.txt, b.txt, c.txt") {
			t.Errorf("log:\n%s", log)
		}
	})

	t.Run("many files are summed up", func(t *testing.T) {
		dir, _, _ := setup(t, func(dir string) {
			for i := range 8 {
				write(t, filepath.Join(dir, fmt.Sprintf("f%d.txt", i)), "x")
				gittest.Git(t, dir, "add", fmt.Sprintf("f%d.txt", i))
			}
		})
		s, _ := newStep(t)
		_, err := runIn(t, s, map[string]any{"url": r.Bare, "dir": dir})
		wantPermanent(t, err, "f0.txt, f1.txt, f2.txt, f3.txt, f4.txt and 3 more")
	})

	t.Run("untracked file in the way", func(t *testing.T) {
		dir, _, _ := setup(t, func(dir string) { write(t, filepath.Join(dir, "d", "new.txt"), "mine\n") })
		next := r.Commit(map[string]string{"d/new.txt": "theirs\n"})
		s, _ := newStep(t)
		_, err := runIn(t, s, map[string]any{"url": r.Bare, "dir": dir})
		wantPermanent(t, err, "untracked files in "+dir+" would be overwritten by "+next[:12]+": d/new.txt")
		if got := gittest.ReadFile(t, filepath.Join(dir, "d", "new.txt")); got != "mine\n" {
			t.Errorf("d/new.txt = %q", got)
		}
		res := mustRun(t, s, map[string]any{"url": r.Bare, "dir": dir, "clean": true})
		if res.Outputs["commit"] != next {
			t.Errorf("commit = %v", res.Outputs["commit"])
		}
		if got := gittest.ReadFile(t, filepath.Join(dir, "d", "new.txt")); got != "theirs\n" {
			t.Errorf("d/new.txt = %q", got)
		}
	})
}

func TestDirRefused(t *testing.T) {
	r := newRemote(t)
	r.Commit(map[string]string{"a": "1\n"})
	t.Run("not empty", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "data"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		s, _ := newStep(t)
		_, err := runIn(t, s, map[string]any{"url": r.Bare, "dir": dir})
		wantPermanent(t, err, dir+" is not empty and not a git checkout")
	})
	t.Run("empty folder is cloned into and emptied on failure", func(t *testing.T) {
		dir := t.TempDir()
		s, _ := newStep(t)
		_, err := runIn(t, s, map[string]any{"url": r.Bare, "dir": dir, "ref": "nope"})
		wantPermanent(t, err, "unknown ref")
		if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
			t.Errorf("dir after a failed clone: %v %v", entries, err)
		}
		mustRun(t, s, map[string]any{"url": r.Bare, "dir": dir})
		if got := gittest.ReadFile(t, filepath.Join(dir, "a")); got != "1\n" {
			t.Errorf("a = %q", got)
		}
	})
	t.Run("bare repository", func(t *testing.T) {
		s, _ := newStep(t)
		_, err := runIn(t, s, map[string]any{"url": r.Bare, "dir": r.Bare})
		wantPermanent(t, err, "is a bare repository")
	})
}

func TestRemoteErrors(t *testing.T) {
	t.Run("repository not found", func(t *testing.T) {
		s, _ := newStep(t)
		_, err := runIn(t, s, map[string]any{"url": filepath.Join(t.TempDir(), "missing.git")})
		wantPermanent(t, err, "repository not found")
	})
	t.Run("empty repository", func(t *testing.T) {
		r := newRemote(t)
		s, _ := newStep(t)
		_, err := runIn(t, s, map[string]any{"url": r.Bare})
		wantPermanent(t, err, "empty")
	})
	t.Run("cancelled", func(t *testing.T) {
		r := newRemote(t)
		r.Commit(map[string]string{"a": "1\n"})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s, _ := newStep(t)
		_, err := build(t, Kind(), map[string]any{"url": r.Bare}).Run(ctx, s)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v does not wrap context.Canceled", err)
		}
		actiontest.WantRetryable(t, err, false)
	})
}
