package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// UnmarshalJSONValue decodes data as expressions see JSON: objects as
// map[string]any, arrays as []any, numbers as float64. A number beyond
// float64's range (1e999999, an integer of thousands of digits) is valid JSON
// all the same; it is kept as its text, a string, rather than refused.
// Errors are encoding/json's.
func UnmarshalJSONValue(data []byte) (any, error) {
	var v any
	err := json.Unmarshal(data, &v)
	var typeErr *json.UnmarshalTypeError
	if !errors.As(err, &typeErr) {
		return v, err
	}
	// Into an interface, only a number that float64 cannot hold is a type
	// error, and Unmarshal reports it only after checking the syntax of the
	// whole input: decode again keeping numbers as text.
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v = nil
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return numbersToFloat(v), nil
}

// numbersToFloat replaces the json.Numbers in v by float64s, or by their text
// when they are out of float64's range.
func numbersToFloat(v any) any {
	switch v := v.(type) {
	case json.Number:
		if f, err := strconv.ParseFloat(string(v), 64); err == nil {
			return f
		}
		return string(v)
	case map[string]any:
		for k, e := range v {
			v[k] = numbersToFloat(e)
		}
	case []any:
		for i, e := range v {
			v[i] = numbersToFloat(e)
		}
	}
	return v
}
