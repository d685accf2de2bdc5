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
`, bare, kubeconfig, ns)
	a := startApp(t, map[string]string{"site.yaml": workflow})

	body := fmt.Sprintf(`{"ref": "refs/heads/main", "before": "%s", "after": "%s",
		"repository": {"full_name": "example/site", "clone_url": %q}}`, strings.Repeat("0", 40), commit, bare)
	h := http.Header{}
	h.Set("X-GitHub-Event", "push")
	h.Set("X-GitHub-Delivery", "e2e-"+ns)
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
	got, _ := json.Marshal(run.Steps[1].Outputs["applied"])
	want := fmt.Sprintf(`[{"kind":"Namespace","name":"%[1]s","namespace":"","result":"created"},`+
		`{"kind":"ConfigMap","name":"site","namespace":"%[1]s","result":"created"}]`, ns)
	if string(got) != want {
		t.Errorf("applied = %s\nwant      %s", got, want)
	}

	cm := kubeConfigMap(t, kubeconfig, ns, "site")
	if got := cm.GetAnnotations()["hookflow/commit"]; got != commit {
		t.Errorf("the ConfigMap's hookflow/commit annotation = %q, want the pushed commit %s", got, commit)
	}
}
