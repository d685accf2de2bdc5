package helper

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// killTimeout bounds how long a helper whose server died goes on killing
// the step's processes.
const killTimeout = 10 * time.Second

// supervise is the helper the server starts (argv[0] Name). It starts the
// step's program through a second helper (argv[0] stepName), which applies
// the Spec and executes it, writes the program's PID to the file descriptor
// reportArg, and then stays the program's parent until it exits, for one
// reason: to take the step down when the server dies.
//
// The server starts it with SIGTERM as its parent-death signal, which comes
// however the server ends, SIGKILL included. It then kills the program's
// process group, the step's cgroups and every process below itself, those
// that left the group included: as their subreaper it inherits the orphans.
// The program, in turn, gets SIGKILL when this helper dies. Otherwise it
// leaves the step alone and exits as the program did, with its exit status
// or killed by the same signal.
func supervise(specArg, reportArg string) int {
	// The parent-death signal of the program started below refers to the
	// thread that starts it: the main one, which lives as long as the helper.
	runtime.LockOSThread()
	fail := func(code int, format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "hookflow sandbox: "+format+"\n", args...)
		return code
	}
	// As the server is (sandbox.HardenServer): a step process of the same
	// user may neither trace this process nor read its memory, which would
	// take it out of its sandbox.
	if err := prctl(prSetDumpable, 0); err != nil {
		return fail(exitSetup, "make the helper undumpable: %s", err)
	}
	spec, err := specFile(specArg)
	if err != nil {
		return fail(exitSetup, "%s", err)
	}
	defer spec.Close()
	sp, err := readSpec(spec)
	if err != nil {
		return fail(exitSetup, "%s", err)
	}
	fd, err := strconv.Atoi(reportArg)
	if err != nil {
		return fail(exitSetup, "bad report descriptor %q", reportArg)
	}
	// Not passed on: the server reads the PID until the helper closes it.
	syscall.CloseOnExec(fd)
	report := os.NewFile(uintptr(fd), "report")
	defer report.Close()
	// Notified before the server is checked for: a server that dies after
	// the check is noticed by its signal.
	died := make(chan os.Signal, 1)
	signal.Notify(died, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	if err := prctl(prSetChildSubreaper, 1); err != nil {
		return fail(exitSetup, "subreaper: %s", err)
	}
	// Passing the program's fatal signal on leaves no core file.
	if err := syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{}); err != nil {
		return fail(exitSetup, "rlimit core: %s", err)
	}
	if os.Getppid() != sp.Parent {
		return fail(exitSetup, "the server (pid %d) is gone", sp.Parent)
	}
	program, err := startStep(spec, sp.Cgroups)
	if err != nil {
		return fail(exitNoStart, "start the step: %s", err)
	}
	fmt.Fprintln(report, program)
	report.Close()

	exited := make(chan syscall.WaitStatus, 1)
	go reap(program, exited)
	for {
		select {
		case ws := <-exited:
			if os.Getppid() != sp.Parent {
				// What the program left has nobody else to end it.
				killStep(program, sp.Cgroups)
			}
			return passOn(ws)
		case <-died:
			// The same signals may come from elsewhere (a service manager
			// stopping every process); they are the step's to handle.
			if os.Getppid() != sp.Parent {
				killStep(program, sp.Cgroups)
				return 128 + int(syscall.SIGKILL)
			}
		}
	}
}

// startStep starts the second helper, with the Spec in spec, read again from
// its start, in a session of its own, with SIGKILL as its parent-death
// signal; moves it into the step's cgroups (their cgroup.procs files) while
// it prepares, and tells it whether that worked (see joined). It returns the
// helper's PID: the program's, once the helper has executed it.
func startStep(spec *os.File, cgroups []string) (int, error) {
	if _, err := spec.Seek(0, io.SeekStart); err != nil {
		return 0, fmt.Errorf("spec: %w", err)
	}
	join, joinW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("cgroup pipe: %w", err)
	}
	defer joinW.Close()
	pid, err := syscall.ForkExec("/proc/self/exe", []string{stepName, "3", "4", strconv.Itoa(os.Getpid())}, &syscall.ProcAttr{
		Env:   []string{},
		Files: []uintptr{0, 1, 2, spec.Fd(), join.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL},
	})
	join.Close()
	if err != nil {
		return 0, err
	}
	verdict := joinedOK
	self := []byte(strconv.Itoa(pid))
	for _, procs := range cgroups {
		if err := os.WriteFile(procs, self, 0); err != nil {
			verdict = err.Error()
			break
		}
	}
	// A helper that cannot be told fails by itself, having read nothing.
	_, _ = joinW.WriteString(verdict)
	return pid, nil
}

// reap waits for the helper's children, the program and the orphans it
// inherits, and sends the program's wait status on exited. It returns when
// no child is left.
func reap(program int, exited chan<- syscall.WaitStatus) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		switch {
		case err == syscall.EINTR:
		case err != nil && program != 0:
			// Not while the program is a child; if it happens all the same,
			// the program dies with the helper.
			fmt.Fprintf(os.Stderr, "hookflow sandbox: wait for the step: %s\n", err)
			syscall.Exit(exitSetup)
		case err != nil:
			return
		case pid == program:
			exited <- ws
			program = 0
		}
	}
}

// killStep kills the program's process group, the step's cgroups (given by
// their cgroup.procs files) and every process below the helper.
func killStep(program int, cgroups []string) {
	_ = syscall.Kill(-program, syscall.SIGKILL)
	for _, procs := range cgroups {
		KillCgroup(strings.TrimSuffix(procs, "/cgroup.procs"))
	}
	KillBelow(os.Getpid(), time.Now().Add(killTimeout))
}

// passOn returns the exit status the program exited with or, when a signal
// killed it, kills the helper with the same signal, so that the server sees
// what the step did. It returns 128+N for a signal that cannot end the
// helper.
func passOn(ws syscall.WaitStatus) int {
	if !ws.Signaled() {
		return ws.ExitStatus()
	}
	sig := ws.Signal()
	// The default action, not Go's handler, which ignores most signals. A
	// struct sigaction of zeros is SIG_DFL with no flags and no mask.
	var dfl [4]uint64
	_, _, _ = syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
	// rt_sigprocmask changes this thread's mask, the kernel's sigset_t
	// being 64 bits here.
	set := uint64(1) << (int(sig) - 1)
	_, _, _ = syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigUnblock, uintptr(unsafe.Pointer(&set)), 0, 8, 0, 0)
	// To this thread: it dies before the call returns.
	_ = syscall.Tgkill(syscall.Getpid(), syscall.Gettid(), sig)
	return 128 + int(sig)
}
