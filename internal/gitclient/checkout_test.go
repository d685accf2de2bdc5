package gitclient

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5"

	"github.com/hookflow/hookflow/internal/gitclient/gittest"
)

// fetched is a new checkout folder whose repository has fetched the remote's
// default branch but checked nothing out.
func fetched(t *testing.T, url string) (string, *git.Repository, *Target) {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	target, err := New(Options{URL: url}).Fetch(context.Background(), repo, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return dir, repo, target
}

func TestCheckOut(t *testing.T) {
	t.Parallel()
	r := gittest.NewRepo(t, t.TempDir())
	head := r.Commit(map[string]string{"a.txt": "1\n"})

	t.Run("on a branch, as git checkout", func(t *testing.T) {
		t.Parallel()
		dir, repo, target := fetched(t, r.Bare)
		writeFile(t, filepath.Join(dir, "untracked.txt"), "mine\n")
		if err := CheckOut(repo, target.Commit, target.Branch, git.MergeReset); err != nil {
			t.Fatal(err)
		}
		if got := gittest.Git(t, dir, "symbolic-ref", "HEAD"); got != "refs/heads/main" {
			t.Errorf("HEAD = %s, want refs/heads/main", got)
		}
		if got := gittest.Git(t, dir, "rev-parse", "main"); got != head {
			t.Errorf("main = %s, want %s", got, head)
		}
		if got := gittest.Git(t, dir, "config", "branch.main.merge"); got != "refs/heads/main" {
			t.Errorf("branch.main.merge = %q, want the upstream recorded", got)
		}
		if got := gittest.ReadFile(t, filepath.Join(dir, "a.txt")); got != "1\n" {
			t.Errorf("a.txt = %q", got)
		}
		if got := gittest.ReadFile(t, filepath.Join(dir, "untracked.txt")); got != "mine\n" {
			t.Errorf("untracked.txt = %q, want it kept", got)
		}

		// A second move refuses uncommitted changes.
		writeFile(t, filepath.Join(dir, "a.txt"), "changed\n")
		if err := CheckOut(repo, target.Commit, target.Branch, git.MergeReset); err == nil {
			t.Error("MergeReset over a changed tracked file succeeded")
		}
		if got := gittest.ReadFile(t, filepath.Join(dir, "a.txt")); got != "changed\n" {
			t.Errorf("a.txt = %q, want the change kept", got)
		}
	})

	t.Run("detached, hard", func(t *testing.T) {
		t.Parallel()
		dir, repo, target := fetched(t, r.Bare)
		if err := CheckOut(repo, target.Commit, target.Branch, git.MergeReset); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "a.txt"), "changed\n")
		writeFile(t, filepath.Join(dir, "untracked.txt"), "mine\n")
		if err := CheckOut(repo, target.Commit, "", git.HardReset); err != nil {
			t.Fatal(err)
		}
		if got := gittest.Git(t, dir, "rev-parse", "--symbolic-full-name", "HEAD"); got != "HEAD" {
			t.Errorf("HEAD is on %s, want it detached", got)
		}
		if got := gittest.Git(t, dir, "rev-parse", "HEAD"); got != head {
			t.Errorf("HEAD = %s, want %s", got, head)
		}
		if got := gittest.ReadFile(t, filepath.Join(dir, "a.txt")); got != "1\n" {
			t.Errorf("a.txt = %q, want the commit's", got)
		}
		if got := gittest.ReadFile(t, filepath.Join(dir, "untracked.txt")); got != "<missing>" {
			t.Errorf("untracked.txt = %q, want it removed", got)
		}
	})
}
