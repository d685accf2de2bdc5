package workflows

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The draft 2020-12 keywords schema.json may use, by what their values hold.
var (
	schemaKeywords = map[string]bool{
		"$schema": true, "$id": true, "$ref": true, "$comment": true, "title": true,
		"description": true, "type": true, "enum": true, "const": true, "default": true,
		"required": true, "pattern": true, "minimum": true, "maximum": true,
		"minItems": true, "maxItems": true, "minProperties": true, "maxProperties": true,
		"minLength": true, "maxLength": true, "dependentRequired": true,
	}
	subschemaKeywords     = map[string]bool{"items": true, "not": true, "if": true, "then": true, "else": true, "additionalProperties": true, "propertyNames": true}
	subschemaListKeywords = map[string]bool{"allOf": true, "anyOf": true, "oneOf": true}
	subschemaMapKeywords  = map[string]bool{"properties": true, "$defs": true, "dependentSchemas": true}
	conditionKeywords     = map[string]bool{"if": true, "then": true, "else": true, "not": true}
	jsonTypes             = map[string]bool{"string": true, "number": true, "integer": true, "boolean": true, "object": true, "array": true, "null": true}
)

// decodeSchema parses a schema document.
func decodeSchema(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		t.Fatalf("schema is not valid JSON: %v", err)
	}
	return root
}

// resolve follows a local JSON pointer such as #/$defs/step.
func resolve(root map[string]any, ref string) (any, bool) {
	if ref == "#" {
		return root, true
	}
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	var cur any = root
	for _, part := range strings.Split(rest, "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		switch c := cur.(type) {
		case map[string]any:
			if cur, ok = c[part]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// schemaWalk checks every schema inside a document: known keywords only,
// well-formed values, resolvable $refs, and (when described is set) a
// description on every property outside conditions. It returns the $refs seen.
type schemaWalk struct {
	t         *testing.T
	root      map[string]any
	described bool
	refs      map[string]bool
}

func (w *schemaWalk) schema(path string, v any, inCondition bool) {
	w.t.Helper()
	if _, ok := v.(bool); ok {
		return
	}
	s, ok := v.(map[string]any)
	if !ok {
		w.t.Errorf("%s: a schema must be an object or a boolean, got %T", path, v)
		return
	}
	for key, val := range s {
		at := path + "/" + key
		switch {
		case subschemaKeywords[key]:
			w.schema(at, val, inCondition || conditionKeywords[key])
		case subschemaListKeywords[key]:
			list, ok := val.([]any)
			if !ok || len(list) == 0 {
				w.t.Errorf("%s: want a non-empty list of schemas", at)
			}
			for i, sub := range list {
				w.schema(at+"/"+strconv.Itoa(i), sub, inCondition)
			}
		case subschemaMapKeywords[key]:
			m, ok := val.(map[string]any)
			if !ok {
				w.t.Errorf("%s: want an object of schemas", at)
			}
			for name, sub := range m {
				if key == "properties" && w.described && !inCondition {
					if d, _ := sub.(map[string]any)["description"].(string); strings.TrimSpace(d) == "" {
						w.t.Errorf("%s/%s: property has no description", at, name)
					}
				}
				w.schema(at+"/"+name, sub, inCondition)
			}
		case schemaKeywords[key]:
			w.value(at, key, val, s)
		default:
			w.t.Errorf("%s: %q is not a JSON Schema keyword this schema uses", path, key)
		}
	}
}

// value checks the value of a keyword that does not hold schemas.
func (w *schemaWalk) value(at, key string, val any, s map[string]any) {
	w.t.Helper()
	switch key {
	case "$ref":
		ref, _ := val.(string)
		if _, ok := resolve(w.root, ref); !ok {
			w.t.Errorf("%s: $ref %q does not resolve", at, ref)
		}
		w.refs[ref] = true
	case "type":
		names, ok := val.([]any)
		if !ok {
			names = []any{val}
		}
		for _, n := range names {
			if name, _ := n.(string); !jsonTypes[name] {
				w.t.Errorf("%s: unknown type %v", at, n)
			}
		}
	case "pattern":
		p, _ := val.(string)
		if _, err := regexp.Compile(p); err != nil {
			w.t.Errorf("%s: %v", at, err)
		}
	case "required":
		props, _ := s["properties"].(map[string]any)
		closed := s["additionalProperties"] == false
		for _, r := range val.([]any) {
			if _, ok := props[r.(string)]; closed && !ok {
				w.t.Errorf("%s: %q is required but not a property", at, r)
			}
		}
	case "enum":
		if list, ok := val.([]any); !ok || len(list) == 0 {
			w.t.Errorf("%s: want a non-empty list", at)
		}
	}
}

// checkSchemaDocument runs schemaWalk over a whole document and checks that
// every definition is used.
func checkSchemaDocument(t *testing.T, data []byte, described bool) map[string]any {
	t.Helper()
	root := decodeSchema(t, data)
	if got := root["$schema"]; got != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema is %v, want draft 2020-12", got)
	}
	w := &schemaWalk{t: t, root: root, described: described, refs: map[string]bool{}}
	w.schema("#", root, false)
	defs, _ := root["$defs"].(map[string]any)
	for name := range defs {
		if !w.refs["#/$defs/"+name] {
			t.Errorf("$defs/%s is never referenced", name)
		}
	}
	return root
}

func TestSchemaDocument(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		checkSchemaDocument(t, schemaJSON, true)
	})
	t.Run("generated", func(t *testing.T) {
		out, err := Schema(map[string]any{"demo": &demoParams{}, "other": &struct {
			Path string `json:"path"`
		}{}})
		if err != nil {
			t.Fatal(err)
		}
		checkSchemaDocument(t, out, false)
	})
}

// schemaObjectAt returns the object schema at pointer: the schema itself, or
// the one branch of its oneOf/anyOf that has properties, following $refs.
func schemaObjectAt(t *testing.T, root map[string]any, pointer string) map[string]any {
	t.Helper()
	v, ok := resolve(root, "#"+pointer)
	if !ok {
		t.Fatalf("nothing at %s", pointer)
	}
	s := v.(map[string]any)
	for {
		ref, ok := s["$ref"].(string)
		if !ok {
			break
		}
		v, _ := resolve(root, ref)
		s = v.(map[string]any)
	}
	if _, ok := s["properties"]; ok {
		return s
	}
	var found []map[string]any
	for _, k := range []string{"oneOf", "anyOf"} {
		branches, _ := s[k].([]any)
		for _, b := range branches {
			bs := b.(map[string]any)
			if ref, ok := bs["$ref"].(string); ok {
				v, _ := resolve(root, ref)
				bs = v.(map[string]any)
			}
			if _, ok := bs["properties"]; ok {
				found = append(found, bs)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: want one object schema, found %d", pointer, len(found))
	}
	return found[0]
}

// yamlStructs lists the struct types with yaml keys reachable from t through
// its yaml keys: every mapping a workflow file can contain.
func yamlStructs(t reflect.Type, seen map[reflect.Type]bool) []reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] || len(yamlKeys(t)) == 0 {
		return nil
	}
	seen[t] = true
	found := []reflect.Type{t}
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			found = append(found, yamlStructs(t.Field(i).Type, seen)...)
		}
	}
	return found
}

// TestSchemaMatchesGoTypes fails when a yaml key is added to or removed from the
// workflow types without the same change to schema.json.
func TestSchemaMatchesGoTypes(t *testing.T) {
	root := decodeSchema(t, schemaJSON)
	objects := []struct {
		typ   reflect.Type
		at    string
		extra []string // keys decoded outside the struct's fields
	}{
		{reflect.TypeFor[Workflow](), "", nil},
		{reflect.TypeFor[Triggers](), "/$defs/triggers", nil},
		{reflect.TypeFor[Webhook](), "/$defs/webhook", nil},
		{reflect.TypeFor[BasicAuth](), "/$defs/basic_auth", nil},
		{reflect.TypeFor[Signature](), "/$defs/signature", nil},
		{reflect.TypeFor[Cron](), "/$defs/cron", nil},
		{reflect.TypeFor[Dispatch](), "/$defs/dispatch", nil},
		{reflect.TypeFor[Input](), "/$defs/input", []string{"default"}},
		{reflect.TypeFor[Concurrency](), "/$defs/concurrency", nil},
		{reflect.TypeFor[Cooldown](), "/$defs/cooldown", nil},
		{reflect.TypeFor[Sandbox](), "/$defs/sandbox", nil},
		{reflect.TypeFor[Defaults](), "/$defs/defaults", nil},
		{reflect.TypeFor[Step](), "/$defs/step", nil},
		{reflect.TypeFor[Retry](), "/$defs/retry", nil},
		{reflect.TypeFor[Job](), "/$defs/job", nil},
		{reflect.TypeFor[Strategy](), "/$defs/strategy", nil},
		{reflect.TypeFor[Report](), "/$defs/report", nil},
		{reflect.TypeFor[Notify](), "/$defs/notify", nil},
		{reflect.TypeFor[SlackNotify](), "/$defs/notify/properties/slack", nil},
		{reflect.TypeFor[WebhookNotify](), "/$defs/notify/properties/webhook", nil},
		{reflect.TypeFor[EmailNotify](), "/$defs/notify/properties/email", nil},
		{reflect.TypeFor[Concurrency](), "/$defs/job_concurrency", nil},
	}
	covered := map[reflect.Type]bool{}
	for _, o := range objects {
		covered[o.typ] = true
		t.Run(o.typ.Name(), func(t *testing.T) {
			s := schemaObjectAt(t, root, o.at)
			want := append(yamlKeys(o.typ), o.extra...)
			var got []string
			for k := range s["properties"].(map[string]any) {
				got = append(got, k)
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("schema.json %s has properties\n  %v\nthe Go type %s has yaml keys\n  %v", o.at, got, o.typ, want)
			}
			if s["additionalProperties"] != false {
				t.Errorf("schema.json %s: the decoder refuses unknown keys; set additionalProperties: false", o.at)
			}
		})
	}
	for _, typ := range yamlStructs(reflect.TypeFor[Workflow](), map[reflect.Type]bool{}) {
		if !covered[typ] {
			t.Errorf("%s is a mapping in workflow files: describe it in schema.json and add it to this test", typ)
		}
	}
}

// TestSchemaEnums keeps the allowed values in schema.json equal to the Go ones.
func TestSchemaEnums(t *testing.T) {
	root := decodeSchema(t, schemaJSON)
	tests := []struct {
		at   string
		want []string
	}{
		{"/properties/on_interrupt", []string{InterruptFail, InterruptRequeue}},
		{"/properties/keep_workspace", []string{KeepNever, KeepOnFailure, KeepAlways}},
		{"/$defs/webhook/properties/provider", ProviderNames()},
		{"/$defs/webhook/properties/respond", []string{RespondAsync, RespondSync}},
		{"/$defs/input/properties/type", []string{InputString, InputNumber, InputBoolean, InputChoice}},
		{"/$defs/concurrency/oneOf/1/properties/pending", []string{PendingAll, PendingLatest}},
		{"/$defs/sandbox/properties/level", []string{LevelAuto, LevelIsolated, LevelProcess}},
	}
	for _, tt := range tests {
		t.Run(strings.TrimPrefix(tt.at, "/"), func(t *testing.T) {
			v, ok := resolve(root, "#"+tt.at)
			if !ok {
				t.Fatalf("nothing at %s", tt.at)
			}
			var got []string
			for _, e := range v.(map[string]any)["enum"].([]any) {
				got = append(got, e.(string))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("enum is %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSchemaPatterns checks that the schema's patterns accept what the loader
// accepts and refuse what it refuses.
func TestSchemaPatterns(t *testing.T) {
	root := decodeSchema(t, schemaJSON)
	pattern := func(t *testing.T, at string) *regexp.Regexp {
		t.Helper()
		v, ok := resolve(root, "#"+at)
		if !ok {
			t.Fatalf("nothing at %s", at)
		}
		return regexp.MustCompile(v.(map[string]any)["pattern"].(string))
	}
	goDuration := func(s string) bool {
		_, err := ParseDuration(s)
		return err == nil
	}
	goSize := func(s string) bool {
		_, err := ParseBytes(s)
		return err == nil
	}
	goPath := func(s string) bool { return hookPath.MatchString(strings.TrimPrefix(s, "/")) }
	tests := []struct {
		name    string
		at      string
		loader  func(string) bool
		samples []string
	}{
		{"duration", "/$defs/duration", goDuration, []string{
			"0", "30s", "15m", "1h30m", "1.5h", ".5s", "2.s", "100ms", "10us", "10µs", "10μs", "5ns",
			"1d", "30d", "1.5d", "1w2d3h", "2w",
			"", "5", "-5s", "+5s", "s", "1h 30m", "5S", " 5s", "1D", "d", ".d", "1y",
		}},
		{"size", "/$defs/byte_size/anyOf/1", goSize, []string{
			"0", "512", "64Ki", "512Mi", "1Gi", "2Ti", "10MB", "8MiB", "1K", "7B", " 1 Gi ",
			"", "1.5Gi", "-1", "Gi", "1gi", "1 GiB x",
		}},
		{"step id", "/$defs/step/properties/id", stepIDPattern.MatchString, []string{
			"build", "_x", "a-b_c1", "", "1st", "-a", "a.b", "a b",
		}},
		{"input name", "/$defs/dispatch/properties/inputs/propertyNames", stepIDPattern.MatchString, []string{
			"version", "dry_run", "dry-run", "", "9", "a.b",
		}},
		{"workflow name", "/properties/name", namePattern.MatchString, []string{
			"deploy-web", "v1.2_x", "", "a b", "a/b",
		}},
		{"webhook path", "/$defs/webhook/properties/path", goPath, []string{
			"github", "/github", "team/app.v2", "a~b", "", "/", "a//b", "a/", "a b", "a?x",
		}},
		{"env name", "/$defs/env/propertyNames", validEnvName, []string{
			"APP", "_x", "a1", "", "1A", "A-B", "A.B",
		}},
		{"job id", "/properties/jobs/propertyNames", jobIDPattern.MatchString, []string{
			"build", "1st", "deploy-web_2", "-x", "", "a.b", "a b", "a/b",
		}},
		{"output name", "/$defs/outputs/propertyNames", stepIDPattern.MatchString, []string{
			"image", "_x", "a-b_c1", "", "1st", "a.b", "a b",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			re := pattern(t, tt.at)
			for _, s := range tt.samples {
				if got, want := re.MatchString(s), tt.loader(s); got != want {
					t.Errorf("%q: schema accepts it: %v, loader accepts it: %v", s, got, want)
				}
			}
		})
	}
}

// demoParams is the settings struct of a made-up action kind.
type demoParams struct {
	URL     string            `json:"url"`
	N       int               `json:"n"`
	Wait    *bool             `json:"wait,omitempty"`
	Ratio   float64           `json:"ratio"`
	Headers map[string]string `json:"headers"`
	Expect  []int             `json:"expect"`
	Raw     []byte            `json:"raw"`
	Timeout demoDuration      `json:"timeout"`
	Auth    *struct {
		User string `json:"user"`
	} `json:"auth"`
	Any      any    `json:"any"`
	Internal string `json:"-"`
	Untagged string
}

// demoDuration reads itself from JSON, as action durations do.
type demoDuration int64

func (d *demoDuration) UnmarshalJSON([]byte) error { return nil }

func TestSchemaActions(t *testing.T) {
	tmpl := map[string]any{"type": "string", "pattern": `\$\{\{`}
	orTemplate := func(s map[string]any) map[string]any { return map[string]any{"anyOf": []any{s, tmpl}} }

	t.Run("brief", func(t *testing.T) {
		out, err := Schema(map[string]any{"demo": &struct {
			URL string `json:"url"`
			N   int    `json:"n"`
		}{}})
		if err != nil {
			t.Fatal(err)
		}
		root := decodeSchema(t, out)
		step := schemaObjectAt(t, root, "/$defs/step")
		if got := step["properties"].(map[string]any)["uses"].(map[string]any)["enum"]; !reflect.DeepEqual(got, []any{"demo"}) {
			t.Errorf("uses enum is %v, want [demo]", got)
		}
		with := actionWith(t, step, "demo")
		props := with["properties"].(map[string]any)
		if len(props) != 2 {
			t.Errorf("with has properties %v, want url and n", props)
		}
		if got := withoutDescription(props["url"]); !reflect.DeepEqual(got, map[string]any{"type": "string"}) {
			t.Errorf("url: %v", got)
		}
		if got := withoutDescription(props["n"]); !reflect.DeepEqual(got, orTemplate(map[string]any{"type": "integer"})) {
			t.Errorf("n: %v", got)
		}
		if with["additionalProperties"] != false {
			t.Errorf("with accepts unknown keys")
		}
	})

	t.Run("field types", func(t *testing.T) {
		out, err := Schema(map[string]any{"demo": &demoParams{}})
		if err != nil {
			t.Fatal(err)
		}
		props := actionWith(t, schemaObjectAt(t, decodeSchema(t, out), "/$defs/step"), "demo")["properties"].(map[string]any)
		want := map[string]any{
			"url":     map[string]any{"type": "string"},
			"n":       orTemplate(map[string]any{"type": "integer"}),
			"wait":    orTemplate(map[string]any{"type": "boolean"}),
			"ratio":   orTemplate(map[string]any{"type": "number"}),
			"headers": orTemplate(map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}}),
			"expect":  orTemplate(map[string]any{"type": "array", "items": orTemplate(map[string]any{"type": "integer"})}),
			"raw":     map[string]any{"type": "string"},
			"timeout": map[string]any{},
			"auth": orTemplate(map[string]any{
				"type":                 "object",
				"properties":           map[string]any{"user": map[string]any{"type": "string"}},
				"additionalProperties": false,
			}),
			"any": map[string]any{},
		}
		for name, w := range want {
			if got := withoutDescription(props[name]); !reflect.DeepEqual(got, w) {
				t.Errorf("%s:\n got %v\nwant %v", name, got, w)
			}
			if d, _ := props[name].(map[string]any)["description"].(string); d == "" {
				t.Errorf("%s has no description", name)
			}
		}
		if len(props) != len(want) {
			t.Errorf("with has %d properties, want %d (untagged and json:\"-\" fields are not keys)", len(props), len(want))
		}
	})

	t.Run("deterministic", func(t *testing.T) {
		params := map[string]any{"demo": &demoParams{}, "b": &struct{}{}, "a": &struct{}{}}
		first, err := Schema(params)
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			again, _ := Schema(params)
			if !bytes.Equal(first, again) {
				t.Fatal("two calls gave different output")
			}
		}
		step := schemaObjectAt(t, decodeSchema(t, first), "/$defs/step")
		if got := step["properties"].(map[string]any)["uses"].(map[string]any)["enum"]; !reflect.DeepEqual(got, []any{"a", "b", "demo"}) {
			t.Errorf("uses enum is %v, want sorted kinds", got)
		}
		if !bytes.HasPrefix(first, []byte("{\n  \"")) {
			t.Errorf("output is not indented: %.40q", first)
		}
	})

	t.Run("no kinds", func(t *testing.T) {
		out, err := Schema(nil)
		if err != nil {
			t.Fatal(err)
		}
		var got, want any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(schemaJSON, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Error("Schema(nil) differs from schema.json")
		}
	})

	t.Run("bad params", func(t *testing.T) {
		for _, params := range []any{nil, 3, new(string)} {
			if _, err := Schema(map[string]any{"demo": params}); err == nil {
				t.Errorf("%T: no error", params)
			}
		}
	})
}

// actionWith returns the `with:` schema of the condition for kind.
func actionWith(t *testing.T, step map[string]any, kind string) map[string]any {
	t.Helper()
	all, _ := step["allOf"].([]any)
	for _, c := range all {
		c := c.(map[string]any)
		cond, _ := resolvePath(c, "if", "properties", "uses", "const")
		if cond != kind {
			continue
		}
		if req, _ := resolvePath(c, "if", "required"); !reflect.DeepEqual(req, []any{"uses"}) {
			t.Errorf("condition for %s applies without uses", kind)
		}
		with, ok := resolvePath(c, "then", "properties", "with")
		if !ok {
			t.Fatalf("condition for %s has no then.properties.with", kind)
		}
		w := with.(map[string]any)
		if w["type"] != "object" {
			t.Errorf("with for %s: type %v, want object", kind, w["type"])
		}
		return w
	}
	t.Fatalf("no condition for uses: %s in the step schema", kind)
	return nil
}

func resolvePath(m map[string]any, keys ...string) (any, bool) {
	var cur any = m
	for _, k := range keys {
		next, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = next[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func withoutDescription(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := map[string]any{}
	for k, val := range m {
		if k != "description" {
			out[k] = val
		}
	}
	return out
}
