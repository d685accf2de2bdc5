package workflows

import "strings"

// The trigger filters (events, branches, paths) of all workflows on one path are
// indexed together, so that matching an event against thousands of workflows
// tests each distinct pattern once per event, by map lookups where it can,
// rather than once per workflow. A workflow's filter then only reads bits.

// patternTable holds the distinct patterns of one filter kind on one path.
type patternTable struct {
	ids     map[string]int32   // pattern (without a leading !) → id
	literal map[string][]int32 // literal patterns, by the value they match
	prefix  map[string][]int32 // dir/** patterns, by "dir/"
	other   []tablePattern     // everything else, tested one by one
	size    int
}

type tablePattern struct {
	id int32
	m  globMatcher
}

// patRef is one pattern of a workflow's filter.
type patRef struct {
	id      int32
	negated bool
}

// filter is one workflow's events, branches or paths filter, as references into
// the path's pattern table.
type filter struct {
	refs    []patRef
	negated bool // some pattern is negated: per-value evaluation is needed
}

func (f *filter) empty() bool { return len(f.refs) == 0 }

// add adds a pattern and returns its id: a glob compiled as m, or a plain
// name when m is nil.
func (t *patternTable) add(pattern string, m globMatcher) int32 {
	if id, ok := t.ids[pattern]; ok {
		return id
	}
	if t.ids == nil {
		t.ids, t.literal, t.prefix = map[string]int32{}, map[string][]int32{}, map[string][]int32{}
	}
	id := int32(t.size)
	t.size++
	t.ids[pattern] = id
	switch g := m.(type) {
	case nil:
		t.literal[pattern] = append(t.literal[pattern], id)
	case literalGlob:
		t.literal[string(g)] = append(t.literal[string(g)], id)
	case prefixGlob:
		if g.crossSegments && strings.HasSuffix(g.prefix, "/") {
			t.prefix[g.prefix] = append(t.prefix[g.prefix], id)
			break
		}
		t.other = append(t.other, tablePattern{id, m})
	default:
		t.other = append(t.other, tablePattern{id, m})
	}
	return id
}

// nameFilter interns plain names (event names) and returns their filter.
func (t *patternTable) nameFilter(names []string) filter {
	var f filter
	for _, name := range names {
		f.refs = append(f.refs, patRef{id: t.add(name, nil)})
	}
	return f
}

// globFilter interns the compiled globs of g (nil for none) and returns
// their filter.
func (t *patternTable) globFilter(g *Globs) filter {
	var f filter
	if g == nil {
		return f
	}
	for i, p := range g.Patterns {
		neg := g.negated[i]
		f.negated = f.negated || neg
		f.refs = append(f.refs, patRef{id: t.add(strings.TrimPrefix(p, "!"), g.matchers[i]), negated: neg})
	}
	return f
}

// bitset records which pattern ids matched.
type bitset []uint64

func (b bitset) set(id int32)      { b[id/64] |= 1 << (id % 64) }
func (b bitset) has(id int32) bool { return b[id/64]&(1<<(id%64)) != 0 }

// match returns the set of pattern ids that match any of values.
func (t *patternTable) match(values ...string) bitset {
	bits := make(bitset, (t.size+63)/64)
	for _, v := range values {
		for _, id := range t.literal[v] {
			bits.set(id)
		}
		if len(t.prefix) > 0 {
			for i := 0; i < len(v); i++ {
				if v[i] == '/' {
					for _, id := range t.prefix[v[:i+1]] {
						bits.set(id)
					}
				}
			}
		}
		for _, p := range t.other {
			if p.m.MatchString(v) {
				bits.set(p.id)
			}
		}
	}
	return bits
}

// selects applies a filter to one value's matches: the last pattern that
// matches decides, as in GitHub Actions.
func (f *filter) selects(bits bitset) bool {
	selected := false
	for _, r := range f.refs {
		if bits.has(r.id) {
			selected = !r.negated
		}
	}
	return selected
}

// anyOf applies the filter to several values (changed files): true when it
// selects at least one. Without negations the union of matches answers it;
// with them each value is tested on its own.
func (t *patternTable) anyOf(f *filter, union bitset, values []string) bool {
	if !f.negated {
		return f.selects(union)
	}
	for _, v := range values {
		if f.selects(t.match(v)) {
			return true
		}
	}
	return false
}

// anyRef reports whether any of the filter's patterns matched (event names,
// which have no negation).
func (f *filter) anyRef(bits bitset) bool {
	for _, r := range f.refs {
		if bits.has(r.id) {
			return true
		}
	}
	return false
}

// methodSet is a set of the HTTP methods a webhook trigger may take (load.go
// accepts no others), so that testing an event's method against thousands of
// triggers is a bit test rather than a list search.
type methodSet uint8

var methodBits = map[string]methodSet{"GET": 1, "POST": 2, "PUT": 4, "PATCH": 8, "DELETE": 16, "HEAD": 32}

// methodsOf returns the set of methods; names it does not know add nothing,
// so an event with such a method is in no trigger's set.
func methodsOf(methods []string) methodSet {
	var s methodSet
	for _, m := range methods {
		s |= methodBits[m]
	}
	return s
}
