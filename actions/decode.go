package actions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// Decode strictly decodes rendered `with:` values into params, a pointer to a
// settings struct with json tags. Unknown keys and values of the wrong type are
// errors that name the key.
func Decode(with map[string]any, params any) error {
	b, err := json.Marshal(with)
	if err != nil {
		return fmt.Errorf("with: %w", err)
	}
	if err := decodeStrict(b, params); err != nil {
		// encoding/json does not say which key a type's own UnmarshalJSON
		// refused; find it by decoding the keys one at a time.
		for key, v := range with {
			one, _ := json.Marshal(map[string]any{key: v})
			probe := reflect.New(reflect.TypeOf(params).Elem()).Interface()
			if keyErr := decodeStrict(one, probe); keyErr != nil && !strings.Contains(keyErr.Error(), key) {
				return fmt.Errorf("with: %s: %s", key, keyErr)
			}
		}
		return fmt.Errorf("with: %s", err)
	}
	return nil
}

func decodeStrict(b []byte, params any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(params); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// Duration is a time.Duration written as a duration string ("30s", "1m30s",
// "1d"; see workflows.ParseDuration) in `with:` values.
type Duration time.Duration

// UnmarshalJSON accepts a duration string, or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case string:
		p, err := workflows.ParseDuration(v)
		if err != nil {
			return err
		}
		*d = Duration(p)
	case float64:
		*d = Duration(v * float64(time.Second))
	default:
		return fmt.Errorf("invalid duration %s: write it like 30s, 5m or 1d, or as a number of seconds", b)
	}
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// ByteSize is a size in bytes written as a number or a string with a unit
// ("1Mi", "512KiB") in `with:` values.
type ByteSize int64

// UnmarshalJSON accepts a number of bytes or a size string.
func (b *ByteSize) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case float64:
		if v < 0 || v != float64(int64(v)) {
			return fmt.Errorf("invalid size %v: write a whole number of bytes", v)
		}
		*b = ByteSize(v)
	case string:
		n, err := workflows.ParseBytes(v)
		if err != nil {
			return err
		}
		*b = ByteSize(n)
	default:
		return fmt.Errorf("invalid size %s: write it like 1Mi", data)
	}
	return nil
}
