package shell

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/hookflow/hookflow/actions"
)

// drainTimeout bounds how long the step's output is still read once its
// process group is gone. Only a process that left the group (setsid, a
// daemon) can keep the pipes open that long; waiting for it could take forever.
const drainTimeout = 2 * time.Second

// groupPollInterval is how often a cancelled step is checked for surviving
// processes after its shell has exited, during the kill grace.
const groupPollInterval = 20 * time.Millisecond

// execute runs the program through the step's sandbox (or, without one, in a
// session and process group of its own) and waits until it has exited, every
// process it started is gone and its output is copied. It reports the exit
// code and whether the process started at all.
func (a *Action) execute(ctx context.Context, s *actions.Step, path string, args []string) (code int, started bool, err error) {
	env := s.Env
	if env == nil {
		// A nil Env would make os/exec hand the server's own environment on.
		env = []string{}
	}
	// Stdin stays nil, which os/exec connects to /dev/null.
	cmd := &exec.Cmd{Path: path, Args: args, Env: env, Dir: inWorkspace(s, s.Dir)}
	out, err := attachOutput(cmd, s.Stdout, s.Stderr)
	if err != nil {
		return -1, false, fmt.Errorf("output pipes: %w", err)
	}
	var sandbox actions.Sandbox = ownGroup{}
	if s.Sandbox != nil {
		sandbox = s.Sandbox
	}
	proc, err := sandbox.Start(cmd)
	if err != nil {
		out.close()
		err = fmt.Errorf("start %s: %w", args[0], err)
		if _, classified := errors.AsType[*actions.Error](err); !classified {
			err = actions.Permanent(err)
		}
		return -1, false, err
	}
	out.start()

	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	stopped := supervise(ctx, proc, exited, killGrace(s))
	writeErr, cut := out.wait(drainTimeout)
	// The copying goroutines are done, so the writer is free to use here.
	if cut && s.Stderr != nil {
		fmt.Fprintln(s.Stderr, "[hookflow] output cut off: a process that left the step's process group still holds its stdout or stderr")
	}
	if err := proc.Release(); err != nil && s.Stderr != nil {
		fmt.Fprintf(s.Stderr, "[hookflow] sandbox: %s\n", err)
	}

	code = exitCode(cmd.ProcessState)
	var exitErr *exec.ExitError
	switch {
	case stopped:
		return code, true, fmt.Errorf("step stopped: %w", actions.StopCause(ctx))
	case waitErr != nil && !errors.As(waitErr, &exitErr):
		return code, true, fmt.Errorf("wait for %s: %w", args[0], waitErr)
	case code != 0:
		return code, true, exitError(code, cmd.ProcessState)
	case writeErr != nil:
		return code, true, fmt.Errorf("step log: %w", writeErr)
	}
	return 0, true, nil
}

// supervise waits until the process has exited (exited is closed) and makes
// sure nothing it started outlives it. When ctx ends first, the step's
// processes get SIGTERM and, grace later, SIGKILL. It reports whether ctx
// stopped the step.
//
// The process group is signalled after its leader has been reaped. That is
// safe: a process group's ID is not given to a new process while any member
// is alive, so the signals reach the step's processes or, once they are all
// gone, no one.
func supervise(ctx context.Context, proc actions.Process, exited <-chan struct{}, grace time.Duration) bool {
	select {
	case <-exited:
		// Background processes a finished script left behind go with it.
		proc.Signal(syscall.SIGKILL)
		return false
	case <-ctx.Done():
	}

	proc.Signal(syscall.SIGTERM)
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	select {
	case <-exited:
	case <-deadline.C:
		proc.Signal(syscall.SIGKILL)
		<-exited
		return true
	}

	// The shell is gone, but it usually dies of SIGTERM at once while the
	// command it ran is still cleaning up. The rest of the step's processes
	// get what is left of the grace period.
	poll := time.NewTicker(groupPollInterval)
	defer poll.Stop()
	for proc.Alive() {
		select {
		case <-deadline.C:
			proc.Signal(syscall.SIGKILL)
			return true
		case <-poll.C:
		}
	}
	return true
}

// ownGroup starts a step's process when the runner gives no sandbox: in a
// session of its own, which makes it the leader of a new process group and
// detaches it from the server's terminal.
type ownGroup struct{}

func (ownGroup) Start(cmd *exec.Cmd) (actions.Process, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return processGroup(cmd.Process.Pid), nil
}

// processGroup is a step's process group, named by its ID.
type processGroup int

// Signal sends sig to every process in the group. Errors are ignored: ESRCH
// only means the group is already gone.
func (g processGroup) Signal(sig syscall.Signal) { _ = syscall.Kill(-int(g), sig) }

// Alive reports whether any process of the group still exists. Zombies count
// until their parent reaps them, which for orphans is init's job.
func (g processGroup) Alive() bool { return !errors.Is(syscall.Kill(-int(g), 0), syscall.ESRCH) }

func (processGroup) Release() error { return nil }

// exitCode is the process's exit status, 128+N when signal N killed it (as a
// shell reports it), or -1 when it has no state.
func exitCode(st *os.ProcessState) int {
	if st == nil {
		return -1
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}

// exitError is the step error for a non-zero exit, naming the signal that
// killed the process, if one did.
func exitError(code int, st *os.ProcessState) error {
	if st == nil {
		return fmt.Errorf("exit code %d", code)
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Errorf("exit code %d (killed by signal: %s)", code, ws.Signal())
	}
	return fmt.Errorf("exit code %d", code)
}
