package web

import (
	"fmt"
	"strings"
)

// applyView is what the run page shows of an apply step's outputs (SPEC
// §6): the objects it applied and pruned, how many of each, and its diff.
type applyView struct {
	Summary string
	Objects []appliedObject
	Diff    *diffView
}

// appliedObject is one object of an apply: kind, namespace/name, result.
type appliedObject struct {
	Kind, Name, Result string
}

// diffView is an apply's diff, a line at a time, with what it adds up to.
type diffView struct {
	Lines                   []diffLine
	Objects, Added, Removed int
}

// diffLine is one line of a unified diff and its kind: hdr (--- and +++),
// hunk (@@), add, del or ctx.
type diffLine struct {
	Class, Text string
}

// applyOutputs are the outputs applyView shows; the others keep the plain
// rendering.
var applyOutputs = []string{"applied", "pruned", "counts", "diff"}

// applyOf reads outputs as an apply step's, or returns nil when they are
// not: when `applied` is not a list of objects with a kind, a name and a
// result. The step kind is not recorded with its result, so the outputs'
// shape is what tells.
func applyOf(outputs map[string]any) *applyView {
	applied, ok := objectList(outputs["applied"], true)
	if !ok {
		return nil
	}
	pruned, _ := objectList(outputs["pruned"], false)
	v := &applyView{Objects: append(applied, pruned...)}
	counts := map[string]int{}
	for _, o := range v.Objects {
		counts[o.Result]++
	}
	var parts []string
	for _, r := range []string{"created", "configured", "unchanged", "pruned"} {
		if counts[r] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[r], r))
		}
	}
	v.Summary = strings.Join(parts, ", ")
	if v.Summary == "" {
		v.Summary = "no objects"
	}
	if d, ok := outputs["diff"].(string); ok && d != "" {
		v.Diff = readDiff(d)
	}
	return v
}

// objectList reads a list of {kind, namespace, name[, result]} maps; pruned
// objects have no result and are shown as pruned.
func objectList(raw any, withResult bool) ([]appliedObject, bool) {
	list, ok := raw.([]any)
	if !ok {
		return nil, false
	}
	objs := make([]appliedObject, 0, len(list))
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, false
		}
		kind, _ := m["kind"].(string)
		name, _ := m["name"].(string)
		ns, _ := m["namespace"].(string)
		result, _ := m["result"].(string)
		if !withResult {
			result = "pruned"
		}
		if kind == "" || name == "" || result == "" {
			return nil, false
		}
		if ns != "" {
			name = ns + "/" + name
		}
		objs = append(objs, appliedObject{Kind: kind, Name: name, Result: result})
	}
	return objs, true
}

// readDiff splits a unified diff into lines, each with its kind.
func readDiff(d string) *diffView {
	v := &diffView{}
	for line := range strings.Lines(d) {
		line = strings.TrimSuffix(line, "\n")
		class := "ctx"
		switch {
		case strings.HasPrefix(line, "--- "):
			class = "hdr"
			v.Objects++
		case strings.HasPrefix(line, "+++ "):
			class = "hdr"
		case strings.HasPrefix(line, "@@"):
			class = "hunk"
		case strings.HasPrefix(line, "+"):
			class = "add"
			v.Added++
		case strings.HasPrefix(line, "-"):
			class = "del"
			v.Removed++
		case strings.HasPrefix(line, "#"):
			class = "note"
		}
		v.Lines = append(v.Lines, diffLine{Class: class, Text: line})
	}
	return v
}
