package gitaction_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	gitaction "github.com/hookflow/hookflow/actions/git"
	httpaction "github.com/hookflow/hookflow/actions/http"
	"github.com/hookflow/hookflow/internal/gitclient/gittest"
	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/workflows"
)

// TestWorkflowURLTemplates runs a workflow whose http and git steps template
// hostile event values and a token full of URL delimiters into their URLs,
// through the loader and the runner as the server would, against real HTTP
// and git servers: each value stays inside the part of the URL it was written
// into, or the step fails before anything is sent.
func TestWorkflowURLTemplates(t *testing.T) {
	const (
		hostile = "../../admin?x=1#"
		token   = `t0k@n/with+chars=&"and space`
	)
	var (
		mu   sync.Mutex
		seen []*url.URL
	)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.URL)
	}))
	defer api.Close()

	repo := gittest.NewRepo(t, t.TempDir())
	bare, head := repo.Bare, repo.Commit(map[string]string{"index.html": "hi\n"})
	// A name that must be escaped in a URL.
	odd := filepath.Join(filepath.Dir(bare), "my site.git")
	if err := os.Rename(bare, odd); err != nil {
		t.Fatal(err)
	}
	bare = odd
	gitSrv, refused := gittest.HTTPServer(t, filepath.Dir(bare), "hookflow", token)
	gitHost := strings.TrimPrefix(gitSrv.URL, "http://")

	reg, err := actions.NewRegistry(gitaction.Kind(), httpaction.Kind())
	if err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`
on: {dispatch: {}}
steps:
  - id: api
    uses: http
    with: {url: "%[1]s/repos/${{ event.repo }}/hooks?ref=${{ event.ref }}&page=1"}
  - id: callback
    uses: http
    with: {url: "${{ event.body.callback }}"}
  - id: clone
    uses: git
    with: {url: "http://hookflow:${{ secrets.TOKEN }}@%[2]s/${{ event.body.name }}", depth: 1}
  - id: injected
    uses: http
    continue_on_error: true
    with: {url: "http://${{ event.body.host }}/hooks"}
  - id: traversal
    uses: git
    continue_on_error: true
    with: {url: "http://hookflow:${{ secrets.TOKEN }}@%[2]s/${{ event.repo }}", dir: other}
`, api.URL, gitHost)
	w, err := workflows.Parse("urls.yaml", []byte(src), reg)
	if err != nil {
		t.Fatal(err)
	}
	x := &runner.Executor{Actions: reg, WorkspaceRoot: t.TempDir(), Path: os.Getenv("PATH"),
		KillGrace: 200 * time.Millisecond, CleanupTimeout: 30 * time.Second}
	job := &runner.Job{ID: "urls", Workflow: w, Attempt: 1, Secrets: map[string]string{"TOKEN": token},
		Event: &workflows.Event{ID: "ev1", Type: "push", Repo: hostile, Ref: hostile, Body: map[string]any{
			"callback": api.URL + "/callback?a=1&b=two",
			"name":     filepath.Base(bare),
			"host":     "evil.example/x?",
		}}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rec := &logRecorder{}
	res := x.Execute(ctx, job, rec)
	if len(res.Steps) != 5 {
		t.Fatalf("status %s: %s, %d steps\n%s", res.Status, res.Reason, len(res.Steps), rec)
	}

	mu.Lock()
	defer mu.Unlock()
	t.Run("path segment and query value", func(t *testing.T) {
		if res.Steps[0].Outcome != "success" || len(seen) == 0 {
			t.Fatalf("step %s (%s), %d requests", res.Steps[0].Outcome, res.Steps[0].Error, len(seen))
		}
		u := seen[0]
		if got, want := u.EscapedPath(), "/repos/..%2F..%2Fadmin%3Fx=1%23/hooks"; got != want {
			t.Errorf("path = %s, want %s", got, want)
		}
		segments := strings.Split(u.EscapedPath(), "/")
		if len(segments) != 4 {
			t.Fatalf("path segments = %q, want 3", segments)
		}
		if got, err := url.PathUnescape(segments[2]); err != nil || got != hostile {
			t.Errorf("second path segment = %q (%v), want %q", got, err, hostile)
		}
		q := u.Query()
		if len(q) != 2 || q.Get("ref") != hostile || q.Get("page") != "1" {
			t.Errorf("query = %v, want ref=%q and page=1 only", q, hostile)
		}
	})
	t.Run("whole value is a URL", func(t *testing.T) {
		if res.Steps[1].Outcome != "success" || len(seen) < 2 {
			t.Fatalf("step %s (%s), %d requests", res.Steps[1].Outcome, res.Steps[1].Error, len(seen))
		}
		u := seen[1]
		if u.Path != "/callback" || u.Query().Get("a") != "1" || u.Query().Get("b") != "two" {
			t.Errorf("callback request = %s, want /callback?a=1&b=two", u)
		}
	})
	t.Run("token in userinfo and a name to escape in the path", func(t *testing.T) {
		if res.Steps[2].Outcome != "success" {
			t.Fatalf("clone %s: %s\n%s", res.Steps[2].Outcome, res.Steps[2].Error, rec)
		}
		if got := res.Steps[2].Outputs["commit"]; got != head {
			t.Errorf("commit = %v, want %s", got, head)
		}
		for _, form := range []string{token, url.User(token).String(), "n/with+chars"} {
			if strings.Contains(rec.String(), form) {
				t.Errorf("the log shows %q:\n%s", form, rec)
			}
		}
		if n := refused.Load(); n != 0 {
			t.Errorf("the git server refused %d requests", n)
		}
	})
	t.Run("host injection refused", func(t *testing.T) {
		step := res.Steps[3]
		want := "with: url: the value of ${{ event.body.host }} is not a host name or host:port"
		if step.Outcome != "failure" || !strings.HasPrefix(step.Error, want) {
			t.Errorf("step %s: %q, want a failure starting %q", step.Outcome, step.Error, want)
		}
		if len(seen) != 2 {
			t.Errorf("%d requests reached the API server, want 2", len(seen))
		}
	})
	t.Run("git path the git client would decode refused", func(t *testing.T) {
		step := res.Steps[4]
		want := "url: a segment of the path holds an escaped /"
		if step.Outcome != "failure" || !strings.Contains(step.Error, want) {
			t.Errorf("step %s: %q, want a failure with %q", step.Outcome, step.Error, want)
		}
	})
}
