package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/config"
)

// signedHook is a workflow whose webhook needs GitHub's signature made with
// the secret GH.
const signedHook = "on: {webhook: {path: gh, provider: github, secret: \"${{ secrets.GH }}\"}}\nsteps: [{run: 'true'}]\n"

// startRefusing starts a server with signedHook, and sends it a delivery with
// a bad signature, which it refuses.
func startRefusing(t *testing.T, mod ...func(*config.Config)) *testApp {
	t.Helper()
	t.Setenv("HOOKFLOW_SECRET_GH", "gh-secret-value")
	a := startApp(t, map[string]string{"gh.yaml": signedHook}, mod...)
	h := http.Header{"X-Github-Event": {"push"}, "X-Hub-Signature-256": {"sha256=" + strings.Repeat("0", 64)}}
	if code, body := post(t, a.url+"/hooks/gh", `{"ref":"refs/heads/main"}`, h); code != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d %s", code, body)
	}
	return a
}

func TestEventsListRefused(t *testing.T) {
	t.Setenv("HOOKFLOW_SERVER", "")
	t.Setenv("HOOKFLOW_TOKEN", "")
	const token = "cli-token-0123456789"
	a := startRefusing(t, func(c *config.Config) { c.API.Tokens = []string{token} })
	hookflow := func(args ...string) string {
		t.Helper()
		code, out, errOut := clientMain(t, context.Background(), append(args, "--server", a.url, "--token", token)...)
		if code != exitOK {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	// The refusal is written in the background; wait for it.
	row := regexp.MustCompile(`(?m)^(\S+)\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+POST\s+gh\s+401\s+` +
		regexp.QuoteMeta("missing or invalid signature: github: X-Hub-Signature-256 does not match the body") + `$`)
	var out string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out = hookflow("events", "list", "--refused")
		if row.MatchString(out) || time.Now().After(deadline) {
			break
		}
	}
	if !row.MatchString(out) || !strings.HasPrefix(out, "ID ") || !strings.Contains(out, " REASON\n") {
		t.Fatalf("events list --refused:\n%s", out)
	}

	var list struct {
		Events []struct {
			ID      string            `json:"id"`
			Status  int               `json:"status"`
			Reason  string            `json:"reason"`
			Headers map[string]string `json:"headers"`
			Body    string            `json:"body"`
		} `json:"events"`
		Next *string `json:"next"`
	}
	if err := json.Unmarshal([]byte(hookflow("events", "list", "--refused", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Events) != 1 || list.Next == nil || *list.Next != "" {
		t.Fatalf("events list --refused -o json: %+v", list)
	}
	e := list.Events[0]
	if e.ID != row.FindStringSubmatch(out)[1] || e.Status != 401 || e.Headers["X-Hub-Signature-256"] != "***" ||
		e.Headers["X-Github-Event"] != "push" || e.Body != "" {
		t.Errorf("refused delivery %+v", e)
	}
	// Stored events are not among them, and refusals not among events.
	if out := hookflow("events", "list"); out != "no events\n" {
		t.Errorf("events list:\n%s", out)
	}
	code, _, errOut := clientMain(t, context.Background(), "events", "list", "--refused", "--path", "gh", "--server", a.url, "--token", token)
	if code != exitUsage || !strings.Contains(errOut, "--path does not filter refused deliveries") {
		t.Errorf("--refused --path: exit %d %s", code, errOut)
	}
}
