package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookflow/hookflow/config"
	"github.com/hookflow/hookflow/workflows"
)

// bigLogLines is how many lines the big log's step prints.
const bigLogLines = 200000

// bigLogWorkflows print a big log, with one line to search for, one error
// on stderr, a colour set on one line for the next and a coloured last line, and a log that goes on until the gate
// file appears. The error's word is put together by the script, so that no
// line echoing the script could name it.
func bigLogWorkflows(gate string) map[string]string {
	return map[string]string{
		"big.yaml": `
on: {dispatch: {}}
steps:
  - id: flood
    run: |
      seq 1 ` + strconv.Itoa(bigLogLines-1) + ` | awk '{
        if ($1 == 120000) print "needle-4f2c is here"
        else if ($1 == 150000) { e = "ERR" "OR"; print e ": planted at 150000" > "/dev/stderr" }
        else print "line " $1
      }'
      printf '\033[30mdark start\ndark end\033[0m\n'
      printf '\033[32mlast line %d\033[0m\n' ` + strconv.Itoa(bigLogLines) + `
`,
		"jobs.yaml": `
on: {dispatch: {}}
jobs:
  first:
    steps:
      - id: count
        run: seq 1 12000 | sed 's/^/first line /'
  second:
    needs: first
    steps:
      - run: echo "second done"
`,
		"live.yaml": `
on: {dispatch: {}}
sandbox: {level: process}
steps:
  - id: wait
    run: |
      seq 1 2000 | sed 's/^/before the gate /'
      echo "live started"
      for i in $(seq 1 1200); do [ -e '` + gate + `' ] && break; sleep 0.05; done
      echo "live after the gate"
`,
	}
}

// TestUIBigLog opens the page of a run whose log has 200,000 lines: the
// whole log is there (its end shows the last line, coloured), with only
// the lines on screen in the page; search finds and shows a line and counts
// matches; "First error" lands on the planted error; the raw log downloads;
// and a running run's log follows live until the run ends. How long the big
// log took to show its last line is logged, not asserted.
func TestUIBigLog(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	a := startApp(t, bigLogWorkflows(gate), func(c *config.Config) {
		c.Limits.MaxLogBytes = 64 << 20
	})
	const last = "last line 200000"
	id := dispatchRun(t, a.url, "big")
	if run := waitRunDone(t, a.url, id, 3*time.Minute); run.Status != workflows.StatusSucceeded {
		t.Fatalf("the big run ended %s: %s", run.Status, run.Reason)
	}
	// The page can show only what the run stored.
	resp, err := http.Get(a.url + "/api/v1/runs/" + id + "/logs")
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := strings.Count(string(stored), "\n"); n < bigLogLines || !strings.Contains(string(stored), last+"\x1b[0m\n") {
		t.Fatalf("the run stored %d lines, not all it wrote; the page is not to blame", n)
	}

	b := newBrowser(t)
	tb := b.open(t)

	start := time.Now()
	tb.do("open the big run", chromedp.Navigate(a.url+"/ui/runs/"+id), chromedp.WaitVisible(chromedp.ID("log")))
	tb.wait("the last line, shown", hasText("#log", last))
	elapsed := time.Since(start)
	inPage := evalIn[float64](tb, `performance.now()`)
	pages := evalIn[[]float64](tb, `performance.getEntriesByType('resource').filter(e => e.name.includes('/logs?after=')).map(e => Math.round(e.duration))`)
	t.Logf("%d-line log: last line rendered %.0f ms after navigation by the page's clock (%v by the test's, polling every 50 ms); its %d text pages took %v ms each",
		bigLogLines, inPage, elapsed.Round(time.Millisecond), len(pages), pages)

	tb.wait("the end of the log", hasText("#log-status", "Run succeeded"))
	status := tb.text("#log-status")
	var n int
	if _, err := fmt.Sscanf(status, "Run succeeded; %d log lines.", &n); err != nil || n < bigLogLines {
		t.Errorf("status %q: want every one of the %d lines counted", status, bigLogLines)
	}
	if rows := evalIn[int](tb, `document.querySelectorAll('#log .ln').length`); rows == 0 || rows > 500 {
		t.Errorf("%d line elements in the page: only those on screen should be", rows)
	}
	if got := evalIn[string](tb, `(document.querySelector('#log .a-f2') || {}).textContent`); got != last {
		t.Errorf("the coloured last line rendered as %q", got)
	}
	// A colour set on one line holds on the next, drawn on its own.
	if got := evalIn[string](tb, `[...document.querySelectorAll('#log .a-f0')].map(e => e.textContent).join('|')`); got != "dark start|dark end" {
		t.Errorf("the colour carried over a line rendered as %q", got)
	}

	// The top of the log.
	tb.do("scroll to the top", chromedp.Evaluate[chromedp.Void](`document.getElementById('log').scrollTop = 0`))
	tb.wait("the first line", `(document.querySelector('#log .ln.stdout .txt') || {}).textContent === 'line 1'`)
	if got := tb.text("#log .ln-title"); !strings.HasPrefix(got, "1. flood — seq 1 ") {
		t.Errorf("first title %q", got)
	}

	// current is the text of the marked line, if it is in view.
	const current = `(() => {
		const l = document.getElementById('log'), c = l.querySelector('.ln.hit-current');
		if (!c) { return ''; }
		const a = l.getBoundingClientRect(), r = c.getBoundingClientRect();
		return r.top >= a.top && r.bottom <= a.bottom ? c.querySelector('.txt').textContent : 'out of view: ' + c.textContent;
	})()`
	find := `.log-section .log-find`
	// Search finds a line, shows it, and counts matches.
	tb.do("search", chromedp.SendKeys(find, "NEEDLE-4f2c\r"))
	tb.wait("the count", hasText(".log-section .log-count", "1 of 1"))
	tb.wait("the line in view", current+` === 'needle-4f2c is here'`)
	if got := evalIn[string](tb, `(document.querySelector('#log .hit-current mark') || {}).textContent`); got != "needle-4f2c" {
		t.Errorf("the match marked as %q", got)
	}

	tb.do("search for many", chromedp.SetValue(find, "line 19999"), chromedp.SendKeys(find, "\r"))
	tb.wait("the first of many", hasText(".log-section .log-count", "1 of 11"))
	tb.wait("it in view", current+` === 'line 19999'`)
	tb.do("the next", chromedp.Click(`.log-section .log-tools button[title^="Next"]`))
	tb.wait("the second", hasText(".log-section .log-count", "2 of 11"))
	tb.wait("it in view", current+` === 'line 199990'`)
	tb.do("back twice", chromedp.Click(`.log-section .log-tools button[title^="Previous"]`),
		chromedp.Click(`.log-section .log-tools button[title^="Previous"]`))
	tb.wait("the last, around", hasText(".log-section .log-count", "11 of 11"))
	tb.wait("it in view", current+` === 'line 199999'`)

	tb.do("search for nothing there", chromedp.SetValue(find, "no such text"), chromedp.SendKeys(find, "\r"))
	tb.wait("no match", hasText(".log-section .log-count", "No match"))

	// "First error" shows the planted error.
	tb.do("jump", chromedp.Click(`.log-section .log-error`))
	tb.wait("the planted error in view", current+` === 'ERROR: planted at 150000'`)
	if !evalIn[bool](tb, `document.querySelector('#log .ln.hit-current').classList.contains('stderr')`) {
		t.Error("the error line is not shown as stderr")
	}
	if got := tb.text(".log-section .log-count"); !strings.HasPrefix(got, "First error: line ") {
		t.Errorf("status %q", got)
	}
	tb.shot("run-biglog-first-error")

	// The raw log downloads.
	href := evalIn[string](tb, `document.querySelector('.log-section a[download]').href`)
	resp, err = http.Get(href)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("Content-Disposition %q", cd)
	}
	if got := strings.Count(string(body), "\n"); got < bigLogLines || !strings.Contains(string(body), "flood stderr | ERROR: planted at 150000\n") {
		t.Errorf("the download has %d lines", got)
	}

	t.Run("a jobs run past the lines the page is rendered with", func(t *testing.T) {
		id := dispatchRun(t, a.url, "jobs")
		if run := waitRunDone(t, a.url, id, 2*time.Minute); run.Status != workflows.StatusSucceeded {
			t.Fatalf("the jobs run ended %s: %s", run.Status, run.Reason)
		}
		tb := b.open(t)
		tb.do("open the jobs run", chromedp.Navigate(a.url+"/ui/runs/"+id), chromedp.WaitVisible(chromedp.ID("jobs")))
		tb.wait("the end of the log", hasText("#log-status", "Run succeeded"))
		tb.wait("the first job's last line", hasText("#job-first .job-log", "first line 12000"))
		tb.wait("the second job's line in its own log", hasText("#job-second .job-log", "second done"))
		if strings.Contains(tb.text("#job-second .job-log"), "first line") {
			t.Error("the second job's log shows the first job's lines")
		}
		tb.do("search the first job's log", chromedp.SendKeys("#job-first .log-find", "first line 11999\r"))
		tb.wait("the count", hasText("#job-first .log-count", "1 of 1"))
		tb.wait("the line in view", `(l => { const c = l.querySelector('.hit-current'); if (!c) { return false; }
			const a = l.getBoundingClientRect(), r = c.getBoundingClientRect();
			return r.top >= a.top && r.bottom <= a.bottom && c.textContent.includes('first line 11999'); })(document.querySelector('#job-first .job-log'))`)
	})

	const atBottom = `(l => l.scrollHeight > l.clientHeight && l.scrollTop + l.clientHeight >= l.scrollHeight - 19)(document.getElementById('log'))`
	t.Run("a running run follows live", func(t *testing.T) {
		id := dispatchRun(t, a.url, "live")
		tb := b.open(t)
		tb.do("open the running run", chromedp.Navigate(a.url+"/ui/runs/"+id), chromedp.WaitVisible(chromedp.ID("log")))
		tb.wait("the lines so far", hasText("#log", "live started"))
		tb.wait("the view at the bottom", atBottom)
		if strings.Contains(tb.text("#log"), "live after the gate") {
			t.Fatal("the log shows a line the run cannot have written yet")
		}
		if err := os.WriteFile(gate, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		tb.wait("the line written after the gate, followed", hasText("#log", "live after the gate"))
		tb.wait("the view kept at the bottom", atBottom)
		tb.wait("the end of the run", hasText("#log-status", "Run succeeded"))
	})
}
