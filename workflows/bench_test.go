package workflows

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"
)

// benchWorkflow is a typical push-to-deploy workflow, numbered so that each of
// a thousand is different and most are filtered out by cheap checks.
func benchWorkflow(i int) string {
	return fmt.Sprintf(`
name: deploy-%d
on:
  webhook:
    path: github
    provider: github
    secret: ${{ secrets.GITHUB_SECRET }}
    events: [push]
    branches: [main, "release/%d"]
    paths: ["svc%d/**", "shared/**"]
if: event.repo == "org/repo" && !(event.sender endsWith "[bot]")
concurrency: {group: "deploy-${{ event.repo }}-%d"}
env: {SHA: "${{ event.commit }}", SERVICE: svc%d}
steps:
  - id: build
    run: make -C "svc$SERVICE" build
  - uses: http
    if: failure()
    with:
      url: https://chat.example.com/hook
      method: POST
      json: {text: "deploy of ${{ event.commit }} failed: ${{ run.url }}"}
`, i, i%50, i, i, i)
}

// BenchmarkParse1000 parses and compiles a thousand workflows.
func BenchmarkParse1000(b *testing.B) {
	sources := make([][]byte, 1000)
	for i := range sources {
		sources[i] = []byte(benchWorkflow(i))
	}
	b.ReportAllocs()
	for b.Loop() {
		list := make([]*Workflow, len(sources))
		for i, src := range sources {
			w, err := Parse(fmt.Sprintf("wf%d.yaml", i), src, nil)
			if err != nil {
				b.Fatal(err)
			}
			list[i] = w
		}
		if _, err := NewSet("bench", list); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatch1000(b *testing.B)  { benchMatch(b, 1000) }
func BenchmarkMatch10000(b *testing.B) { benchMatch(b, 10000) }

// benchMatch evaluates one push against n workflows on one path and reports the
// 50th and 99th percentile of a single evaluation.
func benchMatch(b *testing.B, n int) {
	list := make([]*Workflow, n)
	for i := range list {
		w, err := Parse(fmt.Sprintf("wf%d.yaml", i), []byte(benchWorkflow(i)), nil)
		if err != nil {
			b.Fatal(err)
		}
		list[i] = w
	}
	set, err := NewSet("bench", list)
	if err != nil {
		b.Fatal(err)
	}
	ev := &Event{Path: "github", Method: "POST", Type: "push", Name: "push", Branch: "main",
		Repo: "org/repo", Sender: "alice", Commit: "abc123", Changed: []string{"svc7/main.go", "docs/x.md"}}
	durations := make([]time.Duration, 0, 1<<16)
	var verdicts []Verdict
	// Collect what parsing left behind now, so that its collection does not
	// land in the evaluations measured.
	runtime.GC()
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		verdicts = set.MatchInto(NewScope(ev), verdicts)
		durations = append(durations, time.Since(start))
		if len(verdicts) != n || !verdicts[slices.IndexFunc(verdicts, func(v Verdict) bool { return v.Workflow.Name == "deploy-7" })].Run {
			b.Fatal("deploy-7 should run")
		}
	}
	slices.Sort(durations)
	b.ReportMetric(float64(durations[len(durations)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(durations[len(durations)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkTemplate renders a mixed template and a structured with: value.
func BenchmarkTemplate(b *testing.B) {
	w, err := Parse("t.yaml", []byte(benchWorkflow(1)), nil)
	if err != nil {
		b.Fatal(err)
	}
	scope := NewScope(&Event{Repo: "org/repo", Commit: "abc123"})
	scope.Run.URL = "https://hookflow.example.com/ui/runs/1"
	with := w.Steps[1].With
	group := w.Concurrency.Group
	b.ReportAllocs()
	for b.Loop() {
		if _, err := group.Render(scope); err != nil {
			b.Fatal(err)
		}
		if _, err := with.Render(scope); err != nil {
			b.Fatal(err)
		}
	}
}
