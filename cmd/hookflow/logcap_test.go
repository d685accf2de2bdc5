package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/config"
	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/workflows"
)

// TestLogCapBoundsServedLog runs a step that prints two million one-byte
// lines through a server whose log cap is 256 KiB: the log it serves stays
// within the cap, ends with the marker, and the run still succeeds.
func TestLogCapBoundsServedLog(t *testing.T) {
	const maxBytes = 256 << 10
	a := startApp(t, map[string]string{"chatty.yaml": `name: chatty
on: {dispatch: {}}
steps:
  - run: awk 'BEGIN { for (i = 0; i < 2097152; i++) print "x" }'
  - run: echo done
`}, func(c *config.Config) {
		c.Limits.MaxLogBytes = workflows.ByteSize(maxBytes)
		c.Sandbox.Level = workflows.LevelProcess
	})
	var run api.RunView
	if code := a.call(t, "POST", "/api/v1/workflows/chatty/dispatch", map[string]any{}, &run); code != http.StatusAccepted {
		t.Fatalf("dispatch: %d", code)
	}
	if r := a.waitRun(t, run.ID); r.Status != workflows.StatusSucceeded {
		t.Fatalf("run %s: %s", r.Status, r.Reason)
	}
	log := a.get(t, "/api/v1/runs/"+run.ID+"/logs")
	if len(log) > maxBytes+200 {
		t.Errorf("served log is %d bytes for a cap of %d", len(log), maxBytes)
	}
	lines := strings.Split(strings.TrimSuffix(log, "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.HasSuffix(last, runner.TruncatedMarker) {
		t.Errorf("last line %q, want the marker", last)
	}
	if len(lines) < 1000 {
		t.Errorf("only %d lines kept", len(lines))
	}
}
