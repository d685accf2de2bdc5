package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/config"
)

// TestComplete asks the hidden __complete command what the scripts would
// offer, against a real server: commands, subcommands, flags, and the
// server's workflow names, run ids and event ids.
func TestComplete(t *testing.T) {
	t.Setenv("HOOKFLOW_SERVER", "")
	t.Setenv("HOOKFLOW_TOKEN", "")
	const token = "complete-token-0123456789"
	a := startApp(t, map[string]string{"greet.yaml": dispatchWorkflow, "greet-twice.yaml": dispatchWorkflow},
		func(c *config.Config) { c.API.Tokens = []string{token} })
	_, out, _ := clientMain(t, context.Background(), "dispatch", "greet", "--input", "who=ada", "-o", "json", "--server", a.url, "--token", token)
	var run struct {
		ID      string `json:"id"`
		EventID string `json:"event_id"`
	}
	if err := json.Unmarshal([]byte(out), &run); err != nil || run.ID == "" {
		t.Fatalf("dispatch: %v\n%s", err, out)
	}
	conn := []string{"--server", a.url, "--token", token}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "local.yaml"), "on: {dispatch: {}}\nsteps: [{run: 'true'}]\n")

	complete := func(t *testing.T, words ...string) []string {
		t.Helper()
		code, out, errOut := hookflow(t, append([]string{completeCommand}, words...)...)
		if code != exitOK || errOut != "" {
			t.Fatalf("%v: exit %d, stderr %q", words, code, errOut)
		}
		return strings.Fields(out)
	}
	tests := []struct {
		name    string
		words   []string
		want    []string // all of these
		exactly bool     // and nothing else
	}{
		{"commands", []string{""}, []string{"serve", "dispatch", "runs", "events", "completion", "help"}, false},
		{"a command by its start", []string{"ru"}, []string{"run", "runs"}, true},
		{"subcommands", []string{"runs", ""}, []string{"list", "show", "logs", "watch", "cancel", "rerun"}, true},
		{"subcommands after global flags", append(slices.Clone(conn), "events", ""), []string{"list", "show", "replay"}, true},
		{"flags of a subcommand", []string{"runs", "logs", "--"}, []string{"--job", "--server", "--token", "--help"}, true},
		{"global flags", []string{"-"}, []string{"--server", "--token", "-o", "--help"}, true},
		{"-o values", []string{"runs", "list", "-o", ""}, []string{"json", "text"}, true},
		{"statuses", []string{"runs", "list", "--status", "f"}, []string{"failed"}, true},
		{"shells", []string{"completion", ""}, []string{"bash", "fish", "zsh"}, true},
		{"workflows to dispatch", append(slices.Clone(conn), "dispatch", ""), []string{"greet", "greet-twice"}, true},
		{"workflows with the flags after", []string{"dispatch", "--server=" + a.url, "--token", token, "greet-"}, []string{"greet-twice"}, true},
		{"workflows of runs list", append(slices.Clone(conn), "runs", "list", "--workflow", ""), []string{"greet", "greet-twice"}, true},
		{"run ids to show", append(slices.Clone(conn), "runs", "show", ""), []string{run.ID}, true},
		{"run ids to watch, by their start", append(slices.Clone(conn), "runs", "watch", run.ID[:4]), []string{run.ID}, true},
		{"run ids after a switch", append(slices.Clone(conn), "runs", "logs", "-f", ""), []string{run.ID}, true},
		{"event ids", append(slices.Clone(conn), "events", "replay", ""), []string{run.EventID}, true},
		{"one argument only", append(slices.Clone(conn), "runs", "show", run.ID, ""), nil, true},
		{"local workflows to run", []string{"run", "--workflows", dir, ""}, []string{"local"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := complete(t, tt.words...)
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("candidates %q lack %q", got, w)
				}
			}
			if tt.exactly && len(got) != len(tt.want) {
				t.Errorf("candidates %q, want only %q", got, tt.want)
			}
			if slices.Contains(got, completeCommand) {
				t.Errorf("the hidden command is offered: %q", got)
			}
		})
	}

	t.Run("without the token", func(t *testing.T) {
		if got := complete(t, "--server", a.url, "runs", "show", ""); len(got) != 0 {
			t.Errorf("candidates %q from a server that refused", got)
		}
	})
	t.Run("the server from the environment", func(t *testing.T) {
		t.Setenv("HOOKFLOW_SERVER", a.url)
		t.Setenv("HOOKFLOW_TOKEN", token)
		if got := complete(t, "dispatch", "gre"); !slices.Equal(got, []string{"greet", "greet-twice"}) {
			t.Errorf("candidates %q", got)
		}
	})
	t.Run("an unreachable server", func(t *testing.T) {
		down := httptest.NewServer(http.NotFoundHandler())
		down.Close()
		if got := complete(t, "--server", down.URL, "runs", "show", ""); len(got) != 0 {
			t.Errorf("candidates %q", got)
		}
	})
}
