package workflows

import (
	"errors"
	"reflect"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
)

// EvalBudget bounds the work of evaluating expressions on event data, which
// anyone who can reach a webhook path controls. It is counted in items: a
// function that walks a list or map (all, any, filter, map, count, sum, join,
// contains, sort, …), `in` over a list, and each for_each item spend one unit
// per item before the walk starts. expr's own memory budget, in elements
// allocated by lists, maps and ranges, is set to the same number for each
// evaluation. A workflow's decision (for_each, then `if` for every item)
// shares one budget; every other evaluation has one of its own.
const EvalBudget = 100_000

// errBudget is the error of an evaluation stopped by its budget; it becomes
// the workflow's skip reason.
var errBudget = errors.New("expression exceeded its evaluation budget")

// budget is what an evaluation, or a workflow's decision, may still spend. A
// budget belongs to one goroutine.
type budget struct {
	left int
	// glob is the last pattern computed at run time that the evaluation
	// compiled (runtimeGlob), and globPattern its source.
	glob        globMatcher
	globPattern string
}

// spend takes n units, or fails with errBudget once the budget is gone.
func (b *budget) spend(n int) error {
	b.left -= n
	if b.left < 0 {
		return errBudget
	}
	return nil
}

// withBudget returns a copy of s that spends from a budget of its own.
func (s *Scope) withBudget() *Scope {
	c := &struct { // one allocation for both
		scope  Scope
		budget budget
	}{scope: *s, budget: budget{left: EvalBudget}}
	c.scope.budget = &c.budget
	return &c.scope
}

// overBudget reports whether err stopped an evaluation for its budget: ours,
// or expr's memory budget, which the vm reports only by its message.
func overBudget(err error) bool {
	if errors.Is(err, errBudget) {
		return true
	}
	var fe *file.Error
	return errors.As(err, &fe) && fe.Message == "memory budget exceeded"
}

// The functions spendOn puts in front of the lists an expression walks. An
// expression that calls one itself only spends from its own budget.
const (
	fnWalk = "$walk" // a builtin's argument: lists, arrays and maps cost their length
	fnScan = "$scan" // the right side of `in`: lists and arrays cost their length
)

// budgetFunctions registers fnWalk and fnScan. Each takes the scope ($env) and
// a value, spends from the scope's budget, and returns the value unchanged; its
// static type is the value's, so type checking is as without them.
func budgetFunctions(c *conf.Config) {
	same := func(args []reflect.Type) (reflect.Type, error) { return args[1], nil }
	charge := func(withMaps bool) func(args ...any) (any, error) {
		return func(args ...any) (any, error) {
			if s, ok := args[0].(*Scope); ok && s.budget != nil {
				if err := s.budget.spend(length(args[1], withMaps)); err != nil {
					return nil, err
				}
			}
			return args[1], nil
		}
	}
	c.Functions[fnWalk] = &builtin.Function{Name: fnWalk, Func: charge(true), Validate: same}
	c.Functions[fnScan] = &builtin.Function{Name: fnScan, Func: charge(false), Validate: same}
}

// length is the number of items a walk over v visits.
func length(v any, withMaps bool) int {
	switch v := v.(type) {
	case nil:
		return 0
	case []any:
		return len(v)
	case map[string]any:
		if withMaps {
			return len(v)
		}
		return 0
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		return rv.Len()
	case reflect.Map:
		if withMaps {
			return rv.Len()
		}
	}
	return 0
}

// walkingBuiltins are expr's builtins whose cost grows with a list or map
// argument. Those with a predicate walk their first argument; the others are
// charged for each argument.
var walkingBuiltins = map[string]bool{
	"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true,
	"find": true, "findIndex": true, "findLast": true, "findLastIndex": true,
	"count": true, "sum": true, "groupBy": true, "sortBy": true, "reduce": true,
	"min": true, "max": true, "mean": true, "median": true,
	"keys": true, "values": true, "toPairs": true, "fromPairs": true,
	"reverse": true, "uniq": true, "concat": true, "flatten": true, "sort": true,
}

// spendOn is the patch that makes walks pay: it wraps what a walking builtin,
// a walking call form (walkingCalls) or `in` walks in fnWalk or fnScan. A
// literal list on the right of `in` is left alone: its size is the
// expression's own, and expr turns it into a set.
type spendOn struct{}

func (spendOn) Visit(n *ast.Node) {
	switch n := (*n).(type) {
	case *ast.BuiltinNode:
		if !walkingBuiltins[n.Name] || len(n.Arguments) == 0 {
			return
		}
		walked := n.Arguments
		if len(n.Arguments) > 1 && isPredicate(n.Arguments[1]) {
			walked = n.Arguments[:1] // the rest are the predicate and a start value
		}
		for i := range walked {
			walked[i] = charged(fnWalk, walked[i])
		}
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && walkingCalls[id.Value] && len(n.Arguments) > 0 {
			n.Arguments[0] = charged(fnWalk, n.Arguments[0])
		}
	case *ast.BinaryNode:
		if n.Operator != "in" {
			return
		}
		switch r := n.Right.(type) {
		case *ast.ArrayNode, *ast.ConstantNode:
			return
		case *ast.BinaryNode:
			if r.Operator == ".." {
				return
			}
		}
		n.Right = charged(fnScan, n.Right)
	}
}

func isPredicate(n ast.Node) bool {
	_, ok := n.(*ast.PredicateNode)
	return ok
}

func charged(fn string, n ast.Node) ast.Node {
	return &ast.CallNode{Callee: &ast.IdentifierNode{Value: fn},
		Arguments: []ast.Node{&ast.IdentifierNode{Value: "$env"}, n}}
}

// budgetOptions are the compile options that make expressions spend.
var budgetOptions = []expr.Option{budgetFunctions, expr.Patch(spendOn{})}
