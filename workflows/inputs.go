package workflows

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Coerce converts a value given for the input, a string from the command line or
// any JSON value from the API, to the input's type.
func (in *Input) Coerce(v any) (any, error) {
	s, isString := v.(string)
	switch in.Type {
	case InputNumber:
		switch v := v.(type) {
		case float64:
			return v, nil
		case int:
			return float64(v), nil
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); isString && err == nil {
			return f, nil
		}
		return nil, fmt.Errorf("%v is not a number", v)
	case InputBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		if b, err := strconv.ParseBool(s); isString && err == nil {
			return b, nil
		}
		return nil, fmt.Errorf("%v is not true or false", v)
	case InputChoice:
		if !isString || !slices.Contains(in.Options, s) {
			return nil, fmt.Errorf("%v is not one of %s", v, strings.Join(in.Options, ", "))
		}
		return s, nil
	}
	if !isString {
		return Stringify(v), nil
	}
	return s, nil
}

// ResolveInputs checks the inputs given to a dispatch against the declared ones:
// unknown names and missing required inputs are errors, values are converted to
// their types, and defaults fill the rest.
func (d *Dispatch) ResolveInputs(given map[string]any) (map[string]any, error) {
	out := map[string]any{}
	var declared []*Input
	if d != nil {
		declared = d.Inputs
	}
	for name := range given {
		if !slices.ContainsFunc(declared, func(in *Input) bool { return in.Name == name }) {
			names := make([]string, len(declared))
			for i, in := range declared {
				names[i] = in.Name
			}
			return nil, Errorf(EInvalid, "input %q is not declared%s", name, suggest(name, names))
		}
	}
	for _, in := range declared {
		v, ok := given[in.Name]
		if !ok {
			if in.Required && in.Default == nil {
				return nil, Errorf(EInvalid, "input %q is required", in.Name)
			}
			if in.Default == nil {
				continue
			}
			v = in.Default
		}
		c, err := in.Coerce(v)
		if err != nil {
			return nil, Errorf(EInvalid, "input %q: %s", in.Name, err)
		}
		out[in.Name] = c
	}
	return out, nil
}
