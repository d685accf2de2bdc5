package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// texts are the texts of a text log's lines, each after its job's prefix.
func texts(body string) string {
	var got []string
	for line := range strings.Lines(body) {
		prefix := ""
		if strings.HasPrefix(line, "[") {
			p, rest, _ := strings.Cut(line, "] ")
			prefix, line = p+"] ", rest
		}
		_, text, _ := strings.Cut(strings.TrimSuffix(line, "\n"), "| ")
		got = append(got, prefix+text)
	}
	return strings.Join(got, "|")
}

// finishedRun runs manual to status, with lines "line 1" to "line n", and
// returns its id.
func (f *fixture) finishedRun(t *testing.T, n int, status string) string {
	t.Helper()
	id := f.dispatchRun(t, "manual").ID
	r := f.claim(t)
	f.appendLines(t, id, 1, n)
	f.finish(t, r, status)
	return id
}

// TestLogPages checks the text log in pages: ?limit= lines after ?after=,
// each page naming where the next starts, together the whole log; a
// download; and what a page refuses.
func TestLogPages(t *testing.T) {
	f := newFixture(t, map[string]string{"manual.yaml": manualYAML}, nil)
	id := f.finishedRun(t, 25, workflows.StatusSucceeded)

	whole := f.do(t, "GET", "/api/v1/runs/"+id+"/logs", "", nil)
	if whole.code != http.StatusOK || whole.header.Get(LogAfterHeader) != "" || whole.header.Get("Content-Disposition") != "" {
		t.Fatalf("the whole log: %d %v", whole.code, whole.header)
	}
	var paged strings.Builder
	after, sizes := "0", []int{}
	for range 5 {
		a := f.do(t, "GET", "/api/v1/runs/"+id+"/logs?limit=10&after="+after, "", nil)
		if a.code != http.StatusOK || a.header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("page after %s: %d %s", after, a.code, a.body)
		}
		n := strings.Count(a.body, "\n")
		sizes = append(sizes, n)
		paged.WriteString(a.body)
		after = a.header.Get(LogAfterHeader)
		if n < 10 {
			break
		}
	}
	if got := sizes; len(got) != 3 || got[0] != 10 || got[1] != 10 || got[2] != 5 || after != "25" {
		t.Errorf("pages of %v lines, the last ending after %s; want 10, 10, 5 and 25", got, after)
	}
	if paged.String() != whole.body {
		t.Errorf("the pages together:\n%s\nthe whole log:\n%s", paged.String(), whole.body)
	}

	if a := f.do(t, "GET", "/api/v1/runs/"+id+"/logs?after=22", "", nil); texts(a.body) != "line 23|line 24|line 25" {
		t.Errorf("after 22 without a limit: %q", texts(a.body))
	}
	if a := f.do(t, "GET", "/api/v1/runs/"+id+"/logs?limit=3&after=25", "", nil); a.body != "" || a.header.Get(LogAfterHeader) != "25" {
		t.Errorf("the page past the end: %q, next after %q", a.body, a.header.Get(LogAfterHeader))
	}

	d := f.do(t, "GET", "/api/v1/runs/"+id+"/logs?download=1", "", nil)
	if want := `attachment; filename=hookflow-run-` + id + `.log`; d.header.Get("Content-Disposition") != want || d.body != whole.body {
		t.Errorf("download: Content-Disposition %q, want %q; same body %v", d.header.Get("Content-Disposition"), want, d.body == whole.body)
	}

	for _, q := range []string{"limit=0", "limit=ten", "after=-1", "after=x"} {
		if a := f.do(t, "GET", "/api/v1/runs/"+id+"/logs?"+q, "", nil); a.code != http.StatusBadRequest || !strings.Contains(a.body, "use ") {
			t.Errorf("?%s: %d %s", q, a.code, a.body)
		}
	}
}

// TestLogPagesOfJobs checks that a page of a job's log counts that job's
// lines only, and names the Seq it read up to, past other jobs' lines.
func TestLogPagesOfJobs(t *testing.T) {
	f := newFixture(t, map[string]string{"manual.yaml": manualYAML, "ship.yaml": shipYAML}, nil)
	r := jobsRun(t, f) // lines 1 build, 2 deploy (a), 3 deploy (b)
	for _, tc := range []struct{ query, want, after string }{
		{"job=deploy&limit=1", "[deploy (a)] to a", "2"},
		{"job=deploy&limit=1&after=2", "[deploy (b)] to b", "3"},
		{"job=deploy&limit=5&after=3", "", "3"},
		{"job=build&limit=5&after=1", "", "3"},
		{"limit=2&after=1", "[deploy (a)] to a|[deploy (b)] to b", "3"},
	} {
		a := f.do(t, "GET", "/api/v1/runs/"+r.ID+"/logs?"+tc.query, "", nil)
		if a.code != http.StatusOK || texts(a.body) != tc.want || a.header.Get(LogAfterHeader) != tc.after {
			t.Errorf("?%s: %d %q after %q; want %q after %s", tc.query, a.code, texts(a.body), a.header.Get(LogAfterHeader), tc.want, tc.after)
		}
	}
}
