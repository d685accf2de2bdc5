package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/api"
)

// TestKillDuringJobs kills the server with SIGKILL while the third of four
// jobs in a row runs, and checks that after a restart the run resumes: the
// two finished jobs stay succeeded and do not run again (a stamp file counts
// each job's executions), the interrupted one runs again (on_interrupt:
// requeue), and the last one runs.
func TestKillDuringJobs(t *testing.T) {
	dir := t.TempDir()
	stamps := filepath.Join(dir, "stamps")
	writeFile(t, filepath.Join(dir, "workflows", "chain.yaml"), `
on: {dispatch: {}}
on_interrupt: requeue
sandbox: {level: process}   # the stamps are outside the workspace
env: {STAMPS: "`+stamps+`"}
jobs:
  first:
    steps: [{run: echo first >> "$STAMPS/log"}]
  second:
    needs: first
    steps: [{run: echo second >> "$STAMPS/log"}]
  third:
    needs: second
    steps:
      - run: |
          echo third >> "$STAMPS/log"
          if [ ! -e "$STAMPS/third-started" ]; then
            touch "$STAMPS/third-started"
            sleep 120
          fi
  fourth:
    needs: third
    steps: [{run: echo fourth >> "$STAMPS/log"}]
`)
	if err := os.MkdirAll(stamps, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := startProcess(t, dir)
	resp, err := http.Post(srv.url+"/api/v1/workflows/chain/dispatch", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	var run api.RunView
	err = json.NewDecoder(resp.Body).Decode(&run)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("dispatch: %d %v", resp.StatusCode, err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(filepath.Join(stamps, "third-started")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the third job did not start within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv.kill(t)

	srv = startProcess(t, dir)
	var got struct {
		api.RunView
		Jobs []struct {
			Key, Status string
			StartedAt   time.Time `json:"started_at"`
		} `json:"jobs"`
	}
	deadline = time.Now().Add(2 * time.Minute)
	for getJSON(t, srv.url+"/api/v1/runs/"+run.ID, &got); !api.Finished(got.Status); getJSON(t, srv.url+"/api/v1/runs/"+run.ID, &got) {
		if time.Now().After(deadline) {
			t.Fatalf("run %s still %s two minutes after the restart", run.ID, got.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got.Status != "succeeded" {
		t.Errorf("run %s (%s), want succeeded", got.Status, got.Reason)
	}
	data, err := os.ReadFile(filepath.Join(stamps, "log"))
	if err != nil {
		t.Fatal(err)
	}
	if lines, want := strings.Fields(string(data)), []string{"first", "second", "third", "third", "fourth"}; !slices.Equal(lines, want) {
		t.Errorf("executions %q, want %q: the finished jobs must not run again", lines, want)
	}
	for _, j := range got.Jobs {
		if j.Status != "succeeded" {
			t.Errorf("job %s %s", j.Key, j.Status)
		}
	}
	if len(got.Jobs) != 4 {
		t.Errorf("%d jobs, want 4", len(got.Jobs))
	}
}
