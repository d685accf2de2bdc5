package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/api"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// testKubeconfigEnv names the kubeconfig of the test API server that
// scripts/kube-testenv.sh starts.
const testKubeconfigEnv = "HOOKFLOW_TEST_KUBECONFIG"

// gitCmd runs git in dir with a fixed identity and no user configuration.
func gitCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestPushAppliesDeployFolder is the whole GitOps path: a GitHub push
// webhook to a served workflow checks out the pushed commit of a repository
// and applies its deploy/ folder, templated with the event, to a real API
// server; the run's outputs list the applied objects.
func TestPushAppliesDeployFolder(t *testing.T) {
	kubeconfig := testKubeconfig(t)
	ns := "e2e-" + randomHex(t)

	// A repository with a deploy/ folder, pushed to a bare one.
	dir := t.TempDir()
	bare, work := filepath.Join(dir, "site.git"), filepath.Join(dir, "work")
	gitCmd(t, dir, "init", "-q", "--bare", "-b", "main", bare)
	gitCmd(t, dir, "init", "-q", "-b", "main", work)
	writeFile(t, filepath.Join(work, "deploy", "namespace.yaml"), fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", ns))
	writeFile(t, filepath.Join(work, "deploy", "app", "config.yaml"), `apiVersion: v1
kind: ConfigMap
metadata:
  name: site
  annotations:
    hookflow/commit: "${{ event.commit }}"
data:
  greeting: hello
`)
	writeFile(t, filepath.Join(work, "deploy", "app", "extra.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  a: b\n")
	writeFile(t, filepath.Join(work, "README.md"), "# site\n")
	gitCmd(t, work, "add", ".")
	gitCmd(t, work, "commit", "-q", "-m", "site")
	gitCmd(t, work, "push", "-q", bare, "main")
	commit := gitCmd(t, work, "rev-parse", "HEAD")

	workflow := fmt.Sprintf(`on:
  webhook: {path: site, provider: github, events: [push], branches: [main]}
steps:
  - id: checkout
    uses: git
    with:
      url: %s
      ref: ${{ event.commit }}
  - id: deploy
    uses: apply
    env:
      KUBECONFIG: %s
    with:
      path: src/deploy
      template: true
      namespace: %s
      prune: true
      diff: true
`, bare, kubeconfig, ns)
	a := startApp(t, map[string]string{"site.yaml": workflow})

	push := func(before, after string) *api.RunView {
		t.Helper()
		body := fmt.Sprintf(`{"ref": "refs/heads/main", "before": "%s", "after": "%s",
		"repository": {"full_name": "example/site", "clone_url": %q}}`, before, after, bare)
		h := http.Header{}
		h.Set("X-GitHub-Event", "push")
		h.Set("X-GitHub-Delivery", "e2e-"+after)
		code, answer := post(t, a.url+"/hooks/site", body, h)
		if code != http.StatusAccepted {
			t.Fatalf("webhook: %d %s", code, answer)
		}
		var receipt struct {
			Runs []struct{ ID string } `json:"runs"`
		}
		if err := json.Unmarshal([]byte(answer), &receipt); err != nil || len(receipt.Runs) != 1 {
			t.Fatalf("receipt %s: %v", answer, err)
		}
		run := a.waitRun(t, receipt.Runs[0].ID)
		if run.Status != "succeeded" || len(run.Steps) != 2 {
			t.Fatalf("run %s: %s (%s), steps %+v", run.ID, run.Status, run.Reason, run.Steps)
		}
		return run
	}

	run := push(strings.Repeat("0", 40), commit)
	got, _ := json.Marshal(run.Steps[1].Outputs["applied"])
	want := fmt.Sprintf(`[{"kind":"Namespace","name":"%[1]s","namespace":"","result":"created"},`+
		`{"kind":"ConfigMap","name":"site","namespace":"%[1]s","result":"created"},`+
		`{"kind":"ConfigMap","name":"extra","namespace":"%[1]s","result":"created"}]`, ns)
	if string(got) != want {
		t.Errorf("applied = %s\nwant      %s", got, want)
	}

	cm := kubeObject(t, kubeconfig, "configmaps", ns, "site")
	if got := cm.GetAnnotations()["hookflow/commit"]; got != commit {
		t.Errorf("the ConfigMap's hookflow/commit annotation = %q, want the pushed commit %s", got, commit)
	}
	// The set is named after the workflow and the step.
	if got := kubeObject(t, kubeconfig, "secrets", ns, "site-deploy").GetLabels()["applyset.kubernetes.io/id"]; got == "" {
		t.Error("the set's parent site-deploy has no applyset.kubernetes.io/id label")
	}

	// Removing a manifest from git and pushing prunes its object.
	gitCmd(t, work, "rm", "-q", "deploy/app/extra.yaml")
	gitCmd(t, work, "commit", "-q", "-m", "no extra")
	gitCmd(t, work, "push", "-q", bare, "main")
	second := gitCmd(t, work, "rev-parse", "HEAD")
	run = push(commit, second)
	got, _ = json.Marshal(run.Steps[1].Outputs["pruned"])
	if want := fmt.Sprintf(`[{"kind":"ConfigMap","name":"extra","namespace":"%s"}]`, ns); string(got) != want {
		t.Errorf("pruned = %s, want %s", got, want)
	}
	diff, _ := run.Steps[1].Outputs["diff"].(string)
	for _, line := range []string{"-    hookflow/commit: " + commit, "+    hookflow/commit: " + second, "--- live/ConfigMap/" + ns + "/extra"} {
		if !strings.Contains(diff, line+"\n") {
			t.Errorf("diff lacks %q:\n%s", line, diff)
		}
	}
	if _, err := kubeGet(t, kubeconfig, "configmaps", ns, "extra"); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap extra after pruning: %v, want NotFound", err)
	}
}
