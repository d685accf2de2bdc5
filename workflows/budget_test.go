package workflows

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// megabyteArray is a JSON array of small numbers just under 1 MiB (the default
// limits.max_body), decoded as the providers decode bodies: the cheapest
// payload per item an unauthenticated sender can post.
func megabyteArray(t testing.TB) []any {
	t.Helper()
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; b.Len() < 1<<20-8; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(i % 10))
	}
	b.WriteByte(']')
	var v []any
	if err := json.Unmarshal([]byte(b.String()), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestEvalBudget(t *testing.T) {
	big := megabyteArray(t)
	small := make([]any, 1000)
	for i := range small {
		small[i] = map[string]any{"n": float64(i), "tags": []any{"a", "b"}}
	}
	tests := []struct {
		name, extra string
		body        any
		run         bool
		reason      string
	}{
		{"filter over 1 MB", `if: 'len(filter(event.body, {# > 5 && # < 8})) > 0'`, big, false, "if: expression exceeded its evaluation budget"},
		{"map over 1 MB", `if: 'map(event.body, {# * 2 + 1})[0] > 0'`, big, false, "if: expression exceeded its evaluation budget"},
		{"all over 1 MB", `if: 'all(event.body, {# >= 0 && # < 10})'`, big, false, "if: expression exceeded its evaluation budget"},
		{"any over 1 MB", `if: 'any(event.body, {string(#) == "x"})'`, big, false, "if: expression exceeded its evaluation budget"},
		{"in over 1 MB, repeated", `if: 'any(event.body[:100], {# + 100 in event.body})'`, big, false, "if: expression exceeded its evaluation budget"},
		{"for_each over 1 MB", "for_each: event.body\nif: item > 8", big, false, "for_each: expression exceeded its evaluation budget"},
		{"nested walks multiply", `if: 'all(event.body, {none(event.body, {.n < 0})})'`, small, false, "if: expression exceeded its evaluation budget"},
		{"expr memory budget", `if: 'len(repeat("x", len(event.body) * 200)) > 0'`, small, false, "if: expression exceeded its evaluation budget"},
		{"ordinary filter", `if: 'len(filter(event.body, {.n > 990 && "b" in .tags})) == 9'`, small, true, ""},
		{"ordinary all", `if: 'all(event.body, {len(.tags) == 2})'`, small, true, ""},
		{"ordinary map", `if: 'sum(map(event.body, {.n})) == 499500'`, small, true, ""},
		{"ordinary for_each", "for_each: event.body\nif: item.n >= 998", small, true, ""},
		{"ordinary false", `if: 'any(event.body, {.n < 0})'`, small, false, "if: false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := mustParse(t, "budget", "on: {webhook: {path: p}}\n"+tt.extra+"\nsteps: [{run: 'true'}]\n")
			v := w.Decide(NewScope(&Event{Path: "p", Method: "POST", Body: tt.body}))
			if v.Run != tt.run || v.Reason != tt.reason {
				t.Errorf("verdict run=%v reason=%q, want run=%v reason=%q", v.Run, v.Reason, tt.run, tt.reason)
			}
		})
	}
}

// A workflow's decision shares one budget: items of for_each and the walks of
// each item's `if` add up, while every decision starts afresh.
func TestEvalBudgetPerDecision(t *testing.T) {
	items := make([]any, 400)
	for i := range items {
		items[i] = float64(i)
	}
	w := mustParse(t, "budget", `
on: {webhook: {path: p}}
for_each: event.body
if: all(event.body, {# >= 0})
steps: [{run: 'true'}]
`)
	// 400 items, each walking the 400: 160,400 units, over the budget.
	scope := NewScope(&Event{Path: "p", Method: "POST", Body: items})
	if v := w.Decide(scope); v.Run || v.Reason != "if: expression exceeded its evaluation budget" {
		t.Fatalf("verdict run=%v reason=%q", v.Run, v.Reason)
	}
	// 200 items: 40,200 units; the spent budget of the first decision is not
	// carried over to the next one.
	scope = NewScope(&Event{Path: "p", Method: "POST", Body: items[:200]})
	for range 3 {
		if v := w.Decide(scope); !v.Run || len(v.Items) != 200 {
			t.Fatalf("verdict run=%v reason=%q items=%d", v.Run, v.Reason, len(v.Items))
		}
	}
}

// The functions that charge the budget keep the types of what they wrap, so a
// typed walk still type-checks at load time, and errors stay load errors.
func TestEvalBudgetKeepsTypes(t *testing.T) {
	w := mustParse(t, "typed", `
on: {webhook: {path: am, provider: alertmanager}}
if: any(event.alerts, {.labels.severity == "critical"}) && "x" in event.changed
steps: [{run: 'true'}]
`)
	ev := &Event{Path: "am", Method: "POST", Changed: []string{"x"},
		Alerts: []Alert{{Status: "firing", Labels: map[string]string{"severity": "critical"}}}}
	if v := w.Decide(NewScope(ev)); !v.Run {
		t.Fatalf("verdict %+v", v)
	}
	_, err := Parse("bad.yaml", []byte("on: {webhook: {path: p}}\nif: all(event.alerts, {.status + 1 > 0})\nsteps: [{run: 'true'}]\n"), nil)
	if err == nil {
		t.Fatal("a string plus a number in a walk over typed alerts loaded")
	}
}
