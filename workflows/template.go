package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Template is a string value that may contain ${{ expr }} parts, compiled at load
// time. A template that is exactly one ${{ expr }} keeps the expression's type.
type Template struct {
	Source string
	Pos    Pos
	parts  []templatePart
	// urlKey is the `with:` key of a URL template (compileURL), whose values
	// are escaped for the part of the URL they stand in; "" for any other.
	urlKey string
}

type templatePart struct {
	text string
	expr *Expr   // nil for literal text
	in   urlPart // where expr stands in a URL template
}

// NewLiteral returns a template that renders to s as it is.
func NewLiteral(s string) *Template {
	return &Template{Source: s, parts: []templatePart{{text: s}}}
}

// IsLiteral reports whether t has no expressions.
func (t *Template) IsLiteral() bool {
	for _, p := range t.parts {
		if p.expr != nil {
			return false
		}
	}
	return true
}

// Render evaluates t in s. A lone expression keeps its type; anything else is a
// string, with nil rendered as "" and non-strings as JSON. In a URL template
// each value is escaped for the part of the URL it stands in.
func (t *Template) Render(s *Scope) (any, error) {
	if t == nil {
		return nil, nil
	}
	if len(t.parts) == 1 && t.parts[0].expr != nil {
		return t.parts[0].expr.Eval(s)
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.expr == nil {
			b.WriteString(p.text)
			continue
		}
		v, err := p.expr.Eval(s)
		if err != nil {
			return nil, err
		}
		text, err := t.splice(p, Stringify(v))
		if err != nil {
			return nil, err
		}
		b.WriteString(text)
	}
	if t.urlKey != "" {
		if err := t.checkURL(b.String()); err != nil {
			return nil, err
		}
	}
	return b.String(), nil
}

// RenderString renders t and converts the result to a string.
func (t *Template) RenderString(s *Scope) (string, error) {
	v, err := t.Render(s)
	if err != nil {
		return "", err
	}
	return Stringify(v), nil
}

// Stringify is how a value reads when spliced into a string: strings as they are,
// nil as "", numbers and bools in their usual form, anything else as JSON.
func Stringify(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case fmt.Stringer:
		return v.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// SecretNames lists the secrets t reads.
func (t *Template) SecretNames() []string {
	var names []string
	for _, p := range t.parts {
		if p.expr != nil {
			names = append(names, p.expr.secrets...)
		}
	}
	return names
}

func (t *Template) decodeNode(d *decoder, n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return fmt.Errorf("expected a string, got %s", d.describe(n))
	}
	parsed, err := parseTemplate(d, n)
	if err != nil {
		return err
	}
	*t = *parsed
	return nil
}

// ParseTemplate compiles text read at run time (a manifest an action reads) as
// a template. Errors are relative to text: "expression: … (line:col)" without a
// file position.
func ParseTemplate(text string) (*Template, error) {
	d := &decoder{file: "template"}
	t, err := parseTemplate(d, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: text, Line: 1, Column: 1})
	if err != nil {
		return nil, err
	}
	if len(d.errs) > 0 {
		msgs := make([]string, len(d.errs))
		for i, e := range d.errs {
			msgs[i] = e.Msg
		}
		return nil, errors.New(strings.Join(msgs, "; "))
	}
	t.Pos = Pos{}
	for _, p := range t.parts {
		if p.expr != nil {
			p.expr.Pos = Pos{}
		}
	}
	return t, nil
}

// parseTemplate splits a scalar into literal text and compiled expressions.
func parseTemplate(d *decoder, n *yaml.Node) (*Template, error) {
	src := n.Value
	t := &Template{Source: src, Pos: Pos{File: d.file, Line: n.Line, Col: n.Column}}
	rest, offset := src, 0
	for {
		start := strings.Index(rest, "${{")
		if start < 0 {
			if rest != "" {
				t.parts = append(t.parts, templatePart{text: rest})
			}
			return t, nil
		}
		end := ExpressionEnd(rest[start+3:])
		if end < 0 {
			return nil, fmt.Errorf("${{ without a closing }}")
		}
		if start > 0 {
			t.parts = append(t.parts, templatePart{text: rest[:start]})
		}
		code := rest[start+3 : start+3+end]
		e, err := compileExpr(code)
		if err != nil {
			d.errs = append(d.errs, exprError(d.file, n, offset+start+3, err))
			return t, nil
		}
		e.Source = strings.TrimSpace(code)
		e.Pos = t.Pos
		t.parts = append(t.parts, templatePart{expr: e})
		consumed := start + 3 + end + 2
		rest, offset = rest[consumed:], offset+consumed
	}
}

// ExpressionEnd finds the }} that ends an expression, skipping any inside quoted
// strings. It returns -1 when there is none.
func ExpressionEnd(s string) int {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '}' && i+1 < len(s) && s[i+1] == '}':
			return i
		}
	}
	return -1
}

// Value is a structured `with:` value whose string leaves are templates.
type Value struct {
	Pos      Pos
	template *Template    // a string leaf
	literal  any          // a number, bool or null leaf
	mapping  []valueField // a mapping, in file order
	list     []*Value     // a list
	kind     yaml.Kind
}

type valueField struct {
	key   string
	value *Value
}

// Render evaluates every template in v and returns plain Go values
// (map[string]any, []any, string, numbers, bools).
func (v *Value) Render(s *Scope) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch v.kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(v.mapping))
		for _, f := range v.mapping {
			r, err := f.value.Render(s)
			if err != nil {
				return nil, err
			}
			m[f.key] = r
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, len(v.list))
		for i, item := range v.list {
			r, err := item.Render(s)
			if err != nil {
				return nil, err
			}
			l[i] = r
		}
		return l, nil
	}
	if v.template != nil {
		return v.template.Render(s)
	}
	return v.literal, nil
}

// IsLiteral reports whether v contains no expressions.
func (v *Value) IsLiteral() bool {
	if v == nil {
		return true
	}
	for _, f := range v.mapping {
		if !f.value.IsLiteral() {
			return false
		}
	}
	for _, item := range v.list {
		if !item.IsLiteral() {
			return false
		}
	}
	return v.template == nil || v.template.IsLiteral()
}

// Keys lists a mapping's keys with their positions, in file order.
func (v *Value) Keys() []string {
	keys := make([]string, len(v.mapping))
	for i, f := range v.mapping {
		keys[i] = f.key
	}
	return keys
}

// field returns the value under key of a mapping.
func (v *Value) field(key string) *Value {
	for _, f := range v.mapping {
		if f.key == key {
			return f.value
		}
	}
	return nil
}

func (v *Value) decodeNode(d *decoder, n *yaml.Node) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	v.Pos, v.kind = Pos{File: d.file, Line: n.Line, Col: n.Column}, n.Kind
	switch n.Kind {
	case yaml.MappingNode:
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if seen[k.Value] {
				d.fail(k, "%s is set twice", d.quote(k))
				continue
			}
			seen[k.Value] = true
			child := &Value{}
			if err := child.decodeNode(d, n.Content[i+1]); err != nil {
				d.fail(n.Content[i+1], "%s", err)
			}
			child.Pos = Pos{File: d.file, Line: k.Line, Col: k.Column}
			v.mapping = append(v.mapping, valueField{key: k.Value, value: child})
		}
	case yaml.SequenceNode:
		for _, item := range n.Content {
			child := &Value{}
			if err := child.decodeNode(d, item); err != nil {
				d.fail(item, "%s", err)
			}
			v.list = append(v.list, child)
		}
	case yaml.ScalarNode:
		if n.Tag == "!!str" || n.Tag == "!" {
			t, err := parseTemplate(d, n)
			if err != nil {
				return err
			}
			v.template = t
			return nil
		}
		return n.Decode(&v.literal)
	default:
		return fmt.Errorf("unexpected %s", d.describe(n))
	}
	return nil
}
