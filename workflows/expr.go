package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker/nature"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"
)

// Scope is the environment that expressions and templates are evaluated in
// (SPEC §2.1). Build it with NewScope; the zero value has no functions bound.
type Scope struct {
	Event    *Event               `expr:"event"`
	Inputs   map[string]any       `expr:"inputs"`
	Item     any                  `expr:"item"`
	Env      map[string]string    `expr:"env"`
	Secrets  map[string]string    `expr:"secrets"`
	Vars     map[string]string    `expr:"vars"` // never nil: bind with BindVars
	Steps    map[string]StepState `expr:"steps"`
	Run      RunInfo              `expr:"run"`
	Workflow WorkflowInfo         `expr:"workflow"`
	Needs    map[string]NeedState `expr:"needs"`
	Matrix   map[string]any       `expr:"matrix"`
	Job      JobInfo              `expr:"job"`

	// Status is the run's state so far, read by success(), failure(), cancelled().
	Status RunState `expr:"-"`

	// The status functions, bound to this scope by NewScope. They are fields
	// rather than methods so that expressions can call them in lower case.
	// changed() is an expression function (exprglob.go).
	FnSuccess   func() bool `expr:"success"`
	FnFailure   func() bool `expr:"failure"`
	FnAlways    func() bool `expr:"always"`
	FnCancelled func() bool `expr:"cancelled"`

	// budget is what evaluations in this scope may still spend; nil gives
	// each evaluation a budget of its own.
	budget *budget
}

// RunState is what a run's status functions report on.
type RunState struct {
	Failed    bool // a step failed and did not continue on error
	Cancelled bool // the run was cancelled or timed out
}

// StepState is a finished step, as later steps see it.
type StepState struct {
	Outputs map[string]any `expr:"outputs" json:"outputs"`
	Outcome string         `expr:"outcome" json:"outcome"`
}

// RunInfo is the `run` variable.
type RunInfo struct {
	ID       string `expr:"id"`
	Attempt  int    `expr:"attempt"`
	URL      string `expr:"url"`
	Workflow string `expr:"workflow"`
}

// WorkflowInfo is the `workflow` variable.
type WorkflowInfo struct {
	Name     string `expr:"name"`
	File     string `expr:"file"`
	Revision string `expr:"revision"`
}

// NewScope returns a scope for ev with the functions bound.
func NewScope(ev *Event) *Scope {
	if ev == nil {
		ev = &Event{}
	}
	s := &Scope{Event: ev.forExpr(), Vars: noVars}
	s.FnSuccess = func() bool { return !s.Status.Failed && !s.Status.Cancelled }
	s.FnFailure = func() bool { return s.Status.Failed }
	s.FnAlways = func() bool { return true }
	s.FnCancelled = func() bool { return s.Status.Cancelled }
	return s
}

// noVars is the vars of a scope without configuration variables. A map, not
// nil, so that an unset variable reads as "" whether or not any is set.
var noVars = map[string]string{}

// BindVars binds the configuration variables (SPEC §2.1 vars); nil binds none.
// The map is only read.
func (s *Scope) BindVars(vars map[string]string) {
	if vars != nil {
		s.Vars = vars
	}
}

// WithItem returns a copy of s with item bound. The functions keep reading the
// original's status, which is what a for_each item's run starts from.
func (s *Scope) WithItem(item any) *Scope {
	c := *s
	c.Item = item
	return &c
}

// statusFuncs are the functions whose presence in a step's `if` turns off the
// implicit success() && …, as in GitHub Actions.
var statusFuncs = map[string]bool{"success": true, "failure": true, "always": true, "cancelled": true}

// Expr is an expression compiled at load time.
type Expr struct {
	Source  string
	Pos     Pos
	program *vm.Program
	// usesStatus is true when the expression calls a status function.
	usesStatus bool
	// secrets are the names of secrets.X the expression reads.
	secrets []string
}

// Eval evaluates e in s. A nil Expr evaluates to nil. An evaluation that
// exceeds its budget (EvalBudget) stops with an error saying so.
func (e *Expr) Eval(s *Scope) (any, error) {
	if e == nil {
		return nil, nil
	}
	if s != nil && s.budget == nil {
		s = s.withBudget()
	}
	machine := vm.VM{MemoryBudget: EvalBudget}
	v, err := machine.Run(e.program, s)
	if err != nil {
		if overBudget(err) {
			return nil, errBudget
		}
		if e.Pos == (Pos{}) {
			return nil, errors.New(firstLine(err.Error()))
		}
		return nil, fmt.Errorf("%s: %s", e.Pos, firstLine(err.Error()))
	}
	return v, nil
}

// Bool evaluates e as a condition; nil is false.
func (e *Expr) Bool(s *Scope) (bool, error) {
	v, err := e.Eval(s)
	if err != nil {
		return false, err
	}
	switch v := v.(type) {
	case bool:
		return v, nil
	case nil:
		return false, nil
	}
	return false, fmt.Errorf("%s: condition is %T, not true or false", e.Pos, v)
}

// decodeNode reads a condition: an expression string, optionally wrapped in
// ${{ }}, or a YAML bool.
func (e *Expr) decodeNode(d *decoder, n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return fmt.Errorf("expected an expression, got %s", d.describe(n))
	}
	src, offset := n.Value, 0
	if t := strings.TrimSpace(src); strings.HasPrefix(t, "${{") && strings.HasSuffix(t, "}}") && strings.Count(t, "${{") == 1 {
		offset = strings.Index(src, "${{") + 3
		src = t[3 : len(t)-2]
	}
	compiled, err := compileExpr(src)
	if err != nil {
		d.errs = append(d.errs, exprError(d.file, n, offset, err))
		return nil
	}
	*e = *compiled
	e.Source = strings.TrimSpace(src)
	e.Pos = Pos{File: d.file, Line: n.Line, Col: n.Column}
	return nil
}

// exprOptions are shared by every compilation: the typed scope, the extra
// functions, and absent-is-nil member access. compileExpr adds the patch that
// compiles the globs of changed() and glob().
var exprOptions = append([]expr.Option{
	expr.Env(&Scope{}),
	expr.Patch(absentIsNil{}),
	globFunctions,
	callFunctions,
	expr.Function("toJSON", func(args ...any) (any, error) {
		b, err := json.Marshal(args[0])
		return string(b), err
	}, new(func(any) string)),
	expr.Function("fromJSON", func(args ...any) (any, error) {
		v, err := UnmarshalJSONValue([]byte(args[0].(string)))
		if err != nil {
			return nil, fmt.Errorf("fromJSON: %w", err)
		}
		return v, nil
	}, new(func(string) any)),
}, budgetOptions...)

// compileExpr compiles src against the scope type and records what it reads.
// A bad glob literal in changed() or glob(), or a bad format literal in
// format(), is an error.
func compileExpr(src string) (*Expr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty expression")
	}
	globs, formats := &globCalls{}, &formatCalls{}
	p, err := expr.Compile(rewriteCallForms(src), append(slices.Clip(exprOptions), expr.Patch(globs), expr.Patch(formats), expr.Patch(freshTypes{}))...)
	if globs.err != nil {
		return nil, globs.err.Bind(file.NewSource(src))
	}
	if formats.err != nil {
		return nil, formats.err.Bind(file.NewSource(src))
	}
	var fe *file.Error
	if errors.As(err, &fe) {
		return nil, fe.Bind(file.NewSource(src)) // quote the source as written
	}
	if err != nil {
		return nil, err
	}
	e := &Expr{Source: src, program: p}
	node := p.Node()
	ast.Walk(&node, inspector{e})
	return e, nil
}

// resultKind is the static kind of an expression's value, reflect.Interface when
// only known at run time.
func (e *Expr) resultKind() reflect.Kind {
	t := e.program.Node().Type()
	if t == nil {
		return reflect.Interface
	}
	return t.Kind()
}

// freshTypes is the last patch: it forgets the types that the checker's passes
// between patches recorded, so that its final pass checks every node again.
// expr skips the arguments of a call whose type an earlier pass recorded, and
// would so let an unknown name in them (toJSON(evnt.x), contains(github.ref,
// "x")) through. It is a repeatable patch only so that it runs after the
// others and their checks.
type freshTypes struct{}

func (freshTypes) Visit(n *ast.Node) { (*n).SetNature(nature.Nature{}) }

// Reset and ShouldRepeat make freshTypes a repeatable patch, which runs once.
func (freshTypes) Reset()             {}
func (freshTypes) ShouldRepeat() bool { return false }

// inspector records which status functions and secrets an expression uses.
type inspector struct{ e *Expr }

func (v inspector) Visit(n *ast.Node) {
	switch n := (*n).(type) {
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && statusFuncs[id.Value] {
			v.e.usesStatus = true
		}
	case *ast.MemberNode:
		if id, ok := n.Node.(*ast.IdentifierNode); ok && id.Value == "secrets" {
			if s, ok := n.Property.(*ast.StringNode); ok {
				v.e.secrets = append(v.e.secrets, s.Value)
			}
		}
	}
}

// absentIsNil makes every member access optional, so that a missing field or key
// anywhere in a chain (item.labels.x on an alert without labels) is nil, not an
// error, as SPEC §4 asks.
type absentIsNil struct{}

func (absentIsNil) Visit(n *ast.Node) {
	if m, ok := (*n).(*ast.MemberNode); ok && !m.Optional {
		m.Optional = true
		ast.Patch(n, &ast.ChainNode{Node: m})
	}
}

// exprError places an expr compile error in the file. offset is where the
// expression starts inside the scalar's value.
func exprError(fileName string, n *yaml.Node, offset int, err error) *PosError {
	line, col, msg := n.Line, n.Column, err.Error()
	var fe *file.Error
	if errors.As(err, &fe) {
		msg = fe.Message
		if hint := exprHabit(n.Value[min(offset, len(n.Value)):], fe); hint != "" {
			msg = hint
		}
		switch n.Style {
		case yaml.LiteralStyle, yaml.FoldedStyle:
			line += fe.Line
		case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
			col += 1 + offset + fe.Column
		default:
			if fe.Line <= 1 {
				col += offset + fe.Column
			} else {
				line += fe.Line - 1
			}
		}
	}
	return &PosError{File: fileName, Line: line, Col: col, Msg: "expression: " + clip(msg, 2*maxEcho)}
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// UsesStatus reports whether the expression calls success(), failure(),
// always() or cancelled().
func (e *Expr) UsesStatus() bool { return e != nil && e.usesStatus }
