package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/runner/sandbox/internal/helper"
	"github.com/hookflow/hookflow/workflows"
)

// stepServerEnv makes the test binary a server that runs one step (see
// serveStep): its value is the level, then the workspace, after a space.
const stepServerEnv = "HOOKFLOW_SANDBOX_TEST_STEP_SERVER"

// escapingScript leaves, besides its shell, a process in the step's session
// and a grandchild that left it with setsid, then says it is ready.
const escapingScript = `(setsid sh -c ': > escaped; exec sleep 1000' & wait) &
(: > stayed; exec sleep 1000) &
while [ ! -e escaped ] || [ ! -e stayed ]; do sleep 0.01; done
: > ready
wait`

// serveStep is a server that confines escapingScript at level in ws and
// waits for it, until it is killed. It returns only on failure.
func serveStep(level, ws string) int {
	c, err := NewHost(Options{}).Confine(workflows.Sandbox{Level: level}, ws)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cmd := exec.Command("/bin/sh", "-c", escapingScript)
	cmd.Dir, cmd.Env = ws, []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	if _, err := c.Start(cmd); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	err = cmd.Wait()
	fmt.Fprintf(os.Stderr, "the step ended: %v\n", err)
	return 1
}

// TestStepDiesWithItsServer kills a server with SIGKILL while it runs a
// step, at each level, and checks that every process of the step dies with
// it, the grandchild that left the step's session included.
func TestStepDiesWithItsServer(t *testing.T) {
	for _, level := range []string{workflows.LevelProcess, workflows.LevelIsolated} {
		t.Run(level, func(t *testing.T) {
			s := newServer(t)
			if level == workflows.LevelIsolated {
				requireIsolated(t, s.host(t))
			}
			srv := exec.Command(os.Args[0])
			srv.Env = append(os.Environ(), stepServerEnv+"="+level+" "+s.ws)
			var out bytes.Buffer
			srv.Stdout, srv.Stderr = &out, &out
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { srv.Wait(); close(exited) }()
			ctx, cancel := context.WithTimeout(context.Background(), safetyNet)
			defer cancel()
			go func() {
				select {
				case <-exited:
					cancel()
				case <-ctx.Done():
				}
			}()
			waitForFile(t, ctx, filepath.Join(s.ws, "ready"))

			pids := stepProcesses(s.ws)
			checkEscaped(t, pids, srv.Process.Pid)
			if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-exited
			checkGone(t, pids)
			if left := stepProcesses(s.ws); len(left) > 0 {
				t.Errorf("processes left: %v", left)
				checkGone(t, left)
			}
			if t.Failed() {
				t.Logf("server output:\n%s", out.String())
			}
		})
	}
}

// TestTraceKill starts a step, at each level, and ends it as a server that
// starts after its own crash would, with nothing but the step's Trace: the
// step's processes die, the one that left its session and any cgroup too.
func TestTraceKill(t *testing.T) {
	for _, level := range []string{workflows.LevelProcess, workflows.LevelIsolated} {
		t.Run(level, func(t *testing.T) {
			s := newServer(t)
			h := s.host(t)
			requireIsolated(t, h)
			c := confine(t, h, policy(level), s.ws)
			st := startEscaping(t, c, s.ws)
			tr := st.trace
			if stat, ok := helper.ReadStat(tr.PID); !ok || stat.PGRP != tr.PID || tr.Start != stat.Start || tr.Boot == "" {
				t.Fatalf("trace %+v does not name the leader of the step's process group (%+v)", tr, stat)
			}
			if c.cgroupPids && len(tr.Cgroups) == 0 {
				t.Errorf("trace %+v names no cgroup, though the step has one", tr)
			}

			// Another PID's start time, or another boot, names another
			// process: it is left alone.
			for _, other := range []Trace{{Boot: tr.Boot, PID: tr.PID, Start: tr.Start + 1}, {Boot: "another-boot", PID: tr.PID, Start: tr.Start}} {
				if found, err := other.Kill(); found || err != nil {
					t.Errorf("Kill of %+v = %v, %v; want nothing found", other, found, err)
				}
			}
			for _, pid := range st.pids {
				if gone(pid) {
					t.Fatalf("process %d died of a trace that does not name it", pid)
				}
			}

			if found, err := tr.Kill(); !found || err != nil {
				t.Errorf("Kill = %v, %v; want the step found and killed", found, err)
			}
			st.checkKilled(t, true)
		})
	}
}

// TestTraceKillAfterHelper kills a step's helper with SIGKILL, as a server's
// crash may take it too: its program dies with it, and the processes the
// program left are found by the step's cgroup (at the isolated level, the
// PID namespace has gone with bubblewrap).
func TestTraceKillAfterHelper(t *testing.T) {
	for _, level := range []string{workflows.LevelProcess, workflows.LevelIsolated} {
		t.Run(level, func(t *testing.T) {
			s := newServer(t)
			h := s.host(t)
			requireIsolated(t, h)
			c := confine(t, h, policy(level), s.ws)
			if level == workflows.LevelProcess && !c.cgroupPids {
				t.Skipf("without a cgroup nothing finds the processes a step left once its helper and program are gone (%s)", c)
			}
			st := startEscaping(t, c, s.ws)
			if err := st.proc.(*process).helper.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-st.exited
			checkGone(t, []int{st.trace.PID})
			if _, err := st.trace.Kill(); err != nil {
				t.Error(err)
			}
			// At the isolated level, the kernel may still be taking the PID
			// namespace down, which Kill knows nothing of: its processes
			// stop soon, not necessarily before Kill returns.
			st.checkKilled(t, level == workflows.LevelProcess)
		})
	}
}

// escaping is a started escapingScript.
type escaping struct {
	proc   actions.Process
	pids   []int // its processes, the helper's included
	trace  Trace
	exited chan struct{} // closed when cmd.Wait has returned
}

// startEscaping starts escapingScript confined by c in ws, and waits until it
// is ready.
func startEscaping(t *testing.T, c *Confinement, ws string) *escaping {
	t.Helper()
	var traces []Trace
	c.OnStart(func(tr Trace) { traces = append(traces, tr) })
	cmd := exec.Command("/bin/sh", "-c", escapingScript)
	cmd.Dir, cmd.Env = ws, []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	proc, err := c.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	e := &escaping{proc: proc, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(e.exited) }()
	t.Cleanup(func() {
		proc.Signal(syscall.SIGKILL)
		<-e.exited
		proc.Release()
	})
	ctx, cancel := context.WithTimeout(context.Background(), safetyNet)
	defer cancel()
	waitForFile(t, ctx, filepath.Join(ws, "ready"))
	e.pids = stepProcesses(ws)
	checkEscaped(t, e.pids, os.Getpid())
	if len(traces) != 1 {
		t.Fatalf("%d traces, want 1", len(traces))
	}
	e.trace = traces[0]
	return e
}

// checkKilled fails the test unless every process of the step stops, and
// its cgroups are gone. With waited, the processes must have stopped when
// Kill returned, but for the helper, which Kill does not wait for: it exits
// once it has seen its program die.
func (e *escaping) checkKilled(t *testing.T, waited bool) {
	t.Helper()
	for _, pid := range e.pids {
		if waited && pid != e.proc.(*process).helper.Pid && !gone(pid) {
			t.Errorf("process %d of the step still runs once Kill returned", pid)
		}
	}
	checkGone(t, e.pids)
	for _, dir := range e.trace.Cgroups {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("cgroup %s is still there: %v", dir, err)
		}
	}
}

// checkEscaped fails the test unless the processes of escapingScript, pids
// but the helper that server started, are in two sessions: the step's and
// that of the one that left it.
func checkEscaped(t *testing.T, pids []int, server int) {
	t.Helper()
	sessions := map[int]bool{}
	for _, pid := range pids {
		if st, ok := helper.ReadStat(pid); ok && st.PPID != server {
			sessions[session(pid)] = true
		}
	}
	if len(sessions) < 2 {
		t.Fatalf("the step's processes %v are in sessions %v; the test needs one that left the step's", pids, sessions)
	}
}
