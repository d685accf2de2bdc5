package sandbox

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// process is a started step: the helper's process, which leads a session and
// process group of its own and becomes the step's program, or bubblewrap.
type process struct {
	pid int
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
func (p *process) Signal(sig syscall.Signal) {
	if p.isolated && sig != syscall.SIGKILL {
		inside := descendants(p.pid, 2)
		for _, pid := range inside {
			_ = syscall.Kill(pid, sig)
		}
		if len(inside) > 0 {
			return
		}
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-p.pid, sig)
	if sig == syscall.SIGKILL && p.cgroup != nil {
		p.cgroup.kill()
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
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			if st, ok := readStat(pid); ok && st.pgrp == p.pid && st.state != 'Z' && st.state != 'X' {
				return true
			}
		}
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

// descendants lists the processes below pid, skipping the first skip
// generations: with skip 2, pid's grandchildren and everything below them.
// A snapshot of /proc; processes started meanwhile may be missing.
func descendants(pid, skip int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(child); ok {
			children[st.ppid] = append(children[st.ppid], child)
		}
	}
	var out []int
	level := []int{pid}
	for depth := 0; len(level) > 0; depth++ {
		var next []int
		for _, p := range level {
			next = append(next, children[p]...)
		}
		if depth+1 >= skip {
			out = append(out, next...)
		}
		level = next
	}
	return out
}

// stat is what /proc/PID/stat says of a process.
type stat struct {
	state      byte
	ppid, pgrp int
}

// readStat reads /proc/PID/stat.
func readStat(pid int) (stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	// The command name, in parentheses, may hold spaces and parentheses; the
	// state, the parent's PID and the process group follow the last ")".
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return stat{}, false
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 3 || len(fields[0]) != 1 {
		return stat{}, false
	}
	ppid, err1 := strconv.Atoi(fields[1])
	pgrp, err2 := strconv.Atoi(fields[2])
	return stat{state: fields[0][0], ppid: ppid, pgrp: pgrp}, err1 == nil && err2 == nil
}
