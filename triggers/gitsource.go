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
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/hookflow/hookflow/internal/gitclient"
	"github.com/hookflow/hookflow/workflows"
)

// DefaultPoll is how often a git source is fetched when poll is not set.
const DefaultPoll = time.Minute

// syncTimeout bounds one sync, so that a server that stops answering cannot
// hold the checkout, and with it every later reload, forever.
const syncTimeout = 10 * time.Minute

// GitConfig is the `workflows: {git: …}` form of the configuration: workflow
// files are read from a branch of a git repository.
type GitConfig struct {
	// URL is the repository: https://…, ssh://…, user@host:path, or a local path.
	URL string `yaml:"git"`
	// Branch is the branch to follow; empty follows the branch the remote's
	// HEAD names (or HEAD's commit, when the remote names no branch).
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
	// ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts: a server they do not
	// list is refused before connecting, as the git action refuses it.
	SSHKey string `yaml:"ssh_key"`
}

// GitSource keeps a checkout of a git branch and loads workflow sets from it.
// Its methods may be called from several goroutines: syncs and loads take
// turns, since they share the checkout.
type GitSource struct {
	cfg      GitConfig
	remote   *gitclient.Remote
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
	g.remote = gitclient.New(gitclient.Options{URL: cfg.URL, Secrets: g.secrets(), Settings: gitSettings})
	if u, err := url.Parse(cfg.URL); err == nil && u.Scheme == "http" && cfg.Token != "" {
		logger.Warn("the git token is sent unencrypted over http; use an https URL", "url", g.remote.Shown())
	}
	return g
}

// gitSettings name the source's settings in the git client's messages.
var gitSettings = gitclient.Settings{Ref: "workflows.branch", Credentials: "workflows.token"}

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
				g.logger.Debug("git poll: reload failed", "url", g.remote.Shown(), "err", err)
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
		return "", g.remote.Fail(ctx, err)
	}
	commit := hash.String()
	if commit != g.commit {
		g.logger.Info("git checkout updated", "url", g.remote.Shown(), "commit", commit)
		g.commit = commit
	}
	return commit, nil
}

func (g *GitSource) fetchAndReset(ctx context.Context) (plumbing.Hash, error) {
	if g.cfg.URL == "" {
		return plumbing.ZeroHash, errors.New("no repository URL: set workflows.git")
	}
	creds, err := g.credentials()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	auth, err := g.remote.Auth(creds)
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

	// The client fetches without writing the URL (which may carry
	// credentials) to the checkout's config, so a changed URL takes effect.
	t, err := g.remote.Fetch(ctx, repo, gitclient.FetchOptions{Ref: g.ref(), Auth: auth})
	if err != nil {
		return plumbing.ZeroHash, err
	}
	// Detached and hard: the checkout follows the remote, has no branch of
	// its own, and holds exactly the commit's files.
	if err := gitclient.CheckOut(repo, t.Commit, "", git.HardReset); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("check out %s: %w", t.Commit, err)
	}
	if fresh {
		if err := os.Rename(staging, g.checkout); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("checkout folder %s is in the way (remove it to clone afresh): %w", g.checkout, err)
		}
	}
	return t.Commit, nil
}

// ref is the ref to follow: the configured branch, or empty for the one the
// remote's HEAD names.
func (g *GitSource) ref() string {
	b := g.cfg.Branch
	if b == "" || strings.HasPrefix(b, "refs/") {
		return b
	}
	return plumbing.NewBranchReferenceName(b).String()
}

// credentials are how to log in to the URL: the token for http(s); for ssh
// the key, or else the ssh agent, with host keys checked against the files in
// $SSH_KNOWN_HOSTS or else the default ones.
func (g *GitSource) credentials() (gitclient.Credentials, error) {
	var none gitclient.Credentials
	ep, err := transport.NewEndpoint(g.cfg.URL)
	if err != nil {
		return none, err
	}
	switch ep.Protocol {
	case "http", "https":
		if g.cfg.SSHKey != "" {
			return none, errors.New("ssh_key is for ssh URLs; for an http(s) URL set token")
		}
		if g.cfg.Token == "" {
			return none, nil
		}
		user, token, found := strings.Cut(g.cfg.Token, ":")
		if !found {
			user, token = gitclient.TokenUser, g.cfg.Token
		}
		return gitclient.Credentials{Username: user, Password: token}, nil
	case "ssh":
		if g.cfg.Token != "" {
			return none, errors.New("token is for http(s) URLs; for an ssh URL set ssh_key")
		}
		login := &gitclient.SSH{Agent: g.cfg.SSHKey == "", KnownHosts: gitclient.DefaultKnownHosts()}
		if files := filepath.SplitList(os.Getenv("SSH_KNOWN_HOSTS")); len(files) > 0 {
			login.KnownHosts = files
		}
		if g.cfg.SSHKey != "" {
			if login.Key, err = os.ReadFile(g.cfg.SSHKey); err != nil {
				return none, fmt.Errorf("ssh_key: %w", err)
			}
		}
		return gitclient.Credentials{SSH: login}, nil
	default:
		if g.cfg.Token != "" || g.cfg.SSHKey != "" {
			return none, fmt.Errorf("token and ssh_key are for http(s) and ssh URLs, not %s", ep.Protocol)
		}
		return none, nil
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
		return nil, fmt.Errorf("git %s: dir %q must be a folder inside the repository, such as workflows", g.remote.Shown(), g.cfg.Dir)
	}
	// os.Root refuses symlinks that lead out of the checkout, so a pushed
	// symlink cannot make the server read (and quote in errors) other files.
	root, err := os.OpenRoot(g.checkout)
	if err != nil {
		return nil, fmt.Errorf("git %s: %w", g.remote.Shown(), err)
	}
	defer root.Close()
	fsys := root.FS()
	if fi, err := fs.Stat(fsys, dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("git %s: there is no folder %q at commit %s", g.remote.Shown(), dir, gitclient.Short(plumbing.NewHash(commit)))
	}
	set, err := files.FS(fsys, dir, commit)
	if err != nil {
		return nil, fmt.Errorf("git %s at %s:\n%w", g.remote.Shown(), gitclient.Short(plumbing.NewHash(commit)), err)
	}
	return set, nil
}

// secrets are the credentials in the configuration besides those written
// into the URL, which the git client finds itself: the token, and the part
// of a "user:token" after the colon.
func (g *GitSource) secrets() []string {
	var list []string
	if t := g.cfg.Token; t != "" {
		list = append(list, t)
		if _, secret, ok := strings.Cut(t, ":"); ok && secret != "" {
			list = append(list, secret)
		}
	}
	return list
}
