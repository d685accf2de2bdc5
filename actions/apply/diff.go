package applyaction

import (
	"fmt"
	"strings"

	"github.com/aymanbagabas/go-udiff"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// maxDiffOutput bounds the `diff` output, which is stored with the run; the
// log gets the whole diff.
const maxDiffOutput = 256 << 10

// lastApplied is the annotation client-side apply keeps a copy of the
// object in, a Secret's data included.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// objectDiff is the unified diff of an object as it was on the server
// (before, nil when it did not exist) against what the apply made of it or,
// in a dry run, would make (after, nil when it is pruned): "" when they are
// the same. Both leave out what the server keeps for itself (status,
// managedFields, resourceVersion, generation, uid, creationTimestamp), so
// that only what the manifests changed shows; a Secret's values are masked.
func objectDiff(name string, before, after *unstructured.Unstructured) (string, error) {
	before, after = comparable(before), comparable(after)
	if isSecret(before) || isSecret(after) {
		maskSecrets(before, after)
	}
	from, err := toYAML(before)
	if err != nil {
		return "", err
	}
	to, err := toYAML(after)
	if err != nil {
		return "", err
	}
	return udiff.Unified("live/"+name, "applied/"+name, from, to), nil
}

// diffName names an object in diff headers: kind/namespace/name, or
// kind/name for a cluster-scoped one.
func diffName(kind, namespace, name string) string {
	if namespace == "" {
		return kind + "/" + name
	}
	return kind + "/" + namespace + "/" + name
}

// comparable is a copy of u without the fields that every write or the
// server alone changes.
func comparable(u *unstructured.Unstructured) *unstructured.Unstructured {
	if u == nil {
		return nil
	}
	c := u.DeepCopy()
	for _, f := range []string{"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink"} {
		unstructured.RemoveNestedField(c.Object, "metadata", f)
	}
	delete(c.Object, "status")
	return c
}

func isSecret(u *unstructured.Unstructured) bool {
	return u != nil && u.GetAPIVersion() == "v1" && u.GetKind() == "Secret"
}

// maskSecrets replaces the values of a Secret's data and stringData, and its
// last-applied annotation, with "***", marked (before) and (after) where a
// value changed, so that the diff says which keys changed and never what
// they hold. Either object may be nil.
func maskSecrets(before, after *unstructured.Unstructured) {
	for _, field := range []string{"data", "stringData"} {
		b, _, _ := unstructured.NestedMap(objectOf(before), field)
		a, _, _ := unstructured.NestedMap(objectOf(after), field)
		for k, bv := range b {
			av, inAfter := a[k]
			switch {
			case !inAfter:
				b[k] = "***"
			case fmt.Sprint(av) == fmt.Sprint(bv):
				b[k], a[k] = "***", "***"
			default:
				b[k], a[k] = "*** (before)", "*** (after)"
			}
		}
		for k := range a {
			if _, inBefore := b[k]; !inBefore {
				a[k] = "***"
			}
		}
		if before != nil && b != nil {
			_ = unstructured.SetNestedMap(before.Object, b, field)
		}
		if after != nil && a != nil {
			_ = unstructured.SetNestedMap(after.Object, a, field)
		}
	}
	for _, u := range []*unstructured.Unstructured{before, after} {
		if u == nil {
			continue
		}
		if ann := u.GetAnnotations(); ann[lastApplied] != "" {
			ann[lastApplied] = "***"
			u.SetAnnotations(ann)
		}
	}
}

func objectOf(u *unstructured.Unstructured) map[string]any {
	if u == nil {
		return nil
	}
	return u.Object
}

// toYAML writes u as YAML with sorted keys, "" for nil.
func toYAML(u *unstructured.Unstructured) (string, error) {
	if u == nil {
		return "", nil
	}
	b, err := yaml.Marshal(u.Object)
	if err != nil {
		return "", fmt.Errorf("diff: %w", err)
	}
	return string(b), nil
}

// diffOutput is the `diff` output: the diffs of all objects, cut at a line
// boundary once they pass maxDiffOutput.
func diffOutput(diffs []string) string {
	all := strings.Join(diffs, "")
	if len(all) <= maxDiffOutput {
		return all
	}
	cut := strings.LastIndexByte(all[:maxDiffOutput], '\n') + 1
	return all[:cut] + fmt.Sprintf("# the diff is cut here at %d KiB; the step's log has all of it\n", maxDiffOutput>>10)
}
