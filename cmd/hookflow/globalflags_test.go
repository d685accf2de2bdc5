package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/config"
)

// TestGlobalFlagPositions runs the clients against a real server with
// --server, --token and -o before the command, between a group and its
// subcommand, after it, and as --flag=value.
func TestGlobalFlagPositions(t *testing.T) {
	t.Setenv("HOOKFLOW_SERVER", "")
	t.Setenv("HOOKFLOW_TOKEN", "")
	const token = "global-flags-token-0123456789"
	a := startApp(t, map[string]string{"greet.yaml": dispatchWorkflow}, func(c *config.Config) { c.API.Tokens = []string{token} })

	code, out, errOut := clientMain(t, context.Background(), "--server", a.url, "--token", token, "-o", "json", "dispatch", "greet", "--input", "who=ada")
	var run struct{ ID string }
	if err := json.Unmarshal([]byte(out), &run); code != exitOK || err != nil || run.ID == "" {
		t.Fatalf("dispatch with the flags before it: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if code, out, errOut := clientMain(t, context.Background(), "runs", "logs", run.ID, "-f", "--server", a.url, "--token", token); code != exitOK {
		t.Fatalf("runs logs -f: exit %d\n%s%s", code, out, errOut)
	}

	for _, tt := range []struct {
		name string
		args []string
		json bool
	}{
		{"before the command", []string{"--server", a.url, "--token", token, "runs", "list"}, false},
		{"between group and subcommand", []string{"runs", "--server", a.url, "--token", token, "list"}, false},
		{"after the subcommand", []string{"runs", "list", "--server", a.url, "--token", token, "-o", "json"}, true},
		{"as --flag=value everywhere", []string{"--server=" + a.url, "runs", "--token=" + token, "list", "-o=json"}, true},
		{"-o before the command", []string{"-o", "json", "--server", a.url, "runs", "list", "--token", token}, true},
		{"single dash", []string{"-server", a.url, "-token", token, "runs", "show", run.ID}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := clientMain(t, context.Background(), tt.args...)
			if code != exitOK || !strings.Contains(out, run.ID) {
				t.Fatalf("exit %d, want 0 and the run %s\n%s%s", code, run.ID, out, errOut)
			}
			if tt.json != json.Valid([]byte(out)) {
				t.Errorf("JSON %v, want %v:\n%s", !tt.json, tt.json, out)
			}
		})
	}

	for _, tt := range []struct {
		name string
		args []string
		err  string
	}{
		{"-o to a command without it", []string{"-o", "json", "--server", a.url, "runs", "logs", run.ID}, "hookflow runs logs: runs logs takes no flag -o\n"},
		{"--token to a local command", []string{"--token", token, "validate"}, "hookflow validate: validate takes no flag --token\n"},
		{"--server=URL to a local command", []string{"--server=" + a.url, "schema"}, "hookflow schema: schema takes no flag --server\n"},
		{"not a global flag", []string{"--workflow", "greet", "runs", "list"}, "hookflow: unknown flag --workflow before the command"},
		{"a global flag without its value", []string{"runs", "--server"}, "hookflow runs: flag --server needs a value\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := clientMain(t, context.Background(), tt.args...)
			if code != exitUsage || out != "" || !strings.HasPrefix(errOut, tt.err) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and stderr starting %q", code, out, errOut, tt.err)
			}
			if strings.Contains(errOut, token) {
				t.Errorf("the error shows the token: %s", errOut)
			}
		})
	}
}
