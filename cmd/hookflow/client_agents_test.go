package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/config"
	"github.com/hookflow/hookflow/runner"
)

// TestAgentsCommands registers, lists and removes an agent with `hookflow
// agents` against a real server: the token `add` prints once opens the agent
// protocol, and is refused once the agent is removed.
func TestAgentsCommands(t *testing.T) {
	t.Setenv("HOOKFLOW_SERVER", "")
	t.Setenv("HOOKFLOW_TOKEN", "")
	const apiToken = "cli-token-0123456789"
	a := startApp(t, nil, func(c *config.Config) { c.API.Tokens = []string{apiToken} })
	hookflow := func(t *testing.T, wantCode int, args ...string) (stdout, stderr string) {
		t.Helper()
		code, out, errOut := clientMain(t, context.Background(), append(args, "--server", a.url, "--token", apiToken)...)
		if code != wantCode {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, wantCode, out, errOut)
		}
		return out, errOut
	}

	if out, _ := hookflow(t, exitOK, "agents", "list"); out != "no agents\n" {
		t.Errorf("list of none: %q", out)
	}
	out, _ := hookflow(t, exitOK, "agents", "add", "web-1", "--labels", "linux, web-1")
	m := regexp.MustCompile(`^agent web-1 added, with labels linux,web-1\nits token, shown only now \(give it to the agent with --token-file\):\n(hfa_\S+)\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("add:\n%s", out)
	}
	token := m[1]
	if code := agentCall(t, a.url, runner.AgentClaimPath, token, runner.ClaimRequest{Version: "3.1.4", WaitSeconds: 0.05}); code != http.StatusNoContent {
		t.Errorf("claim with the printed token: %d", code)
	}

	var added struct {
		Name   string   `json:"name"`
		Labels []string `json:"labels"`
		Token  string   `json:"token"`
	}
	out, _ = hookflow(t, exitOK, "agents", "add", "--labels", "builder", "-o", "json", "build-1")
	if err := json.Unmarshal([]byte(out), &added); err != nil || added.Name != "build-1" || !strings.HasPrefix(added.Token, "hfa_") {
		t.Errorf("add -o json: %s (%v)", out, err)
	}
	if _, errOut := hookflow(t, exitFail, "agents", "add", "web-1", "--labels", "x"); errOut != "hookflow agents add: an agent named web-1 is registered already (HTTP 409)\n" {
		t.Errorf("add a taken name: %q", errOut)
	}
	if _, errOut := hookflow(t, exitFail, "agents", "add", "web 1", "--labels", "x"); !strings.Contains(errOut, "(HTTP 422)") {
		t.Errorf("add a bad name: %q", errOut)
	}
	if _, errOut := hookflow(t, exitUsage, "agents", "add", "web-2"); !strings.Contains(errOut, "give the agent its labels") {
		t.Errorf("add without labels: %q", errOut)
	}
	if _, errOut := hookflow(t, exitUsage, "agents", "add", "--labels", "x"); !strings.Contains(errOut, "name the NAME") {
		t.Errorf("add without a name: %q", errOut)
	}

	out, _ = hookflow(t, exitOK, "agents", "list")
	for _, want := range []string{
		`^NAME\s+STATE\s+LABELS\s+VERSION\s+LAST SEEN\s+JOBS\n`,
		`(?m)^build-1\s+offline\s+builder\s+-\s+-\s+-$`,
		`(?m)^web-1\s+online\s+linux,web-1\s+3\.1\.4\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+-$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("list lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hfa_") {
		t.Errorf("list shows a token:\n%s", out)
	}
	var list struct {
		Agents []struct {
			Name   string `json:"name"`
			Online bool   `json:"online"`
		} `json:"agents"`
	}
	out, _ = hookflow(t, exitOK, "agents", "list", "-o", "json")
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Agents) != 2 || list.Agents[1].Name != "web-1" || !list.Agents[1].Online {
		t.Errorf("list -o json: %s (%v)", out, err)
	}

	if out, _ := hookflow(t, exitOK, "agents", "remove", "web-1"); out != "agent web-1 removed; its token is refused from now on\n" {
		t.Errorf("remove: %q", out)
	}
	if code := agentCall(t, a.url, runner.AgentClaimPath, token, runner.ClaimRequest{WaitSeconds: 0.05}); code != http.StatusUnauthorized {
		t.Errorf("claim by the removed agent: %d", code)
	}
	if _, errOut := hookflow(t, exitFail, "agents", "remove", "web-1"); errOut != "hookflow agents remove: no agent web-1 (HTTP 404)\n" {
		t.Errorf("remove again: %q", errOut)
	}
}
