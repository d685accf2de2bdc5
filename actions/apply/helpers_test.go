package applyaction

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

// kubeconfigEnv names the kubeconfig of the test API server. The tests that
// need one fail, never skip, without it.
const kubeconfigEnv = "HOOKFLOW_TEST_KUBECONFIG"

// testKubeconfig returns the path of the test API server's kubeconfig.
func testKubeconfig(t *testing.T) string {
	t.Helper()
	path := os.Getenv(kubeconfigEnv)
	if path == "" {
		t.Fatalf("%s is not set: start a test API server with\n"+
			"\tscripts/kube-testenv.sh build && scripts/kube-testenv.sh start DIR\n"+
			"and set %s=DIR/kubeconfig (make test does both)", kubeconfigEnv, kubeconfigEnv)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s: %v: start the test API server with scripts/kube-testenv.sh start DIR", kubeconfigEnv, err)
	}
	return path
}

// testClient returns a dynamic client for the test API server.
func testClient(t *testing.T) dynamic.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", testKubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	c, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// suffix is a random lower-case hex string, so that tests, and repeated runs
// against one server, do not share objects.
func suffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// testNamespace creates a namespace of its own for the test. Nothing deletes
// it: without a controller manager a deleted namespace never goes away.
func testNamespace(t *testing.T) string {
	t.Helper()
	name := "t-" + suffix(t)
	ns := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name},
	}}
	_, err := testClient(t).Resource(gvr("", "v1", "namespaces")).Create(context.Background(), ns, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

func gvr(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

var (
	configMaps  = gvr("", "v1", "configmaps")
	deployments = gvr("apps", "v1", "deployments")
	jobs        = gvr("batch", "v1", "jobs")
	crds        = gvr("apiextensions.k8s.io", "v1", "customresourcedefinitions")
)

// get reads one object; a missing one fails the test.
func get(t *testing.T, r schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	t.Helper()
	ri := testClient(t).Resource(r)
	var u *unstructured.Unstructured
	var err error
	if ns != "" {
		u, err = ri.Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	} else {
		u, err = ri.Get(context.Background(), name, metav1.GetOptions{})
	}
	if err != nil {
		t.Fatalf("get %s %s/%s: %v", r.Resource, ns, name, err)
	}
	return u
}

// wantAbsent fails the test if the object exists.
func wantAbsent(t *testing.T, r schema.GroupVersionResource, ns, name string) {
	t.Helper()
	_, err := testClient(t).Resource(r).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("%s %s/%s: got err %v, want NotFound", r.Resource, ns, name, err)
	}
}

// build makes an action from with, failing the test if with does not build.
func build(t *testing.T, with map[string]any) *Action {
	t.Helper()
	a, err := newAction(with)
	if err != nil {
		t.Fatalf("New(%v): %v", with, err)
	}
	return a
}

// step is an actions.Step for the test API server: KUBECONFIG in its env, a
// temporary working directory, and a log buffer.
func step(t *testing.T) (*actions.Step, *syncBuffer) {
	t.Helper()
	var log syncBuffer
	dir := t.TempDir()
	return &actions.Step{
		Workspace: dir, Dir: dir, TempDir: dir,
		Env:    []string{"PATH=/usr/bin:/bin", "KUBECONFIG=" + testKubeconfig(t)},
		Stdout: &log, Stderr: &log,
	}, &log
}

// apply builds with and runs it once on a fresh step, returning the applied
// list, the log and the error.
func apply(t *testing.T, with map[string]any) ([]map[string]any, string, error) {
	t.Helper()
	s, log := step(t)
	applied, err := applyIn(t, s, with)
	return applied, log.String(), err
}

// applyIn builds with and runs it once on s, returning the applied list and
// the error.
func applyIn(t *testing.T, s *actions.Step, with map[string]any) ([]map[string]any, error) {
	t.Helper()
	a := build(t, with)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := a.Run(ctx, s)
	return appliedList(t, res), err
}

// appliedList returns the `applied` output as a list of maps.
func appliedList(t *testing.T, res actions.Result) []map[string]any {
	t.Helper()
	raw, ok := res.Outputs["applied"].([]any)
	if !ok {
		t.Fatalf("outputs %v: applied is %T, want []any", res.Outputs, res.Outputs["applied"])
	}
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		out[i] = r.(map[string]any)
	}
	return out
}

// summary is the applied list as "Kind ns/name result" lines, for comparing.
func summary(applied []map[string]any) string {
	lines := make([]string, len(applied))
	for i, a := range applied {
		name := a["name"].(string)
		if ns := a["namespace"].(string); ns != "" {
			name = ns + "/" + name
		}
		lines[i] = a["kind"].(string) + " " + name + " " + a["result"].(string)
	}
	return strings.Join(lines, "\n")
}

// writeFiles writes files (name to content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// syncBuffer is a log sink safe for the two writers a Step may have.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
