package helper

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Stat is what /proc/PID/stat says of a process.
type Stat struct {
	State      byte
	PPID, PGRP int
	// Start is when the process started, in clock ticks since boot (field
	// 22). With the PID it names one process: a PID is reused, but not
	// within the same tick.
	Start uint64
}

// Running reports whether the process runs: zombies, which only wait for
// their parent to reap them, do not.
func (s Stat) Running() bool { return s.State != 'Z' && s.State != 'X' }

// ReadStat reads /proc/PID/stat; false when there is no such process.
func ReadStat(pid int) (Stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, false
	}
	// The command name, in parentheses, may hold spaces and parentheses; the
	// state, the parent's PID and the process group follow the last ")".
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return Stat{}, false
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 || len(fields[0]) != 1 {
		return Stat{}, false
	}
	ppid, err1 := strconv.Atoi(fields[1])
	pgrp, err2 := strconv.Atoi(fields[2])
	start, err3 := strconv.ParseUint(fields[19], 10, 64)
	return Stat{State: fields[0][0], PPID: ppid, PGRP: pgrp, Start: start}, err1 == nil && err2 == nil && err3 == nil
}

// Processes reads the process table: every process's Stat, by PID. A
// snapshot; processes started meanwhile may be missing.
func Processes() map[int]Stat {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	procs := make(map[int]Stat, len(entries))
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			if st, ok := ReadStat(pid); ok {
				procs[pid] = st
			}
		}
	}
	return procs
}

// Descendants lists the processes below pid in procs, skipping the first
// skip generations: with skip 2, pid's grandchildren and everything below
// them.
func Descendants(procs map[int]Stat, pid, skip int) []int {
	children := map[int][]int{}
	for child, st := range procs {
		children[st.PPID] = append(children[st.PPID], child)
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

// CgroupPids lists the processes in the cgroup at dir.
func CgroupPids(dir string) []int {
	data, err := os.ReadFile(dir + "/cgroup.procs")
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// KillCgroup sends SIGKILL to every process in the cgroup at dir. cgroup
// v2's cgroup.kill does that at once; elsewhere the members are killed until
// none is left, as a process may fork while the list is read. The pids limit
// bounds how many rounds that takes.
func KillCgroup(dir string) {
	if os.WriteFile(dir+"/cgroup.kill", []byte("1"), 0) == nil {
		return
	}
	for range 100 {
		pids := CgroupPids(dir)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// KillBelow sends SIGKILL to every process below pid, round after round,
// until none is left running or the deadline passes. A process that is sent
// SIGKILL forks no more, so only the children it made before appear in a
// later round.
func KillBelow(pid int, deadline time.Time) {
	for {
		var running []int
		procs := Processes()
		for _, p := range Descendants(procs, pid, 0) {
			if procs[p].Running() {
				running = append(running, p)
			}
		}
		if len(running) == 0 || time.Now().After(deadline) {
			return
		}
		for _, p := range running {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		time.Sleep(time.Millisecond)
	}
}
