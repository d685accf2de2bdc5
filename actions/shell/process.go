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

// groupPollInterval is how often a cancelled step's process group is checked
// for survivors after its shell has exited, during the kill grace.
const groupPollInterval = 20 * time.Millisecond

// execute runs the program in a process group of its own and waits until it
// has exited, its group is gone and its output is copied. It reports the exit
// code and whether the process started at all.
func (a *Action) execute(ctx context.Context, s *actions.Step, path string, args []string) (code int, started bool, err error) {
	env := s.Env
	if env == nil {
		// A nil Env would make os/exec hand the server's own environment on.
		env = []string{}
	}
	cmd := &exec.Cmd{
		Path: path,
		Args: args,
		Env:  env,
		Dir:  inWorkspace(s, s.Dir),
		// Stdin stays nil, which os/exec connects to /dev/null.
		//
		// A group of its own lets the step's whole process tree be signalled
		// at once; with Pgid 0 the group's ID is the process's PID.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	out, err := attachOutput(cmd, s.Stdout, s.Stderr)
	if err != nil {
		return -1, false, fmt.Errorf("output pipes: %w", err)
	}
	if err := cmd.Start(); err != nil {
		out.close()
		return -1, false, actions.Permanent(fmt.Errorf("start %s: %w", args[0], err))
	}
	out.start()

	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	stopped := a.supervise(ctx, cmd.Process.Pid, exited)
	writeErr, cut := out.wait(drainTimeout)
	if cut && s.Stderr != nil {
		// The copying goroutines are done, so the writer is free to use here.
		fmt.Fprintln(s.Stderr, "[hookflow] output cut off: a process that left the step's process group still holds its stdout or stderr")
	}

	code = exitCode(cmd.ProcessState)
	var exitErr *exec.ExitError
	switch {
	case stopped:
		return code, true, fmt.Errorf("step stopped: %w", ctx.Err())
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
// sure nothing of its group outlives it. When ctx ends first, the group gets
// SIGTERM and, KillGrace later, SIGKILL. It reports whether ctx stopped the step.
//
// The group is signalled after its leader has been reaped. That is safe: a
// process group's ID is not given to a new process while any member is alive,
// so the signals reach the step's processes or, once they are all gone, no one.
func (a *Action) supervise(ctx context.Context, pgid int, exited <-chan struct{}) bool {
	select {
	case <-exited:
		// Background processes a finished script left behind go with it.
		signalGroup(pgid, syscall.SIGKILL)
		return false
	case <-ctx.Done():
	}

	signalGroup(pgid, syscall.SIGTERM)
	grace := time.NewTimer(a.killGrace())
	defer grace.Stop()
	select {
	case <-exited:
	case <-grace.C:
		signalGroup(pgid, syscall.SIGKILL)
		<-exited
		return true
	}

	// The shell is gone, but it usually dies of SIGTERM at once while the
	// command it ran is still cleaning up. The rest of the group gets what is
	// left of the grace period.
	poll := time.NewTicker(groupPollInterval)
	defer poll.Stop()
	for groupAlive(pgid) {
		select {
		case <-grace.C:
			signalGroup(pgid, syscall.SIGKILL)
			return true
		case <-poll.C:
		}
	}
	return true
}

// signalGroup sends sig to every process in the group. Errors are ignored:
// ESRCH only means the group is already gone.
func signalGroup(pgid int, sig syscall.Signal) {
	_ = syscall.Kill(-pgid, sig)
}

// groupAlive reports whether any process of the group still exists. Zombies
// count until their parent reaps them, which for orphans is init's job.
func groupAlive(pgid int) bool {
	return !errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
}

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
