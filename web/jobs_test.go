package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/hookflow/hookflow/store"
)

// pipeline is a `jobs:` workflow: build and lint side by side, deploy to two
// hosts once both passed, then smoke.
const pipeline = `on: {dispatch: {}}
jobs:
  build:
    steps:
      - {id: compile, run: 'true'}
      - {id: report, run: 'true'}
  lint:
    steps: [{id: vet, run: 'true'}]
  deploy:
    needs: [build, lint]
    strategy: {matrix: {host: [web-01, web-02]}}
    steps: [{id: ship, run: 'true'}]
  smoke:
    needs: deploy
    steps: [{id: probe, run: 'true'}]
`

// claim marks the oldest queued run running on node n1.
func (f *fixture) claim(tb testing.TB) *store.Run {
	tb.Helper()
	r, err := f.store.Claim(context.Background(), "n1", time.Minute, f.now)
	if err != nil || r == nil {
		tb.Fatalf("claim: %v %v", r, err)
	}
	return r
}

// saveJobs stores jobs of run id, each given as its JSON form, through the
// store's own SaveJobs.
func (f *fixture) saveJobs(tb testing.TB, id string, jobs ...map[string]any) {
	tb.Helper()
	var rows []*store.Job
	for i, j := range jobs {
		b, _ := json.Marshal(j)
		var row store.Job
		if err := json.Unmarshal(b, &row); err != nil {
			tb.Fatal(err)
		}
		row.JobIndex, _ = j["job_index"].(int)
		row.Cell = i
		rows = append(rows, &row)
	}
	if err := f.store.SaveJobs(context.Background(), id, rows, nil); err != nil {
		tb.Fatal(err)
	}
}

// appendLogs stores lines of run id; each is "job|step|stream|text".
func (f *fixture) appendLogs(tb testing.TB, id string, lines ...string) {
	tb.Helper()
	var ls []store.LogLine
	for _, l := range lines {
		p := strings.SplitN(l, "|", 4)
		step, _ := strconv.Atoi(p[1])
		ls = append(ls, store.LogLine{Job: p[0], Step: step, Stream: p[2], Time: f.now, Text: p[3]})
	}
	if err := f.store.AppendLogs(context.Background(), id, ls); err != nil {
		tb.Fatal(err)
	}
}

// page parses an HTML answer.
func page(tb testing.TB, body string) *html.Node {
	tb.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	return doc
}

// all returns the elements under n (n included) for which match holds, in
// document order.
func all(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	if n.Type == html.ElementNode && match(n) {
		out = append(out, n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		out = append(out, all(c, match)...)
	}
	return out
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	return slices.Contains(strings.Fields(attr(n, "class")), class)
}

// byClass matches elements with tag name tag (any when empty) and class.
func byClass(tag, class string) func(*html.Node) bool {
	return func(n *html.Node) bool { return (tag == "" || n.Data == tag) && hasClass(n, class) }
}

// text is the text under n.
func text(n *html.Node) string {
	var b strings.Builder
	for _, t := range all(n, func(*html.Node) bool { return true }) {
		for c := t.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.TextNode {
				b.WriteString(c.Data)
			}
		}
	}
	return b.String()
}

var translate = regexp.MustCompile(`^translate\((\d+) (\d+)\)$`)

// position is where a graph node is drawn.
func position(tb testing.TB, n *html.Node) (x, y int) {
	tb.Helper()
	m := translate.FindStringSubmatch(attr(n, "transform"))
	if m == nil {
		tb.Fatalf("node %s at %q", attr(n, "data-job-id"), attr(n, "transform"))
	}
	x, _ = strconv.Atoi(m[1])
	y, _ = strconv.Atoi(m[2])
	return x, y
}

func TestJobsRunPage(t *testing.T) {
	f := newFixture(t, map[string]string{"pipeline.yaml": pipeline})
	f.dispatch(t, 1, map[string]any{}, "pipeline")
	run := f.claim(t)
	started := f.now.Add(-time.Minute)
	summary := "## Build report\n\n| target | size |\n|:---|---:|\n| app | 12 MB |\n"
	f.saveJobs(t, run.ID,
		map[string]any{"key": "build", "id": "build", "name": "build", "status": "succeeded", "runs_on": []string{"local"},
			"runner": "n1", "started_at": started, "finished_at": started.Add(1500 * time.Millisecond),
			"outputs": map[string]any{"image": "web:1"}, "steps": []map[string]any{
				{"index": 0, "id": "compile", "outcome": "success", "exit_code": 0},
				{"index": 1, "id": "report", "outcome": "success", "exit_code": 0, "summary": summary}}},
		map[string]any{"key": "lint", "id": "lint", "name": "lint", "job_index": 1, "status": "failed", "reason": "step vet: exit status 1",
			"runs_on": []string{"local"}, "started_at": started, "finished_at": started.Add(2 * time.Second),
			"steps": []map[string]any{{"index": 0, "id": "vet", "outcome": "failure", "exit_code": 1}}},
		map[string]any{"key": "deploy (web-01)", "id": "deploy", "name": "deploy (web-01)", "job_index": 2, "needs": []string{"build", "lint"},
			"matrix": map[string]any{"host": "web-01"}, "status": "running", "runs_on": []string{"local"}, "started_at": f.now.Add(-3 * time.Second),
			"steps": []map[string]any{{"index": 0, "id": "ship"}}},
		map[string]any{"key": "deploy (web-02)", "id": "deploy", "name": "deploy (web-02)", "job_index": 2, "needs": []string{"build", "lint"},
			"matrix": map[string]any{"host": "web-02"}, "status": "queued", "runs_on": []string{"local"}, "steps": []map[string]any{}},
	)
	f.appendLogs(t, run.ID,
		"build|0|stdout|compiling app",
		"lint|0|stderr|vet found a problem",
		"build|1|stdout|writing the report",
		"deploy (web-01)|-1|system|job started on n1",
		"deploy (web-01)|0|stdout|shipping to web-01",
	)

	code, body := f.get(t, "/ui/runs/"+run.ID)
	if code != http.StatusOK {
		t.Fatalf("%d\n%s", code, body)
	}
	doc := page(t, body)

	t.Run("graph", func(t *testing.T) {
		nodes := all(doc, byClass("g", "gnode"))
		ids := make([]string, len(nodes))
		x := map[string]int{}
		for i, n := range nodes {
			ids[i] = attr(n, "data-job-id")
			x[ids[i]], _ = position(t, n)
		}
		// smoke is not stored yet: the workflow says it is to come.
		if want := []string{"build", "lint", "deploy", "smoke"}; !slices.Equal(ids, want) {
			t.Fatalf("graph nodes %q, want %q", ids, want)
		}
		if !(x["build"] == x["lint"] && x["lint"] < x["deploy"] && x["deploy"] < x["smoke"]) {
			t.Errorf("columns by depth: %v", x)
		}
		_, yBuild := position(t, nodes[0])
		_, yLint := position(t, nodes[1])
		if yLint <= yBuild {
			t.Errorf("lint (y %d) is not below build (y %d) in their column", yLint, yBuild)
		}
		if n := len(all(doc, func(n *html.Node) bool { return n.Data == "path" && attr(n.Parent, "class") == "edges" })); n != 3 {
			t.Errorf("%d edges, want 3 (build→deploy, lint→deploy, deploy→smoke)", n)
		}
		want := map[string]string{"build": "st-succeeded", "lint": "st-failed", "deploy (web-01)": "st-running",
			"deploy (web-02)": "st-queued", "smoke": "st-queued"}
		details := map[string]string{"build": "succeeded · 1.5s", "lint": "failed · 2s", "deploy (web-01)": "running · 3s",
			"deploy (web-02)": "queued", "smoke": "queued"}
		cells := all(doc, byClass("a", "gcell"))
		if len(cells) != len(want) {
			t.Errorf("%d cells in the graph, want %d", len(cells), len(want))
		}
		for _, c := range cells {
			key := attr(c, "data-job")
			if !hasClass(c, want[key]) {
				t.Errorf("cell %q has class %q, want %s", key, attr(c, "class"), want[key])
			}
			if got := text(all(c, byClass("text", "gdetail"))[0]); got != details[key] {
				t.Errorf("cell %q says %q, want %q", key, got, details[key])
			}
			target := strings.TrimPrefix(attr(c, "href"), "#")
			if len(all(doc, func(n *html.Node) bool {
				return n.Data == "section" && attr(n, "id") == target && attr(n, "data-job") == key
			})) != 1 {
				t.Errorf("cell %q links to %q, which is not its section", key, attr(c, "href"))
			}
		}
		deploy := all(nodes[2], byClass("a", "gcell"))
		if len(deploy) != 2 || text(all(deploy[0], byClass("text", "glabel"))[0]) != "web-01" || text(all(nodes[2], byClass("text", "gtitle"))[0]) != "deploy" {
			t.Errorf("the deploy node does not stack its cells under its name:\n%s", text(nodes[2]))
		}
	})

	sections := map[string]*html.Node{}
	var keys []string
	for _, s := range all(doc, byClass("section", "job")) {
		sections[attr(s, "data-job")] = s
		keys = append(keys, attr(s, "data-job"))
	}
	t.Run("a section per job with its own log", func(t *testing.T) {
		if want := []string{"build", "lint", "deploy (web-01)", "deploy (web-02)", "smoke"}; !slices.Equal(keys, want) {
			t.Fatalf("sections %q, want %q", keys, want)
		}
		logs := map[string][]string{
			"build":           {"1. compile", "compiling app", "2. report", "writing the report"},
			"lint":            {"1. vet", "vet found a problem"},
			"deploy (web-01)": {"Job", "job started on n1", "1. ship", "shipping to web-01"},
			"deploy (web-02)": nil,
			"smoke":           nil,
		}
		every := []string{"compiling app", "writing the report", "vet found a problem", "job started on n1", "shipping to web-01"}
		for key, want := range logs {
			log := all(sections[key], byClass("div", "job-log"))[0]
			got := text(log)
			for _, w := range want {
				if !strings.Contains(got, w) {
					t.Errorf("the log of %s lacks %q: %q", key, w, got)
				}
			}
			for _, other := range every {
				if !slices.Contains(want, other) && strings.Contains(got, other) {
					t.Errorf("the log of %s shows %q, a line of another job", key, other)
				}
			}
		}
		if n := all(sections["lint"], byClass("div", "ln")); len(n) != 1 || !hasClass(n[0], "stderr") {
			t.Errorf("lint's line is not shown as stderr")
		}
		steps := text(all(sections["smoke"], byClass("table", "steps"))[0])
		if !strings.Contains(steps, "probe") || !strings.Contains(steps, "pending") {
			t.Errorf("smoke's step to come is not listed: %q", steps)
		}
		build := text(sections["build"])
		for _, w := range []string{"succeeded", "image", "web:1", "local", "n1"} {
			if !strings.Contains(build, w) {
				t.Errorf("build's section lacks %q", w)
			}
		}
		if lint := text(sections["lint"]); !strings.Contains(lint, "step vet: exit status 1") {
			t.Errorf("lint's section lacks its reason: %q", lint)
		}
		if host := text(sections["deploy (web-02)"]); !strings.Contains(host, "web-02") {
			t.Errorf("a cell's section lacks its matrix: %q", host)
		}
		jobs := all(doc, func(n *html.Node) bool { return attr(n, "id") == "jobs" })[0]
		if src := attr(jobs, "data-src"); src != "/api/v1/runs/"+run.ID+"/logs?follow=1&after=5" {
			t.Errorf("the page follows the log from %q, not after its last line", src)
		}
		if attr(jobs, "data-lines") != "5" || attr(jobs, "data-merge") != "/ui/runs/"+run.ID+"?part=jobs" {
			t.Errorf("jobs container %v", jobs.Attr)
		}
	})

	t.Run("summary as Markdown", func(t *testing.T) {
		md := all(sections["build"], byClass("div", "markdown"))
		if len(md) != 1 {
			t.Fatalf("%d summaries in build's section, want 1", len(md))
		}
		if h := all(md[0], func(n *html.Node) bool { return n.Data == "h2" }); len(h) != 1 || text(h[0]) != "Build report" {
			t.Errorf("summary heading: %d", len(h))
		}
		cells := all(md[0], func(n *html.Node) bool { return n.Data == "td" })
		if len(cells) != 2 || text(cells[1]) != "12 MB" || attr(cells[1], "align") != "right" || attr(cells[1], "style") != "" {
			t.Errorf("summary table cells: %d", len(cells))
		}
	})

	t.Run("parts", func(t *testing.T) {
		_, part := f.get(t, "/ui/runs/"+run.ID+"?part=jobs")
		doc := page(t, part)
		if n := len(all(doc, byClass("section", "job"))); n != 5 {
			t.Errorf("the jobs part has %d sections, want 5", n)
		}
		if n := len(all(doc, byClass("div", "ln"))); n != 0 || !strings.Contains(part, "compile") {
			t.Errorf("the jobs part holds %d log lines; it is for the steps, the page keeps its lines", n)
		}
		_, part = f.get(t, "/ui/runs/"+run.ID+"?part=summary")
		if n := len(all(page(t, part), byClass("g", "gnode"))); n != 4 {
			t.Errorf("the summary part has %d graph nodes, want 4", n)
		}
	})

	t.Run("finished", func(t *testing.T) {
		r, _ := f.store.GetRun(context.Background(), run.ID)
		r.Status, r.FinishedAt = "failed", f.now
		if err := f.store.Finish(context.Background(), "n1", r); err != nil {
			t.Fatal(err)
		}
		_, body := f.get(t, "/ui/runs/"+run.ID)
		doc := page(t, body)
		// Finished, the page shows what is stored: smoke never ran.
		if n := len(all(doc, byClass("g", "gnode"))); n != 3 {
			t.Errorf("%d graph nodes, want 3", n)
		}
		if strings.Contains(body, "data-merge") || strings.Contains(body, "data-refresh") {
			t.Error("a finished run's page still reloads itself")
		}
	})
}

// hostileSummary tries every way Markdown has to get markup or a script
// into a page.
const hostileSummary = "# Report\n\n" +
	"<script>alert(1)</script>\n\n" +
	"<img src=x onerror=alert(2)>\n\n" +
	"[js](javascript:alert(3)) [mixed case](JaVaScRiPt:alert(4)) [entity](&#106;avascript:alert(5)) " +
	"[vb](vbscript:msgbox(6)) [data](data:text/html;base64,PHNjcmlwdD5hbGVydCg3KTwvc2NyaXB0Pg==)\n\n" +
	"![pic](javascript:alert(8))\n\n" +
	"<a href=\"javascript:alert(9)\">raw link</a> inline <b onmouseover=alert(10)>bold</b>\n\n" +
	"<iframe src=\"https://evil.example/\"></iframe>\n\n" +
	"<div onclick=\"alert(11)\">div</div>\n\n" +
	"<style>body{display:none}</style>\n\n" +
	"[ok](https://example.com/docs) and **strong**\n"

func TestStepSummaryIsInert(t *testing.T) {
	f := newFixture(t, map[string]string{
		"plain.yaml":    "on: {dispatch: {}}\nsteps:\n  - {id: build, run: 'true'}\n",
		"pipeline.yaml": pipeline,
	})
	f.dispatch(t, 1, map[string]any{}, "plain", "pipeline")
	plain := f.finish(t, "succeeded", "", []map[string]any{{"index": 0, "id": "build", "outcome": "success", "exit_code": 0,
		"summary": hostileSummary}})
	jobs := f.claim(t)
	f.saveJobs(t, jobs.ID, map[string]any{"key": "build", "id": "build", "status": "succeeded",
		"steps": []map[string]any{{"index": 0, "id": "compile", "outcome": "success", "summary": hostileSummary}}})

	for name, id := range map[string]string{"steps run": plain.ID, "jobs run": jobs.ID} {
		t.Run(name, func(t *testing.T) {
			_, body := f.get(t, "/ui/runs/"+id)
			doc := page(t, body)
			md := all(doc, byClass("div", "markdown"))
			if len(md) != 1 {
				t.Fatalf("%d summaries on the page, want 1", len(md))
			}
			if h := all(md[0], func(n *html.Node) bool { return n.Data == "h1" }); len(h) != 1 || text(h[0]) != "Report" {
				t.Error("the summary's heading is not rendered")
			}
			if s := all(md[0], func(n *html.Node) bool { return n.Data == "strong" }); len(s) != 1 {
				t.Error("the summary's Markdown emphasis is not rendered")
			}
			links := 0
			for _, n := range all(md[0], func(*html.Node) bool { return true }) {
				switch n.Data {
				case "script", "iframe", "style", "object", "embed", "div", "b", "form", "base", "meta", "link":
					if n != md[0] {
						t.Errorf("the summary made a <%s> element", n.Data)
					}
				}
				for _, a := range n.Attr {
					v := strings.ToLower(strings.TrimSpace(a.Val))
					if strings.HasPrefix(a.Key, "on") || a.Key == "style" {
						t.Errorf("<%s> has the attribute %s=%q", n.Data, a.Key, a.Val)
					}
					if (a.Key == "href" || a.Key == "src") && v != "" && !strings.HasPrefix(v, "https://example.com/") {
						t.Errorf("<%s %s=%q> survived", n.Data, a.Key, a.Val)
					}
				}
				if n.Data == "a" && attr(n, "href") == "https://example.com/docs" {
					links++
				}
			}
			if links != 1 {
				t.Errorf("the safe link was not kept (%d)", links)
			}
			if got := text(md[0]); strings.Contains(got, "alert(1)") || strings.Contains(got, "display:none") {
				t.Errorf("raw HTML shows in the summary: %q", got)
			}
			// Outside the summary too: the page's own script is its only one.
			if n := len(all(doc, func(n *html.Node) bool { return n.Data == "script" })); n != 1 {
				t.Errorf("%d <script> elements on the page, want 1", n)
			}
		})
	}
}
