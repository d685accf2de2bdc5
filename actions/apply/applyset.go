package applyaction

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hookflow/hookflow/actions"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
)

// The labels and annotations of the ApplySet specification (KEP 3659), as
// `kubectl apply --prune --applyset` writes them, so that kubectl and
// hookflow agree about which objects belong to a set.
const (
	// applySetIDLabel marks the parent object, with the set's id.
	applySetIDLabel = "applyset.kubernetes.io/id"
	// partOfLabel marks a member object, with the id of its set.
	partOfLabel = "applyset.kubernetes.io/part-of"
	// toolingAnnotation names the tool that manages the set: tool/version.
	toolingAnnotation = "applyset.kubernetes.io/tooling"
	// groupKindsAnnotation lists the kinds of the members, so that pruning
	// knows which resources to look through.
	groupKindsAnnotation = "applyset.kubernetes.io/contains-group-kinds"
	// namespacesAnnotation lists the namespaces, other than the parent's,
	// that members are in.
	namespacesAnnotation = "applyset.kubernetes.io/additional-namespaces"
	// toolName is hookflow's name in toolingAnnotation. A parent another
	// tool manages is never pruned from, as kubectl refuses one of ours.
	toolName = "hookflow"
)

var (
	secretKind    = schema.GroupVersionKind{Version: "v1", Kind: "Secret"}
	configMapKind = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
)

// parentRef names an ApplySet's parent object; its namespace is settled when
// the step runs.
type parentRef struct {
	kind schema.GroupVersionKind
	name string
}

// parseParentRef reads `applyset`: NAME or secrets/NAME for a Secret, the
// kind kubectl uses by default, or configmaps/NAME for a ConfigMap.
func parseParentRef(s string) (parentRef, error) {
	ref := parentRef{kind: secretKind, name: s}
	if resource, name, ok := strings.Cut(s, "/"); ok {
		switch resource {
		case "secrets", "secret":
		case "configmaps", "configmap":
			ref.kind = configMapKind
		default:
			return parentRef{}, fmt.Errorf("applyset: %q: the parent is a Secret (NAME or secrets/NAME) or a ConfigMap (configmaps/NAME)", resource)
		}
		ref.name = name
	}
	if ref.name == "" {
		return parentRef{}, errors.New("applyset: name the set's parent object, e.g. applyset: web-deploy")
	}
	if errs := validation.IsDNS1123Subdomain(ref.name); len(errs) > 0 {
		return parentRef{}, fmt.Errorf("applyset: %q: %s", ref.name, errs[0])
	}
	return ref, nil
}

// applySetID is the id of the set whose parent is kind name in namespace, as
// the ApplySet specification defines it: a hash of the parent's identity, so
// that the same parent always stands for the same set.
func applySetID(kind schema.GroupKind, namespace, name string) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{name, namespace, kind.Kind, kind.Group}, ".")))
	return "applyset-" + base64.RawURLEncoding.EncodeToString(sum[:]) + "-v1"
}

// toolingValue is what hookflow writes in toolingAnnotation: its name and the
// version of the way it keeps sets, which kubectl's own check reads no
// further than the name.
const toolingValue = toolName + "/v1"

// defaultSetName names the set of a step that names none: after its
// workflow, its job (in a workflow of jobs) and the step, made into a name
// the API server takes.
func defaultSetName(workflow, job, step string) string {
	parts := []string{workflow}
	if job != "" {
		parts = append(parts, job)
	}
	parts = append(parts, step)
	var b strings.Builder
	for _, r := range strings.ToLower(strings.Join(parts, "-")) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	if len(name) > 253 {
		name = strings.Trim(name[:253], "-")
	}
	return name
}

// applySet is the ApplySet of one apply: its parent object and the kinds
// and namespaces the parent recorded before this apply, which pruning looks
// through as well as this apply's own.
type applySet struct {
	ref       parentRef
	namespace string
	id        string
	parent    dynamic.ResourceInterface
	// Recorded by the parent before this apply; empty for a new set.
	kinds      []schema.GroupKind
	namespaces []string
}

// describe names the parent as the log and errors do.
func (s *applySet) describe() string {
	return s.ref.kind.Kind + " " + s.namespace + "/" + s.ref.name
}

// openApplySet reads the set's parent, in the namespace of the step's
// objects that name none. A missing parent is a new, empty set. A parent
// that is not one, that is another set's, or that another tool manages is
// refused: pruning it would delete what someone else applied.
func (a *Action) openApplySet(ctx context.Context, c *cluster, step *actions.Step) (*applySet, error) {
	ref := a.applySet
	if ref.name == "" {
		ref = parentRef{kind: secretKind, name: defaultSetName(step.Workflow, step.Job, step.StepID)}
	}
	resource := "secrets"
	if ref.kind == configMapKind {
		resource = "configmaps"
	}
	s := &applySet{
		ref:       ref,
		namespace: c.namespace,
		id:        applySetID(ref.kind.GroupKind(), c.namespace, ref.name),
		parent:    c.dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: resource}).Namespace(c.namespace),
	}
	u, err := s.parent.Get(ctx, ref.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return s, nil
	}
	if err != nil {
		return nil, classify(fmt.Errorf("applyset: reading %s: %w", s.describe(), apiError{err}))
	}
	id, isParent := u.GetLabels()[applySetIDLabel]
	tool, _, _ := strings.Cut(u.GetAnnotations()[toolingAnnotation], "/")
	switch {
	case !isParent:
		return nil, actions.Permanent(fmt.Errorf("applyset: %s exists and is not an ApplySet's parent: "+
			"name another applyset", s.describe()))
	case id != s.id:
		return nil, actions.Permanent(fmt.Errorf("applyset: %s is the parent of another set (%s %s): "+
			"name another applyset", s.describe(), applySetIDLabel, id))
	case tool != toolName:
		return nil, actions.Permanent(fmt.Errorf("applyset: %s is managed by %q, not by %s: "+
			"pruning would delete what it applied; name another applyset", s.describe(), tool, toolName))
	}
	for _, k := range splitList(u.GetAnnotations()[groupKindsAnnotation]) {
		s.kinds = append(s.kinds, schema.ParseGroupKind(k))
	}
	s.namespaces = splitList(u.GetAnnotations()[namespacesAnnotation])
	return s, nil
}

// splitList reads a comma-separated annotation.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// adopt marks each object as a member of the set.
func (s *applySet) adopt(objs []*object) {
	for _, o := range objs {
		labels := o.obj.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[partOfLabel] = s.id
		o.obj.SetLabels(labels)
	}
}

// record writes the parent so that it lists kinds and the namespaces other
// than its own, sorted. Before the members are applied it is given those of
// the earlier apply as well, so that a step that stops half way still
// prunes what either apply made; after pruning, only this apply's.
func (s *applySet) record(ctx context.Context, a *Action, kinds []schema.GroupKind, namespaces []string) error {
	names := make([]string, 0, len(kinds))
	for _, k := range kinds {
		names = append(names, k.String())
	}
	slices.Sort(names)
	names = slices.Compact(names)
	var others []string
	for _, ns := range namespaces {
		if ns != "" && ns != s.namespace {
			others = append(others, ns)
		}
	}
	slices.Sort(others)
	others = slices.Compact(others)
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(s.ref.kind)
	u.SetName(s.ref.name)
	u.SetNamespace(s.namespace)
	u.SetLabels(map[string]string{applySetIDLabel: s.id})
	u.SetAnnotations(map[string]string{
		toolingAnnotation:    toolingValue,
		groupKindsAnnotation: strings.Join(names, ","),
		namespacesAnnotation: strings.Join(others, ","),
	})
	// The parent is hookflow's (openApplySet checked), so its fields are
	// taken over even from an earlier field_manager of the same step.
	_, err := s.parent.Apply(ctx, s.ref.name, u, metav1.ApplyOptions{FieldManager: a.fieldManager, Force: true})
	if err != nil {
		return classify(fmt.Errorf("applyset: writing %s: %w", s.describe(), apiError{err}))
	}
	return nil
}

// objectKey is an object's identity within a set.
type objectKey struct {
	gk              schema.GroupKind
	namespace, name string
}

func keyOf(u *unstructured.Unstructured) objectKey {
	return objectKey{u.GroupVersionKind().GroupKind(), u.GetNamespace(), u.GetName()}
}

// member is an object of the set found on the server.
type member struct {
	gk schema.GroupKind
	u  *unstructured.Unstructured
	ri dynamic.ResourceInterface
}

// describe names the member as the log does.
func (m member) describe() string {
	if ns := m.u.GetNamespace(); ns != "" {
		return m.gk.Kind + " " + ns + "/" + m.u.GetName()
	}
	return m.gk.Kind + " " + m.u.GetName()
}

// stale finds the members of the set, of the given kinds and in the given
// namespaces, that keep does not hold: those to prune. They are listed by
// the set's label alone, so no object outside the set is ever among them.
// A kind the server no longer serves has no objects left. Namespaced
// objects come first, then cluster-scoped ones, then CRDs and last
// Namespaces, the reverse of the order they are applied in.
func (s *applySet) stale(ctx context.Context, c *cluster, kinds []schema.GroupKind, namespaces []string, keep map[objectKey]bool) ([]member, error) {
	slices.SortFunc(kinds, func(x, y schema.GroupKind) int { return strings.Compare(x.String(), y.String()) })
	kinds = slices.Compact(kinds)
	namespaces = append([]string{s.namespace}, namespaces...)
	slices.Sort(namespaces)
	namespaces = slices.Compact(namespaces)
	selector := partOfLabel + "=" + s.id
	var found []member
	for _, gk := range kinds {
		m, err := c.mapper.RESTMapping(gk)
		if meta.IsNoMatchError(err) {
			continue
		}
		if err != nil {
			return nil, classify(fmt.Errorf("prune: finding the resource of %s: %w", gk, err))
		}
		var lists []dynamic.ResourceInterface
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			for _, ns := range namespaces {
				lists = append(lists, c.dynamic.Resource(m.Resource).Namespace(ns))
			}
		} else {
			lists = append(lists, c.dynamic.Resource(m.Resource))
		}
		for _, ri := range lists {
			opts := metav1.ListOptions{LabelSelector: selector, Limit: 500}
			for {
				l, err := ri.List(ctx, opts)
				if err != nil {
					return nil, classify(fmt.Errorf("prune: listing %s of the set: %w", m.Resource.Resource, apiError{err}))
				}
				for i := range l.Items {
					u := &l.Items[i]
					if !keep[objectKey{gk, u.GetNamespace(), u.GetName()}] {
						found = append(found, member{gk: gk, u: u, ri: resourceIn(c, m, u.GetNamespace())})
					}
				}
				if opts.Continue = l.GetContinue(); opts.Continue == "" {
					break
				}
			}
		}
	}
	rank := func(m member) int {
		switch {
		case m.gk == crdKind:
			return 2
		case m.gk == namespaceKind:
			return 3
		case m.u.GetNamespace() == "":
			return 1
		}
		return 0
	}
	slices.SortStableFunc(found, func(x, y member) int { return rank(x) - rank(y) })
	return found, nil
}

// resourceIn is the client of m's resource in namespace ns ("" for a
// cluster-scoped one).
func resourceIn(c *cluster, m *meta.RESTMapping, ns string) dynamic.ResourceInterface {
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.dynamic.Resource(m.Resource).Namespace(ns)
	}
	return c.dynamic.Resource(m.Resource)
}

// remove deletes the member, or with dryRun has the server check that it
// could. The UID precondition keeps it from deleting an object of the same
// name made since it was listed. It reports whether the member is gone
// because of it: false when someone else deleted or replaced it first.
func (m member) remove(ctx context.Context, dryRun bool) (bool, error) {
	uid := m.u.GetUID()
	background := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &background}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	err := m.ri.Delete(ctx, m.u.GetName(), opts)
	switch {
	case apierrors.IsNotFound(err), apierrors.IsConflict(err):
		return false, nil
	case err != nil:
		return false, classify(fmt.Errorf("prune: deleting %s: %w", m.describe(), apiError{err}))
	}
	return true, nil
}
