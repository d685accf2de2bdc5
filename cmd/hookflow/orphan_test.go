package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/api"
)

// TestKilledServerLeavesNoStep kills the server with SIGKILL while a step
// runs `sleep 600`, at each sandbox level, and restarts it. The run that ends
// `interrupted` must leave no process behind, and the run that is queued
// again must never run beside its earlier attempt.
func TestKilledServerLeavesNoStep(t *testing.T) {
	for _, level := range []string{"process", "isolated"} {
		t.Run(level, func(t *testing.T) {
			if _, err := exec.LookPath("bwrap"); err != nil && level == "isolated" {
				t.Fatalf("bubblewrap is missing: run scripts/setup-sandbox.sh (%v)", err)
			}
			dir := t.TempDir()
			hold, again := newMarker(t, "hold"), newMarker(t, "again")
			writeFile(t, filepath.Join(dir, "workflows", "hold.yaml"), markedSleepWorkflow(level, "", hold))
			writeFile(t, filepath.Join(dir, "workflows", "again.yaml"), markedSleepWorkflow(level, "on_interrupt: requeue\n", again))
			srv := startProcess(t, dir)
			holdRun, againRun := dispatchRun(t, srv.url, "hold"), dispatchRun(t, srv.url, "again")

			// The scans must be able to see the steps, or they prove nothing.
			waitMarked(t, hold, 1)
			first := waitMarked(t, again, 1)[0]
			srv.kill(t)
			srv = startProcess(t, dir)

			// The requeued run starts again: at no point may its earlier
			// attempt still be running beside it.
			deadline := time.Now().Add(time.Minute)
			for {
				pids := markedProcesses(again)
				if len(pids) > 1 {
					t.Fatalf("two attempts of the requeued run at once: processes %v", pids)
				}
				if len(pids) == 1 && pids[0] != first {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the requeued run did not start again within a minute (processes %v)", pids)
				}
				time.Sleep(5 * time.Millisecond)
			}
			for range 100 { // and for a while as it runs
				if pids := markedProcesses(again); len(pids) > 1 {
					t.Fatalf("two attempts of the requeued run at once: processes %v", pids)
				}
				time.Sleep(5 * time.Millisecond)
			}

			waitMarked(t, hold, 0)
			if run := waitFinished(t, srv.url, holdRun); run.Status != "failed" || run.Reason != "interrupted" {
				t.Errorf("the interrupted run ended %s (%q), want failed (interrupted)", run.Status, run.Reason)
			}
			postJSON(t, srv.url+"/api/v1/runs/"+againRun+"/cancel", nil)
			if run := waitFinished(t, srv.url, againRun); run.Status != "cancelled" {
				t.Errorf("the requeued run ended %s (%q), want cancelled", run.Status, run.Reason)
			}
			waitMarked(t, again, 0)
		})
	}
}

// markedSleepWorkflow is a workflow whose step sleeps 600 s at level, as a process
// that marker names. The step's shell waits for sleep rather than becoming
// it, so that the sleep is a process of its own below the shell. The link
// stays in the workspace, which a requeued run gets again.
func markedSleepWorkflow(level, extra, marker string) string {
	return "on: {dispatch: {}}\n" + extra + "sandbox: {level: " + level + "}\nsteps:\n" +
		"  - run: |\n" +
		"      ln -sf \"$(command -v sleep)\" ./" + marker + "\n" +
		"      ./" + marker + " 600\n" +
		"      echo slept\n"
}

// newMarker is a name no other process has, given to a step's sleep; every
// process still running it is killed when the test ends, whatever happened.
func newMarker(t *testing.T, what string) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	m := "hookflow-orphan-" + what + "-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		for _, pid := range markedProcesses(m) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return m
}

// markedProcesses lists the running processes (zombies excluded) whose
// program name, argv[0], holds marker.
func markedProcesses(marker string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		argv0, _, _ := bytes.Cut(cmdline, []byte{0})
		if !bytes.Contains(argv0, []byte(marker)) {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if _, rest, _ := strings.Cut(string(stat), ") "); strings.HasPrefix(rest, "Z") || strings.HasPrefix(rest, "X") {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// waitMarked waits until exactly n processes carry marker, for at most 30 s,
// and returns them.
func waitMarked(t *testing.T, marker string, n int) []int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pids := markedProcesses(marker)
		if len(pids) == n {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d processes of %s after 30 s (%v), want %d", len(pids), marker, pids, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dispatchRun dispatches workflow and returns the id of the run it queued.
func dispatchRun(t *testing.T, url, workflow string) string {
	t.Helper()
	var run api.RunView
	if code := postJSON(t, url+"/api/v1/workflows/"+workflow+"/dispatch", &run); code != http.StatusAccepted {
		t.Fatalf("dispatch %s: %d", workflow, code)
	}
	return run.ID
}

// postJSON posts an empty object to url and decodes the answer into out.
func postJSON(t *testing.T, url string, out any) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// waitFinished waits for run id to end, for at most a minute.
func waitFinished(t *testing.T, url, id string) api.RunView {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var run api.RunView
		getJSON(t, url+"/api/v1/runs/"+id, &run)
		if api.Finished(run.Status) {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s is still %s after a minute", id, run.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
