package applyaction

import (
	"slices"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/actions/actiontest"
)

func TestKind(t *testing.T) {
	k := Kind()
	if k.Name != "apply" {
		t.Errorf("Name = %q, want apply", k.Name)
	}
	want := []string{"path", "manifests", "kustomize", "template", "kubeconfig", "context", "namespace", "field_manager",
		"force_conflicts", "dry_run", "wait", "wait_timeout", "prune", "applyset", "diff"}
	if got := actions.ParamKeys(k.Params); !slices.Equal(got, want) {
		t.Errorf("ParamKeys = %v, want %v", got, want)
	}
	if _, err := actions.NewRegistry(k); err != nil {
		t.Errorf("NewRegistry: %v", err)
	}
}

const oneConfigMap = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		with map[string]any
		want string // part of the error
	}{
		{"nothing to apply", map[string]any{}, "give path (a manifest file or folder), kustomize"},
		{"unknown key", map[string]any{"path": "d", "force": true}, `unknown field "force"`},
		{"wrong type", map[string]any{"path": "d", "wait": "yes"}, "wait"},
		{"empty path", map[string]any{"path": " "}, "path: is empty"},
		{"manifests as a mapping", map[string]any{"manifests": map[string]any{"kind": "ConfigMap"}}, "manifests: write the manifests as text"},
		{"empty manifests", map[string]any{"manifests": "\n"}, "manifests: is empty"},
		{"only comments", map[string]any{"manifests": "# nothing\n---\n"}, "manifests: holds no objects"},
		{"bad inline YAML", map[string]any{"manifests": oneConfigMap + "---\nkind: [\n"}, "manifests: document 2 (line 5): invalid YAML: line 5"},
		{"inline without name", map[string]any{"manifests": "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"}, "metadata.name missing"},
		{"template without path", map[string]any{"manifests": oneConfigMap, "template": true}, "template: renders the files read from path"},
		{"empty field_manager", map[string]any{"path": "d", "field_manager": ""}, "field_manager: must be 1 to 128 characters"},
		{"empty context", map[string]any{"path": "d", "context": ""}, "context: is empty"},
		{"bad namespace", map[string]any{"path": "d", "namespace": "Prod"}, "namespace: must be lower-case letters"},
		{"namespace ending in -", map[string]any{"path": "d", "namespace": "prod-"}, "namespace: must be lower-case letters"},
		{"empty namespace", map[string]any{"path": "d", "namespace": ""}, "namespace: must be 1 to 63 characters"},
		{"zero wait_timeout", map[string]any{"path": "d", "wait": true, "wait_timeout": "0s"}, "wait_timeout: must be more than 0"},
		{"bad wait_timeout", map[string]any{"path": "d", "wait": true, "wait_timeout": "soon"}, "invalid duration"},
		{"empty kustomize", map[string]any{"kustomize": " "}, "kustomize: is empty"},
		{"kustomize and path", map[string]any{"kustomize": "k", "path": "d"}, "kustomize: builds the manifests instead of path"},
		{"remote kustomize", map[string]any{"kustomize": "github.com/org/repo//deploy?ref=v1"}, "kustomize: remote kustomizations are not fetched"},
		{"template with kustomize", map[string]any{"kustomize": "k", "template": true}, "template: renders the files read from path"},
		{"applyset without prune", map[string]any{"path": "d", "applyset": "web"}, "applyset: names the set prune deletes from: set prune: true"},
		{"applyset of another kind", map[string]any{"path": "d", "prune": true, "applyset": "deployments/web"}, `applyset: "deployments": the parent is a Secret`},
		{"applyset without name", map[string]any{"path": "d", "prune": true, "applyset": "secrets/"}, "applyset: name the set's parent object"},
		{"applyset not a name", map[string]any{"path": "d", "prune": true, "applyset": "Web_Set"}, `applyset: "Web_Set": a lowercase RFC 1123 subdomain`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Kind().New(tt.with)
			actiontest.WantErrorContains(t, err, tt.want)
		})
	}
}

func TestNewDefaults(t *testing.T) {
	a := build(t, map[string]any{"path": "deploy"})
	if a.fieldManager != "hookflow" || a.waitTimeout != 5*time.Minute || a.forceConflicts || a.dryRun || a.wait || a.template {
		t.Errorf("defaults: %+v", a)
	}
	a = build(t, map[string]any{
		"path": "deploy", "manifests": oneConfigMap, "template": true, "kubeconfig": "/k", "context": "c",
		"namespace": "prod", "field_manager": "ci", "force_conflicts": true, "dry_run": true,
		"wait": true, "wait_timeout": 90,
	})
	if a.fieldManager != "ci" || a.waitTimeout != 90*time.Second || !a.forceConflicts || !a.dryRun || !a.wait ||
		!a.template || a.namespace != "prod" || a.context != "c" || a.kubeconfig != "/k" || len(a.inline) != 1 {
		t.Errorf("settings: %+v", a)
	}
}
