package gitaction

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/actions/actiontest"
	"github.com/hookflow/hookflow/internal/gitclient/gittest"
)

func TestHTTPAuth(t *testing.T) {
	const token = "ghp_s3cr3t-T0ken/with+chars"
	r := newRemote(t)
	head := r.Commit(map[string]string{"index.html": "<h1>hi</h1>\n"})
	srv, refused := gittest.HTTPServer(t, filepath.Dir(r.Bare), "hookflow", token)
	repoURL := srv.URL + "/" + filepath.Base(r.Bare)

	t.Run("token", func(t *testing.T) {
		s, log := newStep(t, token)
		res := mustRun(t, s, map[string]any{"url": repoURL, "token": token})
		if res.Outputs["commit"] != head {
			t.Errorf("commit = %v, want %s", res.Outputs["commit"], head)
		}
		if got := gittest.ReadFile(t, filepath.Join(s.Workspace, "src", "index.html")); got != "<h1>hi</h1>\n" {
			t.Errorf("index.html = %q", got)
		}
		if strings.Contains(log.String(), token) {
			t.Errorf("log holds the token:\n%s", log)
		}
		// The token is given to each fetch, never written to the checkout.
		config := gittest.ReadFile(t, filepath.Join(s.Workspace, "src", ".git", "config"))
		if strings.Contains(config, token) || !strings.Contains(config, repoURL) {
			t.Errorf(".git/config:\n%s", config)
		}
	})

	t.Run("username and password", func(t *testing.T) {
		s, _ := newStep(t)
		mustRun(t, s, map[string]any{"url": repoURL, "username": "hookflow", "password": token})
	})

	t.Run("token in the URL", func(t *testing.T) {
		u, _ := url.Parse(repoURL)
		u.User = url.UserPassword("hookflow", token)
		s, log := newStep(t)
		res := mustRun(t, s, map[string]any{"url": u.String(), "dir": "app"})
		if res.Outputs["commit"] != head {
			t.Errorf("commit = %v", res.Outputs["commit"])
		}
		if strings.Contains(log.String(), token) || !strings.Contains(log.String(), "http://***@") {
			t.Errorf("log does not mask the URL's credentials:\n%s", log)
		}
		if config := gittest.ReadFile(t, filepath.Join(s.Workspace, "app", ".git", "config")); strings.Contains(config, token) {
			t.Errorf(".git/config holds the token:\n%s", config)
		}
	})

	t.Run("wrong token", func(t *testing.T) {
		before := refused.Load()
		s, log := newStep(t, "wrong-token")
		_, err := runIn(t, s, map[string]any{"url": repoURL, "token": "wrong-token"})
		wantPermanent(t, err, "git "+repoURL+": authentication failed: the server did not accept the credentials")
		if refused.Load() == before {
			t.Error("the server refused nothing")
		}
		if strings.Contains(err.Error()+log.String(), "wrong-token") {
			t.Errorf("the token leaked: %v\n%s", err, log)
		}
	})

	t.Run("wrong token in the URL", func(t *testing.T) {
		u, _ := url.Parse(repoURL)
		u.User = url.User("wrong-token")
		s, log := newStep(t)
		_, err := runIn(t, s, map[string]any{"url": u.String()})
		wantPermanent(t, err, "authentication failed")
		if strings.Contains(err.Error()+log.String(), "wrong-token") {
			t.Errorf("the token leaked: %v\n%s", err, log)
		}
	})

	t.Run("secret that mis-splits the URL", func(t *testing.T) {
		// Written unescaped, its '@' and '/' make the URL's host the closed
		// address and its password "p", which must mask neither every
		// letter p nor leave the rest of the secret to show.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		secret := "p@" + l.Addr().String() + "/x-s3cret"
		l.Close()
		s, log := newStep(t, secret)
		_, err = runIn(t, s, map[string]any{"url": "http://user:" + secret + "@" + strings.TrimPrefix(repoURL, "http://")})
		actiontest.WantErrorContains(t, err, "cannot reach the remote")
		all := err.Error() + "\n" + log.String()
		if strings.Contains(all, secret) || strings.Contains(all, "x-s3cret") || strings.Contains(all, "user:") {
			t.Errorf("the secret leaked: %s", all)
		}
		if !strings.Contains(log.String(), "clone http://***@"+strings.TrimPrefix(repoURL, "http://")) {
			t.Errorf("log does not show the URL masked:\n%s", log)
		}
	})

	t.Run("no credentials", func(t *testing.T) {
		s, _ := newStep(t)
		_, err := runIn(t, s, map[string]any{"url": repoURL})
		wantPermanent(t, err, "authentication required: set token, or username and password")
	})

	t.Run("pull in place over http", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "site")
		with := map[string]any{"url": repoURL, "token": token, "dir": dir, "depth": 1}
		s, _ := newStep(t)
		first := mustRun(t, s, with).Outputs["commit"].(string)
		next := r.Commit(map[string]string{"about.html": "about\n"})
		res := mustRun(t, s, with)
		wantOutputs(t, res, next, first, []string{"about.html"}, dir)
	})
}

func TestHTTPServerErrors(t *testing.T) {
	t.Run("unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		s, log := newStep(t)
		_, err = runIn(t, s, map[string]any{"url": "http://" + addr + "/repo.git", "token": "tok"})
		if err == nil || !strings.Contains(err.Error(), "cannot reach the remote") || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("error = %v, want an unreachable remote", err)
		}
		actiontest.WantRetryable(t, err, true)
		if !strings.Contains(log.String(), "failed: cannot reach the remote") {
			t.Errorf("log:\n%s", log)
		}
	})
	for _, tt := range []struct {
		status    int
		want      string
		retryable bool
	}{
		{http.StatusServiceUnavailable, "the server answered 503 Service Unavailable", true},
		{http.StatusTooManyRequests, "the server answered 429 Too Many Requests", true},
		{http.StatusNotFound, "repository not found", false},
		{http.StatusForbidden, "access denied", false},
		{http.StatusTeapot, "the server answered 418", false},
	} {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "no", tt.status)
			}))
			defer srv.Close()
			s, _ := newStep(t)
			_, err := runIn(t, s, map[string]any{"url": srv.URL + "/repo.git"})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
			actiontest.WantRetryable(t, err, tt.retryable)
		})
	}
}
