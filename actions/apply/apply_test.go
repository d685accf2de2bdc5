package applyaction

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/actions/actiontest"
)

// crdManifest is a CustomResourceDefinition of kind Widget in a group of
// its own, as JSON to cover JSON files.
func crdManifest(group string) string {
	return fmt.Sprintf(`{
	"apiVersion": "apiextensions.k8s.io/v1",
	"kind": "CustomResourceDefinition",
	"metadata": {"name": "widgets.%[1]s"},
	"spec": {
		"group": "%[1]s",
		"scope": "Namespaced",
		"names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
		"versions": [{
			"name": "v1", "served": true, "storage": true,
			"schema": {"openAPIV3Schema": {"type": "object", "properties": {
				"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}
			}}}
		}]
	}
}
`, group)
}

const deploymentManifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27
`

// TestApplyFolder applies a folder holding a Namespace, a CRD, a custom
// resource, a ConfigMap and a Deployment, then applies it again unchanged,
// then with the ConfigMap changed.
func TestApplyFolder(t *testing.T) {
	sfx := suffix(t)
	ns, group := "t-"+sfx, "s"+sfx+".example.com"
	s, log := step(t)
	files := map[string]string{
		// Lexically first, but applied after the Namespace and the CRD.
		"deploy/a-widget.yaml": fmt.Sprintf("apiVersion: %s/v1\nkind: Widget\nmetadata:\n  name: w1\n  namespace: %s\nspec:\n  size: 3\n", group, ns),
		"deploy/app/app.yaml": "# the app\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\ndata:\n  color: blue\n---\n" +
			deploymentManifest,
		"deploy/crd.json":          crdManifest(group),
		"deploy/ns.yaml":           fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", ns),
		"deploy/.hidden/bad.yaml":  "not: [a manifest",
		"deploy/README.md":         "# not a manifest",
		"deploy/app/notes.txt":     "neither",
		"deploy/app/.skipped.yaml": "kind: [",
	}
	writeFiles(t, s.Dir, files)
	with := map[string]any{"path": "deploy", "namespace": ns}

	applied, err := applyIn(t, s, with)
	if err != nil {
		t.Fatalf("first apply: %v\nlog:\n%s", err, log)
	}
	want := strings.Join([]string{
		"Namespace " + ns + " created",
		"CustomResourceDefinition widgets." + group + " created",
		"Widget " + ns + "/w1 created",
		"ConfigMap " + ns + "/config created",
		"Deployment " + ns + "/web created",
	}, "\n")
	if got := summary(applied); got != want {
		t.Errorf("first apply:\n%s\nwant:\n%s", got, want)
	}
	for _, line := range []string{"ConfigMap " + ns + "/config created\n", "CustomResourceDefinition widgets." + group + " established\n"} {
		if !strings.Contains(log.String(), line) {
			t.Errorf("log does not contain %q:\n%s", line, log)
		}
	}
	if got := get(t, configMaps, ns, "config").Object["data"]; fmt.Sprint(got) != "map[color:blue]" {
		t.Errorf("ConfigMap data = %v", got)
	}
	w := get(t, gvr(group, "v1", "widgets"), ns, "w1")
	if got := fmt.Sprint(w.Object["spec"]); got != "map[size:3]" {
		t.Errorf("Widget spec = %s", got)
	}
	d := get(t, deployments, ns, "web")
	if mf := d.GetManagedFields(); len(mf) == 0 || mf[0].Manager != "hookflow" || mf[0].Operation != "Apply" {
		t.Errorf("Deployment managedFields = %+v, want an Apply by hookflow", mf)
	}

	t.Run("again unchanged", func(t *testing.T) {
		applied, err := applyIn(t, s, with)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := summary(applied), strings.ReplaceAll(want, "created", "unchanged"); got != want {
			t.Errorf("second apply:\n%s\nwant:\n%s", got, want)
		}
	})

	t.Run("changed configured", func(t *testing.T) {
		writeFiles(t, s.Dir, map[string]string{"deploy/app/app.yaml": strings.Replace(files["deploy/app/app.yaml"], "blue", "green", 1)})
		applied, err := applyIn(t, s, with)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.ReplaceAll(want, "created", "unchanged")
		want = strings.Replace(want, "config unchanged", "config configured", 1)
		if got := summary(applied); got != want {
			t.Errorf("third apply:\n%s\nwant:\n%s", got, want)
		}
		if got := get(t, configMaps, ns, "config").Object["data"]; fmt.Sprint(got) != "map[color:green]" {
			t.Errorf("ConfigMap data = %v", got)
		}
	})
}

func configMap(name, ns string, data ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n", name)
	if ns != "" {
		fmt.Fprintf(&b, "  namespace: %s\n", ns)
	}
	if len(data) > 0 {
		b.WriteString("data:\n")
		for i := 0; i+1 < len(data); i += 2 {
			fmt.Fprintf(&b, "  %s: %q\n", data[i], data[i+1])
		}
	}
	return b.String()
}

func TestApplyDryRun(t *testing.T) {
	ns := testNamespace(t)
	run := func(t *testing.T, dryRun bool, value string) string {
		t.Helper()
		applied, log, err := apply(t, map[string]any{"manifests": configMap("cm", ns, "k", value), "dry_run": dryRun})
		if err != nil {
			t.Fatal(err)
		}
		if dryRun && !strings.Contains(log, "(dry run)") {
			t.Errorf("log does not say dry run:\n%s", log)
		}
		return summary(applied)
	}
	if got, want := run(t, true, "a"), "ConfigMap "+ns+"/cm created"; got != want {
		t.Errorf("dry run of a new object: %s, want %s", got, want)
	}
	wantAbsent(t, configMaps, ns, "cm")

	run(t, false, "a")
	rv := get(t, configMaps, ns, "cm").GetResourceVersion()
	if got, want := run(t, true, "b"), "ConfigMap "+ns+"/cm configured"; got != want {
		t.Errorf("dry run of a change: %s, want %s", got, want)
	}
	if got, want := run(t, true, "a"), "ConfigMap "+ns+"/cm unchanged"; got != want {
		t.Errorf("dry run of no change: %s, want %s", got, want)
	}
	cm := get(t, configMaps, ns, "cm")
	if cm.GetResourceVersion() != rv || fmt.Sprint(cm.Object["data"]) != "map[k:a]" {
		t.Errorf("after dry runs: resourceVersion %s (was %s), data %v; want both unchanged", cm.GetResourceVersion(), rv, cm.Object["data"])
	}
}

func TestApplyDryRunCustomResourceOfNewCRD(t *testing.T) {
	sfx := suffix(t)
	group := "s" + sfx + ".example.com"
	manifests := crdManifest(group) + "---\n" + fmt.Sprintf("apiVersion: %s/v1\nkind: Widget\nmetadata: {name: w}\n", group)
	_, _, err := apply(t, map[string]any{"manifests": manifests, "dry_run": true})
	line := strings.Count(crdManifest(group), "\n") + 2
	actiontest.WantErrorContains(t, err, fmt.Sprintf("manifests: document 2 (line %d): Widget w:", line), "a dry run does not store the CustomResourceDefinition")
	actiontest.WantRetryable(t, err, false)
	wantAbsent(t, crds, "", "widgets."+group)
}

func TestApplyFieldManagerConflict(t *testing.T) {
	ns := testNamespace(t)
	if _, _, err := apply(t, map[string]any{"manifests": configMap("cm", ns, "owner", "other"), "field_manager": "other"}); err != nil {
		t.Fatal(err)
	}
	mine := configMap("cm", ns, "owner", "hookflow")

	_, _, err := apply(t, map[string]any{"manifests": mine})
	actiontest.WantErrorContains(t, err, "manifests: document 1 (line 1): ConfigMap "+ns+"/cm:", `conflict with "other"`, ".data.owner",
		"set force_conflicts: true")
	actiontest.WantRetryable(t, err, false)
	if got := get(t, configMaps, ns, "cm").Object["data"]; fmt.Sprint(got) != "map[owner:other]" {
		t.Errorf("after the conflict, data = %v", got)
	}

	applied, _, err := apply(t, map[string]any{"manifests": mine, "force_conflicts": true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := summary(applied), "ConfigMap "+ns+"/cm configured"; got != want {
		t.Errorf("forced: %s, want %s", got, want)
	}
	if got := get(t, configMaps, ns, "cm").Object["data"]; fmt.Sprint(got) != "map[owner:hookflow]" {
		t.Errorf("after forcing, data = %v", got)
	}
}

func TestApplyNamespaces(t *testing.T) {
	ns, other := testNamespace(t), testNamespace(t)
	sfx := suffix(t)
	manifests := configMap("plain-"+sfx, "") + "---\n" + configMap("own-"+sfx, other) + "---\n" +
		fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n-%s\n  namespace: ignored\n", sfx)
	t.Run("with namespace", func(t *testing.T) {
		applied, _, err := apply(t, map[string]any{"manifests": manifests, "namespace": ns})
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("Namespace n-%[1]s created\nConfigMap %[2]s/plain-%[1]s created\nConfigMap %[3]s/own-%[1]s created", sfx, ns, other)
		if got := summary(applied); got != want {
			t.Errorf("got\n%s\nwant\n%s", got, want)
		}
	})
	t.Run("kubeconfig default", func(t *testing.T) {
		applied, _, err := apply(t, map[string]any{"manifests": configMap("default-"+sfx, "")})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := summary(applied), "ConfigMap default/default-"+sfx+" created"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
}

func TestApplyKubeconfig(t *testing.T) {
	ns := testNamespace(t)
	kc, err := os.ReadFile(testKubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	manifests := configMap("cm", ns)
	down := regexp.MustCompile(`server: https://127.0.0.1:\d+`).ReplaceAllString(string(kc), fmt.Sprintf("server: https://127.0.0.1:%d", closedPort(t)))
	tests := []struct {
		name string
		env  []string
		with map[string]any
		want string // part of the error, "" for success
	}{
		{"kubeconfig relative to the step's dir", nil, map[string]any{"kubeconfig": "kc/config"}, ""},
		{"KUBECONFIG of the step", []string{"KUBECONFIG=missing:kc/config"}, nil, ""},
		{"named context", nil, map[string]any{"kubeconfig": "kc/config", "context": "hookflow-testenv"}, ""},
		{"unknown context", nil, map[string]any{"kubeconfig": "kc/config", "context": "nope"}, `kubeconfig: context "nope" does not exist`},
		{"missing kubeconfig", nil, map[string]any{"kubeconfig": "nope/config"}, "kubeconfig: stat"},
		{"KUBECONFIG of missing files", []string{"KUBECONFIG=a:b"}, nil, "KUBECONFIG: no such file:"},
		{"context without a kubeconfig", nil, map[string]any{"context": "x"}, `context: "x" needs a kubeconfig`},
		{"server down", nil, map[string]any{"kubeconfig": "kc/down"}, "manifests: document 1 (line 1): ConfigMap " + ns + "/cm: finding its resource:"},
	}
	if os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		tests = append(tests, struct {
			name string
			env  []string
			with map[string]any
			want string
		}{"none outside a cluster", nil, nil, "no kubeconfig: set kubeconfig, or KUBECONFIG in the step's env"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := step(t)
			s.Env = append([]string{"PATH=/usr/bin:/bin"}, tt.env...)
			writeFiles(t, s.Dir, map[string]string{"kc/config": string(kc), "kc/down": string(down)})
			with := map[string]any{"manifests": manifests}
			for k, v := range tt.with {
				with[k] = v
			}
			_, err := applyIn(t, s, with)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			actiontest.WantErrorContains(t, err, tt.want)
			actiontest.WantRetryable(t, err, tt.name == "server down")
		})
	}
}

// closedPort returns a port on 127.0.0.1 that nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestApplyErrors(t *testing.T) {
	ns := testNamespace(t)
	tests := []struct {
		name      string
		files     map[string]string
		with      map[string]any
		want      []string // parts of the error
		retryable bool
		absent    string // a ConfigMap that must not have been applied
	}{
		{
			name: "invalid YAML",
			files: map[string]string{"deploy/app.yaml": configMap("ok", ns) + "---\n" +
				"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\ndata:\n  a: [1\n"},
			want:   []string{"deploy/app.yaml: document 2 (line 7): invalid YAML: line 12: did not find expected ',' or ']'"},
			absent: "ok",
		},
		{
			name:   "kind missing",
			files:  map[string]string{"deploy/app.yaml": configMap("ok", ns) + "---\napiVersion: v1\nmetadata: {name: x}\n"},
			want:   []string{"deploy/app.yaml: document 2 (line 7): kind missing"},
			absent: "ok",
		},
		{
			name:   "unknown kind",
			files:  map[string]string{"deploy/a.yaml": configMap("ok", ns), "deploy/b.yaml": "apiVersion: example.com/v1\nkind: Gizmo\nmetadata: {name: g}\n"},
			want:   []string{"deploy/b.yaml: document 1 (line 1): Gizmo g:", `no matches for kind "Gizmo" in version "example.com/v1"`, "check apiVersion and kind"},
			absent: "ok",
		},
		{
			name:  "refused by the server",
			files: map[string]string{"deploy/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n"},
			want:  []string{"deploy/app.yaml: document 1 (line 1): ConfigMap " + ns + "/Bad_Name:", "metadata.name: Invalid value"},
		},
		{
			name:  "wrong field type",
			files: map[string]string{"deploy/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typed}\ndata: {a: 1}\n"},
			want:  []string{"deploy/app.yaml: document 1 (line 1): ConfigMap " + ns + "/typed:", ".data.a"},
		},
		{
			name:  "missing namespace",
			files: map[string]string{"deploy/app.yaml": configMap("cm", "no-such-namespace-"+suffix(t))},
			want:  []string{"deploy/app.yaml: document 1 (line 1): ConfigMap no-such-namespace-", `namespaces "no-such-namespace-`, "not found"},
		},
		{
			name:  "template error",
			files: map[string]string{"deploy/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${{ nope }}\n"},
			with:  map[string]any{"template": true},
			want:  []string{"deploy/app.yaml: line 4, column 9: expression: unknown name nope"},
		},
		{
			name:  "empty folder",
			files: map[string]string{"deploy/README.md": "# nothing"},
			want:  []string{"path: deploy holds no manifests"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := step(t)
			s.Render = fakeRender
			writeFiles(t, s.Dir, tt.files)
			with := map[string]any{"path": "deploy", "namespace": ns}
			for k, v := range tt.with {
				with[k] = v
			}
			applied, err := applyIn(t, s, with)
			actiontest.WantErrorContains(t, err, tt.want...)
			actiontest.WantRetryable(t, err, tt.retryable)
			if len(applied) != 0 {
				t.Errorf("applied %s, want nothing", summary(applied))
			}
			if tt.absent != "" {
				wantAbsent(t, configMaps, ns, tt.absent)
			}
		})
	}
}

// fakeRender stands in for the runner's renderer: it knows env.COLOR and
// nothing else.
func fakeRender(text string) (string, error) {
	code := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(text, "${{"), "}}"))
	if code == "env.COLOR" {
		return "teal", nil
	}
	return "", fmt.Errorf("expression: unknown name %s", code)
}

func TestApplyTemplate(t *testing.T) {
	ns := testNamespace(t)
	manifest := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tpl\ndata:\n  color: ${{ env.COLOR }}\n  literal: \"$${ not a template }\"\n"
	for _, template := range []bool{false, true} {
		t.Run(fmt.Sprint("template=", template), func(t *testing.T) {
			s, _ := step(t)
			s.Render = fakeRender
			writeFiles(t, s.Dir, map[string]string{"m.yaml": manifest})
			name := "tpl-" + fmt.Sprint(template)
			writeFiles(t, s.Dir, map[string]string{"m.yaml": strings.Replace(manifest, "tpl", name, 1)})
			if _, err := applyIn(t, s, map[string]any{"path": filepath.Join(s.Dir, "m.yaml"), "namespace": ns, "template": template}); err != nil {
				t.Fatal(err)
			}
			want := map[bool]string{true: "teal", false: "${{ env.COLOR }}"}[template]
			data := get(t, configMaps, ns, name).Object["data"].(map[string]any)
			if data["color"] != want || data["literal"] != "$${ not a template }" {
				t.Errorf("data = %v, want color %q", data, want)
			}
		})
	}
	t.Run("no renderer", func(t *testing.T) {
		s, _ := step(t)
		writeFiles(t, s.Dir, map[string]string{"m.yaml": manifest})
		_, err := applyIn(t, s, map[string]any{"path": "m.yaml", "template": true})
		actiontest.WantErrorContains(t, err, "template: this runner cannot render templates")
	})
}
