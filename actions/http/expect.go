package httpaction

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Expect is the set of response statuses an http step accepts. Each item is a
// status code ("204") or a class ("2xx"), kept in that canonical form. In
// `with:` it is one code or class, or a list of them: `expect: 204`,
// `expect: [200, 3xx]`.
type Expect []string

// UnmarshalJSON accepts a number, a string or a list of them, and rejects any
// item that is not a status code from 100 to 599 or a class from 1xx to 5xx.
// The messages name `expect` because encoding/json does not add the key to an
// Unmarshaler's error.
func (e *Expect) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil // as encoding/json does: null leaves the default
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("expect: %w", err)
	}
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	if len(items) == 0 {
		return fmt.Errorf("expect: the list is empty: write a status like 200 or a class like 2xx")
	}
	out := make(Expect, 0, len(items))
	for _, item := range items {
		s, err := expectItem(item)
		if err != nil {
			return err
		}
		out = append(out, s)
	}
	*e = out
	return nil
}

// expectItem returns the canonical form of one item of `expect`.
func expectItem(v any) (string, error) {
	var s string
	switch v := v.(type) {
	case float64:
		if v != float64(int(v)) {
			return "", fmt.Errorf("expect: %v is not a status code: write one like 200 or a class like 2xx", v)
		}
		s = strconv.Itoa(int(v))
	case string:
		s = strings.ToLower(strings.TrimSpace(v))
	default:
		return "", fmt.Errorf("expect: %v is not a status code: write one like 200 or a class like 2xx", v)
	}
	if len(s) == 3 && s[0] >= '1' && s[0] <= '5' && (s[1:] == "xx" || isDigits(s[1:])) {
		return s, nil
	}
	return "", fmt.Errorf("expect: %q is not a status code from 100 to 599 or a class from 1xx to 5xx", s)
}

func isDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Match reports whether status is one of the codes or in one of the classes.
func (e Expect) Match(status int) bool {
	code := strconv.Itoa(status)
	for _, item := range e {
		if item == code || len(code) == 3 && item[0] == code[0] && item[1:] == "xx" {
			return true
		}
	}
	return false
}

// String lists the items for error messages, e.g. "2xx" or "200, 3xx".
func (e Expect) String() string { return strings.Join(e, ", ") }
