package runner

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookflow/hookflow/workflows"
)

// A run reads its event and for_each item as the pool decodes them from the
// store: the JSON the dispatcher stored, decoded again. A run that is handed
// them typed (Handoff) must see exactly the same values, or a template would
// render differently depending on which node runs it: an int an expression
// made is a float64 once decoded, a time loses its monotonic reading and its
// zone's name, an empty list of an omitempty field becomes nil, invalid UTF-8
// becomes U+FFFD. NormaliseEvent and NormaliseItem make those values once, at
// dispatch, without encoding and decoding the values that are already so.

// NormaliseEvent returns ev as a run reads it back from the store: what
// encoding/json decodes into a workflows.Event from json.Marshal(ev). It
// shares with ev what needs no change and does not modify ev.
func NormaliseEvent(ev *workflows.Event) (*workflows.Event, error) {
	return normaliseEvent(ev, nil)
}

// NormaliseItem returns a for_each item as a run reads it back from the store:
// what encoding/json decodes into an any from json.Marshal(item). It shares
// with item what needs no change and does not modify item.
func NormaliseItem(item any) (any, error) {
	return normaliseItem(item, nil)
}

// normaliseEvent is NormaliseEvent; data is ev's JSON when the caller has
// it, else nil.
func normaliseEvent(ev *workflows.Event, data []byte) (*workflows.Event, error) {
	if n, ok := normalisedEvent(ev); ok {
		return n, nil
	}
	if data == nil {
		var err error
		if data, err = json.Marshal(ev); err != nil {
			return nil, fmt.Errorf("event: %w", err)
		}
	}
	return decodeEvent(data)
}

// normaliseItem is NormaliseItem; data is item's JSON when the caller has
// it, else nil.
func normaliseItem(item any, data []byte) (any, error) {
	if n, _, ok := decodedAny(item); ok {
		return n, nil
	}
	if data == nil {
		var err error
		if data, err = json.Marshal(item); err != nil {
			return nil, fmt.Errorf("for_each item: %w", err)
		}
	}
	return decodeItem(data)
}

// decodeEvent decodes a stored event, as the pool reads it from the store.
func decodeEvent(data []byte) (*workflows.Event, error) {
	ev := &workflows.Event{}
	if err := json.Unmarshal(data, ev); err != nil {
		return nil, err
	}
	return ev, nil
}

// decodeItem decodes a stored for_each item, as the pool reads it from the
// store.
func decodeItem(data []byte) (any, error) {
	var item any
	if err := json.Unmarshal(data, &item); err != nil {
		return nil, err
	}
	return item, nil
}

// normalisedEvent is NormaliseEvent without the round trip: false when ev
// holds a value it cannot vouch for.
func normalisedEvent(ev *workflows.Event) (*workflows.Event, bool) {
	v, _, ok := decodedValue(reflect.ValueOf(ev).Elem())
	if !ok {
		return nil, false
	}
	n := v.Interface().(workflows.Event)
	return &n, true
}

var timeType = reflect.TypeFor[time.Time]()

// decodedValue returns v as encoding/json decodes it into a value of v's type
// after encoding it, and whether that differs from v; ok is false for a
// value it cannot vouch for (a pointer, a custom encoding, a number an
// interface holds as something other than the float64 and int types), which
// the caller then takes through the round trip. Maps and slices that change
// are copied; v is not modified.
func decodedValue(v reflect.Value) (out reflect.Value, changed, ok bool) {
	switch v.Kind() {
	case reflect.String:
		return v, false, utf8.ValidString(v.String())
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v, false, true
	case reflect.Float32, reflect.Float64:
		return v, false, !math.IsInf(v.Float(), 0) && !math.IsNaN(v.Float())
	case reflect.Interface:
		if v.Type().NumMethod() > 0 {
			return v, false, false // encoding/json cannot decode into it
		}
		if v.IsNil() {
			return v, false, true
		}
		d, changed, ok := decodedAny(v.Elem().Interface())
		if !changed || !ok {
			return v, false, ok
		}
		out := reflect.New(v.Type()).Elem()
		if d != nil {
			out.Set(reflect.ValueOf(d))
		}
		return out, true, true
	case reflect.Struct:
		if v.Type() == timeType {
			return decodedTime(v)
		}
		return decodedStruct(v)
	case reflect.Map:
		return decodedMap(v)
	case reflect.Slice:
		return decodedSlice(v)
	}
	return v, false, false
}

// decodedTime is decodedValue for a time.Time: a time in UTC without a
// monotonic reading is kept; any other goes through its own JSON form.
func decodedTime(v reflect.Value) (reflect.Value, bool, bool) {
	t := v.Interface().(time.Time)
	if t.Location() == time.UTC && t == t.Round(0) {
		return v, false, true
	}
	b, err := t.MarshalJSON()
	if err != nil {
		return v, false, false
	}
	var d time.Time
	if err := d.UnmarshalJSON(b); err != nil {
		return v, false, false
	}
	return reflect.ValueOf(d), true, true
}

// decodedStruct is decodedValue for a struct whose exported fields all have
// json names, with no option but omitempty and omitzero: an omitted field
// decodes as its zero value.
func decodedStruct(v reflect.Value) (reflect.Value, bool, bool) {
	t := v.Type()
	var out reflect.Value // a copy of v, once a field changes
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || f.Anonymous || name == "" || name == "-" {
			return v, false, false
		}
		omitEmpty, omitZero := false, false
		for o := range strings.SplitSeq(opts, ",") {
			switch o {
			case "":
			case "omitempty":
				omitEmpty = true
			case "omitzero":
				omitZero = true
			default:
				return v, false, false
			}
		}
		fv := v.Field(i)
		var d reflect.Value
		changed := false
		if omitEmpty && isEmpty(fv) || omitZero && isZero(fv) {
			d, changed = reflect.Zero(f.Type), !fv.IsZero()
		} else {
			var ok bool
			if d, changed, ok = decodedValue(fv); !ok {
				return v, false, false
			}
		}
		if changed {
			if !out.IsValid() {
				out = reflect.New(t).Elem()
				out.Set(v)
			}
			out.Field(i).Set(d)
		}
	}
	if out.IsValid() {
		return out, true, true
	}
	return v, false, true
}

// isEmpty is encoding/json's test for omitempty.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// isZero is encoding/json's test for omitzero: the value's IsZero method if
// it has one.
func isZero(v reflect.Value) bool {
	if z, ok := v.Interface().(interface{ IsZero() bool }); ok {
		return z.IsZero()
	}
	return v.IsZero()
}

// decodedMap is decodedValue for a map with string keys.
func decodedMap(v reflect.Value) (reflect.Value, bool, bool) {
	if v.Type().Key().Kind() != reflect.String {
		return v, false, false
	}
	if v.IsNil() {
		return v, false, true
	}
	var out reflect.Value // a copy of v, once an element changes
	for it := v.MapRange(); it.Next(); {
		if !utf8.ValidString(it.Key().String()) {
			return v, false, false
		}
		d, changed, ok := decodedValue(it.Value())
		if !ok {
			return v, false, false
		}
		if changed {
			if !out.IsValid() {
				out = reflect.MakeMapWithSize(v.Type(), v.Len())
				for c := v.MapRange(); c.Next(); {
					out.SetMapIndex(c.Key(), c.Value())
				}
			}
			out.SetMapIndex(it.Key(), d)
		}
	}
	if out.IsValid() {
		return out, true, true
	}
	return v, false, true
}

// decodedSlice is decodedValue for a slice other than []byte, which JSON
// writes as base64.
func decodedSlice(v reflect.Value) (reflect.Value, bool, bool) {
	if v.Type().Elem().Kind() == reflect.Uint8 {
		return v, false, false
	}
	var out reflect.Value // a copy of v, once an element changes
	for i := range v.Len() {
		d, changed, ok := decodedValue(v.Index(i))
		if !ok {
			return v, false, false
		}
		if changed {
			if !out.IsValid() {
				out = reflect.MakeSlice(v.Type(), v.Len(), v.Len())
				reflect.Copy(out, v)
			}
			out.Index(i).Set(d)
		}
	}
	if out.IsValid() {
		return out, true, true
	}
	return v, false, true
}

// decodedAny is decodedValue for what an interface holds, which decodes as
// nil, a bool, a float64, a string, a map[string]any or a []any.
func decodedAny(v any) (out any, changed, ok bool) {
	// Unchanged values are returned as v, not boxed again.
	switch x := v.(type) {
	case nil, bool:
		return v, false, true
	case string:
		return v, false, utf8.ValidString(x)
	case float64:
		return v, false, !math.IsInf(x, 0) && !math.IsNaN(x)
	case int:
		// Encoded in decimal and parsed back, an integer becomes the
		// nearest float64, as the conversion makes it.
		return float64(x), true, true
	case int64:
		return float64(x), true, true
	case int32:
		return float64(x), true, true
	case uint64:
		return float64(x), true, true
	case map[string]any:
		if x == nil {
			return nil, true, true
		}
		var copied map[string]any
		for k, e := range x {
			if !utf8.ValidString(k) {
				return v, false, false
			}
			d, changed, ok := decodedAny(e)
			if !ok {
				return v, false, false
			}
			if changed {
				if copied == nil {
					copied = maps.Clone(x)
				}
				copied[k] = d
			}
		}
		if copied != nil {
			return copied, true, true
		}
		return v, false, true
	case []any:
		if x == nil {
			return nil, true, true
		}
		var copied []any
		for i, e := range x {
			d, changed, ok := decodedAny(e)
			if !ok {
				return v, false, false
			}
			if changed {
				if copied == nil {
					copied = slices.Clone(x)
				}
				copied[i] = d
			}
		}
		if copied != nil {
			return copied, true, true
		}
		return v, false, true
	case map[string]string:
		if x == nil {
			return nil, true, true
		}
		m := make(map[string]any, len(x))
		for k, e := range x {
			if !utf8.ValidString(k) || !utf8.ValidString(e) {
				return v, false, false
			}
			m[k] = e
		}
		return m, true, true
	case []string:
		if x == nil {
			return nil, true, true
		}
		l := make([]any, len(x))
		for i, e := range x {
			if !utf8.ValidString(e) {
				return v, false, false
			}
			l[i] = e
		}
		return l, true, true
	}
	return v, false, false
}
