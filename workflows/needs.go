package workflows

import (
	"slices"

	"github.com/expr-lang/expr/ast"
)

// NeedsRead lists the jobs whose state the expression reads as needs.<id> (or
// needs["id"]), in order of first appearance, without repeats. A key that is
// only known at run time (needs[x]) is not listed.
func (e *Expr) NeedsRead() []string {
	if e == nil || e.program == nil {
		return nil
	}
	v := &needsVisitor{}
	node := e.program.Node()
	ast.Walk(&node, v)
	return v.ids
}

// NeedsRead lists the jobs whose state the template's expressions read, as
// Expr.NeedsRead does.
func (t *Template) NeedsRead() []string {
	var ids []string
	t.eachExpr(func(e *Expr) {
		for _, id := range e.NeedsRead() {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	})
	return ids
}

// eachExpr calls f with each expression of t.
func (t *Template) eachExpr(f func(*Expr)) {
	if t == nil {
		return
	}
	for _, p := range t.parts {
		if p.expr != nil {
			f(p.expr)
		}
	}
}

// eachTemplate calls f with each template among v's values.
func (v *Value) eachTemplate(f func(*Template)) {
	if v == nil {
		return
	}
	for _, field := range v.mapping {
		field.value.eachTemplate(f)
	}
	for _, item := range v.list {
		item.eachTemplate(f)
	}
	if v.template != nil {
		f(v.template)
	}
}

// needsVisitor collects the ids of needs.<id> member accesses.
type needsVisitor struct{ ids []string }

func (v *needsVisitor) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok {
		return
	}
	if id, ok := m.Node.(*ast.IdentifierNode); !ok || id.Value != "needs" {
		return
	}
	if s, ok := m.Property.(*ast.StringNode); ok && !slices.Contains(v.ids, s.Value) {
		v.ids = append(v.ids, s.Value)
	}
}
