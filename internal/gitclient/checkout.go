package gitclient

import (
	"errors"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
)

// CheckOut points repo's HEAD at commit and resets the index and work tree to
// it with mode. With a branch name, HEAD is on the local branch of that name,
// made or moved to commit and set to track origin's, so that `git status` and
// `git pull` by hand know the upstream; without one, HEAD is detached.
//
// git.HardReset makes the work tree exactly the commit's: local changes are
// discarded and, unlike `git reset --hard`, untracked files removed.
// git.MergeReset moves as `git checkout` does: it fails on uncommitted changes
// to tracked files, and keeps untracked files.
func CheckOut(repo *git.Repository, commit plumbing.Hash, branch string, mode git.ResetMode) error {
	wt, err := repo.Worktree()
	if err != nil {
		return err
	}
	head := plumbing.NewHashReference(plumbing.HEAD, commit)
	if branch != "" {
		name := plumbing.NewBranchReferenceName(branch)
		if err := repo.Storer.SetReference(plumbing.NewHashReference(name, commit)); err != nil {
			return err
		}
		head = plumbing.NewSymbolicReference(plumbing.HEAD, name)
		if err := repo.CreateBranch(&config.Branch{Name: branch, Remote: "origin", Merge: name}); err != nil && !errors.Is(err, git.ErrBranchExists) {
			return err
		}
	}
	if err := repo.Storer.SetReference(head); err != nil {
		return err
	}
	return wt.Reset(&git.ResetOptions{Commit: commit, Mode: mode})
}
