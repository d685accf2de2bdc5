package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/config"
)

// The web UI's end-to-end tests drive a real headless Chromium against a real
// server. Chromium is required: without it they fail, naming the script that
// installs it.

// chromiumPath is Debian's Chromium, which scripts/setup-ui.sh installs.
const chromiumPath = "/usr/bin/chromium"

// uiWait bounds one wait for the page; the lists refresh every 4s.
const uiWait = 45 * time.Second

// browser is one headless Chromium for a test and its subtests.
type browser struct {
	ctx       context.Context
	artifacts string
}

// newBrowser starts Chromium with a fresh profile, and stops it when the test
// ends.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the web UI tests need Chromium at %s (%v): run scripts/setup-ui.sh", chromiumPath, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, // root in a container
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		// Nothing but the test server may be dialled: no update checks, sync or
		// QUIC probes piling up against a closed network.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start Chromium (%s): %v; scripts/setup-ui.sh installs it", chromiumPath, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	dir := os.Getenv("HOOKFLOW_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "hookflow-ui-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &browser{ctx: ctx, artifacts: dir}
}

// tab is one browser tab, watched for dialogs and script errors.
type tab struct {
	t   *testing.T
	b   *browser
	ctx context.Context

	mu      sync.Mutex
	dialogs []string
	errors  []string
}

// open opens a tab for t; it is closed when t ends, and t fails if a page in
// it opened a dialog or threw a script error.
func (b *browser) open(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	tb := &tab{t: t, b: b, ctx: ctx}
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	entries := chromedp.Events(ctx, log.EntryAdded)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("open a tab: %v", err)
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			tb.record(&tb.dialogs, string(ev.Type)+": "+ev.Message)
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	go func() {
		defer wg.Done()
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			tb.record(&tb.errors, fmt.Sprintf("script error at %s:%d: %s", d.URL, d.LineNumber, msg))
		}
	}()
	go func() {
		defer wg.Done()
		for ev, err := range entries {
			if err != nil {
				return
			}
			// Errors the browser logs itself: what the CSP refused, and the UI's
			// own files failing to load. Pages answered with an error status
			// on purpose are no error of the page.
			e := ev.Entry
			if e.Level == log.EntryLevelError && (e.Source != log.EntrySourceNetwork || strings.Contains(e.URL, "/ui/static/")) {
				tb.record(&tb.errors, "browser log: "+e.Text+" "+e.URL)
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		tb.mu.Lock()
		defer tb.mu.Unlock()
		if len(tb.dialogs) > 0 {
			t.Errorf("the page opened dialogs: %q", tb.dialogs)
		}
		if len(tb.errors) > 0 {
			t.Errorf("the page reported errors:\n%s", strings.Join(tb.errors, "\n"))
		}
	})
	return tb
}

func (tb *tab) record(list *[]string, s string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	*list = append(*list, s)
}

// do runs actions, failing the test with what was being done.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, uiWait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v (page %s)", what, err, tb.location())
	}
}

// wait polls a JavaScript condition until it holds, across navigations.
func (tb *tab) wait(what, condition string) {
	tb.t.Helper()
	deadline := time.Now().Add(uiWait)
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
		var ok bool
		ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool]("Boolean("+condition+")"))
		cancel()
		if err == nil && ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.t.Fatalf("waiting for %s (last error: %v) on page %s", what, err, tb.location())
}

// text returns the text of the first element matching a CSS selector.
func (tb *tab) text(selector string) string {
	tb.t.Helper()
	return evalIn[string](tb, fmt.Sprintf(`(document.querySelector(%q) || {}).innerText || ""`, selector))
}

// hasText reports, as a JavaScript condition, whether the element matching
// selector shows s.
func hasText(selector, s string) string {
	return fmt.Sprintf(`(document.querySelector(%q) || {innerText: ""}).innerText.includes(%q)`, selector, s)
}

func evalIn[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, uiWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (tb *tab) location() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	u, _ := chromedp.Run(ctx, chromedp.Location())
	return u
}

// shot saves a screenshot of the whole page as a test artifact.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, uiWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(tb.b.artifacts, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot: %s", path)
}

// deliver posts a generic-provider webhook and returns the receipt.
func deliver(t *testing.T, a *testApp, path, event, delivery, body string) workflowsReceipt {
	t.Helper()
	req, _ := http.NewRequest("POST", a.url+"/hooks/"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Event", event)
	req.Header.Set("X-Delivery", delivery)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rc workflowsReceipt
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &rc); err != nil || resp.StatusCode >= 300 && resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook: %d %s", resp.StatusCode, data)
	}
	return rc
}

// workflowsReceipt is the webhook's answer.
type workflowsReceipt struct {
	EventID string `json:"event_id"`
	Runs    []struct {
		ID       string `json:"id"`
		Workflow string `json:"workflow"`
	} `json:"runs"`
	Skipped []struct {
		Workflow string `json:"workflow"`
		Reason   string `json:"reason"`
	} `json:"skipped"`
}

// uiWorkflows are the workflows the browser tests drive. The deploy run waits
// for the gate file, so that the test sees its log arrive in two parts.
func uiWorkflows(gate string) map[string]string {
	return map[string]string{
		"deploy.yaml": `
description: Deploy when the deploy hook fires.
on:
  webhook: {path: deploy, provider: generic, event_header: X-Event, delivery_header: X-Delivery}
sandbox: {level: process}
steps:
  - id: build
    env: {NOTE: "${{ event.body.note }}"}
    run: |
      printf 'build \033[32mgreen\033[0m done\n'
      echo "a warning on stderr" >&2
      echo "note: $NOTE"
      echo "artifact=app-1.tar" >> "$HOOKFLOW_OUTPUT"
  - id: ship
    run: |
      echo "waiting for the gate"
      for i in $(seq 1 1200); do [ -e '` + gate + `' ] && break; sleep 0.05; done
      echo "shipped after the gate"
`,
		"release-only.yaml": `
on:
  webhook: {path: deploy, provider: generic, event_header: X-Event, events: [release]}
steps:
  - run: echo release
`,
		"slow.yaml": `
on: {dispatch: {}}
steps:
  - id: sleep
    run: |
      echo "slow run started"
      sleep 600
`,
		"greet.yaml": `
on:
  dispatch:
    inputs:
      who: {required: true, description: Whom to greet}
      mood: {type: choice, options: [happy, grumpy], default: happy}
      loud: {type: boolean, default: false}
      times: {type: number, default: 1}
env: {WHO: "${{ inputs.who }}", MOOD: "${{ inputs.mood }}", LOUD: "${{ inputs.loud }}", TIMES: "${{ inputs.times }}"}
steps:
  - id: greet
    run: echo "hello $WHO mood=$MOOD loud=$LOUD times=$TIMES"
`,
	}
}

func TestUIBrowser(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	a := startApp(t, uiWorkflows(gate))
	b := newBrowser(t)

	var first workflowsReceipt
	t.Run("a webhook's run appears and its log streams in", func(t *testing.T) {
		tb := b.open(t)
		tb.do("open the runs list", chromedp.Navigate(a.url+"/ui/runs"), chromedp.WaitVisible(chromedp.ID("runs-rows")))
		first = deliver(t, a, "deploy", "deploy", "delivery-1", `{"note": "first"}`)
		if len(first.Runs) != 1 {
			t.Fatalf("receipt %+v", first)
		}
		id := first.Runs[0].ID
		link := fmt.Sprintf(`#runs-rows a[href="/ui/runs/%s"]`, id)
		tb.wait("the new run in the self-refreshing list", fmt.Sprintf(`document.querySelector(%q) !== null`, link))
		tb.do("open the run", chromedp.Click(chromedp.CSS(link)), chromedp.WaitVisible(chromedp.ID("log")))
		tb.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.sameDocument = true`))
		tb.wait("the first log lines", hasText("#log", "waiting for the gate"))
		if strings.Contains(tb.text("#log"), "shipped after the gate") {
			t.Fatal("the log shows a line the run cannot have written yet")
		}
		tb.shot("run-streaming-desktop")
		if err := os.WriteFile(gate, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		tb.wait("the line written after the gate, streamed in", hasText("#log", "shipped after the gate"))
		tb.wait("the end of the run", hasText("#log-status", "Run succeeded"))
		tb.wait("the summary updated in place", hasText("#run-summary .title-row", "succeeded"))
		if !evalIn[bool](tb, `window.sameDocument === true`) {
			t.Error("the page was reloaded; the log should stream into it")
		}
		log := tb.text("#log")
		for _, want := range []string{"1. build", "2. ship", "build green done", "note: first"} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}
		if got := evalIn[string](tb, `[...document.querySelectorAll('#log .ln.stderr .txt')].map(e => e.textContent).join('|')`); got != "a warning on stderr" {
			t.Errorf("stderr lines %q", got)
		}
		if got := evalIn[string](tb, `(document.querySelector('#log .a-f2') || {}).textContent`); got != "green" {
			t.Errorf("ANSI green rendered as %q", got)
		}
		if got := evalIn[string](tb, `document.querySelector('#log .ln time').getAttribute('datetime')`); !strings.HasSuffix(got, "Z") {
			t.Errorf("log line timestamp %q", got)
		}
		steps := tb.text("table.steps")
		for _, want := range []string{"success", "artifact", "app-1.tar", "process"} {
			if !strings.Contains(steps+tb.text("#run-summary"), want) {
				t.Errorf("run summary lacks %q:\n%s", want, steps)
			}
		}
		tb.shot("run-finished-desktop")
	})
	if first.EventID == "" {
		t.FailNow()
	}

	t.Run("a skipped workflow shows why", func(t *testing.T) {
		tb := b.open(t)
		tb.do("open the events", chromedp.Navigate(a.url+"/ui/events"), chromedp.WaitVisible(chromedp.ID("events-rows")))
		tb.wait("the event's verdicts in the list", hasText("#events-rows", "release-only: skipped events: deploy not in [release]"))
		tb.do("open the event", chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="/ui/events/%s"]`, first.EventID))),
			chromedp.WaitVisible(chromedp.CSS("table.verdict-table")))
		verdicts := tb.text("table.verdict-table")
		for _, want := range []string{"deploy", "ran", "succeeded", "release-only", "skipped", "events: deploy not in [release]"} {
			if !strings.Contains(verdicts, want) {
				t.Errorf("verdicts lack %q:\n%s", want, verdicts)
			}
		}
		facts := tb.text("dl.facts")
		for _, want := range []string{"generic", "/hooks/deploy", "delivery-1"} {
			if !strings.Contains(facts, want) {
				t.Errorf("event facts lack %q:\n%s", want, facts)
			}
		}
		tb.shot("event-desktop")
	})

	t.Run("replay an event", func(t *testing.T) {
		if err := os.WriteFile(gate, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		tb := b.open(t)
		tb.do("open the event", chromedp.Navigate(a.url+"/ui/events/"+first.EventID), chromedp.WaitVisible(chromedp.CSS("table.verdict-table")))
		tb.do("replay it", chromedp.Click(chromedp.Search(`//button[normalize-space()="Replay"]`)))
		tb.wait("the replayed event's page", fmt.Sprintf(`location.pathname.startsWith("/ui/events/") && location.pathname !== "/ui/events/%s" && document.querySelector("table.verdict-table") !== null`, first.EventID))
		if facts := tb.text("dl.facts"); !strings.Contains(facts, "replay") {
			t.Errorf("the new event is no replay:\n%s", facts)
		}
		runID := evalIn[string](tb, `(document.querySelector('table.verdict-table a[href^="/ui/runs/"]') || {}).pathname || ""`)
		if runID == "" || strings.HasSuffix(runID, first.Runs[0].ID) {
			t.Fatalf("the replay started no new run (%q)", runID)
		}
		a.waitRun(t, strings.TrimPrefix(runID, "/ui/runs/"))
	})

	t.Run("cancel a running run", func(t *testing.T) {
		var run api.RunView
		if code := a.call(t, "POST", "/api/v1/workflows/slow/dispatch", nil, &run); code != http.StatusAccepted {
			t.Fatalf("dispatch: %d", code)
		}
		tb := b.open(t)
		tb.do("open the run", chromedp.Navigate(a.url+"/ui/runs/"+run.ID), chromedp.WaitVisible(chromedp.ID("log")))
		tb.wait("the run's first line", hasText("#log", "slow run started"))
		tb.do("cancel it", chromedp.Click(chromedp.Search(`//button[normalize-space()="Cancel run"]`)))
		tb.wait("the cancelled run", hasText("#run-summary .title-row", "cancelled"))
		tb.wait("the end of its log", hasText("#log-status", "Run cancelled"))
		if final := a.waitRun(t, run.ID); final.Status != "cancelled" {
			t.Errorf("run %s is %s", run.ID, final.Status)
		}
		tb.shot("run-cancelled-desktop")
	})

	t.Run("dispatch with inputs from the form", func(t *testing.T) {
		tb := b.open(t)
		form := `form[action="/ui/workflows/greet/dispatch"]`
		tb.do("open the workflows", chromedp.Navigate(a.url+"/ui/"),
			chromedp.Click(chromedp.Search(`//summary[normalize-space()="Run greet by hand"]`)),
			chromedp.WaitVisible(chromedp.CSS(form)))
		// Without the browser's own check, the server's answer shows.
		who := fmt.Sprintf(`document.querySelector('%s input[name="input.who"]')`, form)
		tb.do("submit without the required input", chromedp.Evaluate[chromedp.Void](who+`.removeAttribute("required")`),
			chromedp.Click(chromedp.CSS(form+` button[type=submit]`)))
		tb.wait("the server's complaint next to the form", hasText(form, `input "who" is required`))
		tb.do("fill in the form", chromedp.SendKeys(chromedp.CSS(form+` input[name="input.who"]`), "ada <b>"),
			chromedp.SetValue(chromedp.CSS(form+` select[name="input.mood"]`), "grumpy"),
			chromedp.SetValue(chromedp.CSS(form+` select[name="input.loud"]`), "true"))
		tb.shot("dispatch-form-desktop")
		tb.do("run it", chromedp.Click(chromedp.CSS(form+` button[type=submit]`)))
		tb.wait("the new run's page", `location.pathname.startsWith("/ui/runs/") && document.getElementById("log") !== null`)
		tb.wait("the greeting with every input", hasText("#log", "hello ada <b> mood=grumpy loud=true times=1"))
		if n := evalIn[int](tb, `document.querySelectorAll('#log b').length`); n != 0 {
			t.Errorf("an input became markup: %d <b> elements in the log", n)
		}
	})

	t.Run("a script in a payload shows as text", func(t *testing.T) {
		if err := os.WriteFile(gate, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		payload := `<script>alert(1)</script><img src=x onerror=alert(2)>`
		body, _ := json.Marshal(map[string]string{"note": payload})
		rc := deliver(t, a, "deploy", "deploy", "delivery-xss", string(body))
		tb := b.open(t)
		tb.do("open the event", chromedp.Navigate(a.url+"/ui/events/"+rc.EventID), chromedp.WaitVisible(chromedp.ID("payload")))
		if got := tb.text("#payload"); !strings.Contains(got, payload) {
			t.Errorf("payload viewer shows %q, want it to contain %q", got, payload)
		}
		if n := evalIn[int](tb, `document.querySelectorAll('main script, main img').length`); n != 0 {
			t.Errorf("the payload became %d elements", n)
		}
		tb.shot("event-script-payload-desktop")
		a.waitRun(t, rc.Runs[0].ID)
		tb.do("open its run", chromedp.Navigate(a.url+"/ui/runs/"+rc.Runs[0].ID), chromedp.WaitVisible(chromedp.ID("log")))
		tb.wait("the payload in the log", hasText("#log", "note: "+payload))
		if n := evalIn[int](tb, `document.querySelectorAll('#log script, #log img').length`); n != 0 {
			t.Errorf("the log turned the payload into %d elements", n)
		}
		// The cleanup fails the test had the page opened any dialog.
	})

	t.Run("pages on a phone and a desktop", func(t *testing.T) {
		tb := b.open(t)
		pages := map[string]string{"workflows": "/ui/", "runs": "/ui/runs", "run": "/ui/runs/" + first.Runs[0].ID,
			"events": "/ui/events", "event": "/ui/events/" + first.EventID}
		for _, size := range []struct {
			name          string
			width, height int64
		}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
			tb.do("size the window", chromedp.EmulateViewport(size.width, size.height))
			for name, path := range pages {
				tb.do("open "+path, chromedp.Navigate(a.url+path), chromedp.WaitVisible(chromedp.ID("main")))
				if name == "run" {
					tb.wait("the log", hasText("#log-status", "Run succeeded"))
				}
				if wide := evalIn[bool](tb, `document.documentElement.scrollWidth > window.innerWidth + 1`); wide {
					t.Errorf("%s is wider than a %s screen", path, size.name)
				}
				tb.shot(name + "-" + size.name)
			}
		}
	})
}

func TestUILoginWithToken(t *testing.T) {
	const token = "ui-test-token-0123456789"
	a := startApp(t, map[string]string{"greet.yaml": dispatchWorkflow}, func(c *config.Config) { c.API.Tokens = []string{token} })
	b := newBrowser(t)
	tb := b.open(t)

	tb.do("open the UI", chromedp.Navigate(a.url+"/ui/runs?status=succeeded"), chromedp.WaitVisible(chromedp.ID("token")))
	if loc := tb.location(); !strings.HasPrefix(loc, a.url+"/ui/login?next=") {
		t.Fatalf("without a session the UI sent the browser to %s", loc)
	}
	tb.do("log in with a wrong token", chromedp.SendKeys(chromedp.ID("token"), "not-the-right-token-at-all"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("login-error")))
	tb.shot("login-refused-desktop")
	tb.do("log in", chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Click(chromedp.CSS(`button[type=submit]`)))
	tb.wait("the page asked for first", `location.pathname === "/ui/runs" && location.search === "?status=succeeded"`)

	cookies, err := chromedp.Call(tb.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{a.url + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	var session *network.Cookie
	for _, c := range cookies.Cookies {
		if c.Name == api.SessionCookie {
			session = c
		}
	}
	if session == nil || !session.HTTPOnly || session.SameSite != network.CookieSameSiteStrict || session.Path != "/" {
		t.Fatalf("session cookie %+v", session)
	}

	var run api.RunView
	if code := a.call(t, "POST", "/api/v1/workflows/greet/dispatch", map[string]any{"inputs": map[string]string{"who": "bob"}}, &run); code != http.StatusAccepted {
		t.Fatalf("dispatch: %d", code)
	}
	tb.do("open the run", chromedp.Navigate(a.url+"/ui/runs/"+run.ID), chromedp.WaitVisible(chromedp.ID("log")))
	tb.wait("the log, followed with the session cookie", hasText("#log", "hello bob"))
	tb.do("log out", chromedp.Click(chromedp.Search(`//button[normalize-space()="Log out"]`)), chromedp.WaitVisible(chromedp.ID("token")))
	tb.do("open the UI again", chromedp.Navigate(a.url+"/ui/"), chromedp.WaitVisible(chromedp.ID("token")))
}
