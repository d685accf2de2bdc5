// Package applyaction is the `uses: apply` step (SPEC §6): Kubernetes manifests
// read from files, folders, a kustomization or the step itself, applied with
// server-side apply through client-go. Namespaces and CustomResourceDefinitions
// go first. The step can prune what an earlier apply of the same ApplySet made
// and this one no longer has, show a diff of each object, and wait for what it
// applied to become healthy. Its outputs list every object with whether it was
// created, configured, left unchanged or pruned.
package applyaction

import (
	"errors"
	"strings"
	"time"

	"github.com/hookflow/hookflow/actions"
)

const (
	// DefaultFieldManager is the server-side apply field manager when
	// `field_manager` is not set.
	DefaultFieldManager = "hookflow"
	// DefaultWaitTimeout bounds `wait`, and the wait for applied CRDs to be
	// established, when `wait_timeout` is not set.
	DefaultWaitTimeout = 5 * time.Minute
)

// Params are the `with:` settings of an apply step.
type Params struct {
	// Path is a manifest file, or a folder searched recursively for .yaml, .yml
	// and .json files; relative to the step's working directory.
	Path string `json:"path"`
	// Manifests are inline manifests: YAML documents separated by ---, or JSON.
	Manifests string `json:"manifests"`
	// Kustomize is a folder holding a kustomization file, built with the
	// kustomize library instead of reading Path; relative to the step's
	// working directory.
	Kustomize string `json:"kustomize"`
	// Template renders ${{ }} inside the files read from Path.
	Template bool `json:"template"`
	// Kubeconfig is the kubeconfig file to use; by default KUBECONFIG from the
	// step's env, else the in-cluster service account.
	Kubeconfig string `json:"kubeconfig"`
	// Context selects a kubeconfig context other than the current one.
	Context string `json:"context"`
	// Namespace is used for namespaced objects that name none.
	Namespace string `json:"namespace"`
	// FieldManager owns the applied fields, DefaultFieldManager when unset.
	FieldManager string `json:"field_manager"`
	// ForceConflicts takes over fields another field manager owns.
	ForceConflicts bool `json:"force_conflicts"`
	// DryRun has the server check and default the objects without storing them.
	DryRun bool `json:"dry_run"`
	// Wait waits until every applied object is healthy by kstatus, and Jobs
	// complete.
	Wait bool `json:"wait"`
	// WaitTimeout bounds Wait, DefaultWaitTimeout when unset.
	WaitTimeout actions.Duration `json:"wait_timeout"`
	// Prune deletes the objects an earlier apply of the same ApplySet made
	// and this one no longer has.
	Prune bool `json:"prune"`
	// ApplySet names the ApplySet's parent object: NAME or secrets/NAME (a
	// Secret), or configmaps/NAME, in Namespace. It needs Prune; by default
	// it is named after the workflow, job and step.
	ApplySet string `json:"applyset"`
	// Diff prints, and outputs, a unified diff of each live object against
	// the object as applied.
	Diff bool `json:"diff"`
}

// Kind returns the apply action kind.
func Kind() actions.Kind {
	return actions.Kind{
		Name:   "apply",
		Params: &Params{},
		New: func(with map[string]any) (actions.Action, error) {
			return newAction(with)
		},
	}
}

// Action applies one validated set of settings per Run. It holds no per-run
// state, so one Action may serve several attempts at once.
type Action struct {
	path           string
	kustomize      string
	inline         []*object // parsed from `manifests` when the action is built
	template       bool
	kubeconfig     string
	context        string
	namespace      string
	fieldManager   string
	forceConflicts bool
	dryRun         bool
	wait           bool
	waitTimeout    time.Duration
	prune          bool
	applySet       parentRef // zero: named after the step when it runs
	diff           bool
}

var _ actions.Action = (*Action)(nil)

func newAction(with map[string]any) (*Action, error) {
	if m, ok := with["manifests"]; ok {
		if _, isString := m.(string); !isString {
			return nil, errors.New("manifests: write the manifests as text, in a block: manifests: |")
		}
	}
	var p Params
	if err := actions.Decode(with, &p); err != nil {
		return nil, err
	}
	a := &Action{
		path:           p.Path,
		kustomize:      p.Kustomize,
		template:       p.Template,
		kubeconfig:     p.Kubeconfig,
		context:        p.Context,
		namespace:      p.Namespace,
		fieldManager:   DefaultFieldManager,
		forceConflicts: p.ForceConflicts,
		dryRun:         p.DryRun,
		wait:           p.Wait,
		waitTimeout:    DefaultWaitTimeout,
		prune:          p.Prune,
		diff:           p.Diff,
	}
	// Presence is read from with, not from the zero value, so that an explicit
	// empty value is reported instead of silently meaning "not set".
	if _, ok := with["path"]; ok && strings.TrimSpace(p.Path) == "" {
		return nil, errors.New("path: is empty: name a manifest file or folder")
	}
	if _, ok := with["manifests"]; ok {
		if strings.TrimSpace(p.Manifests) == "" {
			return nil, errors.New("manifests: is empty: write YAML or JSON manifests")
		}
		objs, err := parseManifests("manifests", []byte(p.Manifests))
		if err != nil {
			return nil, err
		}
		if len(objs) == 0 {
			return nil, errors.New("manifests: holds no objects, only comments or empty documents")
		}
		a.inline = objs
	}
	if _, ok := with["kustomize"]; ok {
		switch {
		case strings.TrimSpace(p.Kustomize) == "":
			return nil, errors.New("kustomize: is empty: name a folder holding a kustomization.yaml")
		case p.Path != "":
			return nil, errors.New("kustomize: builds the manifests instead of path: give one of them, " +
				"or list path's files under resources: in the kustomization")
		case isRemote(p.Kustomize):
			return nil, errors.New("kustomize: remote kustomizations are not fetched: " +
				"check the repository out with a `uses: git` step and name its folder")
		}
	}
	if p.Path == "" && p.Kustomize == "" && a.inline == nil {
		return nil, errors.New("give path (a manifest file or folder), kustomize (a kustomization folder) " +
			"or manifests (inline YAML or JSON)")
	}
	if _, ok := with["applyset"]; ok {
		if !p.Prune {
			return nil, errors.New("applyset: names the set prune deletes from: set prune: true as well")
		}
		ref, err := parseParentRef(p.ApplySet)
		if err != nil {
			return nil, err
		}
		a.applySet = ref
	}
	if p.Template && p.Path == "" {
		return nil, errors.New("template: renders the files read from path, and there is no path " +
			"(inline manifests are part of with: and always rendered)")
	}
	if _, ok := with["field_manager"]; ok {
		if p.FieldManager == "" || len(p.FieldManager) > 128 {
			return nil, errors.New("field_manager: must be 1 to 128 characters, e.g. hookflow")
		}
		a.fieldManager = p.FieldManager
	}
	if _, ok := with["context"]; ok && p.Context == "" {
		return nil, errors.New("context: is empty: name a context of the kubeconfig, or leave context out")
	}
	if _, ok := with["namespace"]; ok {
		if err := validateNamespace(p.Namespace); err != nil {
			return nil, err
		}
	}
	if _, ok := with["wait_timeout"]; ok {
		if p.WaitTimeout <= 0 {
			return nil, errors.New("wait_timeout: must be more than 0, e.g. 2m")
		}
		a.waitTimeout = time.Duration(p.WaitTimeout)
	}
	return a, nil
}

// validateNamespace checks that ns is a DNS label, as namespace names are.
func validateNamespace(ns string) error {
	if ns == "" || len(ns) > 63 {
		return errors.New("namespace: must be 1 to 63 characters, e.g. default")
	}
	for i, c := range ns {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0 && i < len(ns)-1) {
			return errors.New("namespace: must be lower-case letters, digits and '-', starting and ending with a letter or digit")
		}
	}
	return nil
}
