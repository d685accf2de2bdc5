package applyaction

import (
	"fmt"
	"io"

	"github.com/hookflow/hookflow/actions"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Pruned is the result of an object the apply deleted.
const Pruned = "pruned"

// report collects an apply's outputs as it goes, so that a step that fails
// part way still says what it did, and writes a line per object, and with
// diff its diff, to the log.
type report struct {
	log    io.Writer
	dryRun bool
	diff   bool
	// The outputs, as steps read them.
	objects []any // applied
	deleted []any // pruned
	counts  map[string]int
	diffs   []string
}

func newReport(a *Action, log io.Writer) *report {
	return &report{
		log: log, dryRun: a.dryRun, diff: a.diff,
		objects: []any{}, deleted: []any{},
		counts: map[string]int{Created: 0, Configured: 0, Unchanged: 0, Pruned: 0},
	}
}

// result is the step's outputs:
//   - applied: the objects applied, in order, each {kind, namespace, name,
//     result} with result created, configured or unchanged;
//   - pruned: the objects prune deleted (in a dry run, would delete), each
//     {kind, namespace, name};
//   - counts: how many objects were created, configured, unchanged, pruned;
//   - diff: with diff, the unified diffs of the objects that changed.
func (r *report) result() actions.Result {
	counts := make(map[string]any, len(r.counts))
	for k, v := range r.counts {
		counts[k] = v
	}
	out := map[string]any{"applied": r.objects, "pruned": r.deleted, "counts": counts}
	if r.diff {
		out["diff"] = diffOutput(r.diffs)
	}
	return actions.Result{Outputs: out}
}

// applied records an applied object; before is nil when it was created.
func (r *report) applied(o *object, result string, before, after *unstructured.Unstructured) error {
	r.line(o.describe(), result)
	r.objects = append(r.objects, map[string]any{
		"kind":      o.obj.GetKind(),
		"namespace": o.obj.GetNamespace(),
		"name":      o.obj.GetName(),
		"result":    result,
	})
	r.counts[result]++
	if !r.diff || result == Unchanged {
		return nil
	}
	return r.addDiff(diffName(o.obj.GetKind(), o.obj.GetNamespace(), o.obj.GetName()), before, after)
}

// pruned records a deleted member of the set.
func (r *report) pruned(m member) error {
	r.line(m.describe(), Pruned)
	r.deleted = append(r.deleted, map[string]any{
		"kind":      m.gk.Kind,
		"namespace": m.u.GetNamespace(),
		"name":      m.u.GetName(),
	})
	r.counts[Pruned]++
	if !r.diff {
		return nil
	}
	return r.addDiff(diffName(m.gk.Kind, m.u.GetNamespace(), m.u.GetName()), m.u, nil)
}

func (r *report) line(what, result string) {
	suffix := ""
	if r.dryRun {
		suffix = " (dry run)"
	}
	fmt.Fprintf(r.log, "%s %s%s\n", what, result, suffix)
}

func (r *report) addDiff(name string, before, after *unstructured.Unstructured) error {
	d, err := objectDiff(name, before, after)
	if err != nil || d == "" {
		return err
	}
	io.WriteString(r.log, d)
	r.diffs = append(r.diffs, d)
	return nil
}
