package triggers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"

	"github.com/hookflow/hookflow/workflows"
)

// DefaultPoll is how often a git source is fetched when poll is not set.
const DefaultPoll = time.Minute

// syncTimeout bounds one sync, so that a server that stops answering cannot
// hold the checkout, and with it every later reload, forever.
const syncTimeout = 10 * time.Minute

// tokenUser is the basic-auth username sent with a token that names none.
const tokenUser = "hookflow"

// GitConfig is the `workflows: {git: …}` form of the configuration: workflow
// files are read from a branch of a git repository.
type GitConfig struct {
	// URL is the repository: https://…, ssh://…, user@host:path, or a local path.
	URL string `yaml:"git"`
	// Branch is the branch to follow; empty follows the remote's HEAD.
	Branch string `yaml:"branch"`
	// Dir is the folder inside the repository that holds the workflows;
	// empty is the repository's root.
	Dir string `yaml:"dir"`
	// Poll is how often the repository is fetched; 0 is DefaultPoll.
	Poll workflows.Duration `yaml:"poll"`
	// Token authenticates http(s) URLs: it is sent as the basic-auth password
	// with the username "hookflow", which GitHub personal access tokens, GitLab
	// and Gitea tokens accept. Write "user:token" to choose the username, such
	// as "x-access-token:ghs_…" for a GitHub App installation token or
	// "x-token-auth:…" for a Bitbucket access token.
	Token string `yaml:"token"`
	// SSHKey is the path of an unencrypted private key for ssh URLs. Without
	// it, ssh URLs use the ssh agent. Host keys are always checked, against
	// the files in $SSH_KNOWN_HOSTS (separated by colons) or else
	// ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts.
	SSHKey string `yaml:"ssh_key"`
}

// GitSource keeps a checkout of a git branch and loads workflow sets from it.
// Its methods may be called from several goroutines: syncs and loads take
// turns, since they share the checkout.
type GitSource struct {
	cfg      GitConfig
	checkout string
	poll     time.Duration
	logger   *slog.Logger

	// turn is held by whoever is using the checkout; a channel rather than a
	// mutex so that waiting for it respects the caller's context.
	turn chan struct{}
	// commit is the checkout's commit after the last successful sync.
	commit string
	// loaded is set once a Loader call has returned a set.
	loaded bool
}

// NewGitSource returns a source for cfg that keeps its checkout in the folder
// checkout (under the data folder); nothing is fetched until Sync or a load.
func NewGitSource(cfg GitConfig, checkout string, logger *slog.Logger) *GitSource {
	g := &GitSource{cfg: cfg, checkout: checkout, poll: time.Duration(cfg.Poll), logger: logger, turn: make(chan struct{}, 1)}
	if g.poll <= 0 {
		g.poll = DefaultPoll
	}
	if u, err := url.Parse(cfg.URL); err == nil && u.Scheme == "http" && cfg.Token != "" {
		logger.Warn("the git token is sent unencrypted over http; use an https URL", "url", g.url())
	}
	return g
}

// Sync brings the checkout to the head of the branch: it clones on first use,
// else fetches and then hard-resets. Until a fetch succeeds the checkout is not
// touched, so a failed sync leaves the previous commit in place. It returns the
// checked-out commit's hash.
func (g *GitSource) Sync(ctx context.Context) (commit string, err error) {
	if err := g.lock(ctx); err != nil {
		return "", err
	}
	defer g.unlock()
	return g.sync(ctx)
}

// Loader returns the Loader for NewSource: it syncs, then reads every workflow
// file in Dir at the synced commit into a set whose revision is the commit.
// Files are named relative to the repository in the set and in errors, such as
// "ci/deploy.yaml:3:7: …". If the very first sync fails but an earlier run left
// a checkout, that checkout is loaded (and a warning logged) so that the server
// can start while the git server is down; later failures are returned, and the
// Source keeps its set. files sets how workflow files are checked and read.
func (g *GitSource) Loader(files workflows.Loader) Loader {
	return func(ctx context.Context) (*workflows.Set, error) {
		if err := g.lock(ctx); err != nil {
			return nil, err
		}
		defer g.unlock()
		commit, err := g.sync(ctx)
		if err != nil {
			if g.loaded {
				return nil, err
			}
			previous, headErr := g.checkedOut()
			if headErr != nil {
				return nil, err
			}
			g.logger.Warn("git sync failed; loading the checkout an earlier run left", "commit", previous, "err", err)
			commit = previous
		}
		set, err := g.load(files, commit)
		if err != nil {
			return nil, err
		}
		g.loaded = true
		return set, nil
	}
}

// Poll calls reload every poll interval until ctx is done. reload's errors are
// its own to report (Source.Reload reports through onError).
func (g *GitSource) Poll(ctx context.Context, reload func(context.Context) error) {
	t := time.NewTicker(g.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := reload(ctx); err != nil {
				g.logger.Debug("git poll: reload failed", "url", g.url(), "err", err)
			}
		}
	}
}

func (g *GitSource) lock(ctx context.Context) error {
	select {
	case g.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *GitSource) unlock() { <-g.turn }

// sync is Sync with the turn held.
func (g *GitSource) sync(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	hash, err := g.fetchAndReset(ctx)
	if err != nil {
		return "", g.fail(err)
	}
	commit := hash.String()
	if commit != g.commit {
		g.logger.Info("git checkout updated", "url", g.url(), "commit", commit)
		g.commit = commit
	}
	return commit, nil
}

func (g *GitSource) fetchAndReset(ctx context.Context) (plumbing.Hash, error) {
	if g.cfg.URL == "" {
		return plumbing.ZeroHash, errors.New("no repository URL: set workflows.git")
	}
	auth, err := g.auth()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	repo, err := git.PlainOpen(g.checkout)
	fresh := errors.Is(err, git.ErrRepositoryNotExists)
	// A first clone is made beside the checkout and renamed into place when
	// complete, so that an interrupted clone never looks like a checkout.
	staging := g.checkout + ".clone"
	switch {
	case fresh:
		if err := os.RemoveAll(staging); err != nil {
			return plumbing.ZeroHash, err
		}
		if err := os.MkdirAll(filepath.Dir(g.checkout), 0o700); err != nil {
			return plumbing.ZeroHash, err
		}
		if repo, err = git.PlainInit(staging, false); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("create checkout: %w", err)
		}
		defer os.RemoveAll(staging)
	case err != nil:
		return plumbing.ZeroHash, fmt.Errorf("open checkout %s: %w", g.checkout, err)
	}

	// An in-memory remote, so that the URL (which may carry credentials) is
	// not written to the checkout's config, and a changed URL takes effect.
	remote := git.NewRemote(repo.Storer, &config.RemoteConfig{Name: "origin", URLs: []string{g.cfg.URL}})
	branch, err := g.branch(ctx, remote, auth)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	tracking := plumbing.NewRemoteReferenceName("origin", branch.Short())
	err = remote.FetchContext(ctx, &git.FetchOptions{
		RefSpecs: []config.RefSpec{config.RefSpec("+" + branch.String() + ":" + tracking.String())},
		Auth:     auth,
		Tags:     git.NoTags,
		Force:    true,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return plumbing.ZeroHash, fmt.Errorf("fetch %s: %w", branch.Short(), err)
	}
	ref, err := repo.Reference(tracking, true)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetch %s: %w", branch.Short(), err)
	}
	if err := checkOut(repo, ref.Hash()); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("check out %s: %w", ref.Hash(), err)
	}
	if fresh {
		if err := os.Rename(staging, g.checkout); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("checkout folder %s is in the way (remove it to clone afresh): %w", g.checkout, err)
		}
	}
	return ref.Hash(), nil
}

// checkOut makes the work tree and index exactly those of commit, with HEAD
// detached there: the checkout follows the remote and has no branch of its own.
func checkOut(repo *git.Repository, commit plumbing.Hash) error {
	wt, err := repo.Worktree()
	if err != nil {
		return err
	}
	if err := repo.Storer.SetReference(plumbing.NewHashReference(plumbing.HEAD, commit)); err != nil {
		return err
	}
	return wt.Reset(&git.ResetOptions{Commit: commit, Mode: git.HardReset})
}

// branch is the configured branch, or the one the remote's HEAD points at.
func (g *GitSource) branch(ctx context.Context, remote *git.Remote, auth transport.AuthMethod) (plumbing.ReferenceName, error) {
	if b := g.cfg.Branch; b != "" {
		if strings.HasPrefix(b, "refs/") {
			return plumbing.ReferenceName(b), nil
		}
		return plumbing.NewBranchReferenceName(b), nil
	}
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: auth})
	if err != nil {
		return "", fmt.Errorf("list branches: %w", err)
	}
	for _, r := range refs {
		if r.Name() == plumbing.HEAD && r.Type() == plumbing.SymbolicReference {
			return r.Target(), nil
		}
	}
	return "", errors.New("the remote does not say which branch HEAD is; set workflows.branch")
}

// auth is how to authenticate to the URL, or nil for none.
func (g *GitSource) auth() (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(g.cfg.URL)
	if err != nil {
		return nil, err
	}
	switch ep.Protocol {
	case "http", "https":
		if g.cfg.SSHKey != "" {
			return nil, errors.New("ssh_key is for ssh URLs; for an http(s) URL set token")
		}
		if g.cfg.Token == "" {
			return nil, nil
		}
		user, token, found := strings.Cut(g.cfg.Token, ":")
		if !found {
			user, token = tokenUser, g.cfg.Token
		}
		return &githttp.BasicAuth{Username: user, Password: token}, nil
	case "ssh":
		if g.cfg.Token != "" {
			return nil, errors.New("token is for http(s) URLs; for an ssh URL set ssh_key")
		}
		user := ep.User
		if user == "" {
			user = "git"
		}
		if g.cfg.SSHKey == "" {
			// go-git then asks the ssh agent, and checks host keys against
			// the same known_hosts files as below.
			return nil, nil
		}
		pk, err := gitssh.NewPublicKeysFromFile(user, g.cfg.SSHKey, "")
		if err != nil {
			return nil, fmt.Errorf("ssh_key %s: %w", g.cfg.SSHKey, err)
		}
		// Set explicitly rather than left to go-git's default, so that host
		// keys are checked whatever that default becomes.
		if pk.HostKeyCallback, err = gitssh.NewKnownHostsCallback(); err != nil {
			return nil, fmt.Errorf("ssh known hosts: %w", err)
		}
		return pk, nil
	default:
		if g.cfg.Token != "" || g.cfg.SSHKey != "" {
			return nil, fmt.Errorf("token and ssh_key are for http(s) and ssh URLs, not %s", ep.Protocol)
		}
		return nil, nil
	}
}

// checkedOut is the checkout's commit, when an earlier run left one.
func (g *GitSource) checkedOut() (string, error) {
	repo, err := git.PlainOpen(g.checkout)
	if err != nil {
		return "", err
	}
	head, err := repo.Head()
	if err != nil {
		return "", err
	}
	return head.Hash().String(), nil
}

// load reads the workflows in Dir of the checkout into a set at commit. Files
// are named relative to the repository, in the set and in errors: the
// checkout's path on this machine would otherwise be kept in every position.
func (g *GitSource) load(files workflows.Loader, commit string) (*workflows.Set, error) {
	dir := path.Clean(filepath.ToSlash(g.cfg.Dir))
	if !fs.ValidPath(dir) {
		return nil, fmt.Errorf("git %s: dir %q must be a folder inside the repository, such as workflows", g.url(), g.cfg.Dir)
	}
	// os.Root refuses symlinks that lead out of the checkout, so a pushed
	// symlink cannot make the server read (and quote in errors) other files.
	root, err := os.OpenRoot(g.checkout)
	if err != nil {
		return nil, fmt.Errorf("git %s: %w", g.url(), err)
	}
	defer root.Close()
	fsys := root.FS()
	if fi, err := fs.Stat(fsys, dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("git %s: there is no folder %q at commit %s", g.url(), dir, shortCommit(commit))
	}
	set, err := files.FS(fsys, dir, commit)
	if err != nil {
		return nil, fmt.Errorf("git %s at %s:\n%w", g.url(), shortCommit(commit), err)
	}
	return set, nil
}

// fail prefixes err with the repository, with any credentials masked.
func (g *GitSource) fail(err error) error {
	msg := err.Error()
	masked := msg
	for _, secret := range g.secrets() {
		masked = strings.ReplaceAll(masked, secret, "xxxxx")
	}
	if masked != msg {
		// The chain goes with the secret; the message is what counts.
		return fmt.Errorf("git %s: %s", g.url(), masked)
	}
	return fmt.Errorf("git %s: %w", g.url(), err)
}

// secrets are the credentials in the configuration: the token, and a
// password, or else a username (a token may stand there), in an http(s) URL.
func (g *GitSource) secrets() []string {
	var list []string
	if t := g.cfg.Token; t != "" {
		list = append(list, t)
		if _, secret, ok := strings.Cut(t, ":"); ok && secret != "" {
			list = append(list, secret)
		}
	}
	if u, err := url.Parse(g.cfg.URL); err == nil && u.User != nil && (u.Scheme == "http" || u.Scheme == "https") {
		if p, ok := u.User.Password(); ok && p != "" {
			list = append(list, p)
		} else if name := u.User.Username(); name != "" {
			list = append(list, name)
		}
	}
	return list
}

// url is the repository URL for messages. Credentials written into an http(s)
// URL are masked, the username too, since a token may stand there.
func (g *GitSource) url() string {
	u, err := url.Parse(g.cfg.URL)
	if err != nil || u.User == nil || (u.Scheme != "http" && u.Scheme != "https") {
		return g.cfg.URL
	}
	u.User = url.User("xxxxx")
	return u.String()
}

// shortCommit abbreviates a commit hash for messages.
func shortCommit(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}
