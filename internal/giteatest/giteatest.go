// Package giteatest drives the real Gitea that scripts/gitea-testenv.sh
// starts for the tests: repositories, webhooks, pushes and commit statuses,
// through Gitea's own API and git over HTTP.
package giteatest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Env names the folder that `scripts/gitea-testenv.sh start` wrote.
const Env = "HOOKFLOW_TEST_GITEA"

// Server is the Gitea the tests talk to, as its admin.
type Server struct {
	URL   string
	Token string
	User  string
}

// Open returns the server $HOOKFLOW_TEST_GITEA names; it fails the test
// when there is none.
func Open(t testing.TB) *Server {
	t.Helper()
	dir := os.Getenv(Env)
	if dir == "" {
		t.Fatalf("%s is not set: run the tests with `make test`, or start Gitea with "+
			"scripts/gitea-testenv.sh start DIR and set %s=DIR", Env, Env)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", Env, err)
		}
		return strings.TrimSpace(string(b))
	}
	return &Server{URL: read("url"), Token: read("token"), User: read("user")}
}

// Repo is a repository on the server.
type Repo struct {
	Owner    string `json:"-"`
	Name     string `json:"name"`
	FullName string `json:"full_name"`
	HTMLURL  string `json:"html_url"`
	CloneURL string `json:"clone_url"`
}

var repos atomic.Int64

var unsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// CreateRepo makes a new empty repository named after prefix.
func (s *Server) CreateRepo(t testing.TB, prefix string) Repo {
	t.Helper()
	name := fmt.Sprintf("%s-%d-%d", strings.Trim(unsafe.ReplaceAllString(prefix, "-"), "-"), time.Now().UnixNano()%1e6, repos.Add(1))
	var r Repo
	s.call(t, http.MethodPost, "/api/v1/user/repos", map[string]any{"name": name, "private": false}, &r)
	r.Owner, r.Name = s.User, name
	return r
}

// AddHook adds a Gitea webhook of r's pushes, JSON, signed with secret, to
// target.
func (s *Server) AddHook(t testing.TB, r Repo, target, secret string) {
	t.Helper()
	s.call(t, http.MethodPost, "/api/v1/repos/"+r.FullName+"/hooks", map[string]any{
		"type": "gitea", "active": true, "events": []string{"push"}, "branch_filter": "*",
		"config": map[string]string{"url": target, "content_type": "json", "secret": secret},
	}, nil)
}

// Push commits files (path → content) onto branch main, the first push
// making it, and returns the commit's sha.
func (s *Server) Push(t testing.TB, r Repo, files map[string]string, message string) string {
	t.Helper()
	home := t.TempDir()
	work := filepath.Join(home, "work")
	remote, err := url.Parse(r.CloneURL)
	if err != nil {
		t.Fatal(err)
	}
	remote.User = url.UserPassword(s.User, s.Token)
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=Test", "-c", "user.email=test@example.com"}, args...)...)
		cmd.Dir = work
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", args[0], err, strings.ReplaceAll(string(out), s.Token, "***"))
		}
		return strings.TrimSpace(string(out))
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	git("init", "-q", "-b", "main")
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/v1/repos/"+r.FullName+"/branches/main", nil)
	req.Header.Set("Authorization", "token "+s.Token)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			git("pull", "-q", remote.String(), "main")
		}
	}
	for path, content := range files {
		full := filepath.Join(work, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("add", ".")
	git("commit", "-q", "-m", message)
	git("push", "-q", remote.String(), "main")
	return git("rev-parse", "HEAD")
}

// Status is one commit status as Gitea's API returns it.
type Status struct {
	State       string `json:"status"`
	Context     string `json:"context"`
	TargetURL   string `json:"target_url"`
	Description string `json:"description"`
}

// Statuses lists the statuses of commit sha, newest first. (Gitea's
// default order is by creation time in whole seconds; its "leastindex"
// is by index, highest first.)
func (s *Server) Statuses(t testing.TB, r Repo, sha string) []Status {
	t.Helper()
	var list []Status
	s.call(t, http.MethodGet, "/api/v1/repos/"+r.FullName+"/commits/"+sha+"/statuses?sort=leastindex", nil, &list)
	return list
}

// call sends a JSON request as the admin and decodes the answer into out.
func (s *Server) call(t testing.TB, method, path string, body, out any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "token "+s.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("gitea %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("gitea %s %s: %s: %s", method, path, resp.Status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("gitea %s %s: %v: %s", method, path, err, data)
		}
	}
}
