// Package gittest holds the git remotes that the tests of hookflow's git
// client, git action and git workflow source fetch from: bare repositories
// made with the git CLI, served as they are, over http by git http-backend, or
// over ssh.
package gittest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"
)

// Env is the environment of the git commands tests run: no user or system
// configuration, fixed identities.
func Env(home string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
		"LANG=C",
	}
}

// Git runs the git CLI in dir and returns its trimmed output.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = Env(t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(string(out))
}

// Repo is a bare repository made by the test, with a clone of its own to
// commit and push from.
type Repo struct {
	t testing.TB
	// Bare is the repository; also its URL as a local path.
	Bare string
	// Work is the clone that commits are made in.
	Work string
}

// NewRepo makes an empty bare repository root/repo.git whose default branch
// is main, and its clone root/work.
func NewRepo(t testing.TB, root string) *Repo {
	t.Helper()
	r := &Repo{t: t, Bare: filepath.Join(root, "repo.git"), Work: filepath.Join(root, "work")}
	Git(t, root, "init", "--quiet", "--bare", "--initial-branch=main", r.Bare)
	Git(t, root, "init", "--quiet", "--initial-branch=main", r.Work)
	Git(t, r.Work, "remote", "add", "origin", r.Bare)
	return r
}

// Commit writes files (path to content; an empty content deletes the file)
// in the work clone, commits them on its current branch, pushes the branch
// and returns the commit's hash.
func (r *Repo) Commit(files map[string]string) string {
	r.t.Helper()
	r.commit(files)
	return r.push(r.Git("rev-parse", "--abbrev-ref", "HEAD"))
}

// CommitTo is Commit, pushing the commit to branch of the remote.
func (r *Repo) CommitTo(branch string, files map[string]string) string {
	r.t.Helper()
	r.commit(files)
	return r.push(branch)
}

func (r *Repo) commit(files map[string]string) {
	r.t.Helper()
	for path, content := range files {
		full := filepath.Join(r.Work, filepath.FromSlash(path))
		if content == "" {
			if err := os.Remove(full); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.Git("add", "--all")
	r.Git("commit", "--quiet", "--allow-empty", "-m", "change")
}

// push pushes HEAD to branch of the remote and returns its hash.
func (r *Repo) push(branch string) string {
	r.t.Helper()
	r.Git("push", "--quiet", "--force", "origin", "HEAD:refs/heads/"+branch)
	return r.Git("rev-parse", "HEAD")
}

// Git runs a git command in the work clone.
func (r *Repo) Git(args ...string) string {
	r.t.Helper()
	return Git(r.t, r.Work, args...)
}

// ReadFile returns the content of a file, or "<missing>".
func ReadFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// HTTPServer serves the bare repositories under root with git http-backend,
// as a git host does, to requests with the basic-auth credentials user and
// password only. It counts the requests it refuses.
func HTTPServer(t testing.TB, root, user, password string) (srv *httptest.Server, refused *atomic.Int32) {
	t.Helper()
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	backend := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"),
		Env: append(Env(t.TempDir()),
			"GIT_PROJECT_ROOT="+root,
			"GIT_HTTP_EXPORT_ALL=1",
		),
	}
	refused = &atomic.Int32{}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != password {
			refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, refused
}

// Key returns a new ed25519 private key in OpenSSH PEM format, and its signer.
func Key(t testing.TB) (string, ssh.Signer) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block)), signer
}

// EncryptKey returns the private key pemKey encrypted with passphrase, in
// OpenSSH PEM format.
func EncryptKey(t testing.TB, pemKey, passphrase string) string {
	t.Helper()
	priv, err := ssh.ParseRawPrivateKey([]byte(pemKey))
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block))
}
