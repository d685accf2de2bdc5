package workflows

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Set is a validated, compiled collection of workflows with their webhook
// routes. It is immutable once built, so it can be shared between goroutines and
// swapped whole on reload.
type Set struct {
	// Revision identifies the content the set was built from.
	Revision string

	workflows []*Workflow // sorted by name
	byName    map[string]*Workflow
	byPath    map[string]*pathIndex
}

// pathIndex is every webhook trigger served on one path, with their filters'
// patterns indexed together (see index.go).
type pathIndex struct {
	routes                  []route
	hooks                   []*Webhook // routes' hooks, for Hooks
	events, branches, paths patternTable
}

// route is one webhook trigger of one workflow, served on a path.
type route struct {
	workflow                *Workflow
	hook                    *Webhook
	events, branches, paths filter
	methods                 methodSet
	// disabled is the workflow's, copied here so that skipping thousands of
	// routes reads no workflow.
	disabled bool
	// The fixed parts of skip reasons, built once rather than per event.
	methodsList, eventsList, pathsReason string
}

// Verdict is what a Set decides for one workflow and one event.
type Verdict struct {
	Workflow *Workflow
	// Hook is the webhook trigger that matched, for webhook events.
	Hook *Webhook
	// Run is true when the workflow should run.
	Run bool
	// Items holds one entry per run for a for_each workflow; nil otherwise.
	Items []any
	// Reason says why the workflow does not run.
	Reason string
}

// NewSet builds a set from parsed workflows. It checks what involves more than
// one file: unique names, and webhook triggers sharing a path that must agree on
// provider and secret.
func NewSet(revision string, list []*Workflow) (*Set, error) {
	s := &Set{Revision: revision, byName: map[string]*Workflow{}, byPath: map[string]*pathIndex{}}
	var errs ErrorList
	sorted := slices.Clone(list)
	slices.SortFunc(sorted, func(a, b *Workflow) int { return strings.Compare(a.Name, b.Name) })
	for _, w := range sorted {
		if other, dup := s.byName[w.Name]; dup {
			errs = append(errs, errorAt(w.Pos, "workflow name %s is also used by %s; names must be unique", quoteText(w.Name), other.File))
			continue
		}
		w.Revision = revision
		s.byName[w.Name] = w
		s.workflows = append(s.workflows, w)
		for _, h := range w.On.Webhook {
			idx := s.byPath[h.Path]
			if idx == nil {
				idx = &pathIndex{}
				s.byPath[h.Path] = idx
			}
			if len(idx.routes) > 0 {
				first := idx.routes[0]
				if first.hook.Provider != h.Provider || sourceOf(first.hook.Secret) != sourceOf(h.Secret) {
					errs = append(errs, errorAt(h.Pos, "webhook path %s is also served by %s with another provider or secret; workflows sharing a path must use the same provider and secret", quoteText(h.Path), first.workflow.File))
					continue
				}
			}
			r := route{workflow: w, hook: h,
				events:      idx.events.nameFilter(h.Events),
				branches:    idx.branches.globFilter(h.Branches),
				paths:       idx.paths.globFilter(h.Paths),
				methods:     methodsOf(h.Methods),
				disabled:    w.Disabled,
				methodsList: " not in [" + strings.Join(h.Methods, ", ") + "]",
				eventsList:  " not in [" + strings.Join(h.Events, ", ") + "]",
			}
			if !h.Paths.Empty() {
				r.pathsReason = "paths: no changed file matches " + strings.Join(h.Paths.Patterns, ", ")
			}
			idx.routes = append(idx.routes, r)
			idx.hooks = append(idx.hooks, h)
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return s, nil
}

func sourceOf(t *Template) string {
	if t == nil {
		return ""
	}
	return t.Source
}

// Workflows returns the workflows sorted by name. The slice must not be changed.
func (s *Set) Workflows() []*Workflow { return s.workflows }

// Lookup returns the workflow called name.
func (s *Set) Lookup(name string) (*Workflow, bool) {
	w, ok := s.byName[name]
	return w, ok
}

// Hooks returns the webhook triggers served on path, in workflow name order.
// The slice is shared and must not be changed.
func (s *Set) Hooks(path string) []*Webhook {
	idx := s.byPath[path]
	if idx == nil {
		return nil
	}
	return idx.hooks
}

// Match decides, for a webhook event in scope.Event, what every workflow on the
// event's path does. Workflows on other paths are not listed.
func (s *Set) Match(scope *Scope) []Verdict { return s.MatchInto(scope, nil) }

// MatchInto is Match appending to buf[:0], so that a caller matching many
// events can reuse one buffer instead of allocating a verdict per workflow each
// time.
func (s *Set) MatchInto(scope *Scope, buf []Verdict) []Verdict {
	idx := s.byPath[scope.Event.Path]
	if idx == nil {
		return buf[:0]
	}
	m := idx.prepare(scope.Event)
	routes := idx.routes
	verdicts := slices.Grow(buf[:0], len(routes))
	for i := 0; i < len(routes); i++ {
		r := &routes[i]
		v := r.decide(scope, m)
		// A workflow with two triggers on one path runs if either lets it.
		for !v.Run && i+1 < len(routes) && routes[i+1].workflow == r.workflow {
			i++
			if next := routes[i].decide(scope, m); next.Run {
				v = next
			}
		}
		verdicts = append(verdicts, v)
	}
	return verdicts
}

// matches holds what one event matched in a path's pattern tables, and the
// skip reasons that depend only on the event.
type matches struct {
	idx                     *pathIndex
	events, branch, changed bitset
	method                  methodSet
	branchName, eventName   string
	branchReason            string
}

// prepare tests each distinct pattern on the path against the event once.
func (idx *pathIndex) prepare(ev *Event) *matches {
	m := &matches{idx: idx, eventName: ev.Type, method: methodsOf([]string{ev.Method})}
	if m.eventName == "" {
		m.eventName = ev.Name
	}
	names := []string{ev.Type, ev.Name}
	if ev.Action != "" {
		names = append(names, ev.Type+"."+ev.Action, ev.Name+"."+ev.Action)
	}
	m.events = idx.events.match(names...)
	m.branchName = ev.Branch
	if ev.Type == "pull_request" {
		m.branchName = ev.PullRequest.Base
	}
	m.branch = idx.branches.match(m.branchName)
	m.branchReason = "branches: no match for " + m.branchName
	m.changed = idx.paths.match(ev.Changed...)
	return m
}

// decide applies one webhook trigger's filters, then the workflow's own.
func (r *route) decide(scope *Scope, m *matches) Verdict {
	w, h, ev := r.workflow, r.hook, scope.Event
	skip := func(reason string) Verdict { return Verdict{Workflow: w, Hook: h, Reason: reason} }
	switch {
	case r.disabled:
		return skip("workflow disabled")
	case r.methods&m.method == 0:
		return skip("methods: " + ev.Method + r.methodsList)
	case !r.events.empty() && !r.events.anyRef(m.events):
		return skip("events: " + m.eventName + r.eventsList)
	case !r.branches.empty() && m.branchName == "":
		return skip("branches: event has no branch")
	case !r.branches.empty() && !r.branches.selects(m.branch):
		return skip(m.branchReason)
	case !r.paths.empty() && !m.idx.paths.anyOf(&r.paths, m.changed, ev.Changed):
		return skip(r.pathsReason)
	}
	v := w.Decide(scope)
	v.Hook = h
	return v
}

// Decide applies the workflow's own filters (disabled, for_each, if) to the
// event in scope; triggers' filters are the caller's. With for_each, `if` is
// evaluated once per item, and only the items it accepts run. The whole
// decision spends from one budget (EvalBudget), each item counting as one.
func (w *Workflow) Decide(scope *Scope) Verdict {
	v := Verdict{Workflow: w}
	if w.Disabled {
		v.Reason = "workflow disabled"
		return v
	}
	scope = scope.withBudget()
	if w.ForEach == nil {
		ok, err := w.If.boolOrTrue(scope)
		switch {
		case err != nil:
			v.Reason = "if: " + err.Error()
		case !ok:
			v.Reason = "if: false"
		default:
			v.Run = true
		}
		return v
	}
	raw, err := w.ForEach.Eval(scope)
	if err != nil {
		v.Reason = "for_each: " + err.Error()
		return v
	}
	items, ok := toList(raw)
	if !ok {
		v.Reason = fmt.Sprintf("for_each: %T is not a list", raw)
		return v
	}
	if len(items) == 0 {
		v.Reason = "for_each: no items"
		return v
	}
	if err := scope.budget.spend(len(items)); err != nil {
		v.Reason = "for_each: " + err.Error()
		return v
	}
	for _, item := range items {
		ok, err := w.If.boolOrTrue(scope.WithItem(item))
		if err != nil {
			v.Reason = "if: " + err.Error()
			return Verdict{Workflow: w, Reason: v.Reason}
		}
		if ok {
			v.Items = append(v.Items, item)
		}
	}
	if len(v.Items) == 0 {
		v.Reason = "if: false for all " + strconv.Itoa(len(items)) + " items"
		return v
	}
	v.Run = true
	return v
}

// boolOrTrue evaluates a filter; no filter passes everything.
func (e *Expr) boolOrTrue(s *Scope) (bool, error) {
	if e == nil {
		return true, nil
	}
	return e.Bool(s)
}

// toList turns a for_each result into items.
func toList(v any) ([]any, bool) {
	switch v := v.(type) {
	case nil:
		return nil, true
	case []any:
		return v, true
	case []Alert:
		items := make([]any, len(v))
		for i, a := range v {
			items[i] = a
		}
		return items, true
	case []string:
		items := make([]any, len(v))
		for i, a := range v {
			items[i] = a
		}
		return items, true
	}
	return nil, false
}
