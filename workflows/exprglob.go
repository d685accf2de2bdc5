package workflows

import (
	"fmt"
	"reflect"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
)

// changed(glob, …) and glob(s, pattern) take their patterns compiled: a
// pattern written as a string literal is compiled with its expression, when
// the workflow loads, and a bad one fails the load. A pattern computed at run
// time (from event data) is compiled by each call.
//
// globCalls rewrites every call into one of the functions below, which take
// the compiled literals as a leading list with one entry per pattern argument
// (nil where the pattern is computed). The functions report type errors under
// the names the user wrote.
const (
	fnChanged = "$changed" // $changed($env, compiled, pattern…)
	fnGlob    = "$glob"    // $glob($env, compiled, s, pattern)
)

// loadedGlobs are the compiled literal patterns of one call, by argument.
type loadedGlobs []globMatcher

// globFunctions registers fnChanged and fnGlob.
func globFunctions(c *conf.Config) {
	c.Functions[fnChanged] = &builtin.Function{Name: "changed", Func: changedFunc,
		Types: []reflect.Type{reflect.TypeFor[func(*Scope, loadedGlobs, ...string) bool]()}}
	c.Functions[fnGlob] = &builtin.Function{Name: "glob", Func: globFunc,
		Types: []reflect.Type{reflect.TypeFor[func(*Scope, loadedGlobs, string, string) bool]()}}
}

// changedFunc reports whether a path of the event's changed files matches one
// of the patterns. A pattern computed at run time that is absent or not a
// valid glob selects nothing.
func changedFunc(args ...any) (any, error) {
	s, _ := args[0].(*Scope)
	loaded, _ := args[1].(loadedGlobs)
	if s == nil || s.Event == nil {
		return false, nil
	}
	for i, arg := range args[2:] {
		m := loaded[i]
		if m == nil {
			switch p := arg.(type) {
			case nil:
				continue
			case string:
				var err error
				if m, err = s.runtimeGlob(p); err != nil {
					continue
				}
			default:
				return nil, fmt.Errorf("changed: a pattern is %T, not a string", arg)
			}
		}
		for _, path := range s.Event.Changed {
			if m.MatchString(path) {
				return true, nil
			}
		}
	}
	return false, nil
}

// globFunc reports whether s matches the pattern.
func globFunc(args ...any) (any, error) {
	scope, _ := args[0].(*Scope)
	loaded, _ := args[1].(loadedGlobs)
	s, ok := args[2].(string)
	if !ok {
		return nil, fmt.Errorf("glob: the value is %T, not a string", args[2])
	}
	m := loaded[0]
	if m == nil {
		p, ok := args[3].(string)
		if !ok {
			return nil, fmt.Errorf("glob: the pattern is %T, not a string", args[3])
		}
		var err error
		if m, err = scope.runtimeGlob(p); err != nil {
			return nil, fmt.Errorf("glob: %w", err)
		}
	}
	return m.MatchString(s), nil
}

// runtimeGlob compiles a pattern computed at run time. The evaluation keeps
// the last one it compiled: a pattern taken from event data and applied to
// every item of a list is compiled once, not once per item.
func (s *Scope) runtimeGlob(p string) (globMatcher, error) {
	if s == nil || s.budget == nil {
		return compileGlob(p)
	}
	b := s.budget
	if b.glob != nil && b.globPattern == p {
		return b.glob, nil
	}
	m, err := compileGlob(p)
	if err == nil {
		b.glob, b.globPattern = m, p
	}
	return m, err
}

// globCalls is the patch that turns changed(…) and glob(s, p) into calls of
// fnChanged and fnGlob, compiling the patterns that are string literals. It
// keeps the first bad literal's error, placed in the source, for
// compileExpr to fail with. It belongs to one compilation.
type globCalls struct{ err *file.Error }

func (g *globCalls) Visit(n *ast.Node) {
	call, ok := (*n).(*ast.CallNode)
	if !ok {
		return
	}
	callee, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	var fn string
	var patterns, before []ast.Node
	switch callee.Value {
	case "changed":
		fn, patterns = fnChanged, call.Arguments
		before = []ast.Node{&ast.IdentifierNode{Value: "$env"}}
	case "glob":
		fn = fnGlob
		before = []ast.Node{&ast.IdentifierNode{Value: "$env"}}
		if len(call.Arguments) >= 2 {
			patterns = call.Arguments[1:2]
		}
	default:
		return
	}
	loaded := make(loadedGlobs, len(patterns))
	for i, p := range patterns {
		lit, ok := p.(*ast.StringNode)
		if !ok {
			continue
		}
		m, err := compileGlob(lit.Value)
		if err != nil && g.err == nil {
			g.err = &file.Error{Location: lit.Location(), Message: fmt.Sprintf("%s: %s", callee.Value, err)}
		}
		loaded[i] = m
	}
	name := &ast.IdentifierNode{Value: fn}
	name.SetLocation(callee.Location())
	args := append(before, &ast.ConstantNode{Value: loaded})
	call.Callee, call.Arguments = name, append(args, call.Arguments...)
}
