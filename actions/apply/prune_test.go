package applyaction

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	secrets      = gvr("", "v1", "secrets")
	clusterRoles = gvr("rbac.authorization.k8s.io", "v1", "clusterroles")
)

// kubectl runs the kubectl built with the test API server (scripts/kube-testenv.sh
// puts it beside the kubeconfig) and returns its output; an error fails the
// test unless wantErr.
func kubectl(t *testing.T, wantErr bool, args ...string) string {
	t.Helper()
	kc := testKubeconfig(t)
	bin := filepath.Join(filepath.Dir(kc), "kubectl")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no kubectl beside %s: %v (scripts/kube-testenv.sh start links it there)", kc, err)
	}
	cmd := exec.Command(bin, append([]string{"--kubeconfig", kc}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "KUBECTL_APPLYSET=true"}
	out, err := cmd.CombinedOutput()
	if (err != nil) != wantErr {
		t.Fatalf("kubectl %s: err %v, want error %v\n%s", strings.Join(args, " "), err, wantErr, out)
	}
	return string(out)
}

// pruneStep is a step named like a workflow's, so that its set has the
// default name deploy-apply.
func pruneStep(t *testing.T) (*actions.Step, *syncBuffer) {
	t.Helper()
	s, log := step(t)
	s.Workflow, s.StepID = "Deploy", "apply"
	return s, log
}

// run builds with and runs it on s, returning the outputs.
func run(t *testing.T, s *actions.Step, with map[string]any) (map[string]any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := build(t, with).Run(ctx, s)
	return res.Outputs, err
}

// prunedNames is the pruned output as "Kind ns/name" strings.
func prunedNames(t *testing.T, out map[string]any) []string {
	t.Helper()
	raw, ok := out["pruned"].([]any)
	if !ok {
		t.Fatalf("pruned is %T, want []any", out["pruned"])
	}
	var names []string
	for _, r := range raw {
		m := r.(map[string]any)
		name := m["name"].(string)
		if ns := m["namespace"].(string); ns != "" {
			name = ns + "/" + name
		}
		names = append(names, m["kind"].(string)+" "+name)
	}
	return names
}

func labelled(t *testing.T, r schema.GroupVersionResource, ns, selector string) []string {
	t.Helper()
	ri := testClient(t).Resource(r)
	l, err := ri.Namespace(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if ns == "" {
		l, err = ri.List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range l.Items {
		names = append(names, u.GetName())
	}
	slices.Sort(names)
	return names
}

// TestPrune applies a set, removes objects from it and applies again: the
// removed ones are deleted, and nothing outside the set is touched: not an
// object with the same labels made by kubectl, not a second set in the same
// namespace. A dry run lists what it would prune and deletes nothing.
func TestPrune(t *testing.T) {
	ns, other := testNamespace(t), testNamespace(t)
	sfx := suffix(t)
	role := "r-" + sfx
	s, log := pruneStep(t)
	files := map[string]string{
		"deploy/a.yaml": labelledConfigMap("a", "", "1"),
		"deploy/b.yaml": labelledConfigMap("b", "", "1"),
		"deploy/c.yaml": labelledConfigMap("c", other, "1"),
		"deploy/role.yaml": fmt.Sprintf("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: %s\n"+
			"rules:\n- apiGroups: [\"\"]\n  resources: [configmaps]\n  verbs: [get]\n", role),
	}
	writeFiles(t, s.Dir, files)
	with := map[string]any{"path": "deploy", "namespace": ns, "prune": true}
	if _, err := run(t, s, with); err != nil {
		t.Fatalf("first apply: %v\n%s", err, log)
	}

	id := applySetID(schema.GroupKind{Kind: "Secret"}, ns, "deploy-apply")
	parent := get(t, secrets, ns, "deploy-apply")
	if got := parent.GetLabels()[applySetIDLabel]; got != id {
		t.Errorf("parent id label = %q, want %q", got, id)
	}
	ann := parent.GetAnnotations()
	if got, want := ann[groupKindsAnnotation], "ClusterRole.rbac.authorization.k8s.io,ConfigMap"; got != want {
		t.Errorf("parent kinds = %q, want %q", got, want)
	}
	if got := ann[namespacesAnnotation]; got != other {
		t.Errorf("parent additional namespaces = %q, want %q", got, other)
	}
	if got := ann[toolingAnnotation]; got != "hookflow/v1" {
		t.Errorf("parent tooling = %q", got)
	}
	if got := labelled(t, configMaps, ns, partOfLabel+"="+id); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("members in %s = %v, want [a b]", ns, got)
	}

	// Outside the set: an object kubectl made with the same labels, and a
	// second set in the same namespace.
	kubectl(t, false, "-n", ns, "create", "configmap", "outsider", "--from-literal=v=1")
	kubectl(t, false, "-n", ns, "label", "configmap", "outsider", "app=web")
	s2, _ := pruneStep(t)
	s2.StepID = "other"
	if _, err := run(t, s2, map[string]any{"manifests": labelledConfigMap("second", "", "1"), "namespace": ns, "prune": true}); err != nil {
		t.Fatalf("second set: %v", err)
	}

	t.Run("dry run lists and deletes nothing", func(t *testing.T) {
		for _, f := range []string{"deploy/b.yaml", "deploy/c.yaml", "deploy/role.yaml"} {
			if err := os.Rename(filepath.Join(s.Dir, f), filepath.Join(s.Dir, f+".off")); err != nil {
				t.Fatal(err)
			}
		}
		out, err := run(t, s, map[string]any{"path": "deploy", "namespace": ns, "prune": true, "dry_run": true})
		if err != nil {
			t.Fatalf("%v\n%s", err, log)
		}
		checkPruned(t, out, "ConfigMap "+ns+"/b", "ConfigMap "+other+"/c", "ClusterRole "+role)
		if !strings.Contains(log.String(), "ConfigMap "+ns+"/b pruned (dry run)\n") {
			t.Errorf("log does not say b would be pruned:\n%s", log)
		}
		get(t, configMaps, ns, "b")
		get(t, configMaps, other, "c")
		get(t, clusterRoles, "", role)
		if got := get(t, secrets, ns, "deploy-apply").GetAnnotations()[groupKindsAnnotation]; got != ann[groupKindsAnnotation] {
			t.Errorf("a dry run changed the parent's kinds to %q", got)
		}
	})

	t.Run("prunes what left the set and only that", func(t *testing.T) {
		out, err := run(t, s, with)
		if err != nil {
			t.Fatalf("%v\n%s", err, log)
		}
		checkPruned(t, out, "ConfigMap "+ns+"/b", "ConfigMap "+other+"/c", "ClusterRole "+role)
		if got := fmt.Sprint(out["counts"]); got != "map[configured:0 created:0 pruned:3 unchanged:1]" {
			t.Errorf("counts = %s", got)
		}
		wantAbsent(t, configMaps, ns, "b")
		wantAbsent(t, configMaps, other, "c")
		if _, err := testClient(t).Resource(clusterRoles).Get(context.Background(), role, metav1.GetOptions{}); err == nil {
			t.Errorf("ClusterRole %s was not pruned", role)
		}
		get(t, configMaps, ns, "a")
		get(t, configMaps, ns, "outsider")
		get(t, configMaps, ns, "second")
		if got := labelled(t, configMaps, ns, "app=web"); !slices.Equal(got, []string{"a", "outsider", "second"}) {
			t.Errorf("ConfigMaps labelled app=web = %v, want [a outsider second]", got)
		}
		ann := get(t, secrets, ns, "deploy-apply").GetAnnotations()
		if ann[groupKindsAnnotation] != "ConfigMap" || ann[namespacesAnnotation] != "" {
			t.Errorf("parent not narrowed to this apply: kinds %q, namespaces %q", ann[groupKindsAnnotation], ann[namespacesAnnotation])
		}
	})
}

// checkPruned checks the pruned output: want, namespaced objects before
// cluster-scoped ones (the last of want).
func checkPruned(t *testing.T, out map[string]any, want ...string) {
	t.Helper()
	got := prunedNames(t, out)
	if len(got) != len(want) || got[len(got)-1] != want[len(want)-1] {
		t.Errorf("pruned = %v, want %v, %s last", got, want, want[len(want)-1])
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("pruned = %v, want %v", got, want)
	}
}

func labelledConfigMap(name, ns, v string) string {
	meta := "  name: " + name + "\n  labels: {app: web}\n"
	if ns != "" {
		meta += "  namespace: " + ns + "\n"
	}
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n" + meta + "data:\n  v: \"" + v + "\"\n"
}

// TestPruneAgreesWithKubectl checks that kubectl and hookflow read a set the
// same way: the id kubectl gives a set's parent is the one hookflow works
// out, and each refuses to prune the other's set.
func TestPruneAgreesWithKubectl(t *testing.T) {
	ns := testNamespace(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"k/cm.yaml": labelledConfigMap("by-kubectl", ns, "1")})
	kubectl(t, false, "apply", "-n", ns, "--server-side", "--prune", "--applyset=secrets/kset", "-f", filepath.Join(dir, "k"))

	id := applySetID(schema.GroupKind{Kind: "Secret"}, ns, "kset")
	if got := get(t, secrets, ns, "kset").GetLabels()[applySetIDLabel]; got != id {
		t.Errorf("kubectl's parent id = %q, hookflow's = %q", got, id)
	}
	if got := get(t, configMaps, ns, "by-kubectl").GetLabels()[partOfLabel]; got != id {
		t.Errorf("kubectl's member part-of = %q, want %q", got, id)
	}

	s, log := pruneStep(t)
	out, err := run(t, s, map[string]any{"manifests": labelledConfigMap("by-hookflow", "", "1"), "namespace": ns, "prune": true, "applyset": "kset"})
	if err == nil || !strings.Contains(err.Error(), `is managed by "kubectl", not by hookflow`) {
		t.Fatalf("hookflow on kubectl's set: err %v, want it refused\n%s", err, log)
	}
	if actions.IsRetryable(err) {
		t.Error("the refusal is retryable")
	}
	if len(out["applied"].([]any)) != 0 {
		t.Errorf("applied %v before refusing", out["applied"])
	}
	wantAbsent(t, configMaps, ns, "by-hookflow")
	get(t, configMaps, ns, "by-kubectl")

	if _, err := run(t, s, map[string]any{"manifests": labelledConfigMap("by-hookflow", "", "1"), "namespace": ns, "prune": true, "applyset": "hset"}); err != nil {
		t.Fatal(err)
	}
	msg := kubectl(t, true, "apply", "-n", ns, "--server-side", "--prune", "--applyset=secrets/hset", "-f", filepath.Join(dir, "k"))
	if !strings.Contains(msg, `managed by tooling "hookflow"`) {
		t.Errorf("kubectl on hookflow's set: %s", msg)
	}
	get(t, configMaps, ns, "by-hookflow")
}

// TestPruneRefusesOtherParents: a Secret that is no set's parent, or the
// parent of a set whose id is not the one its name gives, is not pruned from.
func TestPruneRefusesOtherParents(t *testing.T) {
	ns := testNamespace(t)
	kubectl(t, false, "-n", ns, "create", "secret", "generic", "plain", "--from-literal=k=v")
	kubectl(t, false, "-n", ns, "create", "secret", "generic", "copied", "--from-literal=k=v")
	kubectl(t, false, "-n", ns, "label", "secret", "copied", applySetIDLabel+"="+applySetID(schema.GroupKind{Kind: "Secret"}, ns, "elsewhere"))
	kubectl(t, false, "-n", ns, "annotate", "secret", "copied", toolingAnnotation+"=hookflow/v1")
	for name, want := range map[string]string{
		"plain":  "exists and is not an ApplySet's parent",
		"copied": "is the parent of another set",
	} {
		s, _ := pruneStep(t)
		_, err := run(t, s, map[string]any{"manifests": labelledConfigMap("x", "", "1"), "namespace": ns, "prune": true, "applyset": name})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("applyset %s: err %v, want %q", name, err, want)
		}
	}
	wantAbsent(t, configMaps, ns, "x")
}

// TestDiff shows exactly the changed field, masks a Secret's values, and
// with dry_run changes nothing.
func TestDiff(t *testing.T) {
	ns := testNamespace(t)
	s, log := pruneStep(t)
	secret := func(v string) string {
		return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\nstringData:\n  token: " + v + "\n  same: unchanged-value\n"
	}
	cm := func(color string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: " + color + "\n  size: large\n"
	}
	if _, err := run(t, s, map[string]any{"manifests": cm("blue") + "---\n" + secret("first-secret-value"), "namespace": ns}); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, s, map[string]any{"manifests": cm("green") + "---\n" + secret("second-secret-value"), "namespace": ns, "diff": true, "dry_run": true})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	diff, _ := out["diff"].(string)
	var changed []string
	for l := range strings.Lines(diff) {
		if (strings.HasPrefix(l, "+") || strings.HasPrefix(l, "-")) && !strings.HasPrefix(l, "+++") && !strings.HasPrefix(l, "---") {
			changed = append(changed, strings.TrimRight(l, "\n"))
		}
	}
	want := []string{"-  color: blue", "+  color: green", "-  token: '*** (before)'", "+  token: '*** (after)'"}
	if !slices.Equal(changed, want) {
		t.Errorf("changed lines %q, want %q\ndiff:\n%s", changed, want, diff)
	}
	for _, h := range []string{"--- live/ConfigMap/" + ns + "/settings\n", "+++ applied/ConfigMap/" + ns + "/settings\n", "--- live/Secret/" + ns + "/token\n"} {
		if !strings.Contains(diff, h) {
			t.Errorf("diff lacks header %q:\n%s", h, diff)
		}
	}
	for _, secretText := range []string{"secret-value", "unchanged-value", "c2Vjb25k", "Zmlyc3Q"} {
		if strings.Contains(diff, secretText) || strings.Contains(log.String(), secretText) {
			t.Errorf("diff or log shows %q:\n%s", secretText, log)
		}
	}
	if !strings.Contains(log.String(), "+  color: green\n") {
		t.Errorf("the log lacks the diff:\n%s", log)
	}
	if got := get(t, configMaps, ns, "settings").Object["data"]; fmt.Sprint(got) != "map[color:blue size:large]" {
		t.Errorf("a dry run changed the ConfigMap: %v", got)
	}

	t.Run("unchanged objects have no diff", func(t *testing.T) {
		out, err := run(t, s, map[string]any{"manifests": cm("blue"), "namespace": ns, "diff": true})
		if err != nil {
			t.Fatal(err)
		}
		if out["diff"] != "" {
			t.Errorf("diff = %q, want none", out["diff"])
		}
	})
	t.Run("a new object is all additions", func(t *testing.T) {
		out, err := run(t, s, map[string]any{"manifests": strings.Replace(cm("red"), "settings", "fresh", 1), "namespace": ns, "diff": true})
		if err != nil {
			t.Fatal(err)
		}
		d := out["diff"].(string)
		if !strings.Contains(d, "+  color: red\n") || strings.Contains(d, "\n-") || strings.Contains(d, "uid:") {
			t.Errorf("diff of a new object:\n%s", d)
		}
	})
}

func TestDefaultSetName(t *testing.T) {
	for _, tc := range []struct{ workflow, job, step, want string }{
		{"deploy", "", "apply", "deploy-apply"},
		{"Deploy Web!", "prod", "step-2", "deploy-web--prod-step-2"},
		{"_x_", "", "a.b", "x--a-b"},
		{strings.Repeat("w", 300), "", "s", strings.Repeat("w", 253)},
	} {
		if got := defaultSetName(tc.workflow, tc.job, tc.step); got != tc.want {
			t.Errorf("defaultSetName(%q, %q, %q) = %q, want %q", tc.workflow, tc.job, tc.step, got, tc.want)
		}
	}
}
