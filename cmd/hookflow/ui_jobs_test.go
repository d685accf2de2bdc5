package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/store"
)

// jobsSummary is a step summary with a heading and a table, and hostile
// parts that must stay inert.
const jobsSummary = "## Build report\n\n| target | size |\n|:---|---:|\n| app | 12 MB |\n\n" +
	"<script>alert('summary')</script>\n\n<img src=x onerror=alert('img')>\n\n[click me](javascript:alert('link'))\n"

// TestUIJobsRun shows a run with jobs: a graph node per job (a matrix job's
// cells stacked in its node), a section per job with its own log, the step
// summary as Markdown, and all of it kept up to date while the run goes on.
//
// The jobs are written into the server's store by the test, as the runner
// records them, on a `steps:` run that waits for a gate file so that the
// run stays running while they change.
func TestUIJobsRun(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	a := startApp(t, map[string]string{"pipeline.yaml": `
on: {dispatch: {}}
sandbox: {level: process}
steps:
  - id: wait
    run: for i in $(seq 1 2400); do [ -e '` + gate + `' ] && break; sleep 0.05; done
`})
	b := newBrowser(t)
	ctx := context.Background()

	var run api.RunView
	if code := a.call(t, "POST", "/api/v1/workflows/pipeline/dispatch", nil, &run); code != http.StatusAccepted {
		t.Fatalf("dispatch: %d", code)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		r, err := a.store.GetRun(ctx, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s is still %s", run.ID, r.Status)
		}
	}
	start := time.Now().UTC().Add(-time.Minute)
	save := func(remove []string, jobs ...*store.Job) {
		t.Helper()
		for _, j := range jobs {
			j.RunID = run.ID
			if j.Name == "" {
				j.Name = j.Key
			}
		}
		if err := a.store.SaveJobs(ctx, run.ID, jobs, remove); err != nil {
			t.Fatal(err)
		}
	}
	steps := func(s ...map[string]any) json.RawMessage {
		b, _ := json.Marshal(s)
		return b
	}
	logs := func(lines ...store.LogLine) {
		t.Helper()
		for i := range lines {
			lines[i].Time = time.Now().UTC()
		}
		if err := a.store.AppendLogs(ctx, run.ID, lines); err != nil {
			t.Fatal(err)
		}
	}
	save(nil,
		&store.Job{Key: "build", ID: "build", JobIndex: 0, Status: "succeeded", RunsOn: []string{"local"},
			StartedAt: start, FinishedAt: start.Add(1500 * time.Millisecond), Steps: steps(
				map[string]any{"index": 0, "id": "compile", "outcome": "success", "exit_code": 0},
				map[string]any{"index": 1, "id": "report", "outcome": "success", "exit_code": 0, "summary": jobsSummary})},
		&store.Job{Key: "lint", ID: "lint", JobIndex: 1, Status: "running", RunsOn: []string{"local"}, StartedAt: start,
			Steps: steps(map[string]any{"index": 0, "id": "vet"})},
		&store.Job{Key: "deploy", ID: "deploy", JobIndex: 2, Needs: []string{"build", "lint"}, Status: "queued"},
		&store.Job{Key: "smoke", ID: "smoke", JobIndex: 3, Needs: []string{"deploy"}, Status: "queued"},
	)
	logs(store.LogLine{Job: "build", Step: 0, Stream: "stdout", Text: "compiling \x1b[32mgreen\x1b[0m app"},
		store.LogLine{Job: "lint", Step: 0, Stream: "stderr", Text: "vet is looking"},
		store.LogLine{Job: "build", Step: 1, Stream: "stdout", Text: "writing the report <b>now</b>"})

	tb := b.open(t)
	tb.do("open the run", chromedp.Navigate(a.url+"/ui/runs/"+run.ID), chromedp.WaitVisible(chromedp.ID("job-graph")))
	tb.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.sameDocument = true`))

	// cells are the graph's cells as "key=status" by node, in order.
	const cells = `[...document.querySelectorAll('#job-graph g.gnode')].map(n => n.getAttribute('data-job-id') + ':' +
		[...n.querySelectorAll('a.gcell')].map(c => c.getAttribute('data-job') + '=' + c.getAttribute('class').replace('gcell st-', '')).join(',')).join(' ')`
	// jobLog is the text of one job's log.
	jobLog := func(key string) string {
		return fmt.Sprintf(`([...document.querySelectorAll('#jobs > section.job')].find(s => s.dataset.job === %q) || {querySelector: () => ({innerText: ''})}).querySelector('.job-log').innerText`, key)
	}
	sections := `[...document.querySelectorAll('#jobs > section.job')].map(s => s.dataset.job).filter(k => k !== '').join('|')`

	if got, want := evalIn[string](tb, cells), "build:build=succeeded lint:lint=running deploy:deploy=queued smoke:smoke=queued"; got != want {
		t.Errorf("graph %q, want %q", got, want)
	}
	if got, want := evalIn[string](tb, sections), "build|lint|deploy|smoke"; got != want {
		t.Errorf("sections %q, want %q", got, want)
	}
	columns := evalIn[string](tb, `[...document.querySelectorAll('#job-graph g.gnode')].map(n => Math.round(n.getBoundingClientRect().left)).join(',')`)
	var x [4]int
	if _, err := fmt.Sscanf(columns, "%d,%d,%d,%d", &x[0], &x[1], &x[2], &x[3]); err != nil || !(x[0] == x[1] && x[1] < x[2] && x[2] < x[3]) {
		t.Errorf("node columns %q: build and lint first, then deploy, then smoke", columns)
	}
	if n := evalIn[int](tb, `document.querySelectorAll('#job-graph .edges path').length`); n != 3 {
		t.Errorf("%d edges, want 3", n)
	}
	if got := evalIn[string](tb, jobLog("build")); !strings.Contains(got, "compiling green app") || !strings.Contains(got, "writing the report <b>now</b>") || strings.Contains(got, "vet is looking") {
		t.Errorf("build's log: %q", got)
	}
	if got := evalIn[string](tb, jobLog("lint")); !strings.Contains(got, "vet is looking") || strings.Contains(got, "compiling") {
		t.Errorf("lint's log: %q", got)
	}
	if got := evalIn[string](tb, `(document.querySelector('#job-build .job-log .a-f2') || {}).textContent`); got != "green" {
		t.Errorf("ANSI green in a stored line rendered as %q", got)
	}

	// The summary is Markdown, its hostile parts inert.
	{
		md := `document.querySelector('#job-build .markdown')`
		if got := evalIn[string](tb, `(`+md+`.querySelector('h2') || {}).textContent`); got != "Build report" {
			t.Errorf("summary heading %q", got)
		}
		if got := evalIn[string](tb, `[...`+md+`.querySelectorAll('td')].map(c => c.textContent + '/' + getComputedStyle(c).textAlign).join(' ')`); got != "app/left 12 MB/right" {
			t.Errorf("summary table cells %q", got)
		}
		if n := evalIn[int](tb, md+`.querySelectorAll('script, img[onerror], [href^="javascript:" i]').length`); n != 0 {
			t.Errorf("%d live hostile elements in the summary", n)
		}
		if n := evalIn[int](tb, `document.querySelectorAll('main script, main b').length`); n != 0 {
			t.Errorf("%d script or b elements in the page", n)
		}
		tb.shot("jobs-run-desktop")
	}

	// The graph, the sections and the logs follow the run. A cell's first
	// line comes before the store lists the cell: the stream gives it a
	// section, which the next reload of the jobs fills in and puts in place.
	{
		logs(store.LogLine{Job: "deploy (web-01)", Step: 0, Stream: "stdout", Text: "shipping to web-01"},
			store.LogLine{Job: "lint", Step: 0, Stream: "stdout", Text: "vet is done"})
		tb.wait("the cell's line, streamed into a section of its own", fmt.Sprintf(`(%s).includes("shipping to web-01")`, jobLog("deploy (web-01)")))
		tb.wait("lint's later line in lint's section", fmt.Sprintf(`(%s).includes("vet is done")`, jobLog("lint")))
		save([]string{"deploy"},
			&store.Job{Key: "lint", ID: "lint", JobIndex: 1, Status: "succeeded", StartedAt: start, FinishedAt: start.Add(2 * time.Second),
				Steps: steps(map[string]any{"index": 0, "id": "vet", "outcome": "success", "exit_code": 0})},
			&store.Job{Key: "deploy (web-01)", ID: "deploy", JobIndex: 2, Cell: 0, Needs: []string{"build", "lint"}, Status: "running",
				Matrix: json.RawMessage(`{"host":"web-01"}`), StartedAt: time.Now().UTC(), Steps: steps(map[string]any{"index": 0, "id": "ship"})},
			&store.Job{Key: "deploy (web-02)", ID: "deploy", JobIndex: 2, Cell: 1, Needs: []string{"build", "lint"}, Status: "queued",
				Matrix: json.RawMessage(`{"host":"web-02"}`)},
		)
		want := "build:build=succeeded lint:lint=succeeded deploy:deploy (web-01)=running,deploy (web-02)=queued smoke:smoke=queued"
		tb.wait("the graph updated: lint done, deploy's cells", fmt.Sprintf(`(%s) === %q`, cells, want))
		tb.wait("a section per cell, in order, in place of the stand-in", fmt.Sprintf(`(%s) === %q`, sections, "build|lint|deploy (web-01)|deploy (web-02)|smoke"))
		tb.wait("the cell's section filled in: its steps, and its log titled by its step's name",
			`document.querySelector('#jobs > section.job[data-job="deploy (web-01)"] table.steps') !== null && `+
				fmt.Sprintf(`(%s).includes("1. ship")`, jobLog("deploy (web-01)")))
		if got := evalIn[string](tb, jobLog("deploy (web-01)")); !strings.Contains(got, "shipping to web-01") {
			t.Errorf("web-01's section lost its line: %q", got)
		}
		if got := evalIn[string](tb, jobLog("deploy (web-02)")); strings.Contains(got, "shipping") {
			t.Errorf("web-02's log shows web-01's line: %q", got)
		}
		if got := evalIn[string](tb, jobLog("build")); strings.Contains(got, "shipping") || strings.Contains(got, "vet is done") {
			t.Errorf("build's log shows other jobs' lines: %q", got)
		}
		if !evalIn[bool](tb, `window.sameDocument === true`) {
			t.Error("the page was reloaded; it should update in place")
		}
		tb.shot("jobs-run-live-desktop")

		for _, key := range []string{"deploy (web-01)", "deploy (web-02)"} {
			tb.do("click the node of "+key, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#job-graph a.gcell[data-job=%q]`, key))))
			tb.wait("its section in view", fmt.Sprintf(`(() => {
				const s = [...document.querySelectorAll('#jobs > section.job')].find(s => s.dataset.job === %q);
				const top = s.getBoundingClientRect().top;
				return s.id !== '' && top >= -1 && top < innerHeight / 2 && location.hash === '#' + s.id && document.activeElement === s.querySelector('h2');
			})()`, key))
			tb.do("back to the graph", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
		}
	}

	// The end of the run.
	{
		done := func(key string, cell int, host string) *store.Job {
			j := &store.Job{Key: key, ID: strings.Fields(key)[0], JobIndex: 2, Cell: cell, Needs: []string{"build", "lint"},
				Status: "succeeded", StartedAt: start, FinishedAt: start.Add(3 * time.Second), Matrix: json.RawMessage(`{"host":"` + host + `"}`)}
			if host == "" {
				j.JobIndex, j.Needs, j.Matrix = 3, []string{"deploy"}, nil
			}
			return j
		}
		save(nil, done("deploy (web-01)", 0, "web-01"), done("deploy (web-02)", 1, "web-02"), done("smoke", 0, ""))
		if err := os.WriteFile(gate, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		tb.wait("the end of the log", hasText("#log-status", "Run succeeded"))
		want := "build:build=succeeded lint:lint=succeeded deploy:deploy (web-01)=succeeded,deploy (web-02)=succeeded smoke:smoke=succeeded"
		tb.wait("the final graph", fmt.Sprintf(`(%s) === %q`, cells, want))
		tb.wait("the final sections", `[...document.querySelectorAll('#jobs > section.job .job-status .pill')].every(p => p.textContent === 'succeeded')`)
		tb.shot("jobs-run-finished-desktop")
		tb.do("size the window as a phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(a.url+"/ui/runs/"+run.ID),
			chromedp.WaitVisible(chromedp.ID("job-graph")))
		tb.wait("the log", hasText("#log-status", "Run succeeded"))
		if wide := evalIn[bool](tb, `document.documentElement.scrollWidth > window.innerWidth + 1`); wide {
			t.Error("the jobs run page is wider than a phone's screen")
		}
		tb.shot("jobs-run-phone")
	}
}
