// Package helper is what a step process runs first: the server's own binary,
// re-executed. The server starts it under the name Name; it starts the step's
// program and stays its parent, to take the step down if the server dies (see
// supervise). The program is started through a second helper, which prepares
// the process and then executes the step's program (or bubblewrap), once the
// first has moved it into the step's cgroups. Go's os/exec cannot run code
// between fork and exec, and dropping to another user, no_new_privs, Landlock
// and rlimits must be done there: in the server they would apply to the
// server. Re-executing the binary itself
// needs nothing installed, and every binary that links this package, tests
// included, can serve.
//
// The package imports the standard library only, so that its init, which
// takes over when the process is a helper, runs early, before the inits of
// most other packages (see linux.go).
package helper

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"
)

// Name is argv[0] of the helper the server starts. Its arguments are the
// numbers of the file descriptors to read its Spec from and to write the
// program's PID to.
const Name = "hookflow-sandbox"

// stepName is argv[0] of the helper that becomes the step's program; its
// arguments are the numbers of the file descriptors to read its Spec from and
// to wait on for its cgroups (see joined), and the PID of its parent, the
// first helper (the Spec's Parent is the server's).
const stepName = "hookflow-sandbox-step"

// Exit codes of a helper that could not prepare or start the step.
const (
	exitSetup   = 125 // the sandbox could not be applied
	exitNoStart = 127 // the program could not be executed
)

// Spec is what a helper does.
type Spec struct {
	// Parent is the PID of the helper's parent, the server's or the first
	// helper's: the helper stops if its parent is gone.
	Parent int `json:"parent"`
	// Cgroups are the cgroup.procs files of the step's cgroups to join.
	Cgroups []string `json:"cgroups,omitempty"`
	// Cred is the user to become, nil to stay the server's user.
	Cred *Credential `json:"cred,omitempty"`
	// Landlock restricts a process-level step, nil for no restriction.
	Landlock *Landlock `json:"landlock,omitempty"`
	// Rlimits are set last, just before the program is executed.
	Rlimits []Rlimit `json:"rlimits,omitempty"`
	// Path, Args and Env are the program to execute.
	Path string   `json:"path"`
	Args []string `json:"args"`
	Env  []string `json:"env"`
}

// Credential is a user to run as.
type Credential struct {
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"groups,omitempty"`
}

// Rlimit is one resource limit.
type Rlimit struct {
	Resource int    `json:"resource"`
	Cur      uint64 `json:"cur"`
	Max      uint64 `json:"max"`
}

// init turns the process into the helper when it was started as one. It runs
// before main, in every binary that links this package.
//
// A helper has nothing to flush when it exits: syscall.Exit skips what
// os.Exit does first, which in a binary built with the race detector
// includes a second's sleep that every step would wait for.
func init() {
	switch {
	case len(os.Args) == 3 && os.Args[0] == Name:
		syscall.Exit(supervise(os.Args[1], os.Args[2]))
	case len(os.Args) == 4 && os.Args[0] == stepName:
		syscall.Exit(runHelper(os.Args[1], os.Args[2], os.Args[3]))
	}
}

// runHelper reads the spec, applies it and executes the program. It returns
// only on failure, with the exit code, after saying why on stderr, which is
// the step's log.
func runHelper(fdArg, joinedArg, parentArg string) int {
	// no_new_privs and the parent-death signal belong to a thread; the
	// program must be executed from the thread that set them.
	runtime.LockOSThread()
	fail := func(code int, format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "hookflow sandbox: "+format+"\n", args...)
		return code
	}
	f, err := specFile(fdArg)
	if err != nil {
		return fail(exitSetup, "%s", err)
	}
	sp, err := readSpec(f)
	f.Close()
	if err != nil {
		return fail(exitSetup, "%s", err)
	}
	if sp.Parent, err = strconv.Atoi(parentArg); err != nil {
		return fail(exitSetup, "bad parent %q", parentArg)
	}
	if err := sp.prepare(); err != nil {
		return fail(exitSetup, "%s", err)
	}
	if err := joined(joinedArg); err != nil {
		return fail(exitSetup, "%s", err)
	}
	return fail(exitNoStart, "execute %s: %s", sp.Path, sp.exec())
}

// specFile is the file descriptor fdArg, where the Spec is.
func specFile(fdArg string) (*os.File, error) {
	fd, err := strconv.Atoi(fdArg)
	if err != nil {
		return nil, fmt.Errorf("bad spec descriptor %q", fdArg)
	}
	return os.NewFile(uintptr(fd), "spec"), nil
}

// readSpec reads the Spec from f.
func readSpec(f *os.File) (*Spec, error) {
	var sp Spec
	if err := json.NewDecoder(f).Decode(&sp); err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	return &sp, nil
}

// prepare applies everything but the cgroups, which the first helper joins
// this process to meanwhile, and the rlimits: the user first, then the
// restrictions.
func (sp *Spec) prepare() error {
	if c := sp.Cred; c != nil {
		groups := make([]int, len(c.Groups))
		for i, g := range c.Groups {
			groups[i] = int(g)
		}
		// Go applies these to every thread of the process.
		if err := syscall.Setgroups(groups); err != nil {
			return fmt.Errorf("setgroups: %w", err)
		}
		if err := syscall.Setgid(int(c.GID)); err != nil {
			return fmt.Errorf("setgid %d: %w", c.GID, err)
		}
		if err := syscall.Setuid(int(c.UID)); err != nil {
			return fmt.Errorf("setuid %d: %w", c.UID, err)
		}
	}
	// Changing the user clears the parent-death signal the first helper set.
	if err := prctl(prSetPdeathsig, uintptr(syscall.SIGKILL)); err != nil {
		return fmt.Errorf("parent-death signal: %w", err)
	}
	if os.Getppid() != sp.Parent {
		return fmt.Errorf("the server (pid %d) is gone", sp.Parent)
	}
	if err := prctl(prSetNoNewPrivs, 1); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	if sp.Landlock != nil {
		if err := sp.Landlock.restrictSelf(); err != nil {
			return fmt.Errorf("landlock: %w", err)
		}
	}
	return nil
}

// exec sets the rlimits and executes the program. The arguments are turned
// into C strings before the limits are set, so that nothing is allocated
// under a small address-space limit.
func (sp *Spec) exec() error {
	path, err := syscall.BytePtrFromString(sp.Path)
	if err != nil {
		return err
	}
	argv, err := syscall.SlicePtrFromStrings(sp.Args)
	if err != nil {
		return err
	}
	envv, err := syscall.SlicePtrFromStrings(sp.Env)
	if err != nil {
		return err
	}
	limits := make([]syscall.Rlimit, len(sp.Rlimits))
	for i, r := range sp.Rlimits {
		limits[i] = syscall.Rlimit{Cur: r.Cur, Max: r.Max}
	}
	for i, r := range sp.Rlimits {
		if err := syscall.Setrlimit(r.Resource, &limits[i]); err != nil {
			return fmt.Errorf("rlimit %d: %w", r.Resource, err)
		}
	}
	_, _, errno := syscall.RawSyscall(syscall.SYS_EXECVE,
		uintptr(unsafe.Pointer(path)), uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])))
	return errno
}

// joinedOK is what the first helper writes once the second is in the step's
// cgroups.
const joinedOK = "joined"

// joined waits until the first helper has moved this process into the step's
// cgroups, which it reports on the file descriptor joinedArg: joinedOK, or
// why it could not. Nothing else, the first helper's death included, lets
// the step start outside its cgroups.
//
// The first helper does the moving so that it overlaps with this helper's
// start-up and preparation: on cgroup v1, moving a process waits for an RCU
// grace period, some 10 ms, the largest part of a step's start measured.
func joined(joinedArg string) error {
	fd, err := strconv.Atoi(joinedArg)
	if err != nil {
		return fmt.Errorf("bad cgroup descriptor %q", joinedArg)
	}
	f := os.NewFile(uintptr(fd), "joined")
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 512))
	switch {
	case err != nil:
		return fmt.Errorf("join cgroup: %w", err)
	case string(b) != joinedOK:
		if len(b) == 0 {
			return fmt.Errorf("join cgroup: the first helper is gone")
		}
		return fmt.Errorf("join cgroup: %s", b)
	}
	return nil
}
