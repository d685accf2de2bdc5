package workflows_test

import (
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/hookflow/hookflow/workflows"
)

// withList is a workflow whose http step's body is a list of n numbers. 17
// values come before the list's items: the document, mappings, keys and
// values above it, and the list itself.
func withList(n int) string {
	var b strings.Builder
	b.WriteString("on: {dispatch: {}}\nsteps:\n  - uses: http\n    with:\n      url: https://example.com\n      body: [")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("1")
	}
	b.WriteString("]\n")
	return b.String()
}

func TestParseBoundsValues(t *testing.T) {
	if _, err := workflows.Parse("big.yaml", []byte(withList(90_000)), nil); err != nil {
		t.Errorf("90000 values: %v", err)
	}
	// The limit counts every value of the file, the 17 above the list too:
	// the error is at the list's item 100000-17+1.
	_, err := workflows.Parse("huge.yaml", []byte(withList(workflows.MaxNodes)), nil)
	want := fmt.Sprintf("huge.yaml:6:%d: more than 100000 values: split the file", len("      body: [")+2*(workflows.MaxNodes-17)+1)
	if err == nil || err.Error() != want {
		t.Errorf("parse = %v, want %s", err, want)
	}
}

func TestNodeBudget(t *testing.T) {
	// deep doubles at each of 70 levels: it stands for about 2^70 values,
	// more than an int counts.
	var deep strings.Builder
	deep.WriteString("l0: &l0 x\n")
	for i := 1; i <= 70; i++ {
		fmt.Fprintf(&deep, "l%d: &l%d [*l%d, *l%d]\n", i, i, i-1, i-1)
	}
	tests := []struct {
		name   string
		budget workflows.NodeBudget
		doc    string
		want   string // "" for within the budget
	}{
		{"aliases within", workflows.NodeBudget{MaxAliased: 6}, "a: &a [1, 2]\nb: [*a, *a]\n", ""},
		{"aliases over", workflows.NodeBudget{MaxAliased: 5}, "a: &a [1, 2]\nb: [*a, *a]\n",
			"2:9: alias *a takes what aliases stand for past 5 values (an alias counts as a copy of the value it names): use fewer aliases, or aliases of smaller values"},
		{"values written out do not count as aliased", workflows.NodeBudget{MaxAliased: 1}, "a: [1, 2, 3, 4, 5, 6, 7, 8]\n", ""},
		{"values written out count in all", workflows.NodeBudget{MaxNodes: 5}, "a: [1, 2, 3, 4, 5, 6, 7, 8]\n",
			"1:8: more than 5 values: split the file"},
		{"an alias inside what it names", workflows.NodeBudget{MaxNodes: 100}, "a: &a {b: [*a]}\n",
			"1:12: alias *a is used inside the value it names"},
		{"a loop even without a limit", workflows.NodeBudget{}, "a: &a [[*a]]\n",
			"1:9: alias *a is used inside the value it names"},
		{"no limit, no overflow", workflows.NodeBudget{}, deep.String(), ""},
		{"a limit far below what a deep nesting stands for", workflows.NodeBudget{MaxAliased: 1000}, deep.String(),
			"9:15: alias *l7 takes what aliases stand for past 1000 values (an alias counts as a copy of the value it names): use fewer aliases, or aliases of smaller values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var root yaml.Node
			if err := yaml.Unmarshal([]byte(tt.doc), &root); err != nil {
				t.Fatal(err)
			}
			got := ""
			if err := tt.budget.Check(&root); err != nil {
				got = fmt.Sprintf("%d:%d: %s", err.Line, err.Col, err.Msg)
			}
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}
