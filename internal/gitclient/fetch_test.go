package gitclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"

	"github.com/hookflow/hookflow/internal/gitclient/gittest"
)

// settings are the setting names the tests' messages use.
var settings = Settings{Ref: "the-ref-setting", Credentials: "the-credentials-setting", KnownHosts: "the-known-hosts-setting", Passphrase: "the-passphrase-setting"}

// emptyRepo is a new repository to fetch into.
func emptyRepo(t *testing.T) *git.Repository {
	t.Helper()
	repo, err := git.PlainInit(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// fetchRef fetches ref of url into a new repository.
func fetchRef(t *testing.T, url, ref string, auth Credentials) (*Target, *git.Repository, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := New(Options{URL: url, Settings: settings})
	a, err := r.Auth(auth)
	if err != nil {
		return nil, nil, err
	}
	repo := emptyRepo(t)
	target, err := r.Fetch(ctx, repo, FetchOptions{Ref: ref, Auth: a})
	return target, repo, err
}

// wantError fails the test unless err holds want and is classed as retryable
// or not. An error that is no *Error counts as permanent, as Fail counts it.
func wantError(t *testing.T, err error, want string, retryable bool) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want one containing %q", err, want)
	}
	var e *Error
	if got := errors.As(err, &e) && e.Retryable; got != retryable {
		t.Errorf("error %q: retryable = %v, want %v", err, got, retryable)
	}
}

func TestFetchRefs(t *testing.T) {
	t.Parallel()
	r := gittest.NewRepo(t, t.TempDir())
	first := r.Commit(map[string]string{"a.txt": "1\n"})
	r.Git("tag", "--annotate", "v1", "--message", "one")
	r.Git("push", "--quiet", "origin", "v1")
	second := r.Commit(map[string]string{"a.txt": "2\n"})
	r.Git("checkout", "--quiet", "-b", "dev")
	dev := r.Commit(map[string]string{"b.txt": "dev\n"})
	r.Git("checkout", "--quiet", "main")

	for _, tt := range []struct {
		ref, commit, branch, what string
	}{
		{"", second, "main", "branch main"},
		{"HEAD", second, "main", "branch main"},
		{"dev", dev, "dev", "branch dev"},
		{"refs/heads/dev", dev, "dev", "branch dev"},
		{"v1", first, "", "tag v1"},
		{"refs/tags/v1", first, "", "refs/tags/v1"},
		{first, first, "", "commit " + first[:12]},
		{first[:7], first, "", "commit " + first[:12]},
	} {
		t.Run("ref="+tt.ref, func(t *testing.T) {
			t.Parallel()
			target, repo, err := fetchRef(t, r.Bare, tt.ref, Credentials{})
			if err != nil {
				t.Fatal(err)
			}
			if target.Commit.String() != tt.commit || target.Branch != tt.branch || target.String() != tt.what {
				t.Errorf("target = %s, %q, %q; want %s, %q, %q", target.Commit, target.Branch, target, tt.commit, tt.branch, tt.what)
			}
			if _, err := repo.CommitObject(target.Commit); err != nil {
				t.Errorf("the commit was not fetched: %v", err)
			}
			cfg, err := repo.Config()
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Remotes) != 0 {
				t.Errorf("the fetch wrote remotes to the configuration: %v", cfg.Remotes)
			}
		})
	}

	t.Run("commit already fetched", func(t *testing.T) {
		t.Parallel()
		rem := New(Options{URL: filepath.Join(t.TempDir(), "gone.git")})
		repo := emptyRepo(t)
		if _, err := New(Options{URL: r.Bare}).Fetch(context.Background(), repo, FetchOptions{Ref: "main"}); err != nil {
			t.Fatal(err)
		}
		// The remote is gone: the commit can only come from the repository.
		target, err := rem.Fetch(context.Background(), repo, FetchOptions{Ref: first})
		if err != nil || target.Commit.String() != first || !strings.HasSuffix(target.String(), "already fetched") {
			t.Errorf("Fetch = %v, %v; want %s already fetched", target, err, first)
		}
	})
}

func TestFetchUnknownRefs(t *testing.T) {
	t.Parallel()
	r := gittest.NewRepo(t, t.TempDir())
	first := r.Commit(map[string]string{"a.txt": "1\n"})
	r.Git("checkout", "--quiet", "-b", "dev")
	r.Commit(nil)
	r.Git("tag", "dev", first)
	r.Git("push", "--quiet", "origin", "refs/tags/dev")

	for _, tt := range []struct{ ref, want string }{
		{"nope", `unknown ref "nope": the remote has no branch or tag of that name; its branches are dev, main`},
		{"refs/heads/nope", `unknown ref "refs/heads/nope": the remote has no ref of that name`},
		{"dead", `unknown ref "dead": the remote has no branch or tag of that name, and no commit with that hash on any branch or tag`},
		{"dev", `ref "dev" names both a branch and a tag: write refs/heads/dev or refs/tags/dev`},
	} {
		t.Run(tt.ref, func(t *testing.T) {
			t.Parallel()
			_, _, err := fetchRef(t, r.Bare, tt.ref, Credentials{})
			wantError(t, err, tt.want, false)
		})
	}

	// A HEAD naming a branch that does not exist is not listed at all.
	t.Run("HEAD names a missing branch", func(t *testing.T) {
		r := gittest.NewRepo(t, t.TempDir())
		r.Commit(map[string]string{"a.txt": "1\n"})
		gittest.Git(t, r.Bare, "symbolic-ref", "HEAD", "refs/heads/gone")
		_, _, err := fetchRef(t, r.Bare, "", Credentials{})
		wantError(t, err, "the remote has no HEAD to say which branch is its default; set the-ref-setting", false)
	})
}

// closedURL is an http URL on which nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "http://" + l.Addr().String() + "/repo.git"
}

func TestFetchRemoteErrors(t *testing.T) {
	t.Parallel()
	status := func(code int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no", code)
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/repo.git"
	}
	for _, tt := range []struct {
		name, url, want string
		retryable       bool
	}{
		{"missing repository", filepath.Join(t.TempDir(), "missing.git"), "repository not found", false},
		{"empty repository", gittest.NewRepo(t, t.TempDir()).Bare, "the repository is empty", false},
		{"unreachable", closedURL(t), "cannot reach the remote", true},
		{"server error", status(http.StatusServiceUnavailable), "the server answered 503 Service Unavailable", true},
		{"too many requests", status(http.StatusTooManyRequests), "the server answered 429", true},
		{"forbidden", status(http.StatusForbidden), "access denied", false},
		{"not found", status(http.StatusNotFound), "repository not found", false},
		{"teapot", status(http.StatusTeapot), "the server answered 418", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := fetchRef(t, tt.url, "", Credentials{})
			wantError(t, err, tt.want, tt.retryable)
		})
	}
}

func TestFetchHTTPAuth(t *testing.T) {
	t.Parallel()
	const password = "r1ght-passw0rd"
	r := gittest.NewRepo(t, t.TempDir())
	head := r.Commit(map[string]string{"a.txt": "1\n"})
	srv, refused := gittest.HTTPServer(t, filepath.Dir(r.Bare), TokenUser, password)
	repoURL := srv.URL + "/" + filepath.Base(r.Bare)
	withUser := func(user *url.Userinfo) string {
		u, _ := url.Parse(repoURL)
		u.User = user
		return u.String()
	}

	for _, tt := range []struct {
		name  string
		url   string
		creds Credentials
		want  string // the error; empty for none
	}{
		{"login", repoURL, Credentials{Username: TokenUser, Password: password}, ""},
		{"credentials in the URL", withUser(url.UserPassword(TokenUser, password)), Credentials{}, ""},
		{"none", repoURL, Credentials{}, "authentication required: set the-credentials-setting"},
		{"wrong password", repoURL, Credentials{Username: TokenUser, Password: "wr0ng"}, "authentication failed: the server did not accept the credentials"},
		{"wrong user in the URL", withUser(url.User("wr0ng")), Credentials{}, "authentication failed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := refused.Load()
			target, _, err := fetchRef(t, tt.url, "", tt.creds)
			if tt.want == "" {
				if err != nil || target.Commit.String() != head {
					t.Fatalf("Fetch = %v, %v; want %s", target, err, head)
				}
				return
			}
			wantError(t, err, tt.want, false)
			if refused.Load() == before {
				t.Error("the server refused nothing")
			}
		})
	}
}
