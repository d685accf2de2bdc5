package applyaction

import (
	"context"
	"errors"
	"net"
	"reflect"
	"slices"
	"strings"

	"github.com/hookflow/hookflow/actions"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The results an applied object can have.
const (
	Created    = "created"
	Configured = "configured"
	Unchanged  = "unchanged"
)

var (
	namespaceKind = schema.GroupKind{Kind: "Namespace"}
	crdKind       = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}
)

// Run reads the manifests, then applies them with server-side apply:
// Namespaces first, then CustomResourceDefinitions (waiting until they are
// established), then the other objects in the order they were read. Every
// object is checked and, unless a CRD of this step defines its kind, mapped
// to its resource before the first one is applied. With prune, the set's
// parent is checked before that too, its members are labelled as such, and
// once all are applied the members this apply no longer has are deleted.
// With wait, it then waits for what it applied to become healthy.
//
// The outputs (see report) hold what was done, also when it fails part way.
// One line per object goes to s.Stdout, and with diff its diff. Errors name
// the file, the document, the kind and the name. Network errors, timeouts
// and the server's 5xx, 429 and conflicts of resourceVersion are retryable;
// a bad manifest or setting, a refused object, a field-manager conflict or a
// set another tool manages is not. Nothing is pruned after a failed apply.
func (a *Action) Run(ctx context.Context, s *actions.Step) (actions.Result, error) {
	rep := newReport(a, s.Stdout)
	objs, err := a.manifests(s)
	if err != nil {
		return rep.result(), actions.Permanent(err)
	}
	c, err := a.connect(s.Env, s.Dir)
	if err != nil {
		return rep.result(), actions.Permanent(err)
	}

	objs = ordered(objs)
	defined := definedKinds(objs)
	mappings := make([]*meta.RESTMapping, len(objs))
	for i, o := range objs {
		if defined[o.obj.GroupVersionKind().GroupKind()] {
			continue // mapped once its CRD is established
		}
		if mappings[i], err = c.mapping(o); err != nil {
			return rep.result(), err
		}
	}
	var set *applySet
	if a.prune {
		if set, err = a.openApplySet(ctx, c, s); err != nil {
			return rep.result(), err
		}
		set.adopt(objs)
	}
	kinds, namespaces := membership(objs, c.namespace)

	var watched []watch
	keep := map[objectKey]bool{}
	apply := func(i int) error {
		o := objs[i]
		result, before, after, err := a.applyOne(ctx, c, o, mappings[i])
		if err != nil {
			return err
		}
		keep[keyOf(o.obj)] = true
		watched = append(watched, watch{o, mappings[i]})
		return rep.applied(o, result, before, after)
	}

	// Namespaces come first in objs, then CRDs; the others need them. The
	// set's parent may live in one of the namespaces, and is written before
	// any other object joins the set.
	firstCRD := slices.IndexFunc(objs, func(o *object) bool { return o.obj.GroupVersionKind().GroupKind() != namespaceKind })
	first := slices.IndexFunc(objs, func(o *object) bool {
		gk := o.obj.GroupVersionKind().GroupKind()
		return gk != namespaceKind && gk != crdKind
	})
	if firstCRD < 0 {
		firstCRD = len(objs)
	}
	if first < 0 {
		first = len(objs)
	}
	for i := range firstCRD {
		if err := apply(i); err != nil {
			return rep.result(), err
		}
	}
	if set != nil && !a.dryRun {
		if err := set.record(ctx, a, slices.Concat(set.kinds, kinds), slices.Concat(set.namespaces, namespaces)); err != nil {
			return rep.result(), err
		}
	}
	for i := firstCRD; i < first; i++ {
		if err := apply(i); err != nil {
			return rep.result(), err
		}
	}
	if err := a.establish(ctx, c, objs[:first], s); err != nil {
		return rep.result(), err
	}
	for i := first; i < len(objs); i++ {
		if mappings[i] == nil {
			if mappings[i], err = a.waitMapping(ctx, c, objs[i]); err != nil {
				return rep.result(), err
			}
		}
		if err := apply(i); err != nil {
			return rep.result(), err
		}
	}
	if set != nil {
		if err := a.pruneSet(ctx, c, set, kinds, namespaces, keep, rep); err != nil {
			return rep.result(), err
		}
	}
	if a.wait && !a.dryRun {
		if err := a.waitHealthy(ctx, c, watched, s); err != nil {
			return rep.result(), err
		}
	}
	return rep.result(), nil
}

// pruneSet deletes the members of set that this apply does not hold, then
// narrows the parent to this apply's kinds and namespaces. In a dry run the
// server checks each deletion and nothing changes.
func (a *Action) pruneSet(ctx context.Context, c *cluster, set *applySet, kinds []schema.GroupKind, namespaces []string, keep map[objectKey]bool, rep *report) error {
	stale, err := set.stale(ctx, c, slices.Concat(set.kinds, kinds), slices.Concat(set.namespaces, namespaces), keep)
	if err != nil {
		return err
	}
	for _, m := range stale {
		gone, err := m.remove(ctx, a.dryRun)
		if err != nil {
			return err
		}
		if gone {
			if err := rep.pruned(m); err != nil {
				return err
			}
		}
	}
	if a.dryRun {
		return nil
	}
	return set.record(ctx, a, kinds, namespaces)
}

// membership is the kinds of objs and the namespaces they are in, as the
// set's parent records them. An object whose kind is not mapped yet counts
// as in its namespace or fallback: recording a namespace too many only
// costs a look through it when pruning.
func membership(objs []*object, fallback string) ([]schema.GroupKind, []string) {
	var kinds []schema.GroupKind
	var namespaces []string
	for _, o := range objs {
		kinds = append(kinds, o.obj.GroupVersionKind().GroupKind())
		if ns := o.obj.GetNamespace(); ns != "" {
			namespaces = append(namespaces, ns)
		}
	}
	return kinds, append(namespaces, fallback)
}

// manifests reads the inline manifests and those under path or built from
// the kustomization, inline first.
// The inline ones are copies: Run sets their namespaces, and the Action may
// serve several runs at once.
func (a *Action) manifests(s *actions.Step) ([]*object, error) {
	objs := make([]*object, 0, len(a.inline))
	for _, o := range a.inline {
		objs = append(objs, &object{source: o.source, obj: o.obj.DeepCopy()})
	}
	if a.kustomize != "" {
		more, err := buildKustomization(s.Dir, a.kustomize, viewOf(s))
		if err != nil {
			return nil, err
		}
		return append(objs, more...), nil
	}
	if a.path == "" {
		return objs, nil
	}
	var render func(string) (string, error)
	if a.template {
		if s.Render == nil {
			return nil, errors.New("template: this runner cannot render templates")
		}
		render = s.Render
	}
	more, err := readPath(s.Dir, a.path, render, viewOf(s))
	if err != nil {
		return nil, err
	}
	return append(objs, more...), nil
}

// ordered returns objs with Namespaces first and CRDs second, the rest
// keeping their order.
func ordered(objs []*object) []*object {
	rank := func(o *object) int {
		switch o.obj.GroupVersionKind().GroupKind() {
		case namespaceKind:
			return 0
		case crdKind:
			return 1
		}
		return 2
	}
	out := slices.Clone(objs)
	slices.SortStableFunc(out, func(x, y *object) int { return rank(x) - rank(y) })
	return out
}

// definedKinds are the kinds the CRDs among objs define.
func definedKinds(objs []*object) map[schema.GroupKind]bool {
	kinds := map[schema.GroupKind]bool{}
	for _, o := range objs {
		if o.obj.GroupVersionKind().GroupKind() != crdKind {
			continue
		}
		group, _, _ := unstructured.NestedString(o.obj.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.obj.Object, "spec", "names", "kind")
		if group != "" && kind != "" {
			kinds[schema.GroupKind{Group: group, Kind: kind}] = true
		}
	}
	return kinds
}

// mapping finds o's resource and settles its namespace: the default for a
// namespaced object that names none, none for a cluster-scoped one.
func (c *cluster) mapping(o *object) (*meta.RESTMapping, error) {
	gvk := o.obj.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		return nil, actions.Permanent(o.errorf("%w: check apiVersion and kind, "+
			"or apply the CustomResourceDefinition that defines it first", err))
	}
	if err != nil {
		return nil, classify(o.errorf("finding its resource: %w", err))
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if o.obj.GetNamespace() == "" {
			o.obj.SetNamespace(c.namespace)
		}
	} else {
		o.obj.SetNamespace("")
	}
	return m, nil
}

// applyOne applies o and says whether that created it, changed it or left it
// as it was. An object that existed is unchanged when its resourceVersion
// stayed the same, or when it changed but only in metadata.managedFields: the
// server writes that bookkeeping late for some kinds (the second apply of a
// Namespace fills it in), and no value the manifests set changed. A dry run
// stores nothing and so keeps the resourceVersion; the objects tell there too.
func (a *Action) applyOne(ctx context.Context, c *cluster, o *object, m *meta.RESTMapping) (result string, before, after *unstructured.Unstructured, err error) {
	ri := resource(c, o, m)
	before, err = ri.Get(ctx, o.obj.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		before = nil
	case err != nil:
		return "", nil, nil, classify(o.errorf("reading it before applying: %w", err))
	}
	opts := metav1.ApplyOptions{FieldManager: a.fieldManager, Force: a.forceConflicts}
	if a.dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	after, err = ri.Apply(ctx, o.obj.GetName(), o.obj, opts)
	if err != nil {
		if apierrors.IsConflict(err) && !a.forceConflicts && strings.Contains(err.Error(), "Apply failed with") {
			return "", nil, nil, actions.Permanent(o.errorf("%w: set force_conflicts: true to take these fields over", apiError{err}))
		}
		if strings.Contains(err.Error(), "failed to create typed patch object") {
			// A field of the wrong type: the server answers 500 with no
			// reason, but sending the same manifest again cannot help.
			return "", nil, nil, actions.Permanent(o.errorf("%w", apiError{err}))
		}
		return "", nil, nil, classify(o.errorf("%w", apiError{err}))
	}
	switch {
	case before == nil:
		return Created, nil, after, nil
	case !a.dryRun && before.GetResourceVersion() == after.GetResourceVersion(), sameContent(before, after):
		return Unchanged, before, after, nil
	}
	return Configured, before, after, nil
}

// sameContent reports whether two versions of an object are the same but for
// the fields every write changes.
func sameContent(x, y *unstructured.Unstructured) bool {
	strip := func(u *unstructured.Unstructured) map[string]any {
		c := u.DeepCopy()
		c.SetResourceVersion("")
		c.SetManagedFields(nil)
		return c.Object
	}
	return reflect.DeepEqual(strip(x), strip(y))
}

// apiError is an error of the API server that reads as the server's message,
// without client-go's wrapping.
type apiError struct{ err error }

func (e apiError) Error() string {
	var status apierrors.APIStatus
	if errors.As(e.err, &status) && status.Status().Message != "" {
		return status.Status().Message
	}
	return e.err.Error()
}

func (e apiError) Unwrap() error { return e.err }

// classify marks err retryable when the server or the network might do
// better later, permanent when the request itself is wrong.
func classify(err error) error {
	var ne net.Error
	switch {
	case apierrors.IsServerTimeout(err), apierrors.IsTimeout(err), apierrors.IsTooManyRequests(err),
		apierrors.IsInternalError(err), apierrors.IsServiceUnavailable(err), apierrors.IsUnexpectedServerError(err),
		apierrors.IsConflict(err), errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded):
		return actions.Retryable(err)
	case apierrors.ReasonForError(err) != metav1.StatusReasonUnknown:
		return actions.Permanent(err)
	}
	return actions.Retryable(err)
}
