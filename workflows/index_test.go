package workflows

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestIndexAgreesWithEachWorkflow matches generated events against generated
// workflows sharing one path and checks that the indexed match gives every
// workflow the verdict (run or not, and the reason) that testing its trigger's
// filters one by one, as written, gives.
func TestIndexAgreesWithEachWorkflow(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 2))
	pick := func(from ...string) string { return from[rng.IntN(len(from))] }
	some := func(n int, from ...string) []string {
		var out []string
		for range rng.IntN(n + 1) {
			out = append(out, fmt.Sprintf("%q", pick(from...)))
		}
		return out
	}
	branchPatterns := []string{"main", "dev", "release/*", "release/**", "!release/old", "feature-*", "v*", "!main", "*", "hotfix/1"}
	pathPatterns := []string{"src/**", "docs/**", "**/*.md", "*.go", "!docs/x.md", "svc1/**", "svc2/main.go", "!src/gen/**", "**"}
	var list []*Workflow
	for i := range 400 {
		var b strings.Builder
		fmt.Fprintf(&b, "name: wf-%03d\n", i)
		if rng.IntN(10) == 0 {
			b.WriteString("disabled: true\n")
		}
		fmt.Fprintf(&b, "on: {webhook: {path: gh, provider: github, methods: [%s]", strings.Join(some(2, "POST", "PUT", "GET"), ", "))
		if ev := some(2, "push", "pull_request", "pull_request.opened", "tag", "release"); len(ev) > 0 {
			fmt.Fprintf(&b, ", events: [%s]", strings.Join(ev, ", "))
		}
		if br := some(3, branchPatterns...); len(br) > 0 {
			fmt.Fprintf(&b, ", branches: [%s]", strings.Join(br, ", "))
		}
		if ps := some(3, pathPatterns...); len(ps) > 0 {
			fmt.Fprintf(&b, ", paths: [%s]", strings.Join(ps, ", "))
		}
		b.WriteString("}}\n")
		if rng.IntN(4) == 0 {
			b.WriteString("if: event.sender == \"alice\"\n")
		}
		b.WriteString("steps: [{run: 'true'}]\n")
		list = append(list, mustParse(t, fmt.Sprintf("wf%d.yaml", i), b.String()))
	}
	set, err := NewSet("r1", list)
	if err != nil {
		t.Fatal(err)
	}
	var events []*Event
	for range 300 {
		ev := &Event{Path: "gh", Method: pick("POST", "PUT", "GET", "DELETE"), Type: pick("push", "pull_request", "tag", "release", "ping"),
			Branch: pick("", "main", "dev", "release/1", "release/old", "release/a/b", "feature-x", "v1.2", "hotfix/1"), Sender: pick("alice", "bob")}
		ev.Name = ev.Type
		if ev.Type == "pull_request" {
			ev.Action = pick("opened", "closed")
			ev.PullRequest.Base = ev.Branch
		}
		for range rng.IntN(4) {
			ev.Changed = append(ev.Changed, pick("src/a.go", "src/gen/x.go", "docs/x.md", "docs/y.md", "README.md", "main.go", "svc1/a/b.c", "svc2/main.go"))
		}
		events = append(events, ev)
	}
	runs := 0
	for _, ev := range events {
		got := set.Match(NewScope(ev))
		if len(got) != len(list) {
			t.Fatalf("%d verdicts for %d workflows", len(got), len(list))
		}
		for i, v := range got {
			want := decideEach(v.Workflow, v.Workflow.On.Webhook[0], ev)
			if v.Run != want.Run || v.Reason != want.Reason || v.Workflow != want.Workflow {
				t.Fatalf("event %+v, workflow %d %s:\n got  run=%v %q\n want run=%v %q", *ev, i, v.Workflow.Name, v.Run, v.Reason, want.Run, want.Reason)
			}
			if v.Run {
				runs++
			}
		}
	}
	if runs == 0 || runs == len(events)*len(list) {
		t.Fatalf("%d runs of %d verdicts: the generated cases do not exercise both outcomes", runs, len(events)*len(list))
	}
}

// decideEach is a webhook trigger's decision taken filter by filter, without
// the path's pattern tables.
func decideEach(w *Workflow, h *Webhook, ev *Event) Verdict {
	skip := func(reason string) Verdict { return Verdict{Workflow: w, Reason: reason} }
	selects := func(g *Globs, v string) bool {
		selected := false
		for i, m := range g.matchers {
			if m.MatchString(v) {
				selected = !g.negated[i]
			}
		}
		return selected
	}
	name := ev.Type
	names := []string{ev.Type, ev.Name}
	if ev.Action != "" {
		names = append(names, ev.Type+"."+ev.Action, ev.Name+"."+ev.Action)
	}
	branch := ev.Branch
	if ev.Type == "pull_request" {
		branch = ev.PullRequest.Base
	}
	switch {
	case w.Disabled:
		return skip("workflow disabled")
	case !slices.Contains(h.Methods, ev.Method):
		return skip("methods: " + ev.Method + " not in [" + strings.Join(h.Methods, ", ") + "]")
	case len(h.Events) > 0 && !slices.ContainsFunc(names, func(n string) bool { return slices.Contains(h.Events, n) }):
		return skip("events: " + name + " not in [" + strings.Join(h.Events, ", ") + "]")
	case !h.Branches.Empty() && branch == "":
		return skip("branches: event has no branch")
	case !h.Branches.Empty() && !selects(h.Branches, branch):
		return skip("branches: no match for " + branch)
	case !h.Paths.Empty() && !slices.ContainsFunc(ev.Changed, func(f string) bool { return selects(h.Paths, f) }):
		return skip("paths: no changed file matches " + strings.Join(h.Paths.Patterns, ", "))
	}
	return w.Decide(NewScope(ev))
}
