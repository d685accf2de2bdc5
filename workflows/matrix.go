package workflows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxCells is how many cells a job's matrix may have.
const MaxCells = 256

// maxCombinations bounds the axes' product before exclude takes any away, so
// that a matrix is never built far past what it may end up as.
const maxCombinations = 1 << 16

// maxKeyValue is how much of each value a cell's key shows.
const maxKeyValue = 40

// decodeNode reads either an expression giving a list, or a mapping of axes
// with optional include and exclude.
func (m *Matrix) decodeNode(d *decoder, n *yaml.Node) error {
	m.Pos = Pos{File: d.file, Line: n.Line, Col: n.Column}
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		e := &Expr{}
		if err := e.decodeNode(d, n); err != nil {
			return err
		}
		if e.program != nil {
			m.Expr = e
		}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("matrix: expected a mapping of axes (host: [web-01, web-02]) or an expression giving a list, got %s", d.describe(n))
	}
	before := len(d.errs)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		if seen[k.Value] {
			d.fail(k, "%s is set twice", d.quote(k))
			continue
		}
		seen[k.Value] = true
		switch k.Value {
		case "include":
			entries, keys := d.matrixEntries(k, v)
			m.Include, m.includeKeys = entries, keys
		case "exclude":
			m.Exclude, _ = d.matrixEntries(k, v)
		default:
			if axis, ok := d.matrixAxis(k, v); ok {
				m.Axes = append(m.Axes, axis)
			}
		}
	}
	if len(m.Axes) == 0 && len(m.Include) == 0 && len(d.errs) == before {
		d.fail(n, "matrix has no axes: add one like host: [web-01, web-02], or list the cells under include:")
	}
	return nil
}

// matrixAxis reads one axis: a non-empty list of scalars and mappings.
func (d *decoder) matrixAxis(k, v *yaml.Node) (MatrixAxis, bool) {
	if v.Kind != yaml.SequenceNode {
		d.fail(v, "matrix axis %s: expected a list of values, got %s (write [%s])", d.firstLine(k), d.describe(v), d.firstLine(v))
		return MatrixAxis{}, false
	}
	if len(v.Content) == 0 {
		d.fail(v, "matrix axis %s has no values: list at least one, or leave the axis out", d.firstLine(k))
		return MatrixAxis{}, false
	}
	axis := MatrixAxis{Name: k.Value}
	ok := true
	for _, item := range v.Content {
		if item.Kind == yaml.AliasNode {
			item = item.Alias
		}
		if item.Kind == yaml.SequenceNode {
			d.fail(item, "matrix axis %s: a value is a list; use a scalar or a mapping", d.firstLine(k))
			ok = false
			continue
		}
		axis.Values = append(axis.Values, yamlValue(item))
	}
	return axis, ok
}

// matrixEntries reads include: or exclude:, a list of non-empty mappings,
// and the keys of each in file order.
func (d *decoder) matrixEntries(k, v *yaml.Node) ([]map[string]any, [][]string) {
	if isNull(v) {
		return nil, nil
	}
	if v.Kind != yaml.SequenceNode {
		d.fail(v, "matrix %s: expected a list of mappings like {host: web-03}, got %s", k.Value, d.describe(v))
		return nil, nil
	}
	var entries []map[string]any
	var keys [][]string
	for _, item := range v.Content {
		if item.Kind == yaml.AliasNode {
			item = item.Alias
		}
		if item.Kind != yaml.MappingNode {
			d.fail(item, "matrix %s: expected a mapping like {host: web-03}, got %s", k.Value, d.describe(item))
			continue
		}
		if len(item.Content) == 0 {
			d.fail(item, "matrix %s: an empty mapping; write the values to match, like {host: web-03}", k.Value)
			continue
		}
		entry := map[string]any{}
		var order []string
		for i := 0; i+1 < len(item.Content); i += 2 {
			ek := item.Content[i]
			if _, dup := entry[ek.Value]; dup {
				d.fail(ek, "%s is set twice", d.quote(ek))
				continue
			}
			entry[ek.Value] = yamlValue(item.Content[i+1])
			order = append(order, ek.Value)
		}
		entries = append(entries, entry)
		keys = append(keys, order)
	}
	return entries, keys
}

// yamlValue is a YAML value as expressions read it: strings, ints, float64s,
// bools, nil, []any and map[string]any. checkNodes has bounded what aliases
// expand to.
func yamlValue(n *yaml.Node) any {
	switch n.Kind {
	case yaml.AliasNode:
		return yamlValue(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = yamlValue(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, item := range n.Content {
			l[i] = yamlValue(item)
		}
		return l
	}
	switch n.Tag {
	case "!!int", "!!float", "!!bool", "!!null":
		var v any
		if err := n.Decode(&v); err == nil {
			return v
		}
	}
	return n.Value
}

// Cells returns the job's cells, its matrix evaluated in s: one cell, keyed
// by the job id, for a job without a matrix. An empty list means the matrix
// has no combination.
//
// A matrix of axes is expanded as GitHub Actions does: the combinations of
// the axes' values (the first axis varying slowest); then each exclude entry
// removes the combinations that have all its values; then each include entry
// adds its other values to every remaining combination whose values it does
// not change, or, when there is none, becomes a combination of its own.
// Values compare as deep equality. A cell's key shows its values in key
// order (axes, then what include added); a key that would repeat an earlier
// cell's gets " #2", " #3" and so on. A matrix expression gives one cell per
// element of its list, keyed "id (N)" from 1: a mapping element is the
// cell's values, any other value v is {value: v}.
//
// A cell's values are its own map; values inside them may be shared with
// other cells and the workflow, and must not be modified.
func (j *Job) Cells(s *Scope) ([]Cell, error) {
	if j.Strategy == nil || j.Strategy.Matrix == nil {
		return []Cell{{Key: j.ID}}, nil
	}
	m := j.Strategy.Matrix
	if m.Expr != nil {
		return j.exprCells(s)
	}
	combos, err := m.combinations(j.ID)
	if err != nil {
		return nil, err
	}
	cells := make([]Cell, len(combos))
	seen := map[string]int{}
	for i, c := range combos {
		parts := make([]string, len(c.keys))
		for k, key := range c.keys {
			parts[k] = keyValue(c.values[key])
		}
		key := j.ID + " (" + strings.Join(parts, ", ") + ")"
		if seen[key]++; seen[key] > 1 {
			key += " #" + strconv.Itoa(seen[key])
		}
		cells[i] = Cell{Key: key, Index: i, Values: c.values}
	}
	return cells, nil
}

// exprCells evaluates a matrix expression into cells.
func (j *Job) exprCells(s *Scope) ([]Cell, error) {
	v, err := j.Strategy.Matrix.Expr.Eval(s)
	if err != nil {
		return nil, fmt.Errorf("matrix of %s: %w", j.ID, err)
	}
	items, ok := listItems(v)
	if !ok && v != nil { // nil: no cells
		return nil, fmt.Errorf("matrix of %s: %T is not a list", j.ID, v)
	}
	if len(items) > MaxCells {
		return nil, fmt.Errorf("matrix of %s has %d cells; at most %d", j.ID, len(items), MaxCells)
	}
	cells := make([]Cell, len(items))
	for i, item := range items {
		item, err := plainValue(item)
		if err != nil {
			return nil, fmt.Errorf("matrix of %s: element %d: %w", j.ID, i+1, err)
		}
		values, ok := item.(map[string]any)
		if !ok {
			values = map[string]any{"value": item}
		}
		cells[i] = Cell{Key: fmt.Sprintf("%s (%d)", j.ID, i+1), Index: i, Values: values}
	}
	return cells, nil
}

// plainValue returns v as plain values (strings, numbers, bools, nil, []any,
// map[string]any): v itself when it is, else what its JSON form decodes to,
// as a run reads a for_each item back from the store.
func plainValue(v any) (any, error) {
	if isPlain(v) {
		return v, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return UnmarshalJSONValue(b)
}

func isPlain(v any) bool {
	switch v := v.(type) {
	case nil, string, bool, int, int64, uint64, float64:
		return true
	case []any:
		for _, e := range v {
			if !isPlain(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range v {
			if !isPlain(e) {
				return false
			}
		}
		return true
	}
	return false
}

// keyValue is how a value reads in a cell's key: a string as it is, any
// other value as compact JSON, clipped.
func keyValue(v any) string {
	s, ok := v.(string)
	if !ok {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			s = fmt.Sprint(v)
		} else {
			s = strings.TrimSuffix(b.String(), "\n")
		}
	}
	return clip(s, maxKeyValue)
}

// combination is one cell of a matrix of axes: its values, and their keys
// in the order the cell's key shows them.
type combination struct {
	keys   []string
	values map[string]any
}

// combinations expands a matrix of axes; id names the job in errors.
func (m *Matrix) combinations(id string) ([]combination, error) {
	total := 0
	if len(m.Axes) > 0 {
		total = 1
		for _, a := range m.Axes {
			total *= len(a.Values)
			if total > maxCombinations {
				return nil, fmt.Errorf("matrix of %s has more than %d combinations; at most %d cells", id, maxCombinations, MaxCells)
			}
		}
	}
	axisKeys := make([]string, len(m.Axes))
	isAxis := map[string]bool{}
	for i, a := range m.Axes {
		axisKeys[i], isAxis[a.Name] = a.Name, true
	}
	combos := make([]combination, 0, total)
	for n := range total {
		values := make(map[string]any, len(m.Axes))
		// The last axis varies fastest.
		rest := n
		for i := len(m.Axes) - 1; i >= 0; i-- {
			a := m.Axes[i]
			values[a.Name] = a.Values[rest%len(a.Values)]
			rest /= len(a.Values)
		}
		if slices.ContainsFunc(m.Exclude, func(e map[string]any) bool { return hasValues(values, e) }) {
			continue
		}
		combos = append(combos, combination{keys: slices.Clone(axisKeys), values: values})
	}
	original := len(combos)
	for i, inc := range m.Include {
		order := m.entryKeys(i)
		added := false
		for c := range combos[:original] {
			if !fitsInclude(combos[c].values, inc, isAxis) {
				continue
			}
			added = true
			for _, k := range order {
				if isAxis[k] {
					continue
				}
				if _, ok := combos[c].values[k]; !ok {
					combos[c].keys = append(combos[c].keys, k)
				}
				combos[c].values[k] = inc[k]
			}
		}
		if !added {
			c := combination{values: make(map[string]any, len(inc))}
			for _, k := range axisKeys {
				if v, ok := inc[k]; ok {
					c.keys, c.values[k] = append(c.keys, k), v
				}
			}
			for _, k := range order {
				if !isAxis[k] {
					c.keys, c.values[k] = append(c.keys, k), inc[k]
				}
			}
			combos = append(combos, c)
		}
	}
	if len(combos) > MaxCells {
		return nil, fmt.Errorf("matrix of %s has %d cells; at most %d", id, len(combos), MaxCells)
	}
	return combos, nil
}

// entryKeys are the keys of the i-th include entry in file order; sorted
// when the matrix was not read from a file.
func (m *Matrix) entryKeys(i int) []string {
	if i < len(m.includeKeys) {
		return m.includeKeys[i]
	}
	keys := make([]string, 0, len(m.Include[i]))
	for k := range m.Include[i] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// hasValues reports whether values has every value of entry.
func hasValues(values, entry map[string]any) bool {
	for k, v := range entry {
		got, ok := values[k]
		if !ok || !reflect.DeepEqual(got, v) {
			return false
		}
	}
	return true
}

// fitsInclude reports whether an include entry can be added to a combination:
// it changes none of the combination's axis values.
func fitsInclude(values, entry map[string]any, isAxis map[string]bool) bool {
	for k, v := range entry {
		if isAxis[k] && !reflect.DeepEqual(values[k], v) {
			return false
		}
	}
	return true
}
