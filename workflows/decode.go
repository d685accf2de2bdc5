package workflows

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The strict YAML decoder. yaml.v3 can refuse unknown keys, but its messages carry
// neither the file, the column nor a hint; this walks the node tree itself so that
// every error is "file:line:col: message" and says what to write instead.

// nodeDecoder is implemented by types that read themselves from a YAML node,
// e.g. a duration, an expression, or a "one value or a list" field.
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node) error
}

// decoder carries the file name and collects every error rather than the first.
type decoder struct {
	file  string
	lines []string // the source, for positions inside block scalars
	errs  ErrorList
}

// scriptPos is the position in the file of the end of prefix, the start of a
// scalar's value. Block scalars (run: |) are found in the source lines, since
// the node gives only the position of the | indicator.
func (d *decoder) scriptPos(n *yaml.Node, prefix string) Pos {
	if n == nil {
		return Pos{File: d.file, Line: 1, Col: 1}
	}
	line := n.Line + strings.Count(prefix, "\n")
	lastLine := prefix[strings.LastIndexByte(prefix, '\n')+1:]
	if n.Style != yaml.LiteralStyle && n.Style != yaml.FoldedStyle {
		if line == n.Line {
			return Pos{File: d.file, Line: line, Col: n.Column + len(lastLine)}
		}
		return Pos{File: d.file, Line: line, Col: 1}
	}
	line++ // block content starts under the indicator
	col := 1
	if line-1 < len(d.lines) {
		if i := strings.Index(d.lines[line-1], lastLine); i >= 0 {
			col = i + len(lastLine) + 1
		}
	}
	return Pos{File: d.file, Line: line, Col: col}
}

// fail records an error at n's position.
func (d *decoder) fail(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &PosError{File: d.file, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)})
}

var nodeDecoderType = reflect.TypeFor[nodeDecoder]()

// NodeUnmarshaler lets a type outside this package read itself from a YAML
// node, for shapes such as "a string or a mapping". decode reads a part of the
// node into out (a pointer) under the same strict rules, reporting its own
// errors; it returns false when it did.
type NodeUnmarshaler interface {
	UnmarshalYAMLNode(n *yaml.Node, decode func(n *yaml.Node, out any) bool) error
}

var nodeUnmarshalerType = reflect.TypeFor[NodeUnmarshaler]()

// decode fills v (addressable) from n. It returns false when it recorded an error.
func (d *decoder) decode(n *yaml.Node, v reflect.Value) bool {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if v.CanAddr() && v.Addr().Type().Implements(nodeDecoderType) {
		before := len(d.errs)
		if err := v.Addr().Interface().(nodeDecoder).decodeNode(d, n); err != nil {
			d.fail(n, "%s", err)
		}
		return len(d.errs) == before
	}
	if v.CanAddr() && v.Addr().Type().Implements(nodeUnmarshalerType) {
		before := len(d.errs)
		decode := func(n *yaml.Node, out any) bool { return d.decode(n, reflect.ValueOf(out).Elem()) }
		if err := v.Addr().Interface().(NodeUnmarshaler).UnmarshalYAMLNode(n, decode); err != nil {
			d.fail(n, "%s", err)
		}
		return len(d.errs) == before
	}
	if v.Kind() == reflect.Pointer {
		if isNull(n) {
			return true
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		if !d.decode(n, v.Elem()) {
			// Leave nothing half-built behind: later checks skip what is unset.
			v.Set(reflect.Zero(v.Type()))
			return false
		}
		return true
	}
	switch v.Kind() {
	case reflect.Struct:
		return d.decodeStruct(n, v)
	case reflect.Slice:
		return d.decodeSlice(n, v)
	case reflect.Map:
		return d.decodeMap(n, v)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || isNull(n) {
			d.fail(n, "expected a string, got %s", d.describe(n))
			return false
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || err != nil {
			d.fail(n, "expected true or false, got %s", d.describe(n))
			return false
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 10, 64)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
			d.fail(n, "expected a whole number, got %s", d.describe(n))
			return false
		}
		v.SetInt(i)
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || err != nil {
			d.fail(n, "expected a number, got %s", d.describe(n))
			return false
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("workflows: no YAML decoding for %s", v.Type()))
	}
	return true
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value) bool {
	if n.Kind != yaml.MappingNode {
		d.fail(n, "expected a mapping of %s, got %s", strings.Join(yamlKeys(v.Type()), ", "), d.describe(n))
		return false
	}
	ok := true
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			d.fail(k, "%s is set twice", d.quote(k))
			ok = false
			continue
		}
		seen[k.Value] = true
		f, found := fieldByKey(v, k.Value)
		if !found {
			d.fail(k, "unknown key %s%s", d.quote(k), keyHint(k, val, n, yamlKeys(v.Type())))
			ok = false
			continue
		}
		ok = d.decode(val, f) && ok
	}
	if p := v.FieldByName("Pos"); p.IsValid() && p.Type() == reflect.TypeFor[Pos]() {
		p.Set(reflect.ValueOf(Pos{File: d.file, Line: n.Line, Col: n.Column}))
	}
	return ok
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value) bool {
	if isNull(n) {
		return true
	}
	if n.Kind == yaml.ScalarNode {
		d.fail(n, "expected a list, got %s (write [%s])", d.describe(n), d.firstLine(n))
		return false
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, "expected a list, got %s", d.describe(n))
		return false
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	ok := true
	for i, item := range n.Content {
		ok = d.decode(item, s.Index(i)) && ok
	}
	v.Set(s)
	return ok
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value) bool {
	if isNull(n) {
		return true
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, "expected a mapping, got %s", d.describe(n))
		return false
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := reflect.ValueOf(k.Value).Convert(v.Type().Key())
		if m.MapIndex(key).IsValid() {
			d.fail(k, "%s is set twice", d.quote(k))
			ok = false
			continue
		}
		e := reflect.New(v.Type().Elem()).Elem()
		ok = d.decode(val, e) && ok
		m.SetMapIndex(key, e)
	}
	v.Set(m)
	return ok
}

// fieldByKey finds the struct field whose yaml tag is key.
func fieldByKey(v reflect.Value, key string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name == key {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// yamlKeys lists the keys a struct type accepts, in declaration order.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe names what a node is, for "expected X, got Y" messages.
func (d *decoder) describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.Tag {
	case "!!null":
		return "nothing"
	case "!!str":
		return d.quote(n)
	}
	return d.firstLine(n)
}

// suggest returns ` (did you mean "x"?)` for the closest known name, or the list of
// accepted names when none is close.
func suggest(got string, known []string) string {
	best, bestDist := "", len(got)/2+2
	for _, k := range known {
		if dist := editDistance(strings.ToLower(strings.ReplaceAll(got, "-", "_")), k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	if len(known) == 0 {
		return ""
	}
	return fmt.Sprintf(" (expected one of: %s)", strings.Join(known, ", "))
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// DecodeYAML strictly decodes a YAML document into out (a pointer to a struct
// with yaml tags), with the same rules and messages as workflow files: unknown
// keys are errors, and every error names file:line:col. The server's own
// configuration file is read with it.
func DecodeYAML(file string, data []byte, out any) error {
	d := &decoder{file: file, lines: strings.Split(string(data), "\n")}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return ErrorList{yamlSyntaxError(file, err)}
	}
	if root.Kind == 0 {
		return nil
	}
	if err := checkNodes(file, &root); err != nil {
		return err
	}
	d.decode(&root, reflect.ValueOf(out).Elem())
	return d.errs.err()
}
