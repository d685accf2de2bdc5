package workflows_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// cell is what a test expects of a workflows.Cell.
type cell struct {
	key    string
	values map[string]any
}

// matrixJob parses a workflow whose one job, deploy, has matrix (YAML, in
// flow style), and returns the job.
func matrixJob(t *testing.T, matrix string) *workflows.Job {
	t.Helper()
	src := "on: {dispatch: {}}\njobs:\n  deploy:\n    strategy:\n      matrix: " + matrix + "\n    steps: [{run: echo}]\n"
	w, err := workflows.Parse("matrix.yaml", []byte(src), nil)
	if err != nil {
		t.Fatalf("matrix %s: %v", matrix, err)
	}
	return w.Jobs[0]
}

// checkCells compares cells with want, keys, values and indexes.
func checkCells(t *testing.T, got []workflows.Cell, want []cell) {
	t.Helper()
	if len(got) != len(want) {
		var keys []string
		for _, c := range got {
			keys = append(keys, c.Key)
		}
		t.Fatalf("%d cells %q, want %d", len(got), keys, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Key != w.key || g.Index != i || !reflect.DeepEqual(g.Values, w.values) {
			t.Errorf("cell %d = {%q %d %#v}, want {%q %d %#v}", i, g.Key, g.Index, g.Values, w.key, i, w.values)
		}
	}
}

func TestCells(t *testing.T) {
	long := strings.Repeat("x", 60)
	tests := []struct {
		name   string
		matrix string
		want   []cell
	}{
		{"axes, the first varying slowest", "{host: [a, b], arch: [x, y, z]}", []cell{
			{"deploy (a, x)", map[string]any{"host": "a", "arch": "x"}},
			{"deploy (a, y)", map[string]any{"host": "a", "arch": "y"}},
			{"deploy (a, z)", map[string]any{"host": "a", "arch": "z"}},
			{"deploy (b, x)", map[string]any{"host": "b", "arch": "x"}},
			{"deploy (b, y)", map[string]any{"host": "b", "arch": "y"}},
			{"deploy (b, z)", map[string]any{"host": "b", "arch": "z"}},
		}},
		{"exclude by part of the values", "{host: [a, b], arch: [x, y], os: [linux], exclude: [{arch: y}]}", []cell{
			{"deploy (a, x, linux)", map[string]any{"host": "a", "arch": "x", "os": "linux"}},
			{"deploy (b, x, linux)", map[string]any{"host": "b", "arch": "x", "os": "linux"}},
		}},
		{"exclude by all the values", "{host: [a, b], arch: [x, y], exclude: [{host: a, arch: y}, {host: b, arch: z}]}", []cell{
			{"deploy (a, x)", map[string]any{"host": "a", "arch": "x"}},
			{"deploy (b, x)", map[string]any{"host": "b", "arch": "x"}},
			{"deploy (b, y)", map[string]any{"host": "b", "arch": "y"}},
		}},
		// GitHub Actions' own example of include.
		{"include extends and adds", "{fruit: [apple, pear], animal: [cat, dog], include: [" +
			"{color: green}, {color: pink, animal: cat}, {fruit: apple, shape: circle}, {fruit: banana}, {fruit: banana, animal: cat}]}", []cell{
			{"deploy (apple, cat, pink, circle)", map[string]any{"fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle"}},
			{"deploy (apple, dog, green, circle)", map[string]any{"fruit": "apple", "animal": "dog", "color": "green", "shape": "circle"}},
			{"deploy (pear, cat, pink)", map[string]any{"fruit": "pear", "animal": "cat", "color": "pink"}},
			{"deploy (pear, dog, green)", map[string]any{"fruit": "pear", "animal": "dog", "color": "green"}},
			{"deploy (banana)", map[string]any{"fruit": "banana"}},
			{"deploy (banana, cat)", map[string]any{"fruit": "banana", "animal": "cat"}},
		}},
		{"include adds back what exclude took", "{host: [a, b], exclude: [{host: b}], include: [{host: b, note: back}]}", []cell{
			{"deploy (a)", map[string]any{"host": "a"}},
			{"deploy (b, back)", map[string]any{"host": "b", "note": "back"}},
		}},
		{"include only, axes first in the key", "{host: [a], include: [{extra: 1, host: z}, {only: yes}]}", []cell{
			{"deploy (a, yes)", map[string]any{"host": "a", "only": "yes"}},
			{"deploy (z, 1)", map[string]any{"host": "z", "extra": 1}},
		}},
		{"no axes, include alone", "{include: [{host: a}, {host: b, n: 2}]}", []cell{
			{"deploy (a)", map[string]any{"host": "a"}},
			{"deploy (b, 2)", map[string]any{"host": "b", "n": 2}},
		}},
		{"values as expressions read them", "{v: [1, 2.5, true, null, {name: arm, bits: 64}, '7']}", []cell{
			{"deploy (1)", map[string]any{"v": 1}},
			{"deploy (2.5)", map[string]any{"v": 2.5}},
			{"deploy (true)", map[string]any{"v": true}},
			{"deploy (null)", map[string]any{"v": nil}},
			{`deploy ({"bits":64,"name":"arm"})`, map[string]any{"v": map[string]any{"name": "arm", "bits": 64}}},
			{"deploy (7)", map[string]any{"v": "7"}},
		}},
		{"keys clipped, values whole", "{v: [" + long + ", {text: " + long + "}, \"a<b\\nsecond line\"]}", []cell{
			{"deploy (" + long[:40] + "…)", map[string]any{"v": long}},
			{`deploy ({"text":"` + long[:31] + "…)", map[string]any{"v": map[string]any{"text": long}}},
			{"deploy (a<b…)", map[string]any{"v": "a<b\nsecond line"}},
		}},
		{"repeated values get distinct keys", "{host: [a, a, a]}", []cell{
			{"deploy (a)", map[string]any{"host": "a"}},
			{"deploy (a) #2", map[string]any{"host": "a"}},
			{"deploy (a) #3", map[string]any{"host": "a"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cells, err := matrixJob(t, tt.matrix).Cells(workflows.NewScope(nil))
			if err != nil {
				t.Fatal(err)
			}
			checkCells(t, cells, tt.want)
		})
	}
}

// TestCellsOwnValues checks that each cell has a map of its own: a runner
// that adds to one cell's values changes no other cell.
func TestCellsOwnValues(t *testing.T) {
	job := matrixJob(t, "{host: [a, b], include: [{region: eu}]}")
	cells, err := job.Cells(nil)
	if err != nil {
		t.Fatal(err)
	}
	cells[0].Values["region"] = "us"
	if cells[1].Values["region"] != "eu" {
		t.Errorf("changing cell 0 changed cell 1: %v", cells[1].Values)
	}
	again, _ := job.Cells(nil)
	if again[0].Values["region"] != "eu" {
		t.Errorf("changing a cell changed the job's matrix: %v", again[0].Values)
	}
}

func TestCellsFromExpression(t *testing.T) {
	alerts := &workflows.Event{Alerts: []workflows.Alert{
		{Status: "firing", Labels: map[string]string{"alertname": "Down", "instance": "web-01"}, Fingerprint: "f1"},
		{Status: "resolved", Labels: map[string]string{"alertname": "Slow"}, Fingerprint: "f2"},
	}}
	tests := []struct {
		name   string
		matrix string
		event  *workflows.Event
		want   []cell
	}{
		{"alerts, each a mapping", "event.alerts", alerts, []cell{
			{"deploy (1)", map[string]any{"status": "firing", "labels": map[string]any{"alertname": "Down", "instance": "web-01"},
				"annotations": map[string]any{}, "starts_at": "0001-01-01T00:00:00Z", "ends_at": "0001-01-01T00:00:00Z", "fingerprint": "f1"}},
			{"deploy (2)", map[string]any{"status": "resolved", "labels": map[string]any{"alertname": "Slow"},
				"annotations": map[string]any{}, "starts_at": "0001-01-01T00:00:00Z", "ends_at": "0001-01-01T00:00:00Z", "fingerprint": "f2"}},
		}},
		{"a list of maps", `"${{ [{host: 'a', n: 1}, {host: 'b'}] }}"`, nil, []cell{
			{"deploy (1)", map[string]any{"host": "a", "n": 1}},
			{"deploy (2)", map[string]any{"host": "b"}},
		}},
		{"scalars and lists become value", `"['a', 2, true, nil, [1]]"`, nil, []cell{
			{"deploy (1)", map[string]any{"value": "a"}},
			{"deploy (2)", map[string]any{"value": 2}},
			{"deploy (3)", map[string]any{"value": true}},
			{"deploy (4)", map[string]any{"value": nil}},
			{"deploy (5)", map[string]any{"value": []any{1}}},
		}},
		{"typed list", "event.changed", &workflows.Event{Changed: []string{"a.go", "b.go"}}, []cell{
			{"deploy (1)", map[string]any{"value": "a.go"}},
			{"deploy (2)", map[string]any{"value": "b.go"}},
		}},
		{"no alerts", "event.alerts", &workflows.Event{}, nil},
		{"empty list", `"[]"`, nil, nil},
		{"256 is the most", `"0..255"`, nil, nil}, // checked by count below
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cells, err := matrixJob(t, tt.matrix).Cells(workflows.NewScope(tt.event))
			if err != nil {
				t.Fatal(err)
			}
			if tt.name == "256 is the most" {
				if len(cells) != workflows.MaxCells || cells[255].Key != "deploy (256)" || cells[255].Values["value"] != 255 {
					t.Errorf("%d cells, last %+v; want 256, the last deploy (256) with value 255", len(cells), cells[len(cells)-1])
				}
				return
			}
			checkCells(t, cells, tt.want)
		})
	}
}

func TestCellsErrors(t *testing.T) {
	tests := []struct {
		name   string
		matrix string
		event  *workflows.Event
		want   string
	}{
		{"too many", `"0..299"`, nil, "matrix of deploy has 300 cells; at most 256"},
		{"not a list", "fromJSON(event.raw)", &workflows.Event{Raw: `{"a": 1}`}, "matrix of deploy: map[string]interface {} is not a list"},
		{"evaluation fails", "fromJSON(event.raw)", &workflows.Event{Raw: "nope"}, "matrix of deploy: matrix.yaml:5:15: fromJSON: invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cells, err := matrixJob(t, tt.matrix).Cells(workflows.NewScope(tt.event))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Cells = %d cells, %v; want error %q", len(cells), err, tt.want)
			}
		})
	}
}

// TestCellsBuiltByHand checks matrices made in code rather than read from a
// file: the 256-cell bound, counted after include, and include entries
// whose keys have no file order (taken sorted).
func TestCellsBuiltByHand(t *testing.T) {
	axis := func(name string, n int) workflows.MatrixAxis {
		a := workflows.MatrixAxis{Name: name}
		for i := range n {
			a.Values = append(a.Values, i)
		}
		return a
	}
	job := func(m *workflows.Matrix) *workflows.Job {
		return &workflows.Job{ID: "deploy", Strategy: &workflows.Strategy{Matrix: m}}
	}
	full := job(&workflows.Matrix{Axes: []workflows.MatrixAxis{axis("a", 16), axis("b", 16)}})
	if cells, err := full.Cells(nil); err != nil || len(cells) != 256 {
		t.Errorf("16×16: %d cells, %v; want 256", len(cells), err)
	}
	over := job(&workflows.Matrix{Axes: []workflows.MatrixAxis{axis("a", 16), axis("b", 16)}, Include: []map[string]any{{"a": 99}}})
	if _, err := over.Cells(nil); err == nil || err.Error() != "matrix of deploy has 257 cells; at most 256" {
		t.Errorf("16×16 and one include: %v", err)
	}
	sorted := job(&workflows.Matrix{Include: []map[string]any{{"z": 1, "b": 2, "m": 3}}})
	cells, err := sorted.Cells(nil)
	if err != nil || len(cells) != 1 || cells[0].Key != "deploy (2, 3, 1)" {
		t.Errorf("Cells = %+v, %v; want deploy (2, 3, 1)", cells, err)
	}
}
