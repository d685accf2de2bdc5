package triggers

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/hookflow/hookflow/internal/gitclient/gittest"
	"github.com/hookflow/hookflow/workflows"
)

// A workflow with one run step: the loader needs no action registry for it.
func workflowYAML(name string) string {
	return "name: " + name + "\non:\n  dispatch: {}\nsteps:\n  - run: echo " + name + "\n"
}

// brokenYAML has an unknown key at line 4, column 1.
const brokenYAML = "on:\n  dispatch: {}\nsteps:\n  - run: echo hi\nstepz: []\n"

// workflowNames lists the set's workflow names.
func workflowNames(set *workflows.Set) string {
	var list []string
	for _, w := range set.Workflows() {
		list = append(list, w.Name)
	}
	return strings.Join(list, ",")
}

// checkSet checks the set's workflows and that the set and each workflow
// carry the commit as revision.
func checkSet(t *testing.T, set *workflows.Set, wantNames, commit string) {
	t.Helper()
	if got := workflowNames(set); got != wantNames {
		t.Errorf("workflows = %q, want %q", got, wantNames)
	}
	if set.Revision != commit {
		t.Errorf("set revision = %q, want commit %q", set.Revision, commit)
	}
	for _, w := range set.Workflows() {
		if w.Revision != commit {
			t.Errorf("workflow %s revision = %q, want commit %q", w.Name, w.Revision, commit)
		}
	}
}

func TestGitSourceReload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := gittest.NewRepo(t, t.TempDir())
	first := repo.CommitTo("main", map[string]string{"hello.yaml": workflowYAML("hello")})

	git := NewGitSource(GitConfig{URL: repo.Bare}, filepath.Join(t.TempDir(), "workflows-git"), slog.New(slog.DiscardHandler))
	src, err := NewSource(ctx, git.Loader(workflows.Loader{}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkSet(t, src.Set(), "hello", first)
	if w, _ := src.Set().Lookup("hello"); w.File != "hello.yaml" {
		t.Errorf("workflow file = %q, want the path in the repository, hello.yaml", w.File)
	}

	t.Run("valid push", func(t *testing.T) {
		second := repo.CommitTo("main", map[string]string{"ci/build.yaml": workflowYAML("build")})
		if err := src.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		checkSet(t, src.Set(), "build,hello", second)
	})
	good := src.Set()

	t.Run("invalid push keeps the last good set", func(t *testing.T) {
		repo.CommitTo("main", map[string]string{"ci/broken.yaml": brokenYAML})
		err := src.Reload(ctx)
		if err == nil || !strings.Contains(err.Error(), "ci/broken.yaml:5:1:") {
			t.Fatalf("Reload = %v, want an error at ci/broken.yaml:5:1", err)
		}
		if workflows.ErrorCode(err) != workflows.EInvalid {
			t.Errorf("error code = %q, want %q", workflows.ErrorCode(err), workflows.EInvalid)
		}
		if src.Set() != good {
			t.Error("the active set changed after an invalid push")
		}
		if st := src.Status(); st.Error == "" || st.Revision != good.Revision {
			t.Errorf("status = %+v, want the error and the old revision", st)
		}
	})

	t.Run("fix recovers", func(t *testing.T) {
		// Deleting files must delete their workflows too.
		fixed := repo.CommitTo("main", map[string]string{"ci/broken.yaml": "", "hello.yaml": "", "ci/build.yaml": workflowYAML("build2")})
		if err := src.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		checkSet(t, src.Set(), "build2", fixed)
		if st := src.Status(); st.Error != "" {
			t.Errorf("status error = %q after a good reload, want none", st.Error)
		}
	})
}

func TestGitSourceDir(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := gittest.NewRepo(t, t.TempDir())
	// Outside dir, so never read: it would fail the load if it were.
	first := repo.CommitTo("main", map[string]string{"deploy/web.yaml": workflowYAML("web"), "broken.yaml": brokenYAML})

	git := NewGitSource(GitConfig{URL: repo.Bare, Dir: "deploy"}, filepath.Join(t.TempDir(), "checkout"), slog.New(slog.DiscardHandler))
	src, err := NewSource(ctx, git.Loader(workflows.Loader{}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkSet(t, src.Set(), "web", first)

	repo.CommitTo("main", map[string]string{"deploy/nested/bad.yml": brokenYAML})
	err = src.Reload(ctx)
	if err == nil || !strings.Contains(err.Error(), "deploy/nested/bad.yml:5:1:") {
		t.Errorf("Reload = %v, want an error at deploy/nested/bad.yml:5:1", err)
	}
	if strings.Contains(err.Error(), "checkout") {
		t.Errorf("error %q names the checkout folder; want paths in the repository", err)
	}
}

func TestGitSourceDirMissingOrOutside(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, t.TempDir())
	repo.CommitTo("main", map[string]string{"web.yaml": workflowYAML("web")})
	for _, tc := range []struct{ dir, want string }{
		{"nope", `no folder "nope"`},
		{"../elsewhere", "inside the repository"},
		{"/etc", "inside the repository"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			git := NewGitSource(GitConfig{URL: repo.Bare, Dir: tc.dir}, filepath.Join(t.TempDir(), "checkout"), slog.New(slog.DiscardHandler))
			_, err := git.Loader(workflows.Loader{})(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("load = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestGitSourceSymlinkOutOfRepository(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	outside := filepath.Join(root, "outside.yaml")
	writeTestFile(t, outside, brokenYAML)
	repo := gittest.NewRepo(t, root)
	repo.CommitTo("main", map[string]string{"web.yaml": workflowYAML("web")})
	if err := os.Symlink(outside, filepath.Join(repo.Work, "leak.yaml")); err != nil {
		t.Fatal(err)
	}
	repo.CommitTo("main", nil)

	git := NewGitSource(GitConfig{URL: repo.Bare}, filepath.Join(t.TempDir(), "checkout"), slog.New(slog.DiscardHandler))
	_, err := git.Loader(workflows.Loader{})(context.Background())
	if err == nil || !strings.Contains(err.Error(), "leak.yaml") || strings.Contains(err.Error(), "stepz") {
		t.Errorf("load = %v, want leak.yaml refused without reading the file it points to", err)
	}
}

func TestGitSourceFileLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := gittest.NewRepo(t, t.TempDir())
	first := repo.CommitTo("main", map[string]string{"web.yaml": workflowYAML("web")})
	git := NewGitSource(GitConfig{URL: repo.Bare}, filepath.Join(t.TempDir(), "checkout"), slog.New(slog.DiscardHandler))
	src, err := NewSource(ctx, git.Loader(workflows.Loader{MaxFileBytes: 100}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	repo.CommitTo("main", map[string]string{"big.yaml": workflowYAML("big") + "# " + strings.Repeat("x", 100) + "\n"})
	err = src.Reload(ctx)
	if err == nil || !strings.Contains(err.Error(), "big.yaml:1:1: the file has more than 100 bytes") {
		t.Errorf("Reload = %v, want big.yaml refused for its size", err)
	}
	checkSet(t, src.Set(), "web", first)
}

func TestGitSourceBranch(t *testing.T) {
	t.Parallel()
	repo := gittest.NewRepo(t, t.TempDir())
	repo.CommitTo("main", map[string]string{"main.yaml": workflowYAML("on-main")})
	release := repo.CommitTo("release", map[string]string{"release.yaml": workflowYAML("on-release")})
	repo.Git("checkout", "-q", "-b", "prod", "HEAD~1")
	prod := repo.CommitTo("prod", map[string]string{"prod.yaml": workflowYAML("on-prod")})
	// The remote's HEAD names the default branch.
	gittest.Git(t, repo.Bare, "symbolic-ref", "HEAD", "refs/heads/prod")

	for _, tc := range []struct {
		branch, names, commit string
	}{
		{"release", "on-main,on-release", release},
		{"refs/heads/release", "on-main,on-release", release},
		{"", "on-main,on-prod", prod},
	} {
		t.Run("branch="+tc.branch, func(t *testing.T) {
			git := NewGitSource(GitConfig{URL: repo.Bare, Branch: tc.branch}, filepath.Join(t.TempDir(), "checkout"), slog.New(slog.DiscardHandler))
			set, err := git.Loader(workflows.Loader{})(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			checkSet(t, set, tc.names, tc.commit)
		})
	}

	t.Run("missing branch", func(t *testing.T) {
		git := NewGitSource(GitConfig{URL: repo.Bare, Branch: "nope"}, filepath.Join(t.TempDir(), "checkout"), slog.New(slog.DiscardHandler))
		if _, err := git.Sync(context.Background()); err == nil || !strings.Contains(err.Error(), "nope") {
			t.Errorf("Sync = %v, want an error naming the branch", err)
		}
	})
}

// closedURL is an http URL on which nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/hooks.git"
}

func TestGitSourceUnreachable(t *testing.T) {
	t.Parallel()
	url := closedURL(t)
	const token = "s3cret-t0ken"
	for _, tc := range []struct {
		name string
		cfg  GitConfig
		want string
	}{
		{"token", GitConfig{URL: url, Token: token, Branch: "main"}, url},
		{"token with user", GitConfig{URL: url, Token: "x-access-token:" + token}, url},
		{"credentials in URL", GitConfig{URL: strings.Replace(url, "//", "//user:"+token+"@", 1)}, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			git := NewGitSource(tc.cfg, filepath.Join(t.TempDir(), "checkout"), slog.New(slog.DiscardHandler))
			_, err := git.Sync(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), token) {
				t.Errorf("Sync = %v, want an error naming %s without the token", err, tc.want)
			}
		})
	}
}

func TestGitSourceConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  GitConfig
		want string
	}{
		{"no URL", GitConfig{}, "no repository URL"},
		{"token on ssh", GitConfig{URL: "git@git.example.com:ops/hooks.git", Token: "glpat-0123456789"}, "token is for http(s) URLs"},
		{"ssh_key on https", GitConfig{URL: "https://git.example.com/ops/hooks.git", SSHKey: "/k"}, "ssh_key is for ssh URLs"},
		{"missing ssh_key", GitConfig{URL: "ssh://git@git.example.com/ops/hooks.git", SSHKey: "/nonexistent/id_ed25519"}, "/nonexistent/id_ed25519"},
		{"token on a path", GitConfig{URL: "/srv/hooks.git", Token: "glpat-0123456789"}, "token and ssh_key are for"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			git := NewGitSource(tc.cfg, filepath.Join(t.TempDir(), "checkout"), slog.New(slog.DiscardHandler))
			if _, err := git.Sync(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Sync = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// writeKey writes a new private key to a file in dir and returns its path
// and public key.
func writeKey(t *testing.T, dir string) (string, ssh.PublicKey) {
	t.Helper()
	pem, signer := gittest.Key(t)
	path := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(path, []byte(pem), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, signer.PublicKey()
}

// TestGitSourceKnownHostsRequired is not parallel: it sets SSH_KNOWN_HOSTS.
func TestGitSourceKnownHostsRequired(t *testing.T) {
	dir := t.TempDir()
	key, _ := writeKey(t, dir)
	missing := filepath.Join(dir, "no_known_hosts")
	t.Setenv("SSH_KNOWN_HOSTS", missing)
	git := NewGitSource(GitConfig{URL: "ssh://git@127.0.0.1:1/hooks.git", SSHKey: key}, filepath.Join(dir, "checkout"), slog.New(slog.DiscardHandler))
	_, err := git.Sync(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no known_hosts to check the server's key against: create "+missing) {
		t.Errorf("Sync = %v, want a refusal for want of known hosts naming %s", err, missing)
	}
}

// TestGitSourceSSH fetches over ssh with a key file and with the ssh agent,
// checking the server against $SSH_KNOWN_HOSTS. It is not parallel: it sets
// SSH_KNOWN_HOSTS and SSH_AUTH_SOCK.
func TestGitSourceSSH(t *testing.T) {
	root := t.TempDir()
	repo := gittest.NewRepo(t, root)
	commit := repo.CommitTo("main", map[string]string{"hello.yaml": workflowYAML("hello")})
	keys := t.TempDir()
	key, public := writeKey(t, keys)
	srv := gittest.NewSSHServer(t, root, public)
	knownHosts := func(t *testing.T, line string) {
		t.Helper()
		file := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(file, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("SSH_KNOWN_HOSTS", filepath.Join(t.TempDir(), "missing")+string(filepath.ListSeparator)+file)
	}
	load := func(t *testing.T, cfg GitConfig) (*workflows.Set, error) {
		t.Helper()
		git := NewGitSource(cfg, filepath.Join(t.TempDir(), "checkout"), slog.New(slog.DiscardHandler))
		return git.Loader(workflows.Loader{})(context.Background())
	}

	t.Run("key file", func(t *testing.T) {
		knownHosts(t, srv.KnownHosts(srv.HostKey))
		set, err := load(t, GitConfig{URL: srv.URL(repo.Bare), SSHKey: key})
		if err != nil {
			t.Fatal(err)
		}
		checkSet(t, set, "hello", commit)
	})

	t.Run("agent", func(t *testing.T) {
		knownHosts(t, srv.KnownHosts(srv.HostKey))
		startAgent(t, keys)
		set, err := load(t, GitConfig{URL: srv.URL(repo.Bare)})
		if err != nil {
			t.Fatal(err)
		}
		checkSet(t, set, "hello", commit)
	})

	t.Run("encrypted key", func(t *testing.T) {
		knownHosts(t, srv.KnownHosts(srv.HostKey))
		plain, _ := gittest.Key(t)
		encrypted := filepath.Join(t.TempDir(), "id_ed25519")
		if err := os.WriteFile(encrypted, []byte(gittest.EncryptKey(t, plain, "open sesame")), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := load(t, GitConfig{URL: srv.URL(repo.Bare), SSHKey: encrypted})
		if want := "ssh_key: the key is encrypted: use a key without a passphrase"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("load = %v, want an error containing %q", err, want)
		}
	})

	_, other := gittest.Key(t)
	for _, tc := range []struct {
		name, knownHosts, want string
		// untouched counts what the client must not do to the server.
		untouched *atomic.Int32
	}{
		{"host not in known_hosts", knownhosts.Line([]string{"git.example.com"}, srv.HostKey) + "\n", "is not in known_hosts", &srv.Conns},
		{"host key mismatch", srv.KnownHosts(other.PublicKey()), "host key mismatch", &srv.AuthAttempts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			knownHosts(t, tc.knownHosts)
			before := tc.untouched.Load()
			_, err := load(t, GitConfig{URL: srv.URL(repo.Bare), SSHKey: key})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("load = %v, want an error containing %q", err, tc.want)
			}
			if n := tc.untouched.Load() - before; n != 0 {
				t.Errorf("%d connections or key offers to a server known_hosts does not vouch for", n)
			}
		})
	}
}

// startAgent serves an ssh agent holding the key in dir/id_ed25519 on a unix
// socket, and points SSH_AUTH_SOCK at it until the test ends.
func startAgent(t *testing.T, dir string) {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(dir, "id_ed25519"))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ssh.ParseRawPrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				agent.ServeAgent(keyring, c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	t.Setenv("SSH_AUTH_SOCK", sock)
}

func TestGitSourceFailedSyncKeepsCheckout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	repo := gittest.NewRepo(t, root)
	first := repo.CommitTo("main", map[string]string{"hello.yaml": workflowYAML("hello")})
	checkout := filepath.Join(t.TempDir(), "checkout")
	if _, err := NewGitSource(GitConfig{URL: repo.Bare}, checkout, slog.New(slog.DiscardHandler)).Sync(ctx); err != nil {
		t.Fatal(err)
	}

	// The server is down at the next start: the checkout is loaded as it was,
	// and later reloads report the failure.
	git := NewGitSource(GitConfig{URL: filepath.Join(root, "gone.git")}, checkout, slog.New(slog.DiscardHandler))
	src, err := NewSource(ctx, git.Loader(workflows.Loader{}), nil, nil)
	if err != nil {
		t.Fatalf("first load with the server down and a checkout = %v, want the checkout loaded", err)
	}
	checkSet(t, src.Set(), "hello", first)
	if err := src.Reload(ctx); err == nil || !strings.Contains(err.Error(), "gone.git") {
		t.Errorf("Reload = %v, want an error naming the URL", err)
	}
	checkSet(t, src.Set(), "hello", first)
	if data, err := os.ReadFile(filepath.Join(checkout, "hello.yaml")); err != nil || string(data) != workflowYAML("hello") {
		t.Errorf("checkout after a failed sync: %q, %v; want hello.yaml as it was", data, err)
	}

	t.Run("no checkout", func(t *testing.T) {
		git := NewGitSource(GitConfig{URL: filepath.Join(root, "gone.git")}, filepath.Join(t.TempDir(), "checkout"), slog.New(slog.DiscardHandler))
		if _, err := NewSource(ctx, git.Loader(workflows.Loader{}), nil, nil); err == nil {
			t.Error("first load with the server down and no checkout succeeded")
		}
	})
}

func TestGitSourcePoll(t *testing.T) {
	t.Parallel()
	git := NewGitSource(GitConfig{URL: "/unused", Poll: workflows.Duration(10 * time.Millisecond)}, t.TempDir(), slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		git.Poll(ctx, func(context.Context) error {
			if calls.Add(1) == 3 {
				cancel()
			}
			return nil
		})
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("Poll made %d calls in 30s, want 3 and a return on cancel", calls.Load())
	}
}

func TestGitSourceTokenOverHTTP(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	repo := gittest.NewRepo(t, root)
	commit := repo.CommitTo("main", map[string]string{"hello.yaml": workflowYAML("hello")})
	srv, _ := gittest.HTTPServer(t, root, "hookflow", "r1ght-t0ken")
	gitlab, _ := gittest.HTTPServer(t, root, "oauth2", "r1ght-t0ken")

	for _, tc := range []struct {
		name, url, token string
		ok               bool
	}{
		{"token", srv.URL, "r1ght-t0ken", true},
		{"user and token", gitlab.URL, "oauth2:r1ght-t0ken", true},
		{"wrong token", srv.URL, "wr0ng-t0ken", false},
		{"wrong user", gitlab.URL, "r1ght-t0ken", false},
		{"no token", srv.URL, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := tc.url + "/" + filepath.Base(repo.Bare)
			git := NewGitSource(GitConfig{URL: url, Token: tc.token}, filepath.Join(t.TempDir(), "checkout"), slog.New(slog.DiscardHandler))
			set, err := git.Loader(workflows.Loader{})(context.Background())
			if !tc.ok {
				if err == nil || !strings.Contains(err.Error(), url) || (tc.token != "" && strings.Contains(err.Error(), tc.token)) {
					t.Errorf("load = %v, want an error naming %s without the token", err, url)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkSet(t, set, "hello", commit)
		})
	}
}
