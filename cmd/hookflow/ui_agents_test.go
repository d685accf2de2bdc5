package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/labstack/echo/v4"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/config"
	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/workflows"
)

// registerAgent adds agent name with labels through the API and returns its
// token.
func registerAgent(t *testing.T, a *testApp, name string, labels ...string) string {
	t.Helper()
	var added struct {
		Token string `json:"token"`
	}
	if code := a.call(t, "POST", "/api/v1/agents", map[string]any{"name": name, "labels": labels}, &added); code != http.StatusCreated || added.Token == "" {
		t.Fatalf("add agent %s: %d", name, code)
	}
	return added.Token
}

// TestUIAgents registers an agent through the API and watches the agents
// page, reached from the navigation: the agent is listed offline, then, once
// it claims a job, online with its version and the job, which links to its
// run.
func TestUIAgents(t *testing.T) {
	a := startApp(t, map[string]string{"remote.yaml": `
on: {dispatch: {}}
jobs:
  heal:
    runs_on: [edge]
    steps: [{run: echo healed}]
`})
	b := newBrowser(t)
	token := registerAgent(t, a, "edge-1", "edge", "linux")
	registerAgent(t, a, "builder", "build")

	tb := b.open(t)
	tb.do("open the workflows", chromedp.Navigate(a.url+"/ui/"), chromedp.WaitVisible(chromedp.CSS(`nav a[href="/ui/agents"]`)))
	tb.do("follow the navigation to the agents", chromedp.Click(chromedp.CSS(`nav a[href="/ui/agents"]`)), chromedp.WaitVisible(chromedp.ID("agents-rows")))
	row := func(name string) string { return fmt.Sprintf(`#agents-rows tr[data-agent=%q]`, name) }
	if got := tb.text(row("edge-1")); !regexp.MustCompile(`(?s)edge-1\s+offline\s+edge\s+linux\s+—\s+none\s+never`).MatchString(got) {
		t.Errorf("edge-1 before it connected: %q", got)
	}
	if got := tb.text(row("builder")); !strings.Contains(got, "build") {
		t.Errorf("builder: %q", got)
	}
	if got := evalIn[string](tb, `document.querySelector('nav a[aria-current="page"]').getAttribute('href')`); got != "/ui/agents" {
		t.Errorf("current page in the navigation: %q", got)
	}

	var run api.RunView
	if code := a.call(t, "POST", "/api/v1/workflows/remote/dispatch", nil, &run); code != http.StatusAccepted {
		t.Fatalf("dispatch: %d", code)
	}
	var as runner.Assignment
	if code := agentPost(t, a.url, token, runner.AgentClaimPath, runner.ClaimRequest{Name: "edge-1", Version: "7.0.1", WaitSeconds: 60}, &as); code != http.StatusOK {
		t.Fatalf("claim: %d", code)
	}
	if as.Run != run.ID || as.JobRef.Job != "heal" {
		t.Fatalf("claimed %+v, want job heal of run %s", as.JobRef, run.ID)
	}
	link := fmt.Sprintf(`%s a[href="/ui/runs/%s"]`, row("edge-1"), run.ID)
	tb.wait("edge-1 online with its job, in the self-refreshing list", fmt.Sprintf(`document.querySelector(%q) !== null`, link))
	if got := tb.text(row("edge-1")); !regexp.MustCompile(`(?s)edge-1\s+online\s+edge\s+linux\s+7\.0\.1\s+heal of run \S+\s+\d+s ago`).MatchString(got) {
		t.Errorf("edge-1 with its job: %q", got)
	}
	tb.shot("agents-desktop")
	tb.do("open the job's run", chromedp.Click(chromedp.CSS(link)), chromedp.WaitVisible(chromedp.ID("job-graph")))
	if got := tb.location(); !strings.HasSuffix(got, "/ui/runs/"+run.ID) {
		t.Errorf("the job's link led to %s", got)
	}

	// The agent ends the job; the run ends with it.
	finish := runner.FinishRequest{JobRef: as.JobRef, Result: runner.Result{Status: workflows.StatusSucceeded, FinishedAt: time.Now()}}
	if code := agentCall(t, a.url, runner.AgentFinishPath, token, finish); code != http.StatusNoContent {
		t.Fatalf("finish: %d", code)
	}
	if v := a.waitRun(t, run.ID); v.Status != workflows.StatusSucceeded || v.Jobs[0].Runner != "edge-1" {
		t.Errorf("run %s (%s), job on %q", v.Status, v.Reason, v.Jobs[0].Runner)
	}
}

// TestAgentTokenRefusedEverywhere sends an agent token to every route of the
// server that is not public, found in its own route list: the management
// API, the metrics and the UI all refuse it with 401, also for a loopback
// client of a server without API tokens, which would answer one without any
// token.
func TestAgentTokenRefusedEverywhere(t *testing.T) {
	// Routes that answer everyone, or check something else than the API's
	// access rule.
	public := regexp.MustCompile(`^(/healthz|/readyz|/hooks/.*|/ui|/ui/static/.*|/ui/badge/.*|/ui/login|/ui/logout|/api/v1/agent(/.*)?)$`)
	param := regexp.MustCompile(`:[^/]+`)
	for _, tokens := range [][]string{nil, {"api-token-0123456789"}} {
		t.Run(fmt.Sprintf("api tokens %v", tokens), func(t *testing.T) {
			a := startApp(t, map[string]string{"greet.yaml": dispatchWorkflow}, func(c *config.Config) { c.API.Tokens = tokens })
			token := registerAgent(t, a, "web-1", "linux")
			checked := map[string]bool{}
			for _, r := range a.echo.Routes() {
				if public.MatchString(r.Path) {
					continue
				}
				method := r.Method
				if method == echo.RouteNotFound {
					method = http.MethodGet
				}
				path := strings.ReplaceAll(param.ReplaceAllString(r.Path, "x"), "*", "x")
				req, _ := http.NewRequest(method, a.url+path, strings.NewReader(`{}`))
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s %s with an agent token: %d, want 401", method, path, resp.StatusCode)
				}
				checked[strings.SplitN(path, "/", 3)[1]] = true
			}
			for _, area := range []string{"api", "metrics", "ui"} {
				if !checked[area] {
					t.Errorf("no route under /%s checked: %v", area, checked)
				}
			}
		})
	}
}

// agentPost is agentCall for an answer with a body: it decodes a 200
// answer into out.
func agentPost(t *testing.T, url, token, path string, body, out any) int {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("POST %s: %s: %v", path, data, err)
		}
	}
	return resp.StatusCode
}
