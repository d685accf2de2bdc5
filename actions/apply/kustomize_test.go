package applyaction

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"github.com/hookflow/hookflow/actions"
	"os"
	"path/filepath"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"strings"
	"testing"
)

// overlay is a kustomization with a base (a Deployment, a Service and a
// ConfigMap) and a prod overlay that prefixes names, scales the Deployment,
// sets its image and generates a ConfigMap with a hash in its name.
func overlay(color string) map[string]string {
	return map[string]string{
		"deploy/base/kustomization.yaml": "resources: [deployment.yaml, service.yaml, config.yaml]\nlabels:\n  - pairs: {app.kubernetes.io/part-of: shop}\n",
		"deploy/base/deployment.yaml":    deploymentManifest,
		"deploy/base/service.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n" +
			"  ports:\n    - port: 80\n",
		"deploy/base/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: static\ndata:\n  greeting: hello\n",
		"deploy/overlays/prod/kustomization.yaml": `resources: [../../base]
namePrefix: prod-
images:
  - name: nginx
    newTag: "1.28"
patches:
  - path: replicas.yaml
configMapGenerator:
  - name: settings
    literals: [color=` + color + `]
`,
		"deploy/overlays/prod/replicas.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n",
	}
}

// TestKustomizeOverlay applies a kustomization with a base and an overlay,
// then, with prune, a change to a generated ConfigMap: the one of the old
// hash is pruned.
func TestKustomizeOverlay(t *testing.T) {
	ns := testNamespace(t)
	s, log := pruneStep(t)
	writeFiles(t, s.Dir, overlay("blue"))
	with := map[string]any{"kustomize": "deploy/overlays/prod", "namespace": ns, "prune": true}
	out, err := run(t, s, with)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	var names []string
	for _, a := range out["applied"].([]any) {
		m := a.(map[string]any)
		names = append(names, m["kind"].(string)+" "+m["name"].(string)+" "+m["result"].(string))
	}
	var generated string
	for _, n := range names {
		if strings.HasPrefix(n, "ConfigMap prod-settings-") {
			generated = strings.Fields(n)[1]
		}
	}
	if len(names) != 4 || generated == "" || !strings.Contains(strings.Join(names, "\n"), "Deployment prod-web created") ||
		!strings.Contains(strings.Join(names, "\n"), "Service prod-web created") || !strings.Contains(strings.Join(names, "\n"), "ConfigMap prod-static created") {
		t.Fatalf("applied:\n%s", strings.Join(names, "\n"))
	}
	d := get(t, deployments, ns, "prod-web")
	if got := fmt.Sprint(d.Object["spec"].(map[string]any)["replicas"]); got != "3" {
		t.Errorf("replicas = %s, want the overlay's 3", got)
	}
	if got := fmt.Sprint(d.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["image"]); got != "nginx:1.28" {
		t.Errorf("image = %s, want nginx:1.28", got)
	}
	if got := d.GetLabels()["app.kubernetes.io/part-of"]; got != "shop" {
		t.Errorf("the base's label = %q", got)
	}
	if got := fmt.Sprint(get(t, configMaps, ns, generated).Object["data"]); got != "map[color:blue]" {
		t.Errorf("%s data = %s", generated, got)
	}

	writeFiles(t, s.Dir, overlay("green"))
	out, err = run(t, s, with)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	checkPruned(t, out, "ConfigMap "+ns+"/"+generated)
	wantAbsent(t, configMaps, ns, generated)
	get(t, configMaps, ns, "prod-static")
}

// fakeGit puts first on the PATH a git that only leaves the file it
// returns, to show whether kustomize ran git for a remote base.
func fakeGit(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	ran := filepath.Join(bin, "ran")
	writeFiles(t, bin, map[string]string{"git": "#!/bin/sh\ntouch " + ran + "\nexit 1\n"})
	if err := os.Chmod(filepath.Join(bin, "git"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return ran
}

// TestKustomizeErrors: what cannot be built, or must not be read, fails
// before kustomize runs, naming the kustomization file; nothing is fetched.
func TestKustomizeErrors(t *testing.T) {
	ran := fakeGit(t)

	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no kustomization", map[string]string{"k/a.yaml": configMap("a", "")},
			"kustomize: k: no kustomization.yaml, kustomization.yml or Kustomization in it"},
		{"missing resource", map[string]string{"k/kustomization.yaml": "resources: [missing.yaml]\n"},
			"k/kustomization.yaml: resources: missing.yaml: no such file or folder"},
		{"missing resource in a base", map[string]string{"k/kustomization.yaml": "resources: [../b]\n", "b/kustomization.yaml": "resources:\n  - gone.yaml\n"},
			"b/kustomization.yaml: resources: gone.yaml: no such file or folder"},
		{"invalid YAML", map[string]string{"k/kustomization.yaml": "resources: [a.yaml\n"},
			"k/kustomization.yaml: invalid YAML: line 1: did not find expected ',' or ']'"},
		{"unknown field", map[string]string{"k/kustomization.yaml": "resource: [a.yaml]\n"},
			`k/kustomization.yaml: unknown field "resource"`},
		{"file outside the folder", map[string]string{"k/kustomization.yaml": "resources: [../a.yaml]\n", "a.yaml": configMap("a", "")},
			"k/kustomization.yaml: resources: ../a.yaml is outside the kustomization's folder"},
		{"remote base", map[string]string{"k/kustomization.yaml": "resources:\n  - github.com/example/shop//deploy?ref=v1\n"},
			"k/kustomization.yaml: resources: github.com/example/shop//deploy?ref=v1 is remote, and remote resources are not fetched"},
		{"remote ssh base", map[string]string{"k/kustomization.yaml": "components: [git@example.com:shop.git]\n"},
			"k/kustomization.yaml: components: git@example.com:shop.git is remote"},
		{"remote patch", map[string]string{"k/kustomization.yaml": "resources: [a.yaml]\npatches:\n  - path: https://example.com/p.yaml\n", "k/a.yaml": configMap("a", "")},
			"k/kustomization.yaml: patches: https://example.com/p.yaml is remote"},
		{"builds nothing", map[string]string{"k/kustomization.yaml": "namePrefix: x-\n"},
			"kustomize: k builds no objects"},
		{"kustomize's own error", map[string]string{"k/kustomization.yaml": "resources: [a.yaml]\npatches: [{path: p.yaml}]\n",
			"k/a.yaml": configMap("a", ""), "k/p.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: nope}\ndata: {x: y}\n"},
			"kustomize: k: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			_, err := buildKustomization(dir, "k", fileView{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), dir) {
				t.Errorf("error %q shows the workspace's path", err)
			}
		})
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("git was run")
	}
}

// TestHiddenManifests: neither path nor a kustomization reads a hidden file,
// through a symbolic link or not.
func TestHiddenManifests(t *testing.T) {
	ws, secret := t.TempDir(), t.TempDir()
	writeFiles(t, secret, map[string]string{"token.yaml": configMap("token", "")})
	writeFiles(t, ws, map[string]string{
		"k/kustomization.yaml": "resources: [private/a.yaml]\n",
		"k/private/a.yaml":     configMap("a", ""),
		"l/kustomization.yaml": "resources: [token.yaml]\n",
	})
	if err := os.Symlink(filepath.Join(secret, "token.yaml"), filepath.Join(ws, "l", "token.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(ws, "m"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(secret, "token.yaml"), filepath.Join(ws, "m", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	hidden := fileView{hidden: []string{secret, filepath.Join(ws, "k", "private")}}
	for _, tc := range []struct {
		name string
		read func() error
		want string // the error holds it and not the workspace's path
	}{
		{"kustomize folder", func() error { _, err := buildKustomization(ws, secret, hidden); return err },
			"hidden from steps"},
		{"a hidden file in the kustomization", func() error { _, err := buildKustomization(ws, "k", hidden); return err },
			"hidden from steps"},
		{"a link out of the kustomization", func() error { _, err := buildKustomization(ws, "l", hidden); return err },
			"kustomize: l: accumulating resources: accumulation err='accumulating resources from 'token.yaml': security; file 'token.yaml' is not in or below 'l''"},
		{"path", func() error { _, err := readPath(ws, secret, nil, hidden); return err }, "hidden from steps"},
		{"path through a link", func() error { _, err := readPath(ws, "m/link.yaml", nil, hidden); return err },
			"path: m/link.yaml: hidden from steps"},
		{"folder holding a link", func() error { _, err := readPath(ws, "m", nil, hidden); return err },
			"m/link.yaml: hidden from steps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.read()
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), ws) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := readPath(ws, "k/private", nil, fileView{}); err != nil {
		t.Errorf("with nothing hidden: %v", err)
	}

	// The workspace is in the server's data folder, which is hidden; what
	// is in it is the step's own.
	data := t.TempDir()
	workspace := filepath.Join(data, "workspaces", "run")
	writeFiles(t, workspace, map[string]string{"deploy/cm.yaml": configMap("a", ""), "k/kustomization.yaml": "resources: [../deploy/cm.yaml]\n"})
	s := &actions.Step{Workspace: workspace, Dir: workspace, Hidden: []string{data}}
	if _, err := readPath(workspace, "deploy", nil, viewOf(s)); err != nil {
		t.Errorf("path in the workspace: %v", err)
	}
	writeFiles(t, workspace, map[string]string{"k/kustomization.yaml": "resources: [cm.yaml]\n", "k/cm.yaml": configMap("a", "")})
	if _, err := buildKustomization(workspace, "k", viewOf(s)); err != nil {
		t.Errorf("kustomization in the workspace: %v", err)
	}
	// A hidden path inside the workspace stays hidden.
	s.Hidden = append(s.Hidden, filepath.Join(workspace, "deploy"))
	if _, err := readPath(workspace, "deploy", nil, viewOf(s)); err == nil || !strings.Contains(err.Error(), "hidden from steps") {
		t.Errorf("a hidden path inside the workspace: %v", err)
	}
	writeFiles(t, data, map[string]string{"other.yaml": configMap("b", "")})
	if _, err := readPath(workspace, filepath.Join(data, "other.yaml"), nil, viewOf(s)); err == nil || !strings.Contains(err.Error(), "hidden from steps") {
		t.Errorf("a file of the data folder outside the workspace: %v", err)
	}
}

// TestKustomizeFetchesNothing: for a remote base and a remote file, the
// build neither runs git nor makes a request, where kustomize left to
// itself does both.
func TestKustomizeFetchesNothing(t *testing.T) {
	ran := fakeGit(t)
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		io.WriteString(w, configMap("fetched", ""))
	}))
	defer srv.Close()

	for name, kustomization := range map[string]string{
		"git base":      "resources:\n  - ssh://git@127.0.0.1/org/repo.git//deploy?ref=v1\n",
		"http resource": "resources:\n  - " + srv.URL + "/cm.yaml\n",
	} {
		t.Run(name, func(t *testing.T) {
			os.Remove(ran)
			requests.Store(0)
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"k/kustomization.yaml": kustomization})
			_, err := buildKustomization(dir, "k", fileView{})
			if err == nil || !strings.Contains(err.Error(), "remote resources are not fetched") {
				t.Fatalf("error %v, want the remote resource refused", err)
			}
			_, gitRan := os.Stat(ran)
			if gitRan == nil || requests.Load() != 0 {
				t.Fatalf("git ran (%v) or %d requests were made", gitRan == nil, requests.Load())
			}
			// The control: kustomize alone fetches, so the check above can fail.
			krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(dir, "k"))
			if _, gitRan = os.Stat(ran); gitRan != nil && requests.Load() == 0 {
				t.Fatal("kustomize alone fetched nothing either")
			}
		})
	}
}
