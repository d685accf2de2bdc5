package triggers

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// A workflow with one run step: the loader needs no action registry for it.
func workflowYAML(name string) string {
	return "name: " + name + "\non:\n  dispatch: {}\nsteps:\n  - run: echo " + name + "\n"
}

// brokenYAML has an unknown key at line 4, column 1.
const brokenYAML = "on:\n  dispatch: {}\nsteps:\n  - run: echo hi\nstepz: []\n"

// gitCLI runs git in dir and returns its trimmed output.
func gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.com"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// testRepo is a bare repository (the remote) and a clone to push from.
type testRepo struct {
	bare, work string
}

// newTestRepo makes a bare repository under root whose HEAD is main, and a
// work tree with it as origin.
func newTestRepo(t *testing.T, root string) *testRepo {
	t.Helper()
	r := &testRepo{bare: filepath.Join(root, "hooks.git"), work: filepath.Join(root, "work")}
	gitCLI(t, root, "init", "-q", "--bare", "-b", "main", r.bare)
	gitCLI(t, root, "init", "-q", "-b", "main", r.work)
	gitCLI(t, r.work, "remote", "add", "origin", r.bare)
	return r
}

// push commits files (an empty content deletes the file) on branch and pushes
// it; it returns the commit hash.
func (r *testRepo) push(t *testing.T, branch string, files map[string]string) string {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(r.work, filepath.FromSlash(name))
		if content == "" {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		writeTestFile(t, p, content)
	}
	gitCLI(t, r.work, "add", "-A")
	gitCLI(t, r.work, "commit", "-q", "--allow-empty", "-m", "change")
	gitCLI(t, r.work, "push", "-q", "origin", "HEAD:refs/heads/"+branch)
	return gitCLI(t, r.work, "rev-parse", "HEAD")
}

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
	repo := newTestRepo(t, t.TempDir())
	first := repo.push(t, "main", map[string]string{"hello.yaml": workflowYAML("hello")})

	git := NewGitSource(GitConfig{URL: repo.bare}, filepath.Join(t.TempDir(), "workflows-git"), slog.New(slog.DiscardHandler))
	src, err := NewSource(ctx, git.Loader(workflows.Loader{}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkSet(t, src.Set(), "hello", first)
	if w, _ := src.Set().Lookup("hello"); w.File != "hello.yaml" {
		t.Errorf("workflow file = %q, want the path in the repository, hello.yaml", w.File)
	}

	t.Run("valid push", func(t *testing.T) {
		second := repo.push(t, "main", map[string]string{"ci/build.yaml": workflowYAML("build")})
		if err := src.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		checkSet(t, src.Set(), "build,hello", second)
	})
	good := src.Set()

	t.Run("invalid push keeps the last good set", func(t *testing.T) {
		repo.push(t, "main", map[string]string{"ci/broken.yaml": brokenYAML})
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
		fixed := repo.push(t, "main", map[string]string{"ci/broken.yaml": "", "hello.yaml": "", "ci/build.yaml": workflowYAML("build2")})
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
	repo := newTestRepo(t, t.TempDir())
	// Outside dir, so never read: it would fail the load if it were.
	first := repo.push(t, "main", map[string]string{"deploy/web.yaml": workflowYAML("web"), "broken.yaml": brokenYAML})

	git := NewGitSource(GitConfig{URL: repo.bare, Dir: "deploy"}, filepath.Join(t.TempDir(), "checkout"), slog.New(slog.DiscardHandler))
	src, err := NewSource(ctx, git.Loader(workflows.Loader{}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkSet(t, src.Set(), "web", first)

	repo.push(t, "main", map[string]string{"deploy/nested/bad.yml": brokenYAML})
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
	repo := newTestRepo(t, t.TempDir())
	repo.push(t, "main", map[string]string{"web.yaml": workflowYAML("web")})
	for _, tc := range []struct{ dir, want string }{
		{"nope", `no folder "nope"`},
		{"../elsewhere", "inside the repository"},
		{"/etc", "inside the repository"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			git := NewGitSource(GitConfig{URL: repo.bare, Dir: tc.dir}, filepath.Join(t.TempDir(), "checkout"), slog.New(slog.DiscardHandler))
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
	repo := newTestRepo(t, root)
	repo.push(t, "main", map[string]string{"web.yaml": workflowYAML("web")})
	if err := os.Symlink(outside, filepath.Join(repo.work, "leak.yaml")); err != nil {
		t.Fatal(err)
	}
	repo.push(t, "main", nil)

	git := NewGitSource(GitConfig{URL: repo.bare}, filepath.Join(t.TempDir(), "checkout"), slog.New(slog.DiscardHandler))
	_, err := git.Loader(workflows.Loader{})(context.Background())
	if err == nil || !strings.Contains(err.Error(), "leak.yaml") || strings.Contains(err.Error(), "stepz") {
		t.Errorf("load = %v, want leak.yaml refused without reading the file it points to", err)
	}
}

func TestGitSourceFileLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := newTestRepo(t, t.TempDir())
	first := repo.push(t, "main", map[string]string{"web.yaml": workflowYAML("web")})
	git := NewGitSource(GitConfig{URL: repo.bare}, filepath.Join(t.TempDir(), "checkout"), slog.New(slog.DiscardHandler))
	src, err := NewSource(ctx, git.Loader(workflows.Loader{MaxFileBytes: 100}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	repo.push(t, "main", map[string]string{"big.yaml": workflowYAML("big") + "# " + strings.Repeat("x", 100) + "\n"})
	err = src.Reload(ctx)
	if err == nil || !strings.Contains(err.Error(), "big.yaml:1:1: the file has more than 100 bytes") {
		t.Errorf("Reload = %v, want big.yaml refused for its size", err)
	}
	checkSet(t, src.Set(), "web", first)
}

func TestGitSourceBranch(t *testing.T) {
	t.Parallel()
	repo := newTestRepo(t, t.TempDir())
	repo.push(t, "main", map[string]string{"main.yaml": workflowYAML("on-main")})
	release := repo.push(t, "release", map[string]string{"release.yaml": workflowYAML("on-release")})
	gitCLI(t, repo.work, "checkout", "-q", "-b", "prod", "HEAD~1")
	prod := repo.push(t, "prod", map[string]string{"prod.yaml": workflowYAML("on-prod")})
	// The remote's HEAD names the default branch.
	gitCLI(t, repo.bare, "symbolic-ref", "HEAD", "refs/heads/prod")

	for _, tc := range []struct {
		branch, names, commit string
	}{
		{"release", "on-main,on-release", release},
		{"refs/heads/release", "on-main,on-release", release},
		{"", "on-main,on-prod", prod},
	} {
		t.Run("branch="+tc.branch, func(t *testing.T) {
			git := NewGitSource(GitConfig{URL: repo.bare, Branch: tc.branch}, filepath.Join(t.TempDir(), "checkout"), slog.New(slog.DiscardHandler))
			set, err := git.Loader(workflows.Loader{})(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			checkSet(t, set, tc.names, tc.commit)
		})
	}

	t.Run("missing branch", func(t *testing.T) {
		git := NewGitSource(GitConfig{URL: repo.bare, Branch: "nope"}, filepath.Join(t.TempDir(), "checkout"), slog.New(slog.DiscardHandler))
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

// TestGitSourceKnownHostsRequired is not parallel: it sets SSH_KNOWN_HOSTS.
func TestGitSourceKnownHostsRequired(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "id_ed25519")
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput()
	if err != nil {
		t.Skipf("ssh-keygen: %v %s", err, out)
	}
	t.Setenv("SSH_KNOWN_HOSTS", filepath.Join(dir, "no_known_hosts"))
	git := NewGitSource(GitConfig{URL: "ssh://git@127.0.0.1:1/hooks.git", SSHKey: key}, filepath.Join(dir, "checkout"), slog.New(slog.DiscardHandler))
	if _, err := git.Sync(context.Background()); err == nil || !strings.Contains(err.Error(), "known hosts") {
		t.Errorf("Sync = %v, want a refusal for want of known hosts", err)
	}
}

func TestGitSourceFailedSyncKeepsCheckout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	repo := newTestRepo(t, root)
	first := repo.push(t, "main", map[string]string{"hello.yaml": workflowYAML("hello")})
	checkout := filepath.Join(t.TempDir(), "checkout")
	if _, err := NewGitSource(GitConfig{URL: repo.bare}, checkout, slog.New(slog.DiscardHandler)).Sync(ctx); err != nil {
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

// gitHTTPServer serves the repositories under root with git http-backend,
// asking for basic auth as user:password.
func gitHTTPServer(t *testing.T, root, user, password string) *httptest.Server {
	t.Helper()
	backend := filepath.Join(gitCLI(t, root, "--exec-path"), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Skipf("git http-backend not installed: %v", err)
	}
	cgiHandler := &cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		cgiHandler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestGitSourceTokenOverHTTP(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	repo := newTestRepo(t, root)
	commit := repo.push(t, "main", map[string]string{"hello.yaml": workflowYAML("hello")})
	srv := gitHTTPServer(t, root, "hookflow", "r1ght-t0ken")
	gitlab := gitHTTPServer(t, root, "oauth2", "r1ght-t0ken")

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
			url := tc.url + "/hooks.git"
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
