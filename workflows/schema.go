package workflows

import (
	"bytes"
	_ "embed"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// schemaJSON is the hand-written JSON Schema of the workflow file format. It
// knows nothing of action kinds; Schema adds them.
//
//go:embed schema.json
var schemaJSON []byte

// templateString matches a value given as a ${{ }} template, which may render
// to any type.
func templateString() map[string]any {
	return map[string]any{"type": "string", "pattern": `\$\{\{`}
}

// Schema returns the JSON Schema (draft 2020-12) of workflow files, indented,
// with object keys sorted, for editors and `hookflow schema`.
//
// actionParams maps each action kind to a pointer to its settings struct, whose
// json tags are the kind's `with:` keys. For every kind the schema of a step
// gains a condition that checks `with:` when `uses:` names the kind, and `uses:`
// accepts only the kinds given. With no kinds, `uses:` and `with:` are not
// checked beyond their types.
func Schema(actionParams map[string]any) ([]byte, error) {
	var root map[string]any
	if err := json.Unmarshal(schemaJSON, &root); err != nil {
		return nil, fmt.Errorf("schema.json: %w", err)
	}
	provider, err := schemaObject(root, "$defs", "webhook", "properties", "provider")
	if err != nil {
		return nil, err
	}
	provider["enum"] = ProviderNames()

	if len(actionParams) > 0 {
		step, err := schemaObject(root, "$defs", "step")
		if err != nil {
			return nil, err
		}
		uses, err := schemaObject(step, "properties", "uses")
		if err != nil {
			return nil, err
		}
		kinds := make([]string, 0, len(actionParams))
		for kind := range actionParams {
			kinds = append(kinds, kind)
		}
		slices.Sort(kinds)
		uses["enum"] = kinds

		all, _ := step["allOf"].([]any)
		for _, kind := range kinds {
			with, err := withSchema(kind, actionParams[kind])
			if err != nil {
				return nil, err
			}
			all = append(all, map[string]any{
				"if": map[string]any{
					"required":   []string{"uses"},
					"properties": map[string]any{"uses": map[string]any{"const": kind}},
				},
				"then": map[string]any{
					"properties": map[string]any{"with": with},
				},
			})
		}
		step["allOf"] = all
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	return buf.Bytes(), nil
}

// schemaObject returns the object found by following keys from m.
func schemaObject(m map[string]any, keys ...string) (map[string]any, error) {
	for i, k := range keys {
		next, ok := m[k].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("schema.json: no object at /%s", strings.Join(keys[:i+1], "/"))
		}
		m = next
	}
	return m, nil
}

// withSchema describes the `with:` mapping of one action kind from its settings
// struct: one property per json tag, and nothing else.
func withSchema(kind string, params any) (map[string]any, error) {
	t := reflect.TypeOf(params)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("schema: action %q: settings must be a pointer to a struct, not %T", kind, params)
	}
	props := map[string]any{}
	for name, ft := range jsonFields(t) {
		s := valueSchema(ft, map[reflect.Type]bool{t: true})
		s["description"] = fmt.Sprintf("The %s setting of the %s action.", name, kind)
		props[name] = s
	}
	return map[string]any{
		"type":                 "object",
		"description":          fmt.Sprintf("Settings of the %s action.", kind),
		"properties":           props,
		"additionalProperties": false,
	}, nil
}

// jsonFields yields the json tag name and type of each tagged field of t, as
// the actions registry reads `with:` keys.
func jsonFields(t reflect.Type) func(yield func(string, reflect.Type) bool) {
	return func(yield func(string, reflect.Type) bool) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			if !yield(name, f.Type) {
				return
			}
		}
	}
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// valueSchema describes a `with:` value decoded into a Go value of type t.
// Since any value may be a ${{ }} template that renders to the right type, a
// non-string type also accepts a template string. open holds the struct types
// being described, so that a recursive type ends in an open schema.
func valueSchema(t reflect.Type, open map[reflect.Type]bool) map[string]any {
	if reads(t, jsonUnmarshaler) {
		// The type reads itself (a duration, a size): its JSON form is unknown here.
		return map[string]any{}
	}
	if reads(t, textUnmarshaler) {
		return map[string]any{"type": "string"}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var s map[string]any
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		s = map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s = map[string]any{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		s = map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		s = map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			// encoding/json reads []byte from a base64 string.
			return map[string]any{"type": "string"}
		}
		s = map[string]any{"type": "array", "items": valueSchema(t.Elem(), open)}
	case reflect.Map:
		s = map[string]any{"type": "object", "additionalProperties": valueSchema(t.Elem(), open)}
	case reflect.Struct:
		if open[t] {
			return map[string]any{}
		}
		open[t] = true
		props := map[string]any{}
		for name, ft := range jsonFields(t) {
			props[name] = valueSchema(ft, open)
		}
		delete(open, t)
		s = map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	default:
		return map[string]any{}
	}
	return map[string]any{"anyOf": []any{s, templateString()}}
}

// reads reports whether t or a pointer to it implements the decoding interface
// iface.
func reads(t reflect.Type, iface reflect.Type) bool {
	return t.Implements(iface) || (t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(iface))
}
