package gitaction

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/gitclient"
)

// Run brings the checkout to the ref: a folder that is not yet a checkout is
// cloned into, an existing checkout fetches and moves to the ref's commit.
// Until the fetch succeeds the checkout is not touched. Uncommitted changes
// to tracked files, and untracked files where the new commit adds files, fail
// the step unless `clean` is set; other untracked files are always kept.
//
// Outputs: `commit`, `previous` (empty on a clone), `changed` (the paths that
// differ between the two, sorted; every file of the commit on a clone) and
// `dir` (the checkout's absolute path). Progress lines go to s.Stdout; neither
// they nor the errors hold a secret of s.Mask or a credential of the step.
//
// An unreachable remote, a server error and a timeout are retryable; refused
// credentials, a refused host key, a missing repository or ref, local changes
// and bad settings are permanent. When ctx ends first, the error wraps
// ctx.Err().
func (a *Action) Run(ctx context.Context, s *actions.Step) (actions.Result, error) {
	c := a.newCall(s)
	if err := ctx.Err(); err != nil {
		return actions.Result{}, c.fail(ctx, err)
	}
	if !filepath.IsAbs(c.dir) {
		return actions.Result{}, c.fail(ctx, fmt.Errorf("dir %s: the step has no workspace to resolve it in", c.dir))
	}
	creds, cleanup, err := a.credentials(s)
	if err != nil {
		return actions.Result{}, c.fail(ctx, err)
	}
	// The client reads the files now, so a temporary one can go at once.
	c.auth, err = c.remote.Auth(creds)
	cleanup()
	if err != nil {
		return actions.Result{}, c.fail(ctx, err)
	}
	return c.sync(ctx)
}

// call is one Run: the settings, where the checkout is, the remote with the
// run's secrets to mask, and how to log in.
type call struct {
	*Action
	dir    string // absolute
	remote *gitclient.Remote
	auth   transport.AuthMethod
	out    io.Writer
}

func (a *Action) newCall(s *actions.Step) *call {
	c := &call{Action: a, dir: resolveIn(s.Workspace, a.dir), out: io.Discard}
	if s.Stdout != nil {
		c.out = s.Stdout
	}
	// The step's credentials may be written in the workflow rather than
	// come from secrets.
	c.remote = gitclient.New(gitclient.Options{URL: a.url, Mask: s.Mask, Secrets: a.secrets, Settings: settings})
	return c
}

// settings name the step's settings in the client's messages.
var settings = gitclient.Settings{
	Ref:         "ref",
	Credentials: "token, or username and password",
	KnownHosts:  "known_hosts in with:",
	Passphrase:  "password",
}

// log writes one progress line, masked.
func (c *call) log(format string, args ...any) {
	fmt.Fprintln(c.out, c.remote.Mask(fmt.Sprintf(format, args...)))
}

// fail logs err and returns it masked, prefixed with the repository, and
// marked retryable or not as the client classed it.
func (c *call) fail(ctx context.Context, err error) error {
	f := c.remote.Fail(ctx, err)
	c.log("failed: %s", f.Reason)
	if f.Retryable {
		return actions.Retryable(f)
	}
	return actions.Permanent(f)
}

// sync is Run after the credentials are ready.
func (c *call) sync(ctx context.Context) (actions.Result, error) {
	co, err := c.open()
	if err != nil {
		return actions.Result{}, c.fail(ctx, err)
	}
	if co.fresh {
		c.log("clone %s (%s) into %s", c.remote.Shown(), c.describe(), c.dir)
	} else {
		c.log("update %s at %s from %s (%s)", c.dir, gitclient.Short(co.previous), c.remote.Shown(), c.describe())
	}
	res, err := c.update(ctx, co)
	if err != nil {
		if co.fresh {
			co.discard()
		}
		return actions.Result{}, c.fail(ctx, err)
	}
	return res, nil
}

// describe says what is fetched, for the first log line.
func (c *call) describe() string {
	what := "the remote's default branch"
	if c.ref != "" {
		what = "ref " + c.ref
	}
	if c.depth > 0 {
		what += fmt.Sprintf(", depth %d", c.depth)
	}
	return what
}

// update fetches the ref and moves the checkout to it.
func (c *call) update(ctx context.Context, co *checkout) (actions.Result, error) {
	wt, err := co.repo.Worktree()
	if err != nil {
		return actions.Result{}, fmt.Errorf("%s: %w", c.dir, err)
	}
	var st *localState
	if !co.fresh {
		if st, err = readLocalState(wt); err != nil {
			return actions.Result{}, fmt.Errorf("reading the state of %s: %w", c.dir, err)
		}
		// Found before fetching, so that the answer comes without a network
		// round trip and the remote is not asked in vain.
		if len(st.dirty) > 0 && !c.clean {
			return actions.Result{}, fmt.Errorf(
				"%s has local changes to %s; commit or remove them, or set clean: true to discard them",
				c.dir, gitclient.List(st.dirty))
		}
	}

	t, err := c.remote.Fetch(ctx, co.repo, gitclient.FetchOptions{Ref: c.ref, Depth: c.depth, Auth: c.auth})
	if err != nil {
		return actions.Result{}, err
	}
	commit, err := co.repo.CommitObject(t.Commit)
	if err != nil {
		return actions.Result{}, fmt.Errorf("%s: %w", t, err)
	}
	changed, added, err := changes(co.repo, co.previous, commit)
	if err != nil {
		return actions.Result{}, fmt.Errorf("comparing %s with %s: %w", gitclient.Short(co.previous), gitclient.Short(t.Commit), err)
	}

	if st != nil {
		var inTheWay []string
		for _, p := range added {
			if st.untracked[p] {
				inTheWay = append(inTheWay, p)
			}
		}
		if len(inTheWay) > 0 && !c.clean {
			return actions.Result{}, fmt.Errorf(
				"untracked files in %s would be overwritten by %s: %s; move them away, or set clean: true to overwrite them",
				c.dir, gitclient.Short(t.Commit), gitclient.List(inTheWay))
		}
		if len(st.dirty) > 0 {
			c.log("discard local changes to %s", gitclient.List(st.dirty))
			// Restricted to the changed files: a hard reset of the whole tree
			// would delete untracked (and ignored) files too.
			err := wt.Reset(&git.ResetOptions{Commit: co.previous, Mode: git.HardReset, Files: st.dirty})
			if err != nil {
				return actions.Result{}, fmt.Errorf("discarding local changes in %s: %w", c.dir, err)
			}
		}
	}

	// MergeReset is `git checkout`'s kind of move: it refuses uncommitted
	// changes (already ruled out or discarded) and keeps untracked files.
	if err := gitclient.CheckOut(co.repo, t.Commit, t.Branch, git.MergeReset); err != nil {
		return actions.Result{}, fmt.Errorf("check out %s in %s: %w", gitclient.Short(t.Commit), c.dir, err)
	}
	switch {
	case co.fresh:
		c.log("checked out %s (%s): %s", gitclient.Short(t.Commit), t, files(len(changed)))
	case co.previous == t.Commit:
		c.log("already at %s (%s)", gitclient.Short(t.Commit), t)
	default:
		c.log("checked out %s (%s): %s changed since %s", gitclient.Short(t.Commit), t, files(len(changed)), gitclient.Short(co.previous))
	}
	previous := ""
	if !co.previous.IsZero() {
		previous = co.previous.String()
	}
	return actions.Result{Outputs: map[string]any{
		"commit":   t.Commit.String(),
		"previous": previous,
		"changed":  changed,
		"dir":      c.dir,
	}}, nil
}

// checkout is the repository at dir, opened or newly made.
type checkout struct {
	repo *git.Repository
	// previous is HEAD's commit before the update; zero for a new checkout.
	previous plumbing.Hash
	// fresh is true when Run made the repository (or found one without a
	// commit); discard then removes what Run wrote.
	fresh   bool
	discard func()
}

// open opens the checkout at c.dir, or makes an empty repository there when
// the folder is missing or empty. A folder holding other files is refused.
func (c *call) open() (*checkout, error) {
	repo, err := git.PlainOpen(c.dir)
	switch {
	case err == nil:
		co := &checkout{repo: repo, discard: func() {}}
		head, err := repo.Head()
		switch {
		case errors.Is(err, plumbing.ErrReferenceNotFound):
			co.fresh = true
		case err != nil:
			return nil, fmt.Errorf("%s: reading HEAD: %w", c.dir, err)
		default:
			co.previous = head.Hash()
		}
		if _, err := repo.Worktree(); errors.Is(err, git.ErrIsBareRepository) {
			return nil, fmt.Errorf("%s is a bare repository, which has no files to check out; choose another dir", c.dir)
		}
		return co, nil
	case !errors.Is(err, git.ErrRepositoryNotExists):
		return nil, fmt.Errorf("opening %s: %w", c.dir, err)
	}

	entries, err := os.ReadDir(c.dir)
	existed := err == nil
	switch {
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("dir: %w", err)
	case len(entries) > 0:
		return nil, fmt.Errorf(
			"%s is not empty and not a git checkout; empty it or choose another dir", c.dir)
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, fmt.Errorf("dir: %w", err)
	}
	discard := func() {
		if !existed {
			os.RemoveAll(c.dir)
			return
		}
		// The folder was there already, perhaps a mount point: empty it.
		entries, _ := os.ReadDir(c.dir)
		for _, e := range entries {
			os.RemoveAll(filepath.Join(c.dir, e.Name()))
		}
	}
	repo, err = git.PlainInit(c.dir, false)
	if err == nil {
		// Without credentials: they are given to every fetch, never stored.
		_, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{gitclient.WithoutCredentials(c.url)}})
	}
	if err != nil {
		discard()
		return nil, fmt.Errorf("creating a repository in %s: %w", c.dir, err)
	}
	return &checkout{repo: repo, fresh: true, discard: discard}, nil
}

// localState is what the worktree holds that the last commit does not.
type localState struct {
	// dirty are tracked files with changes, staged or not, sorted.
	dirty []string
	// untracked are files git does not track and does not ignore.
	untracked map[string]bool
}

func readLocalState(wt *git.Worktree) (*localState, error) {
	status, err := wt.Status()
	if err != nil {
		return nil, err
	}
	st := &localState{untracked: map[string]bool{}}
	for path, fs := range status {
		switch {
		case fs.Staging == git.Untracked && fs.Worktree == git.Untracked:
			st.untracked[path] = true
		case fs.Staging != git.Unmodified || fs.Worktree != git.Unmodified:
			st.dirty = append(st.dirty, path)
		}
	}
	slices.Sort(st.dirty)
	return st, nil
}

// changes lists the paths that differ between the commits previous and
// commit, sorted, and the ones among them that commit adds. With no previous
// commit, every file of commit is both.
func changes(repo *git.Repository, previous plumbing.Hash, commit *object.Commit) (changed, added []string, err error) {
	to, err := commit.Tree()
	if err != nil {
		return nil, nil, err
	}
	changed = []string{} // an empty list, not null, in the outputs
	if previous.IsZero() {
		err := to.Files().ForEach(func(f *object.File) error {
			changed = append(changed, f.Name)
			return nil
		})
		slices.Sort(changed)
		return changed, changed, err
	}
	if previous == commit.Hash {
		return changed, nil, nil
	}
	prev, err := repo.CommitObject(previous)
	if err != nil {
		return nil, nil, err
	}
	from, err := prev.Tree()
	if err != nil {
		return nil, nil, err
	}
	diff, err := object.DiffTree(from, to)
	if err != nil {
		return nil, nil, err
	}
	for _, ch := range diff {
		if ch.From.Name != "" {
			changed = append(changed, ch.From.Name)
		}
		if ch.To.Name != "" {
			changed = append(changed, ch.To.Name)
			if ch.From.Name == "" {
				added = append(added, ch.To.Name)
			}
		}
	}
	slices.Sort(changed)
	return slices.Compact(changed), added, nil
}

// files is "1 file" or "n files".
func files(n int) string {
	if n == 1 {
		return "1 file"
	}
	return fmt.Sprintf("%d files", n)
}
