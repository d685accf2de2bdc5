package workflows

import (
	"fmt"
	"reflect"
	"time"

	"go.yaml.in/yaml/v3"
)

// reflectValue returns the addressable value ptr points to.
func reflectValue(ptr any) reflect.Value { return reflect.ValueOf(ptr).Elem() }

// Duration is a time.Duration written as "30s", "15m", "1h30m", "30d" or
// "1w" (see ParseDuration).
type Duration time.Duration

func (t *Duration) decodeNode(d *decoder, n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return fmt.Errorf("expected a duration like 30s, 15m, 1h or 30d, got %s", d.describe(n))
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("invalid duration %s: %s", d.quote(n), durationHint)
	}
	*t = Duration(v)
	return nil
}

// ByteSize is a size written as bytes or with a unit: 512Mi, 1Gi, 64KB.
type ByteSize int64

func (b *ByteSize) decodeNode(d *decoder, n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return fmt.Errorf("expected a size like 512Mi or 1Gi, got %s", d.describe(n))
	}
	v, err := ParseBytes(n.Value)
	if err != nil {
		return err
	}
	*b = ByteSize(v)
	return nil
}

// TriggerList is a trigger key that takes one item or a list of them.
type TriggerList[T any] []*T

func (l *TriggerList[T]) decodeNode(d *decoder, n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	for _, item := range items {
		v := new(T)
		if d.decode(item, reflectValue(v)) {
			*l = append(*l, v)
		}
	}
	return nil
}

// Inputs are dispatch inputs in file order.
type Inputs []*Input

func (in *Inputs) decodeNode(d *decoder, n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("expected a mapping of input names, got %s", d.describe(n))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		input := &Input{Name: k.Value, Type: InputString, Pos: Pos{File: d.file, Line: k.Line, Col: k.Column}}
		body := v
		// default is any scalar; decode it apart from the typed keys.
		if v.Kind == yaml.MappingNode {
			body = &yaml.Node{Kind: yaml.MappingNode, Line: v.Line, Column: v.Column}
			for j := 0; j+1 < len(v.Content); j += 2 {
				if v.Content[j].Value == "default" {
					if err := v.Content[j+1].Decode(&input.Default); err != nil {
						d.fail(v.Content[j+1], "default: %s", err)
					}
					continue
				}
				body.Content = append(body.Content, v.Content[j], v.Content[j+1])
			}
		}
		if !isNull(v) && d.decode(body, reflectValue(input)) {
			if input.Type == "" {
				input.Type = InputString
			}
		}
		*in = append(*in, input)
	}
	return nil
}
