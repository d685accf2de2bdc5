package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/internal/giteatest"
)

// TestGiteaCommitStatus is reporting back against a real Gitea: a push
// to a Gitea repository reaches a served workflow through Gitea's webhook,
// and Gitea's own API then shows the commit pending while the run goes on
// (its deploy job waits for the test), and success, linking the run, once
// it is done; with per_job, each job has a status of its own too.
func TestGiteaCommitStatus(t *testing.T) {
	gitea := giteatest.Open(t)
	repo := gitea.CreateRepo(t, t.Name())
	t.Setenv("HOOKFLOW_SECRET_GITEA_HOOK", "gitea-hook-secret-5e2b")
	t.Setenv("HOOKFLOW_SECRET_GITEA_TOKEN", gitea.Token)
	gate := filepath.Join(t.TempDir(), "gate")
	a := startApp(t, map[string]string{"deploy.yaml": fmt.Sprintf(`on:
  webhook: {path: gitea, provider: gitea, secret: "${{ secrets.GITEA_HOOK }}", events: [push]}
report:
  commit_status: true
  token: "${{ secrets.GITEA_TOKEN }}"
  context: hookflow/deploy
  per_job: true
sandbox: {level: process}
jobs:
  build:
    steps: [{run: "true"}]
  deploy:
    needs: build
    steps:
      - name: Wait for the test
        env: {GATE: %q}
        run: while [ ! -e "$GATE" ]; do sleep 0.1; done
`, gate)})
	gitea.AddHook(t, repo, a.url+"/hooks/gitea", "gitea-hook-secret-5e2b")
	sha := gitea.Push(t, repo, map[string]string{"README.md": "# site\n"}, "first")

	// waitStatus waits until the newest status of context is state, and
	// returns the statuses of context, newest first.
	waitStatus := func(context, state string) []giteatest.Status {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			var list []giteatest.Status
			for _, s := range gitea.Statuses(t, repo, sha) {
				if s.Context == context {
					list = append(list, s)
				}
			}
			if len(list) > 0 && list[0].State == state {
				return list
			}
			if time.Now().After(deadline) {
				t.Fatalf("commit %s has statuses %+v of %s after two minutes, want %s first", sha, list, context, state)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	pending := waitStatus("hookflow/deploy", "pending")[0]
	if build := waitStatus("hookflow/deploy/build", "success")[0]; build.TargetURL != pending.TargetURL {
		t.Errorf("the build job's status %+v links another run than %s", build, pending.TargetURL)
	}
	waitStatus("hookflow/deploy/deploy", "pending")
	if pending.Context != "hookflow/deploy" || !strings.HasPrefix(pending.TargetURL, a.url+"/ui/runs/") ||
		!slices.Contains([]string{"Queued", "Running"}, pending.Description) {
		t.Errorf("pending status %+v", pending)
	}
	writeFile(t, gate, "")

	list := waitStatus("hookflow/deploy", "success")
	success := list[0]
	runID := strings.TrimPrefix(success.TargetURL, a.url+"/ui/runs/")
	if success.Context != "hookflow/deploy" || success.Description != "Succeeded" || runID == success.TargetURL {
		t.Errorf("success status %+v", success)
	}
	for _, s := range list[1:] {
		if s.State != "pending" || s.TargetURL != success.TargetURL {
			t.Errorf("an older status of the commit is %+v, want pending for the same run", s)
		}
	}

	if code := a.call(t, "GET", "/api/v1/runs/"+runID, nil, nil); code != http.StatusOK {
		t.Fatalf("the status links run %q, which the API does not know (%d)", runID, code)
	}
	// Gitea has the status once it is sent; the run has it sent once it is
	// settled, a moment later.
	run := settled(t, func(v *api.RunView) { a.call(t, "GET", "/api/v1/runs/"+runID, nil, v) }, runID, "commit_status")
	if run.Status != "succeeded" || run.Trigger == nil || run.Trigger.Commit != sha {
		t.Errorf("run %s: %s, trigger %+v", run.ID, run.Status, run.Trigger)
	}
	if deploy := waitStatus("hookflow/deploy/deploy", "success")[0]; deploy.Description != "Succeeded" {
		t.Errorf("the deploy job's status %+v", deploy)
	}
	var final []string
	for _, r := range run.Reports {
		if r.Status == "sent" && r.State == "success" {
			final = append(final, r.Job)
		}
	}
	slices.Sort(final)
	if !slices.Equal(final, []string{"", "build", "deploy"}) {
		t.Errorf("success statuses sent for %q (run, jobs), want the run, build and deploy: %+v", final, run.Reports)
	}
	for _, r := range run.Reports {
		if strings.Contains(r.Error, gitea.Token) {
			t.Errorf("a report's error holds the token: %+v", r)
		}
	}
}
