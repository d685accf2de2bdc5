package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/runner"
)

// TestAgentCommand runs `hookflow agent` in-process against a server that
// has no job for it: the agent claims with its token, from the file or the
// environment, under its name and labels, says where it connects, and stops
// cleanly when told to.
func TestAgentCommand(t *testing.T) {
	const token = "agent-token-4e1d9b"
	for _, tc := range []struct {
		name    string
		fromEnv bool
	}{{"token file", false}, {"token from the environment", true}} {
		t.Run(tc.name, func(t *testing.T) {
			type claim struct {
				auth string
				req  runner.ClaimRequest
			}
			claims := make(chan claim, 100)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != runner.AgentClaimPath {
					http.NotFound(w, r)
					return
				}
				var req runner.ClaimRequest
				_ = json.NewDecoder(r.Body).Decode(&req)
				select {
				case claims <- claim{r.Header.Get("Authorization"), req}:
				default:
				}
				w.WriteHeader(http.StatusNoContent)
			}))
			defer srv.Close()
			dir := t.TempDir()
			args := []string{"agent", "--server", srv.URL, "--name", "edge-1", "--labels", "edge, web-07",
				"--data", filepath.Join(dir, "data"), "--sandbox-level", "process"}
			if tc.fromEnv {
				t.Setenv("HOOKFLOW_AGENT_TOKEN", token)
			} else {
				t.Setenv("HOOKFLOW_AGENT_TOKEN", "")
				args = append(args, "--token-file", writeFile(t, filepath.Join(dir, "token"), token+"\n"))
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stdout, stderr bytes.Buffer
			done := make(chan int, 1)
			go func() { done <- Main(ctx, args, &stdout, &stderr) }()

			var c claim
			select {
			case c = <-claims:
			case code := <-done:
				t.Fatalf("exit %d before claiming\n%s%s", code, &stdout, &stderr)
			case <-time.After(2 * time.Minute):
				t.Fatal("no claim")
			}
			cancel()
			var code int
			select {
			case code = <-done:
			case <-time.After(2 * time.Minute):
				t.Fatal("the agent did not stop")
			}
			if code != exitOK {
				t.Errorf("exit %d\n%s", code, &stderr)
			}
			if c.auth != "Bearer "+token || c.req.Name != "edge-1" || !slices.Equal(c.req.Labels, []string{"edge", "web-07"}) || c.req.WaitSeconds <= 0 {
				t.Errorf("claim %q %+v", c.auth, c.req)
			}
			if want := "hookflow agent edge-1 connecting to " + srv.URL; !strings.Contains(stdout.String(), want) {
				t.Errorf("stdout %q, want %q", &stdout, want)
			}
			if strings.Contains(stdout.String()+stderr.String(), token) {
				t.Errorf("the output holds the token:\n%s%s", &stdout, &stderr)
			}
			if fi, err := os.Stat(filepath.Join(dir, "data", "jobs")); err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("spool folder: %v, %v", fi, err)
			}
		})
	}
}

// TestAgentCommandUsage checks that `hookflow agent` refuses what it cannot
// run with, and says what to write.
func TestAgentCommandUsage(t *testing.T) {
	t.Setenv("HOOKFLOW_AGENT_TOKEN", "")
	dir := t.TempDir()
	token := writeFile(t, filepath.Join(dir, "token"), "agent-token-4e1d9b\n")
	empty := writeFile(t, filepath.Join(dir, "empty"), "\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no server", []string{"--token-file", token}, "name a server"},
		{"no token", []string{"--server", "http://127.0.0.1:1"}, "--token-file F or HOOKFLOW_AGENT_TOKEN"},
		{"empty token file", []string{"--server", "http://127.0.0.1:1", "--token-file", empty}, "is empty"},
		{"missing token file", []string{"--server", "http://127.0.0.1:1", "--token-file", filepath.Join(dir, "none")}, "--token-file"},
		{"bad server", []string{"--server", "127.0.0.1:1", "--token-file", token}, "write a URL"},
		{"no parallelism", []string{"--server", "http://127.0.0.1:1", "--token-file", token, "--parallel", "0"}, "--parallel 0"},
		{"bad sandbox level", []string{"--server", "http://127.0.0.1:1", "--token-file", token, "--sandbox-level", "none"}, "use auto, isolated or process"},
		{"bad CA file", []string{"--server", "https://127.0.0.1:1", "--token-file", token, "--ca-file", token}, "holds no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"agent", "--data", filepath.Join(dir, "data")}, tc.args...)
			code, _, errOut := hookflow(t, args...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut, tc.want)
			}
			if strings.Contains(errOut, "agent-token-4e1d9b") {
				t.Errorf("stderr holds the token: %q", errOut)
			}
		})
	}
}
