package sandbox

import (
	"errors"
	"os"
	"syscall"

	"github.com/hookflow/hookflow/runner/sandbox/internal/helper"
)

// process is a started step: the step's program, which leads a session and
// process group of its own, or bubblewrap, started by the helper that stays
// its parent (see package helper).
type process struct {
	// pid is the program's, or the helper's when it started none.
	pid int
	// helper is the process the server started and waits for.
	helper *os.Process
	// isolated: pid is bubblewrap's outer process. Its child is the PID
	// namespace's init, and every other process of the step descends from that.
	isolated bool
	cgroup   *stepCgroup // nil without one
}

// Signal sends sig to the step's processes. In a sandbox, SIGKILL goes to
// bubblewrap, whose death takes the PID namespace and everything in it down
// with it (--die-with-parent), while other signals go to the processes inside
// only, so that the step gets its grace period instead of an instant teardown.
// While nothing runs inside yet (bubblewrap is still setting up), the step's
// program has not started and has nothing to clean up, and a signal sent to
// no one would be lost: the sandbox is torn down instead.
// The cgroup, where there is one, finds processes that left the process group.
// SIGKILL also ends the helper, which a step could stop to keep it from ever
// reporting the step's end.
func (p *process) Signal(sig syscall.Signal) {
	if p.isolated && sig != syscall.SIGKILL {
		inside := helper.Descendants(helper.Processes(), p.pid, 2)
		for _, pid := range inside {
			_ = syscall.Kill(pid, sig)
		}
		if len(inside) > 0 {
			return
		}
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-p.pid, sig)
	if sig == syscall.SIGKILL {
		// os.Process signals nothing once the helper has been waited for.
		_ = p.helper.Signal(syscall.SIGKILL)
		if p.cgroup != nil {
			p.cgroup.kill()
		}
	}
}

// Alive reports whether a process of the group, or of the cgroup, is still
// running. Zombies do not count: a sandbox's init, orphaned when bubblewrap
// exits first, waits as one for the host's init to reap it, which may take a
// while. The processes of a PID namespace are gone once its init is: the
// kernel kills and reaps them before init's exit completes.
func (p *process) Alive() bool {
	if errors.Is(syscall.Kill(-p.pid, 0), syscall.ESRCH) {
		return p.cgroup != nil && p.cgroup.alive()
	}
	procs := helper.Processes()
	if procs == nil || groupIn(procs, p.pid) {
		return true
	}
	return p.cgroup != nil && p.cgroup.alive()
}

// Release removes the step's cgroup.
func (p *process) Release() error {
	if p.cgroup == nil {
		return nil
	}
	return p.cgroup.remove()
}
