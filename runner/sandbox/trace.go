package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hookflow/hookflow/runner/sandbox/internal/helper"
)

// Trace identifies the processes of a started step, so that a server that
// starts after the one that started them died can end what is left of them
// (Kill). A step's processes die with the helper that supervises them, and
// the helper kills them when the server dies; a Trace is for what outlives
// both, as when the helper was killed too.
type Trace struct {
	// Boot is the machine's boot ID: PIDs and start times name nothing
	// after a restart of the machine.
	Boot string `json:"boot"`
	// PID is the step's program's, which leads the step's session and
	// process group (bubblewrap's, in a sandbox), and Start its start time
	// in clock ticks since boot: a later process given the same PID has
	// another one.
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
	// Cgroups are the folders of the step's cgroups.
	Cgroups []string `json:"cgroups,omitempty"`
}

// killWait bounds how long Kill waits for the processes it killed to go.
const killWait = 10 * time.Second

// OnStart makes Start call fn with the Trace of each step process it starts,
// before it returns. Call it before Start.
func (c *Confinement) OnStart(fn func(Trace)) { c.onStart = fn }

// trace is p's Trace.
func (p *process) trace() Trace {
	t := Trace{Boot: bootID(), PID: p.pid}
	if st, ok := helper.ReadStat(p.pid); ok {
		t.Start = st.Start
	}
	if p.cgroup != nil {
		t.Cgroups = slices.Clone(p.cgroup.dirs)
	}
	return t
}

// Kill ends what is left of the step t traces, and waits a while for it to
// be gone. It kills only what is the step's for sure: when the program still
// exists with the same start time, it, its process group and the processes
// below it; and every process in the step's cgroups, which it then removes.
// It reports whether it found anything left.
func (t Trace) Kill() (bool, error) {
	if t.Boot != bootID() {
		return false, nil // the machine restarted: nothing is left
	}
	deadline := time.Now().Add(killWait)
	found := false
	if st, ok := helper.ReadStat(t.PID); ok && t.Start != 0 && st.Start == t.Start {
		found = true
		// Stopped, the program starts nothing more while those below it
		// are killed, before their parents' deaths hide them among init's
		// children.
		_ = syscall.Kill(t.PID, syscall.SIGSTOP)
		helper.KillBelow(t.PID, deadline)
		_ = syscall.Kill(-t.PID, syscall.SIGKILL)
		_ = syscall.Kill(t.PID, syscall.SIGKILL)
		for groupRunning(t.PID) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	g := &stepCgroup{}
	var errs []error
	for _, dir := range t.Cgroups {
		if !strings.HasPrefix(filepath.Base(dir), stepCgroupPrefix) {
			errs = append(errs, fmt.Errorf("%s is not a step's cgroup", dir))
			continue
		}
		if _, err := os.Stat(dir); err == nil {
			found = found || len(helper.CgroupPids(dir)) > 0
			g.dirs = append(g.dirs, dir)
		}
	}
	if len(g.dirs) > 0 {
		errs = append(errs, g.remove())
	}
	return found, errors.Join(errs...)
}

// groupRunning reports whether a process of process group pgid runs.
func groupRunning(pgid int) bool { return groupIn(helper.Processes(), pgid) }

// groupIn reports whether a process of process group pgid runs among procs.
func groupIn(procs map[int]helper.Stat, pgid int) bool {
	for _, st := range procs {
		if st.PGRP == pgid && st.Running() {
			return true
		}
	}
	return false
}

// bootID is the machine's boot ID, "" when it cannot be read.
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
