package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/runner/sandbox"
	"github.com/hookflow/hookflow/workflows"
)

// TestPoolRecoversDeadNodesRuns: with RecoverEvery, a pool recovers the runs
// of another node once their leases expire, not only at its start: the
// requeued one runs here, the other ends failed (interrupted).
func TestPoolRecoversDeadNodesRuns(t *testing.T) {
	q := newQueue(t, 2, 0, map[string]string{
		"work":  "on: {dispatch: {}}\nsteps:\n  - run: 'true'\n",
		"again": "on: {dispatch: {}}\non_interrupt: requeue\nsteps:\n  - run: 'true'\n",
	})
	work := q.dispatch(t, "work", nil).Runs[0].ID
	again := q.dispatch(t, "again", nil).Runs[0].ID
	// Another node claims both, then dies: its leases run one minute.
	for range 2 {
		if r, err := q.store.Claim(context.Background(), "dead-node", time.Minute, time.Now().UTC()); err != nil || r == nil {
			t.Fatalf("Claim = %v, %v", r, err)
		}
	}

	// The pool's clock jumps past the leases once it has started, so that
	// only the periodic recovery can find them expired.
	var skew atomic.Int64
	q.pool = NewPool(PoolConfig{Store: q.store, Executor: newExecutor(t), Workflows: func() *workflows.Set { return q.set },
		Node: "live-node", Poll: 20 * time.Millisecond, RecoverEvery: 10 * time.Millisecond,
		Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	q.startPool(t)
	for _, id := range []string{work, again} {
		if r, err := q.store.GetRun(context.Background(), id); err != nil || r.Node != "dead-node" || r.Status != "running" {
			t.Fatalf("run %s after the pool started: %+v, %v", id, r, err)
		}
	}
	skew.Store(int64(2 * time.Minute))

	if r := q.wait(t, work); r.Status != workflows.StatusFailed || r.Reason != "interrupted" {
		t.Errorf("run of the dead node ended %s (%q), want failed (interrupted)", r.Status, r.Reason)
	}
	if r := q.wait(t, again); r.Status != workflows.StatusSucceeded || r.Node != "live-node" {
		t.Errorf("requeued run ended %s on %q, want succeeded on live-node", r.Status, r.Node)
	}
}

// TestPoolKillsLeftoversBeforeRecovering: processes that a step left running
// on this machine when its server died, named by the step's trace in the
// run's record, are killed before the run is queued again; its new attempt
// finds none of them running. A run of this node's name is taken when the
// pool starts; one of another node's name (a predecessor with another PID in
// its name, or another node on this machine) once its lease has expired.
func TestPoolKillsLeftoversBeforeRecovering(t *testing.T) {
	for _, node := range []string{"test", "host-4242"} {
		t.Run(node, func(t *testing.T) { killsLeftovers(t, node) })
	}
}

func killsLeftovers(t *testing.T, node string) {
	// What the dead server left: a step with a process in its session and
	// one that left it. Its helper, the test's child, is no step process.
	leftover := t.TempDir()
	c, err := sandbox.NewHost(sandbox.Options{}).Confine(workflows.Sandbox{Level: workflows.LevelProcess}, leftover)
	if err != nil {
		t.Fatal(err)
	}
	var trace *sandbox.Trace
	c.OnStart(func(tr sandbox.Trace) { trace = &tr })
	cmd := exec.Command("/bin/sh", "-c", "(setsid sleep 1000 & wait) & sleep 1000 & : > ready; wait")
	cmd.Dir, cmd.Env = leftover, []string{"PATH=" + os.Getenv("PATH")}
	proc, err := c.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	go cmd.Wait()
	t.Cleanup(func() { proc.Signal(syscall.SIGKILL); proc.Release() })
	var pids []int
	deadline := time.Now().Add(30 * time.Second)
	for len(pids) < 4 { // sh, its subshell, and the two sleeps
		if time.Now().After(deadline) {
			t.Fatalf("the leftover step's processes did not start: %v", pids)
		}
		time.Sleep(10 * time.Millisecond)
		pids = workingIn(leftover, cmd.Process.Pid)
	}

	var check strings.Builder
	for _, pid := range pids {
		// The third field of /proc/PID/stat is the state; the names of
		// sh and sleep hold no space.
		fmt.Fprintf(&check, "      set -- $(cat /proc/%d/stat 2>/dev/null || true)\n", pid)
		fmt.Fprintf(&check, "      case \"${3:-}\" in ''|Z|X) ;; *) echo \"process %d of the earlier attempt runs\"; exit 1 ;; esac\n", pid)
	}
	q := newQueue(t, 1, 0, map[string]string{
		"again": "on: {dispatch: {}}\non_interrupt: requeue\nsteps:\n  - id: check\n    run: |\n" + check.String(),
	})
	id := q.dispatch(t, "again", nil).Runs[0].ID
	ctx := context.Background()
	if r, err := q.store.Claim(ctx, node, time.Minute, time.Now().UTC()); err != nil || r == nil || r.ID != id {
		t.Fatalf("Claim = %v, %v", r, err)
	}
	steps, _ := json.Marshal([]storedStep{{StepResult{ID: "check", Outcome: "running"}, trace}})
	if err := q.store.UpdateSteps(ctx, id, steps, ""); err != nil {
		t.Fatal(err)
	}

	// The pool's clock jumps past the lease once it has started, so that
	// another node's run is found only by the periodic recovery.
	var skew atomic.Int64
	q.pool = NewPool(PoolConfig{Store: q.store, Executor: newExecutor(t), Workflows: func() *workflows.Set { return q.set },
		Node: "test", Poll: 20 * time.Millisecond, RecoverEvery: 10 * time.Millisecond,
		Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	q.startPool(t)
	skew.Store(int64(2 * time.Minute))
	if r := q.wait(t, id); r.Status != workflows.StatusSucceeded {
		t.Errorf("the requeued run ended %s (%q), want succeeded", r.Status, r.Reason)
		lines, _ := q.store.Logs(ctx, id, 0, 100)
		for _, l := range lines {
			t.Log(l.Text)
		}
	}
	for _, pid := range pids {
		if processRunning(pid) {
			t.Errorf("process %d of the leftover step still runs", pid)
		}
	}
}

// TestRunningStepRecordsItsProcess: while a step runs, the run's record
// names its process; once it has finished, no longer.
func TestRunningStepRecordsItsProcess(t *testing.T) {
	dir := t.TempDir()
	q := newQueue(t, 1, 0, map[string]string{
		"wait": "on: {dispatch: {}}\nenv: {DIR: " + dir + "}\nsteps:\n  - run: |\n      : > \"$DIR/ready\"\n      while [ ! -e \"$DIR/go\" ]; do sleep 0.01; done\n",
	})
	q.startPool(t)
	id := q.dispatch(t, "wait", nil).Runs[0].ID
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the step did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r, err := q.store.GetRun(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var steps []storedStep
	if err := json.Unmarshal(r.Steps, &steps); err != nil || len(steps) != 1 || steps[0].Process == nil {
		t.Fatalf("the running step's record names no process: %s (%v)", r.Steps, err)
	}
	if tr := steps[0].Process; !processRunning(tr.PID) || tr.Start == 0 || tr.Boot == "" {
		t.Errorf("the trace %+v does not name the running step", tr)
	}

	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := q.wait(t, id); r.Status != workflows.StatusSucceeded || strings.Contains(string(r.Steps), `"process"`) {
		t.Errorf("run ended %s with steps %s, want succeeded and no process", r.Status, r.Steps)
	}
}

// workingIn lists the running processes whose working folder is dir, other
// than helper.
func workingIn(dir string, helper int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd"); err == nil && cwd == dir && pid != helper && processRunning(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// processRunning reports whether pid exists and is not a zombie.
func processRunning(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}
