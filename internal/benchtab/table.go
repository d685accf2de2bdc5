package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
)

// figure is one row: what was measured for each binary, against a goal.
type figure struct {
	id, what string
	// values by binary name; a missing one is printed as n/a with why.
	values map[string]float64
	why    map[string]string
	unit   string
	// goal is the threshold the ratio (or the value, without a reference)
	// is held to; atMost says which side is good.
	goal   float64
	atMost bool
	// ref, when set, is what the value is divided by: the ratio is the
	// figure's judged quantity.
	ref      map[string]float64
	refWhat  string
	goalText string
}

// table collects the figures in the order they were measured.
type table struct {
	rows []*figure
	// about says where and against what they were measured.
	about string
}

func (t *table) add(f *figure) *figure {
	if f.values == nil {
		f.values = map[string]float64{}
	}
	if f.why == nil {
		f.why = map[string]string{}
	}
	t.rows = append(t.rows, f)
	return f
}

// judged is the quantity held to the goal for binary bin: the ratio to the
// reference where there is one, else the value.
func (f *figure) judged(bin string) (float64, bool) {
	v, ok := f.values[bin]
	if !ok {
		return 0, false
	}
	if f.ref == nil {
		return v, true
	}
	r, ok := f.ref[bin]
	if !ok || r == 0 {
		return 0, false
	}
	return v / r, true
}

// verdict says whether bin's figure meets the goal.
func (f *figure) verdict(bin string) string {
	if f.goal == 0 {
		return ""
	}
	j, ok := f.judged(bin)
	switch {
	case !ok:
		return "n/a"
	case f.atMost && j <= f.goal, !f.atMost && j >= f.goal:
		return "ok"
	}
	return "miss"
}

// cell formats bin's value with its ratio.
func (f *figure) cell(bin string) string {
	v, ok := f.values[bin]
	if !ok {
		if why := f.why[bin]; why != "" {
			return "n/a (" + why + ")"
		}
		return "n/a"
	}
	s := number(v) + " " + f.unit
	if f.ref != nil {
		if j, ok := f.judged(bin); ok {
			s += fmt.Sprintf(" = %.2f× %s %s", j, f.refWhat, number(f.ref[bin]))
		}
	}
	return strings.TrimSpace(s)
}

// number prints a figure with the precision its size deserves.
func number(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1000:
		return commas(int64(math.Round(v)))
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// commas writes n with thousands separated.
func commas(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}

// print writes the table, one column per binary.
func (t *table) print(w io.Writer, bins []binary) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	head := "id\twhat\tgoal"
	for _, b := range bins {
		head += "\t" + b.name + "\t"
	}
	fmt.Fprintln(tw, head)
	for _, f := range t.rows {
		line := f.id + "\t" + f.what + "\t" + f.goalText
		for _, b := range bins {
			line += "\t" + f.cell(b.name) + "\t" + f.verdict(b.name)
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
}

// markdown is the table as the README shows it: the last binary's figures.
func (t *table) markdown(bins []binary) string {
	var b strings.Builder
	if t.about != "" {
		b.WriteString(t.about + "\n\n")
	}
	b.WriteString("| id | what | goal |")
	for _, bin := range bins {
		b.WriteString(" " + bin.name + " | |")
	}
	b.WriteString("\n|---|---|---|")
	for range bins {
		b.WriteString("---|---|")
	}
	b.WriteString("\n")
	for _, f := range t.rows {
		fmt.Fprintf(&b, "| %s | %s | %s |", f.id, f.what, f.goalText)
		for _, bin := range bins {
			fmt.Fprintf(&b, " %s | %s |", f.cell(bin.name), f.verdict(bin.name))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Markers around the generated table in the README.
const (
	readmeBegin = "<!-- bench:begin -->"
	readmeEnd   = "<!-- bench:end -->"
)

// rewriteReadme replaces what lies between the markers in the README.
func (t *table) rewriteReadme(path string, bins []binary) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := replaceBetween(string(b), t.markdown(bins))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

// replaceBetween puts body between the markers of doc.
func replaceBetween(doc, body string) (string, error) {
	i := strings.Index(doc, readmeBegin)
	j := strings.Index(doc, readmeEnd)
	if i < 0 || j < i {
		return "", fmt.Errorf("no %s … %s markers", readmeBegin, readmeEnd)
	}
	return doc[:i+len(readmeBegin)] + "\n" + body + doc[j:], nil
}
