package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/hookflow/hookflow/api"
)

// The tests in this file do what each example's README tells the reader to
// do, offline: start the server on the example's workflows and post its
// sample payloads signed as the sender signs them, or run a workflow with
// `hookflow run`, and check what the README says happens.

// example is the absolute path of a file or folder under examples/.
func example(t *testing.T, elem ...string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(append([]string{"..", "..", "examples"}, elem...)...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// needBubblewrap fails the test when the isolated level the examples run at
// (the default level auto comes to it where bubblewrap is) is missing.
func needBubblewrap(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Fatalf("bubblewrap is missing: run scripts/setup-sandbox.sh (%v)", err)
	}
}

// serveExample starts `hookflow serve --workflows DIR` as a process, as the
// READMEs do, with a data folder of its own and the environment env (the
// secrets, as HOOKFLOW_SECRET_<NAME>).
func serveExample(t *testing.T, workflows string, env ...string) *node {
	t.Helper()
	return stopAtEnd(t, launchServe(t, env, "--listen", "127.0.0.1:0", "--workflows", workflows, "--data", filepath.Join(t.TempDir(), "data")))
}

// deliverFile posts a sample payload file to /hooks/path with headers, and
// returns the status and the receipt.
func deliverFile(t *testing.T, url, path, file string, headers map[string]string) (int, workflowsReceipt) {
	t.Helper()
	body, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, url+"/hooks/"+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r workflowsReceipt
	json.NewDecoder(resp.Body).Decode(&r)
	return resp.StatusCode, r
}

// githubPush is the headers of a push GitHub signs with secret.
func githubPush(t *testing.T, file, secret string) map[string]string {
	t.Helper()
	body, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + hmacHex(secret, string(body)),
		"X-GitHub-Delivery": "e2e-" + filepath.Base(file) + "-" + time.Now().Format("150405.000000000")}
}

// validateAndMatch runs `hookflow validate` on workflows, wanting n
// workflows, then `hookflow match` of each payload file in want to path,
// as a push, wanting its line of output.
func validateAndMatch(t *testing.T, workflows string, n int, path string, want map[string]string) {
	t.Helper()
	if code, out, errOut := hookflow(t, "validate", workflows); code != exitOK || !strings.Contains(out, fmt.Sprintf("%d workflows OK", n)) {
		t.Fatalf("validate: exit %d, want %d workflows OK\n%s%s", code, n, out, errOut)
	}
	for file, line := range want {
		code, out, errOut := hookflow(t, "match", "--workflows", workflows, "--path", path, "--event", file, "--header", "X-GitHub-Event=push")
		if code != exitOK || !strings.Contains(out, line) {
			t.Errorf("match %s: exit %d, want %q\n%s%s", file, code, line, out, errOut)
		}
	}
}

// runLog is a finished run's plain log.
func runLog(t *testing.T, url, id string) string {
	t.Helper()
	var log strings.Builder
	if err := getText(t, url+"/api/v1/runs/"+id+"/logs", &log); err != nil {
		t.Fatal(err)
	}
	return log.String()
}

// wantRunSucceeded waits for run id and checks that it succeeded and that
// its log holds every line of want.
func wantRunSucceeded(t *testing.T, url, id string, want ...string) api.RunView {
	t.Helper()
	v := waitRunDone(t, url, id, 2*time.Minute)
	log := runLog(t, url, id)
	if v.Status != "succeeded" {
		t.Fatalf("run %s of %s: %s (%s)\n%s", id, v.Workflow, v.Status, v.Reason, log)
	}
	for _, w := range want {
		if !strings.Contains(log, w) {
			t.Errorf("log of run %s of %s lacks %q:\n%s", id, v.Workflow, w, log)
		}
	}
	return v
}

// TestExampleQuickstart is the README's first screen: the server on the
// quickstart with its secret, a signed push that greets, and a cleanup
// dispatched by hand.
func TestExampleQuickstart(t *testing.T) {
	needBubblewrap(t)
	srv := serveExample(t, example(t, "quickstart", "workflows"), "HOOKFLOW_SECRET_QUICKSTART_SECRET=change-me")
	push := example(t, "quickstart", "push.json")

	code, r := deliverFile(t, srv.url, "quickstart", push, githubPush(t, push, "change-me"))
	if code != http.StatusAccepted || len(r.Runs) != 1 || r.Runs[0].Workflow != "hello-push" {
		t.Fatalf("signed push: %d %+v, want 202 and a run of hello-push", code, r)
	}
	v := wantRunSucceeded(t, srv.url, r.Runs[0].ID, "push to main at 59b20b8d", `changed: ["deploy/banner.yaml","index.html"]`, "hello from main")
	if !strings.HasPrefix(v.Sandbox, "isolated") {
		t.Errorf("hello-push ran at the %s level, want isolated (auto, with bubblewrap)", v.Sandbox)
	}
	if code, _ := deliverFile(t, srv.url, "quickstart", push, githubPush(t, push, "wrong")); code != http.StatusUnauthorized {
		t.Errorf("push signed with another secret: %d, want 401", code)
	}

	var run api.RunView
	b, _ := json.Marshal(map[string]any{"inputs": map[string]any{"days": 3}})
	resp, err := http.Post(srv.url+"/api/v1/workflows/cleanup/dispatch", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&run)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("dispatch cleanup: %d", resp.StatusCode)
	}
	wantRunSucceeded(t, srv.url, run.ID, "removing files older than 3 days")
}

// TestExampleAlertmanagerHeal runs the heal workflow on firing.json as its
// README says: locally with the stand-ins of try/ first in PATH, and served,
// with an agent for each alerting host; the example's own remedy heals both
// hosts, the cooldown holds back a repeat, and resolved alerts start nothing.
func TestExampleAlertmanagerHeal(t *testing.T) {
	workflows, firing := example(t, "alertmanager-heal", "workflows"), example(t, "alertmanager-heal", "firing.json")
	t.Setenv("PATH", example(t, "alertmanager-heal", "try")+string(os.PathListSeparator)+os.Getenv("PATH"))

	t.Run("hookflow run", func(t *testing.T) {
		code, out, errOut := hookflow(t, "run", "heal", "--workflows", workflows, "--event", firing)
		if code != exitOK {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		for _, want := range []string{
			"remedy | ServiceDown on web-1:8080 (critical)", "remedy | ServiceDown on web-2:8080 (critical)",
			"remedy | try: systemctl restart -- api.service", "remedy | restarted api.service on ",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if n := strings.Count(out, `outputs {"remedy":"ServiceDown"}`); n != 2 {
			t.Errorf("the remedy ran %d times, want 2 (web-1 and web-2):\n%s", n, out)
		}

		// Named by a relative path, the folder cannot be found from the
		// step's workspace: the run says so rather than healing nothing.
		code, out, _ = hookflow(t, "run", "heal", "--workflows", "../../examples/alertmanager-heal/workflows", "--event", firing)
		if code != exitFail || !strings.Contains(out, "pass an absolute --workflows path, or set REMEDIES") {
			t.Errorf("relative --workflows: exit %d, want 1 saying what to do:\n%s", code, out)
		}
	})

	t.Run("served", func(t *testing.T) {
		dir := t.TempDir()
		srv := serveExample(t, workflows, "HOOKFLOW_SECRET_ALERTMANAGER_TOKEN=a-long-random-token")
		for _, host := range []string{"web-1", "web-2"} {
			token := addAgent(t, srv.url, host, host)
			startAgent(t, filepath.Join(dir, host), host, token, []string{srv.url})
		}
		alertmanager := map[string]string{"Authorization": "Bearer a-long-random-token", "User-Agent": "Alertmanager/0.27.0"}

		code, r := deliverFile(t, srv.url, "alertmanager", firing, alertmanager)
		if code != http.StatusAccepted || len(r.Runs) != 2 {
			t.Fatalf("firing.json: %d %+v, want 202 with 2 runs", code, r)
		}
		healed := map[string]bool{}
		for _, run := range r.Runs {
			v := wantRunSucceeded(t, srv.url, run.ID, "try: systemctl restart -- api.service", "restarted api.service on ")
			if len(v.Jobs) != 1 || v.Jobs[0].Runner != v.Jobs[0].RunsOn[0] {
				t.Errorf("run %s: jobs %+v, want the remedy on the agent of its host", run.ID, v.Jobs)
				continue
			}
			healed[v.Jobs[0].Runner] = true
		}
		if !healed["web-1"] || !healed["web-2"] {
			t.Errorf("healed on %v, want web-1 and web-2", healed)
		}

		code, r = deliverFile(t, srv.url, "alertmanager", firing, alertmanager)
		if code != http.StatusOK || len(r.Runs) != 0 || len(r.Skipped) != 2 {
			t.Fatalf("firing.json again: %d %+v, want 200 with both alerts skipped", code, r)
		}
		for _, s := range r.Skipped {
			if !strings.HasPrefix(s.Reason, "cooldown: key heal/ServiceDown-web-") {
				t.Errorf("skipped %q, want a cooldown", s.Reason)
			}
		}
		code, r = deliverFile(t, srv.url, "alertmanager", example(t, "alertmanager-heal", "resolved.json"), alertmanager)
		if code != http.StatusOK || len(r.Skipped) != 1 || r.Skipped[0].Reason != "if: false for all 3 items" {
			t.Errorf("resolved.json: %d %+v, want 200 skipped with if: false for all 3 items", code, r)
		}
		if code, _ := deliverFile(t, srv.url, "alertmanager", firing, map[string]string{"User-Agent": "Alertmanager/0.27.0"}); code != http.StatusUnauthorized {
			t.Errorf("without the token: %d, want 401", code)
		}
	})
}

// TestExampleGitHubDeploy does what the README's "Try it" does: validate,
// match each sample payload, and deliver the docs-only push signed to a
// running server, which answers that deploy is skipped; then its "Offline
// try": the push to main, served with configuration variables that point
// the deploy at a repository made here, a checkout folder of its own and the
// test API server, pulls, builds and applies.
func TestExampleGitHubDeploy(t *testing.T) {
	workflows := example(t, "github-deploy", "workflows")
	validateAndMatch(t, workflows, 1, "github", map[string]string{
		example(t, "github-deploy", "push-main.json"):      "run   deploy (1 run(s))",
		example(t, "github-deploy", "push-docs-only.json"): "skip  deploy: paths: no changed file matches src/**, deploy/**, Makefile",
		example(t, "github-deploy", "push-feature.json"):   "skip  deploy: branches: no match for feature/express-checkout",
	})

	t.Run("skipped and refused", func(t *testing.T) {
		srv := serveExample(t, workflows, "HOOKFLOW_SECRET_GITHUB_WEBHOOK_SECRET=a long random string")
		docs := example(t, "github-deploy", "push-docs-only.json")
		code, r := deliverFile(t, srv.url, "github", docs, githubPush(t, docs, "a long random string"))
		if code != http.StatusOK || len(r.Runs) != 0 || len(r.Skipped) != 1 ||
			r.Skipped[0].Reason != "paths: no changed file matches src/**, deploy/**, Makefile" {
			t.Errorf("signed docs-only push: %d %+v, want 200 with deploy skipped for its paths", code, r)
		}
		unsigned := map[string]string{"X-GitHub-Event": "push"}
		if code, _ := deliverFile(t, srv.url, "github", docs, unsigned); code != http.StatusUnauthorized {
			t.Errorf("unsigned push: %d, want 401", code)
		}
	})

	t.Run("offline try", func(t *testing.T) {
		needBubblewrap(t)
		kubeconfig := testKubeconfig(t)
		ns := "shop-" + randomHex(t)
		dir := t.TempDir()
		origin, appDir := filepath.Join(dir, "shop.git"), filepath.Join(dir, "app")
		head := gitRepo(t, origin, map[string]string{
			"Makefile":                "build:\n\techo built > build.txt\n",
			"deploy/namespace.yaml":   "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns + "}\n",
			"deploy/app/release.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shop-release}\ndata: {release: one}\n",
		})
		conf := writeFile(t, filepath.Join(dir, "conf", "hookflow.yaml"), fmt.Sprintf(
			"vars: {APP_DIR: %s, REPO_URL: %s, KUBECONFIG: %s, NAMESPACE: %s}\n",
			appDir, origin, kubeconfig, ns))
		srv := stopAtEnd(t, launchServe(t, []string{"HOOKFLOW_SECRET_GITHUB_WEBHOOK_SECRET=a long random string"},
			"--config", conf, "--listen", "127.0.0.1:0", "--workflows", workflows, "--data", filepath.Join(t.TempDir(), "data")))

		push := example(t, "github-deploy", "push-main.json")
		code, r := deliverFile(t, srv.url, "github", push, githubPush(t, push, "a long random string"))
		if code != http.StatusAccepted || len(r.Runs) != 1 {
			t.Fatalf("signed push to main: %d %+v, want 202 and a run of deploy", code, r)
		}
		wantRunSucceeded(t, srv.url, r.Runs[0].ID, "priya-n pushed acme/shop: ", "building "+head,
			"Namespace "+ns+" created", "ConfigMap "+ns+"/shop-release created")
		if b, err := os.ReadFile(filepath.Join(appDir, "build.txt")); err != nil || string(b) != "built\n" {
			t.Errorf("build.txt in the checkout: %q, %v; want the build's output", b, err)
		}
		if got := gitCmd(t, appDir, "rev-parse", "HEAD"); got != head {
			t.Errorf("checkout at %s, want main's head %s", got, head)
		}
		data, _, _ := unstructured.NestedStringMap(kubeObject(t, kubeconfig, "configmaps", ns, "shop-release").Object, "data")
		if data["release"] != "one" {
			t.Errorf("ConfigMap shop-release has data %q, want release: one", data)
		}
	})
}

// testKubeconfig is the kubeconfig of the test API server; without one the
// test fails.
func testKubeconfig(t *testing.T) string {
	t.Helper()
	kubeconfig := os.Getenv(testKubeconfigEnv)
	if kubeconfig == "" {
		t.Fatalf("%s is not set: start a test API server with\n"+
			"\tscripts/kube-testenv.sh build && scripts/kube-testenv.sh start DIR\n"+
			"and set %s=DIR/kubeconfig (make test does both)", testKubeconfigEnv, testKubeconfigEnv)
	}
	return kubeconfig
}

// randomHex is 8 random hex digits, to name what tests share a server for.
func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// gitRepo makes a bare repository at origin whose main holds files, and
// returns main's commit.
func gitRepo(t *testing.T, origin string, files map[string]string) string {
	t.Helper()
	work := filepath.Join(t.TempDir(), "work")
	gitCmd(t, filepath.Dir(origin), "init", "-q", "--bare", "-b", "main", origin)
	gitCmd(t, filepath.Dir(origin), "init", "-q", "-b", "main", work)
	for name, content := range files {
		writeFile(t, filepath.Join(work, name), content)
	}
	gitCmd(t, work, "add", ".")
	gitCmd(t, work, "commit", "-q", "-m", "release")
	gitCmd(t, work, "push", "-q", origin, "main")
	return gitCmd(t, work, "rev-parse", "HEAD")
}

// kubeResource is a client of resource gvr on the test API server.
func kubeResource(t *testing.T, kubeconfig string, gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client.Resource(gvr)
}

// kubeGet reads a core (v1) object from the test API server: resource ns/name.
func kubeGet(t *testing.T, kubeconfig, resource, ns, name string) (*unstructured.Unstructured, error) {
	t.Helper()
	return kubeResource(t, kubeconfig, schema.GroupVersionResource{Version: "v1", Resource: resource}).Namespace(ns).
		Get(context.Background(), name, metav1.GetOptions{})
}

// kubeObject is kubeGet's object; an error fails the test.
func kubeObject(t *testing.T, kubeconfig, resource, ns, name string) *unstructured.Unstructured {
	t.Helper()
	u, err := kubeGet(t, kubeconfig, resource, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestExampleBuildDeploy does what the README's "Try it" does, then its
// "Offline try": the server builds a repository made here, an agent named as
// each web host deploys the release on it, and a local HTTP server stands in
// for the release server, the load balancer and the site. Each host is
// drained and put back in turn, on its own agent, and the site serves the
// pushed commit.
func TestExampleBuildDeploy(t *testing.T) {
	workflows := example(t, "build-deploy", "workflows")
	validateAndMatch(t, workflows, 1, "github-release", map[string]string{
		example(t, "build-deploy", "push-main.json"): "run   release (1 run(s))",
	})

	needBubblewrap(t)
	dir := t.TempDir()
	origin, releases, shop := filepath.Join(dir, "shop.git"), filepath.Join(dir, "releases"), filepath.Join(dir, "shop")
	for _, d := range []string{releases, shop} { // as on the hosts, where a sandbox may write them
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	head := gitRepo(t, origin, map[string]string{
		"Makefile": "build:\n\tmkdir -p dist\n\techo \"shop $(COMMIT)\" > dist/version.txt\n",
	})
	push := filepath.Join(dir, "push.json")
	writeFile(t, push, pushOf(t, example(t, "build-deploy", "push-main.json"), head))

	// The stand-ins: releases served from the build node's folder, the
	// load balancer's pool, and the site serving the current release.
	var mu sync.Mutex
	var pool []string
	mux := http.NewServeMux()
	mux.Handle("GET /releases/", http.StripPrefix("/releases/", http.FileServer(http.Dir(releases))))
	mux.HandleFunc("POST /pool/{host}/{action}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		pool = append(pool, r.PathValue("action")+" "+r.PathValue("host"))
	})
	mux.HandleFunc("GET /healthz", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(shop, "current", "version.txt"))
	})
	stand := httptest.NewServer(mux)
	defer stand.Close()

	conf := writeFile(t, filepath.Join(dir, "conf", "hookflow.yaml"), fmt.Sprintf(`vars:
  REPO_URL: %s
  RELEASES: %s
  RELEASES_URL: %s/releases
  SHOP_DIR: %s
  LB_URL: %[3]s
  SITE_URL: %[3]s
`, origin, releases, stand.URL, shop))
	srv := stopAtEnd(t, launchServe(t, []string{"HOOKFLOW_SECRET_GITHUB_WEBHOOK_SECRET=a long random string"},
		"--config", conf, "--listen", "127.0.0.1:0", "--workflows", workflows, "--data", filepath.Join(t.TempDir(), "data")))
	hosts := []string{"web-01", "web-02", "web-03"}
	for _, host := range hosts {
		startAgent(t, filepath.Join(dir, "agents", host), host, addAgent(t, srv.url, host, host), []string{srv.url})
	}

	code, r := deliverFile(t, srv.url, "github-release", push, githubPush(t, push, "a long random string"))
	if code != http.StatusAccepted || len(r.Runs) != 1 {
		t.Fatalf("signed push to main: %d %+v, want 202 and a run of release", code, r)
	}
	var want []string
	for _, host := range hosts {
		want = append(want, host+" now serves "+head)
	}
	v := wantRunSucceeded(t, srv.url, r.Runs[0].ID, want...)
	for _, j := range v.Jobs {
		if host, _ := j.Matrix["host"].(string); j.ID == "deploy" && j.Runner != host {
			t.Errorf("deploy of %s ran on %q, want its own agent", host, j.Runner)
		}
	}
	if b, err := os.ReadFile(filepath.Join(shop, "current", "version.txt")); err != nil || string(b) != "shop "+head+"\n" {
		t.Errorf("the current release says %q, %v; want shop %s", b, err, head)
	}
	mu.Lock()
	defer mu.Unlock()
	if got, want := strings.Join(pool, ", "), "drain web-01, enable web-01, drain web-02, enable web-02, drain web-03, enable web-03"; got != want {
		t.Errorf("load balancer calls: %s\nwant %s", got, want)
	}
}

// pushOf is the push payload of file, naming commit as the pushed one.
func pushOf(t *testing.T, file, commit string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var push map[string]any
	if err := json.Unmarshal(b, &push); err != nil {
		t.Fatal(err)
	}
	push["after"] = commit
	push["head_commit"].(map[string]any)["id"] = commit
	out, _ := json.Marshal(push)
	return string(out)
}

// TestExampleGitOps runs the README's local commands: the cleanup as a dry
// run, a bad tag refused by the check step, a missing input refused before
// anything runs; then serves the workflows, reloads them on a signed push
// and rolls a Deployment of the test API server to a new image.
func TestExampleGitOps(t *testing.T) {
	needBubblewrap(t)
	workflows := example(t, "gitops", "hookflow")
	validateAndMatch(t, workflows, 3, "ops", map[string]string{
		example(t, "gitops", "push-ops.json"): "run   sync-workflows (1 run(s))",
	})

	code, out, errOut := hookflow(t, "run", "nightly-cleanup", "--workflows", workflows, "--input", "days=3", "--input", "dry_run=true")
	if code != exitOK {
		t.Fatalf("nightly-cleanup dry run: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "/srv/builds does not exist; nothing to remove") &&
		!strings.Contains(out, "would remove, from /srv/builds, what is older than 3 days:") {
		t.Errorf("nightly-cleanup dry run: the builds step said neither what it would remove nor that there is nothing:\n%s", out)
	}

	code, out, errOut = hookflow(t, "run", "deploy-version", "--workflows", workflows, "--input", "service=api", "--input", "version=1.4.2;reboot")
	if code != exitFail || !strings.Contains(out, "version '1.4.2;reboot' is not an image tag") {
		t.Errorf("a bad tag: exit %d, want 1 from the check step\n%s%s", code, out, errOut)
	}
	code, out, errOut = hookflow(t, "run", "deploy-version", "--workflows", workflows, "--input", "service=api")
	if code != exitUsage || !strings.Contains(errOut, `input "version" is required`) {
		t.Errorf("a missing input: exit %d, want 2 naming it\n%s%s", code, out, errOut)
	}

	// Served with an API token, as the README sets it up: the signed push
	// to the ops repository reloads the workflows through the server's own
	// API, found at the configuration variable SERVER_URL.
	addr, token := freeAddr(t), "a-long-random-api-token"
	srv := stopAtEnd(t, launchServe(t, []string{"HOOKFLOW_SECRET_OPS_WEBHOOK_SECRET=ops secret",
		"HOOKFLOW_SECRET_HOOKFLOW_API_TOKEN=" + token, "HOOKFLOW_API_TOKENS=" + token, "HOOKFLOW_VAR_SERVER_URL=http://" + addr},
		"--listen", addr, "--workflows", workflows, "--data", filepath.Join(t.TempDir(), "data")))
	pushOps := example(t, "gitops", "push-ops.json")
	code, r := deliverFile(t, srv.url, "ops", pushOps, githubPush(t, pushOps, "ops secret"))
	if code != http.StatusAccepted || len(r.Runs) != 1 || r.Runs[0].Workflow != "sync-workflows" {
		t.Fatalf("signed push to ops: %d %+v, want 202 and a run of sync-workflows", code, r)
	}
	v := waitRunDoneAs(t, srv.url, token, r.Runs[0].ID)
	if v.Status != "succeeded" || len(v.Steps) == 0 || v.Steps[0].Outputs["status"] != float64(http.StatusOK) {
		t.Errorf("sync-workflows: %s (%s), steps %+v; want the reload answered 200", v.Status, v.Reason, v.Steps)
	}

	t.Run("deploy-version", func(t *testing.T) {
		testGitOpsDeployVersion(t, workflows)
	})
}

// testGitOpsDeployVersion serves the gitops workflows as the README does,
// with KUBECONFIG pointing at the test API server, where someone else
// applied Deployment staging/api: a dry run changes nothing, a rollout sets
// the image and waits until the Deployment's status says it rolled out, and
// a Deployment that does not exist is refused, not created.
func testGitOpsDeployVersion(t *testing.T, workflows string) {
	kubeconfig := testKubeconfig(t)
	deployments := kubeResource(t, kubeconfig, schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace("staging")
	ctx := context.Background()
	namespace := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "staging"}}}
	if _, err := kubeResource(t, kubeconfig, schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).
		Apply(ctx, "staging", namespace, metav1.ApplyOptions{FieldManager: "ops-team"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"api", "worker"} { // left by an earlier run of this test
		if err := deployments.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
	}
	labels := map[string]any{"app": "api"}
	deployment := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "api"},
		"spec": map[string]any{
			"replicas": int64(2),
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{"containers": []any{
					map[string]any{"name": "api", "image": "registry/api:1.4.1", "ports": []any{map[string]any{"containerPort": int64(8080)}}},
				}},
			},
		},
	}}
	if _, err := deployments.Apply(ctx, "api", deployment, metav1.ApplyOptions{FieldManager: "ops-team"}); err != nil {
		t.Fatal(err)
	}
	image := func() string {
		t.Helper()
		d, err := deployments.Get(ctx, "api", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		if len(containers) != 1 {
			t.Fatalf("Deployment api has containers %v, want just api", containers)
		}
		image, _ := containers[0].(map[string]any)["image"].(string)
		return image
	}

	srv := serveExample(t, workflows, "HOOKFLOW_VAR_KUBECONFIG="+kubeconfig, "HOOKFLOW_VAR_REGISTRY=registry")
	dispatch := func(inputs map[string]any) string {
		t.Helper()
		var run api.RunView
		b, _ := json.Marshal(map[string]any{"inputs": inputs})
		resp, err := http.Post(srv.url+"/api/v1/workflows/deploy-version/dispatch", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(&run)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("dispatch deploy-version %v: %d", inputs, resp.StatusCode)
		}
		return run.ID
	}

	id := dispatch(map[string]any{"service": "api", "version": "1.4.2", "dry_run": true})
	wantRunSucceeded(t, srv.url, id, "Deployment staging/api configured (dry run)")
	if got := image(); got != "registry/api:1.4.1" {
		t.Errorf("after the dry run the image is %s, want registry/api:1.4.1 as it was", got)
	}

	id = dispatch(map[string]any{"service": "api", "version": "1.4.2"})
	// No controller runs on the test API server: once the spec changed, say
	// that the rollout is done, as the deployment controller would.
	waitFor(t, 2*time.Minute, "deploy-version sets the image of api", func() bool { return image() == "registry/api:1.4.2" })
	if v := runJobs(t, srv.url, id); api.Finished(v.Status) {
		t.Fatalf("deploy-version ended (%s, %s) before the Deployment said it rolled out:\n%s", v.Status, v.Reason, runLog(t, srv.url, id))
	}
	d, err := deployments.Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Object["status"] = map[string]any{
		"observedGeneration": d.GetGeneration(), "replicas": int64(2), "updatedReplicas": int64(2),
		"readyReplicas": int64(2), "availableReplicas": int64(2),
		"conditions": []any{
			map[string]any{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
			map[string]any{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
		},
	}
	if _, err := deployments.UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	wantRunSucceeded(t, srv.url, id, "Deployment staging/api configured")
	if got := image(); got != "registry/api:1.4.2" {
		t.Errorf("after the rollout the image is %s, want registry/api:1.4.2", got)
	}
	d, err = deployments.Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if replicas, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); replicas != 2 {
		t.Errorf("after the rollout spec.replicas is %d, want 2 as ops-team applied it", replicas)
	}

	id = dispatch(map[string]any{"service": "worker", "version": "1.4.2"})
	v := waitRunDone(t, srv.url, id, 2*time.Minute)
	if log := runLog(t, srv.url, id); v.Status != "failed" || !strings.Contains(log, "spec.selector: Required value") {
		t.Errorf("deploy-version of a missing Deployment: %s (%s), want failed as invalid:\n%s", v.Status, v.Reason, log)
	}
	if _, err := deployments.Get(ctx, "worker", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment worker after the failed run: %v, want not found", err)
	}
}

// waitRunDoneAs waits for run id on a server that wants token, and returns it.
func waitRunDoneAs(t *testing.T, url, token, id string) api.RunView {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var v api.RunView
		req, _ := http.NewRequest(http.MethodGet, url+"/api/v1/runs/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET run %s: %d %v", id, resp.StatusCode, err)
		}
		if api.Finished(v.Status) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s did not finish: %s", id, v.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
