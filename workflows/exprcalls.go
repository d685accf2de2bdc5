package workflows

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser/lexer"
	"github.com/expr-lang/expr/vm/runtime"
)

// GitHub Actions' functions contains(a, b), startsWith(s, p), endsWith(s, p),
// format(f, args…) and join(list, sep), with GitHub's meaning, next to expr's
// operators (SPEC §11).
//
// expr lexes contains, startsWith and endsWith as infix operators, so that
// `contains(a, b)` does not parse. Before compiling, callForms renames each
// call of them — the word where an operand is expected, followed by "(" — to
// a name of the same length that expr reads as a function. The infix forms
// (`a contains b`, `s startsWith "x"`) keep expr's meaning, and every error
// position stays where the user wrote it.

// callForms are the operator words with a call form, and the names their calls
// are compiled under.
var callForms = map[string]string{"contains": "Contains", "startsWith": "StartsWith", "endsWith": "EndsWith"}

// rewriteCallForms returns src with the calls of contains, startsWith and
// endsWith renamed (callForms). It reads src with expr's own lexer, so that
// string literals and comments are left alone. Source that does not lex is
// returned as it is, for the compiler to report.
func rewriteCallForms(src string) string {
	if !strings.Contains(src, "contains") && !strings.Contains(src, "With") {
		return src
	}
	tokens, err := lexer.Lex(file.NewSource(src))
	if err != nil {
		return src
	}
	var out []byte
	for i, t := range tokens {
		name, ok := callForms[t.Value]
		if !ok || t.Kind != lexer.Operator || i+1 == len(tokens) || !tokens[i+1].Is(lexer.Bracket, "(") || !operandExpected(tokens[:i]) {
			continue
		}
		if out == nil {
			out = []byte(src)
		}
		copy(out[byteOffset(src, t.From):], name)
	}
	if out == nil {
		return src
	}
	return string(out)
}

// operandExpected reports whether the token after before stands where an
// operand is expected, rather than an operator: at the start, or after an
// operator or an opening bracket. After "." it is a member's name.
func operandExpected(before []lexer.Token) bool {
	if len(before) == 0 {
		return true
	}
	prev := before[len(before)-1]
	switch prev.Kind {
	case lexer.Bracket:
		return prev.Value == "(" || prev.Value == "[" || prev.Value == "{"
	case lexer.Operator:
		switch prev.Value {
		case "not":
			// `a not contains (b)` is the negated operator; `not contains(a, b)`
			// negates a call.
			return operandExpected(before[:len(before)-1])
		case ".", "?.", "#":
			return false
		}
		return true
	}
	return false
}

// byteOffset is the byte offset of the rune at index r of s, as expr's lexer
// counts runes.
func byteOffset(s string, r int) int {
	for i := range s {
		if r == 0 {
			return i
		}
		r--
	}
	return len(s)
}

// callFunctions registers the call forms. The compiled names of contains,
// startsWith and endsWith differ from the names the user wrote, which errors
// use. join replaces expr's builtin of that name: its two-argument form means
// the same, and GitHub's one-argument form joins with ",".
func callFunctions(c *conf.Config) {
	c.Functions[callForms["contains"]] = &builtin.Function{Name: "contains", Func: containsFunc,
		Types: []reflect.Type{reflect.TypeFor[func(any, any) bool]()}}
	c.Functions[callForms["startsWith"]] = &builtin.Function{Name: "startsWith", Func: affixFunc("startsWith", "prefix", strings.HasPrefix),
		Types: []reflect.Type{reflect.TypeFor[func(any, any) bool]()}}
	c.Functions[callForms["endsWith"]] = &builtin.Function{Name: "endsWith", Func: affixFunc("endsWith", "suffix", strings.HasSuffix),
		Types: []reflect.Type{reflect.TypeFor[func(any, any) bool]()}}
	c.Functions["format"] = &builtin.Function{Name: "format", Func: formatFunc,
		Types: []reflect.Type{reflect.TypeFor[func(string, ...any) string]()}}
	c.Functions["join"] = &builtin.Function{Name: "join", Func: joinFunc,
		Types: []reflect.Type{reflect.TypeFor[func(any) string](), reflect.TypeFor[func(any, string) string]()}}
}

// walkingCalls are the call forms that walk a list given as their first
// argument; the budget patch charges for it.
var walkingCalls = map[string]bool{callForms["contains"]: true, "join": true}

// containsFunc is contains(search, item): with a list, whether item is one of
// its elements; otherwise whether item's text is part of search's. Strings
// compare without regard to case, as in GitHub Actions.
func containsFunc(args ...any) (any, error) {
	if list, ok := listItems(args[0]); ok {
		for _, e := range list {
			if looseEqual(e, args[1]) {
				return true, nil
			}
		}
		return false, nil
	}
	s, ok := text(args[0])
	if !ok {
		return nil, fmt.Errorf("contains: the first argument is %s, not a list or a string", kindOf(args[0]))
	}
	item, ok := text(args[1])
	if !ok {
		return nil, fmt.Errorf("contains: the item is %s, not a string", kindOf(args[1]))
	}
	return strings.Contains(strings.ToLower(s), strings.ToLower(item)), nil
}

// affixFunc is startsWith or endsWith (name): has tests the texts of the value
// and of the prefix or suffix (what), without regard to case.
func affixFunc(name, what string, has func(s, affix string) bool) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		s, ok := text(args[0])
		if !ok {
			return nil, fmt.Errorf("%s: the value is %s, not a string", name, kindOf(args[0]))
		}
		affix, ok := text(args[1])
		if !ok {
			return nil, fmt.Errorf("%s: the %s is %s, not a string", name, what, kindOf(args[1]))
		}
		return has(strings.ToLower(s), strings.ToLower(affix)), nil
	}
}

// joinFunc is join(list, sep): the texts of list's elements separated by sep
// (default ","). A string is returned as it is, nil is "".
func joinFunc(args ...any) (any, error) {
	sep := ","
	if len(args) == 2 {
		sep = args[1].(string)
	}
	list, ok := listItems(args[0])
	if !ok {
		s, ok := text(args[0])
		if !ok {
			return nil, fmt.Errorf("join: the first argument is %s, not a list or a string", kindOf(args[0]))
		}
		return s, nil
	}
	parts := make([]string, len(list))
	for i, e := range list {
		parts[i] = Stringify(e)
	}
	return strings.Join(parts, sep), nil
}

// formatFunc is format(f, args…): f with each {N} replaced by the text of the
// Nth argument after f, and {{ and }} by single braces.
func formatFunc(args ...any) (any, error) {
	f := args[0].(string)
	var b strings.Builder
	err := scanFormat(f, len(args)-1, func(literal string, arg int) {
		if arg < 0 {
			b.WriteString(literal)
		} else {
			b.WriteString(Stringify(args[1+arg]))
		}
	})
	if err != nil {
		return nil, fmt.Errorf("format: %w", err)
	}
	return b.String(), nil
}

// scanFormat reads a format string with n arguments, calling emit with each
// piece of literal text (arg -1) and each argument reference in order.
func scanFormat(f string, n int, emit func(literal string, arg int)) error {
	start := 0
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '{' && c != '}' {
			continue
		}
		emit(f[start:i], -1)
		if i+1 < len(f) && f[i+1] == c {
			emit(f[i:i+1], -1)
			i++
			start = i + 1
			continue
		}
		if c == '}' {
			return errors.New("a lone } (write }} for a brace)")
		}
		end := strings.IndexByte(f[i:], '}')
		if end < 0 {
			return errors.New("{ without a closing } (write {{ for a brace)")
		}
		ref := f[i+1 : i+end]
		arg, err := strconv.Atoi(ref)
		if err != nil || arg < 0 || ref != strconv.Itoa(arg) {
			return fmt.Errorf("{%s} is not an argument reference like {0} (write {{ for a brace)", clip(ref, maxEcho))
		}
		if arg >= n {
			return fmt.Errorf("{%d} needs %d arguments after the format, got %d", arg, arg+1, n)
		}
		emit("", arg)
		i += end
		start = i + 1
	}
	emit(f[start:], -1)
	return nil
}

// formatCalls is the patch that checks the format of each format() call whose
// format is a string literal, so that a bad one, or one that refers to an
// argument the call does not give, fails the load. It keeps the first error.
type formatCalls struct{ err *file.Error }

func (fc *formatCalls) Visit(n *ast.Node) {
	call, ok := (*n).(*ast.CallNode)
	if !ok || fc.err != nil || len(call.Arguments) == 0 {
		return
	}
	if callee, ok := call.Callee.(*ast.IdentifierNode); !ok || callee.Value != "format" {
		return
	}
	lit, ok := call.Arguments[0].(*ast.StringNode)
	if !ok {
		return
	}
	if err := scanFormat(lit.Value, len(call.Arguments)-1, func(string, int) {}); err != nil {
		fc.err = &file.Error{Location: lit.Location(), Message: "format: " + err.Error()}
	}
}

// listItems returns v's elements when v is a list or an array; nil is none.
func listItems(v any) ([]any, bool) {
	if v == nil {
		return nil, false
	}
	if items, ok := toList(v); ok {
		return items, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, false
	}
	items := make([]any, rv.Len())
	for i := range items {
		items[i] = rv.Index(i).Interface()
	}
	return items, true
}

// looseEqual is how contains compares a list's element with the item: strings
// without regard to case, anything else as expr's == does.
func looseEqual(a, b any) bool {
	if as, ok := a.(string); ok {
		bs, ok := b.(string)
		return ok && strings.EqualFold(as, bs)
	}
	return runtime.Equal(a, b)
}

// text is the text of a scalar: a string as it is, nil as "", a number or a
// bool as it prints. A list, a map or an object has none.
func text(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", true
	case string:
		return v, true
	case fmt.Stringer:
		return v.String(), true
	}
	switch k := reflect.ValueOf(v).Kind(); {
	case k == reflect.Bool, k >= reflect.Int && k <= reflect.Float64:
		return Stringify(v), true
	}
	return "", false
}

// kindOf names what a value without text is, for errors.
func kindOf(v any) string {
	switch reflect.ValueOf(v).Kind() {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map:
		return "a map"
	}
	return "an object"
}
