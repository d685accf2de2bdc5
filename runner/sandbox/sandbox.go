// Package sandbox confines the processes of workflow steps on Linux (SPEC §7).
//
// A step runs at one of two levels. At "process" it is a process of the host:
// in a session and process group of its own, with exactly its declared
// environment, stdin from /dev/null, no_new_privs, rlimits, and another user
// when the server runs as root and the step asks for one; where the kernel
// has Landlock (v2 or later), the server's files and the `hidden` paths are
// out of its reach, and so is TCP with `network: false`. At "isolated" it
// runs, with all of that but Landlock, inside bubblewrap: the host file
// system read-only, the workspace and the `writable` paths read-write, a
// private /tmp and /run, /proc and /dev of its own, its own user, PID, IPC,
// UTS and cgroup namespaces, a network namespace of its own (no network) with
// `network: false`, no capabilities, and the server's data folder,
// configuration and secrets (and the `hidden` paths) masked. "auto" is
// isolated where the machine supports it and process elsewhere; "isolated"
// where it is unsupported fails the step, with the reason.
//
// At both levels the memory and pids limits use a cgroup of the step's own
// when the server may make one (cgroup v2, or v1 controllers on hybrid
// machines); otherwise memory is an address-space rlimit and pids a
// per-user process rlimit. `cpu` is CPU time, an rlimit of every process.
// Every step process is started through a helper, the server's own binary
// re-executed (see package helper), which applies what must be applied in
// the child. The helper stays the step's parent and takes the step down when
// the server dies, however it dies; each started step's Trace lets a server
// that starts later end what outlived both (see Trace.Kill).
package sandbox

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/runner/sandbox/internal/helper"
	"github.com/hookflow/hookflow/workflows"
)

// OpenFiles is the open-files rlimit of every step process.
const OpenFiles = 4096

// Options configure a Host.
type Options struct {
	// Protected are the server's own files and folders: its data folder,
	// configuration file, secrets folder, token file, TLS key and store file.
	// Isolated steps find them masked, and no step may list one, or a folder
	// holding one, as writable. Paths that do not exist are skipped.
	Protected []string
	// Bwrap is the bubblewrap program; empty looks for bwrap on the server's
	// PATH.
	Bwrap string
}

// Host applies sandboxes on this machine. NewHost probes once what the
// machine supports; a Host is safe for concurrent use.
type Host struct {
	support   Support
	protected []string
}

// NewHost probes this machine and returns the Host that confines steps on it.
// Probing starts bubblewrap once, so it takes some milliseconds; it also
// removes step cgroups left behind by servers that died.
func NewHost(o Options) *Host {
	h := &Host{support: probe(o.Bwrap)}
	for _, p := range o.Protected {
		if p == "" {
			continue
		}
		if real, err := realPath(p); err == nil {
			h.protected = append(h.protected, real)
		}
	}
	return h
}

// Support reports what this machine offers, for `hookflow doctor`.
func (h *Host) Support() Support { return h.support }

// Hidden returns the paths a step with policy p must not read, symbolic
// links resolved: the server's own files and p's `hidden` paths that exist.
// Actions that read files in the server's process hold themselves to it.
func (h *Host) Hidden(p workflows.Sandbox) []string {
	hidden := slices.Clone(h.protected)
	for _, hp := range p.Hidden {
		if real, err := h.checkPath("hidden", hp); err == nil && real != "" {
			hidden = append(hidden, real)
		}
	}
	return hidden
}

// Confine returns the sandbox for a step whose workspace is workspace, with
// policy p: the server's, the workflow's and the step's
// `sandbox:` merged. It fails when p asks for what cannot be given here:
// level isolated where it is unavailable, a user the server cannot switch
// to, writable paths that would expose the server's files. Nothing is set up
// before Start.
func (h *Host) Confine(p workflows.Sandbox, workspace string) (*Confinement, error) {
	c := &Confinement{host: h, policy: p, network: p.Network == nil || *p.Network}
	ws, err := realPath(workspace)
	if err != nil {
		return nil, fmt.Errorf("sandbox: workspace: %w", err)
	}
	c.workspace = ws
	switch p.Level {
	case workflows.LevelIsolated:
		if err := h.support.Isolated; err != nil {
			return nil, fmt.Errorf("sandbox level isolated is not available on this machine: %w; use level auto or process, or see hookflow doctor", err)
		}
		c.isolated = true
	case workflows.LevelAuto:
		c.isolated = h.support.Isolated == nil
		if !c.isolated {
			c.unavailable = append(c.unavailable, "isolated: "+h.support.Isolated.Error())
		}
	case workflows.LevelProcess, "":
	default:
		return nil, fmt.Errorf("sandbox level %q: use auto, isolated or process", p.Level)
	}
	if c.cred, err = h.credential(p.User, ws, c.isolated || h.support.Landlock >= minLandlock); err != nil {
		return nil, err
	}
	for _, w := range p.Writable {
		real, err := h.checkPath("writable", w)
		if err != nil {
			return nil, err
		}
		if real == "" {
			continue // nothing to bind; a step may check for it itself
		}
		for _, prot := range h.protected {
			if within(prot, real) || within(real, prot) {
				return nil, fmt.Errorf("sandbox: writable %s would expose %s, which steps must not reach", w, prot)
			}
		}
		c.writable = append(c.writable, real)
	}
	for _, hp := range p.Hidden {
		real, err := h.checkPath("hidden", hp)
		if err != nil {
			return nil, err
		}
		if real != "" {
			c.hidden = append(c.hidden, real)
		}
	}
	c.plan()
	return c, nil
}

// checkPath resolves a `writable` or `hidden` path: absolute, symbolic links
// followed. A path that does not exist resolves to "".
func (h *Host) checkPath(key, p string) (string, error) {
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("sandbox: %s path %q must be absolute", key, p)
	}
	real, err := realPath(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sandbox: %s %s: %w", key, p, err)
	}
	return real, nil
}

// Confinement is the sandbox of one step attempt. It implements
// actions.Sandbox.
type Confinement struct {
	host      *Host
	policy    workflows.Sandbox
	isolated  bool
	network   bool
	workspace string
	writable  []string
	hidden    []string
	cred      *helper.Credential
	// Worked out by plan, from the policy and what the machine supports.
	cgroupMemory bool // the memory limit is a cgroup's
	cgroupPids   bool // the step has a pids cgroup (with or without a limit)
	rlimits      []helper.Rlimit
	landlock     *helper.Landlock // at the process level, where the kernel has Landlock
	unavailable  []string         // layers asked for or expected but not applied
	desc         string
	onStart      func(Trace) // see OnStart
}

var _ actions.Sandbox = (*Confinement)(nil)

// Level is the level applied: isolated or process.
func (c *Confinement) Level() string {
	if c.isolated {
		return workflows.LevelIsolated
	}
	return workflows.LevelProcess
}

// String describes what is applied, as recorded on the run, e.g.
// "isolated (bubblewrap; cgroup v1 memory,pids; rlimit nofile,core)".
func (c *Confinement) String() string { return c.desc }

// plan decides how each limit is applied and writes the description.
func (c *Confinement) plan() {
	p, cg := c.policy, c.host.support.Cgroup
	c.cgroupMemory = p.Memory > 0 && cg.Has(ctrlMemory)
	c.cgroupPids = cg.Has(ctrlPids)
	var cgroupUsed, limits []string
	if c.cgroupMemory {
		cgroupUsed = append(cgroupUsed, ctrlMemory)
	}
	if c.cgroupPids {
		cgroupUsed = append(cgroupUsed, ctrlPids)
	}
	add := func(name string, resource int, v uint64) {
		c.rlimits = append(c.rlimits, helper.Rlimit{Resource: resource, Cur: v, Max: v})
		limits = append(limits, name)
	}
	if p.CPU > 0 {
		secs := uint64((time.Duration(p.CPU) + time.Second - 1) / time.Second) // whole seconds, rounded up
		// SIGXCPU at the soft limit, which a process may catch; SIGKILL a
		// second later.
		c.rlimits = append(c.rlimits, helper.Rlimit{Resource: unix.RLIMIT_CPU, Cur: secs, Max: secs + 1})
		limits = append(limits, "cpu")
	}
	if p.Memory > 0 && !c.cgroupMemory {
		add("as", unix.RLIMIT_AS, uint64(p.Memory))
	}
	if p.Pids > 0 && !c.cgroupPids {
		add("nproc", unix.RLIMIT_NPROC, uint64(p.Pids))
	}
	add("nofile", unix.RLIMIT_NOFILE, OpenFiles)
	add("core", unix.RLIMIT_CORE, 0)
	if (p.Memory > 0 && !c.cgroupMemory || p.Pids > 0 && !c.cgroupPids) && cg.Err != nil {
		c.unavailable = append(c.unavailable, "cgroups: "+cg.Err.Error())
	}
	if p.Pids > 0 && !c.cgroupPids && c.host.support.UID == 0 && c.cred == nil {
		c.unavailable = append(c.unavailable, "pids: the kernel does not hold root to RLIMIT_NPROC, so without a cgroup nothing limits its processes")
	}
	var parts []string
	if c.isolated {
		s := "bubblewrap"
		if !c.network {
			s += ", no network"
		}
		parts = append(parts, s)
	} else {
		parts = append(parts, c.planLandlock()...)
	}
	if c.cred != nil {
		parts = append(parts, fmt.Sprintf("uid %d", c.cred.UID))
	}
	if len(cgroupUsed) > 0 {
		parts = append(parts, fmt.Sprintf("cgroup v%d %s", cg.Version, strings.Join(cgroupUsed, ",")))
	}
	parts = append(parts, "rlimit "+strings.Join(limits, ","))
	if len(c.unavailable) > 0 {
		parts = append(parts, "unavailable: "+strings.Join(c.unavailable, "; "))
	}
	c.desc = fmt.Sprintf("%s (%s)", c.Level(), strings.Join(parts, "; "))
}

// minLandlock is the first Landlock ABI used: under version 1 a process may
// never move or link a file to another folder, which scripts do all the time.
const minLandlock = 2

// planLandlock keeps a process-level step from the server's files and the
// hidden paths with Landlock, where the kernel has it, and notes what the
// process level cannot do. It returns the layers applied, for the
// description.
func (c *Confinement) planLandlock() []string {
	abi := c.host.support.Landlock
	hide := slices.Concat(c.host.protected, c.hidden)
	if abi < minLandlock {
		if len(hide) > 0 {
			c.unavailable = append(c.unavailable, "landlock: the kernel has no Landlock v2, so steps can read the server's files and the hidden paths")
		}
		if !c.network {
			c.unavailable = append(c.unavailable, "network: false needs level isolated or Landlock; the network stays on")
		}
		return nil
	}
	open := append([]string{c.workspace}, c.writable...) // as an isolated step's binds
	c.landlock = &helper.Landlock{ABI: abi, Hidden: hide, Open: open, NoTCP: !c.network}
	layer := fmt.Sprintf("landlock v%d", abi)
	if !c.network {
		if abi >= 4 {
			layer += ", no tcp"
			c.unavailable = append(c.unavailable, "network: false blocks only TCP at the process level")
		} else {
			c.unavailable = append(c.unavailable, "network: false needs level isolated or Landlock v4; the network stays on")
		}
	}
	return []string{layer}
}

// Start starts cmd confined, through the helper: see actions.Sandbox.
func (c *Confinement) Start(cmd *exec.Cmd) (actions.Process, error) {
	for _, s := range append(append([]string{cmd.Path}, cmd.Args...), cmd.Env...) {
		if strings.IndexByte(s, 0) >= 0 {
			name, _, _ := strings.Cut(s, "=")
			return nil, actions.Permanent(fmt.Errorf("sandbox: %q holds a NUL byte, which no program can be given", name))
		}
	}
	if c.cred != nil {
		if err := chownTree(c.workspace, c.cred); err != nil {
			return nil, actions.Permanent(fmt.Errorf("sandbox: workspace for uid %d: %w", c.cred.UID, err))
		}
	}
	sp := helper.Spec{Parent: os.Getpid(), Cred: c.cred, Landlock: c.landlock, Rlimits: c.rlimits,
		Env: cmd.Env, Path: cmd.Path, Args: cmd.Args}
	if c.isolated {
		dir := cmd.Dir
		if dir == "" {
			dir = c.workspace
		}
		sp.Path = c.host.support.Bwrap
		sp.Args = slices.Concat([]string{"bwrap"}, c.bwrapArgs(dir), []string{"--", cmd.Path}, cmd.Args[1:])
	}
	var cg *stepCgroup
	if c.cgroupMemory || c.cgroupPids {
		var memory int64
		if c.cgroupMemory {
			memory = int64(c.policy.Memory)
		}
		var err error
		if cg, err = c.host.support.Cgroup.newStepCgroup(cgroupName(), memory, c.policy.Pids); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		if cg != nil {
			sp.Cgroups = cg.procsFiles()
		}
	}
	release := func() {
		if cg != nil {
			cg.remove()
		}
	}
	f, err := specFile(&sp)
	if err != nil {
		release()
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	defer f.Close()
	report, reportW, err := os.Pipe()
	if err != nil {
		release()
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	defer report.Close()
	cmd.Path = "/proc/self/exe"
	n := 3 + len(cmd.ExtraFiles)
	cmd.Args = []string{helper.Name, strconv.Itoa(n), strconv.Itoa(n + 1)}
	cmd.ExtraFiles = append(cmd.ExtraFiles, f, reportW)
	cmd.Env = []string{} // the helper's own; the program gets sp.Env
	// A session of its own makes the helper lead a new process group too,
	// and detaches it from the server's terminal. SIGTERM when the server
	// dies makes it kill the step (see package helper).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
	err = startWatched(cmd)
	reportW.Close()
	if err != nil {
		release()
		return nil, err
	}
	p := &process{pid: cmd.Process.Pid, helper: cmd.Process, isolated: c.isolated, cgroup: cg}
	// The program's PID, once the helper has started it; nothing when the
	// helper failed first, which its exit status tells.
	line, _ := bufio.NewReader(io.LimitReader(report, 32)).ReadString('\n')
	if pid, err := strconv.Atoi(strings.TrimSpace(line)); err == nil && pid > 0 {
		p.pid = pid
	}
	if c.onStart != nil {
		c.onStart(p.trace())
	}
	return p, nil
}

// startWatched starts cmd from a goroutine locked to its thread, which stays
// until the process has exited: the parent-death signal refers to the thread
// that started the process, and Go ends threads whose goroutine ends locked
// to them, while it may run others on any thread.
func startWatched(cmd *exec.Cmd) error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		pid := cmd.Process.Pid
		started <- nil
		// Waits without reaping, which is cmd.Wait's; ECHILD once that
		// has reaped it.
		var info unix.Siginfo
		for unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil) == unix.EINTR {
		}
	}()
	return <-started
}

// cgroupName is a new, unique name for a step's cgroup.
func cgroupName() string {
	b := make([]byte, 8)
	rand.Read(b)
	return stepCgroupPrefix + hex.EncodeToString(b)
}

// realPath makes p absolute and resolves its symbolic links.
func realPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// within reports whether p is dir or inside it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// HardenServer makes the calling process, the server, undumpable: its /proc
// files (environ, which holds the HOOKFLOW_SECRET_* variables, its memory,
// its open files) become root's, out of reach of the steps that run at the
// process level as the server's user. Isolated steps cannot see the server's
// processes at all. Call it once, at start-up.
func HardenServer() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("sandbox: make the server undumpable: %w", err)
	}
	return nil
}

// specFile writes sp to an anonymous in-memory file for the helpers to read:
// the first reads it, then hands it on to the second.
func specFile(sp *helper.Spec) (*os.File, error) {
	fd, err := unix.MemfdCreate("hookflow-sandbox-spec", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	f := os.NewFile(uintptr(fd), "hookflow-sandbox-spec")
	if err := json.NewEncoder(f).Encode(sp); err != nil {
		f.Close()
		return nil, fmt.Errorf("spec: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("spec: %w", err)
	}
	return f, nil
}
