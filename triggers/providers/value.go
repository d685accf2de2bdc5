package providers

import (
	"math"
	"strings"
	"time"
)

// The helpers in this file read decoded payloads (maps, lists, strings and
// float64 numbers as encoding/json produces them). Senders are outside our
// control and a payload may have any shape, so every helper answers the zero
// value for a missing key or a value of the wrong type instead of panicking;
// normalisers never use bare type assertions.

// at walks v through nested objects by keys and returns what it finds there, or
// nil when a step is missing or not an object.
func at(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// str returns the string at keys, or "" when there is none.
func str(v any, keys ...string) string {
	s, _ := at(v, keys...).(string)
	return s
}

// object returns the object at keys, or nil.
func object(v any, keys ...string) map[string]any {
	m, _ := at(v, keys...).(map[string]any)
	return m
}

// list returns the list at keys, or nil.
func list(v any, keys ...string) []any {
	l, _ := at(v, keys...).([]any)
	return l
}

// boolean returns the boolean at keys, or false.
func boolean(v any, keys ...string) bool {
	b, _ := at(v, keys...).(bool)
	return b
}

// maxExactInt is the largest integer a float64 holds exactly; beyond it a JSON
// number no longer names one integer, so integer treats it as absent.
const maxExactInt = 1 << 53

// integer returns the whole number at keys, or 0 when there is none or it is
// not a whole number that fits.
func integer(v any, keys ...string) int {
	f, ok := at(v, keys...).(float64)
	if !ok || f != math.Trunc(f) || math.Abs(f) > maxExactInt {
		return 0
	}
	return int(f)
}

// stringMap returns the string values of the object at keys, or nil when there
// is no object. Values of other types are left out: labels and annotations are
// strings by definition, and guessing a text form for anything else would
// invent data.
func stringMap(v any, keys ...string) map[string]string {
	m := object(v, keys...)
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, val := range m {
		if s, ok := val.(string); ok {
			out[k] = s
		}
	}
	return out
}

// timestamp returns the RFC 3339 time at keys, or the zero time. Alertmanager
// writes "0001-01-01T00:00:00Z" for "not yet", which parses to the zero time too.
func timestamp(v any, keys ...string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, str(v, keys...))
	if err != nil {
		return time.Time{}
	}
	return t
}

// firstNonEmpty returns the first of values that is not "".
func firstNonEmpty(values ...string) string {
	for _, s := range values {
		if s != "" {
			return s
		}
	}
	return ""
}

// commitID returns sha unless it is git's all-zero object name, which senders
// use for "no commit" (the old side of a new branch, the new side of a deleted
// one); the event leaves such fields empty, as SPEC §4 wants for absent data.
func commitID(sha string) string {
	if sha != "" && strings.Trim(sha, "0") == "" {
		return ""
	}
	return sha
}
