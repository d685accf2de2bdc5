package sandbox

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// levels are the levels every limit is tested at.
var levels = []string{workflows.LevelProcess, workflows.LevelIsolated}

// TestLimits runs a fork bomb, a memory hog and a CPU spinner at each level,
// each with the limit that must stop it, and checks that it was stopped by
// that limit and left nothing behind.
func TestLimits(t *testing.T) {
	s := newServer(t)
	h := s.host(t)
	requireIsolated(t, h)
	cases := []struct {
		name   string
		policy func(*workflows.Sandbox)
		script string
		// stopped reports whether the step was stopped by its limit.
		stopped func(r result) bool
	}{
		{
			name:   "fork bomb by pids",
			policy: func(p *workflows.Sandbox) { p.Pids = 64 },
			script: `bomb() { bomb | bomb & }
bomb
sleep 1
echo "the bomb went off"`,
			stopped: func(r result) bool {
				return strings.Contains(r.stderr, "Resource temporarily unavailable")
			},
		},
		{
			name:   "memory hog by memory",
			policy: func(p *workflows.Sandbox) { p.Memory = 64 << 20 },
			// tail keeps the whole of a line, and /dev/zero has no line ends.
			script: `head -c 2147483648 /dev/zero | tail`,
			stopped: func(r result) bool {
				// An address-space limit fails the allocation; a cgroup's
				// OOM killer kills the process.
				return r.err != nil && (strings.Contains(r.stderr, "memory exhausted") || r.code == 137)
			},
		},
		{
			name:   "CPU spinner by cpu",
			policy: func(p *workflows.Sandbox) { p.CPU = workflows.Duration(1e9) },
			script: `while :; do :; done`,
			stopped: func(r result) bool {
				return r.code == 128+24 // SIGXCPU
			},
		},
	}
	for _, level := range levels {
		for _, tc := range cases {
			t.Run(level+"/"+tc.name, func(t *testing.T) {
				c := confine(t, h, policy(level, tc.policy), s.ws)
				if strings.Contains(tc.name, "pids") && h.Support().UID == 0 && !c.cgroupPids {
					t.Fatalf("no pids cgroup, and root ignores RLIMIT_NPROC: the fork bomb would not be contained (%s)", c)
				}
				r := runScript(t, context.Background(), c, s.ws, tc.script)
				if !tc.stopped(r) {
					t.Errorf("not stopped by its limit (%s): exit code %d, %v\n%s", c, r.code, r.err, r.output())
				}
				if left := stepProcesses(s.ws); len(left) > 0 {
					t.Errorf("processes left: %v", left)
					checkGone(t, left)
				}
			})
		}
	}
}

// TestTimeoutKillsEveryProcess stops a step whose processes include one that
// left the step's session with setsid, and checks that all of them are gone.
func TestTimeoutKillsEveryProcess(t *testing.T) {
	script := `setsid sh -c 'trap "" TERM; : > escaped; exec sleep 1000' &
(trap "" TERM; : > stayed; exec sleep 1000) &
while [ ! -e escaped ] || [ ! -e stayed ]; do sleep 0.01; done
: > ready
wait`
	for _, level := range levels {
		t.Run(level, func(t *testing.T) {
			s := newServer(t)
			h := s.host(t)
			requireIsolated(t, h)
			c := confine(t, h, policy(level), s.ws)
			if level == workflows.LevelProcess && !c.cgroupPids {
				t.Skipf("without a cgroup the process level cannot find processes that left the step's session (%s); the isolated level can", c)
			}
			ready := filepath.Join(s.ws, "ready")
			ctx := newExpiringContext()
			done := make(chan result, 1)
			go func() { done <- runScript(t, ctx, c, s.ws, script) }()
			net, cancel := context.WithTimeout(context.Background(), safetyNet)
			defer cancel()
			waitForFile(t, net, ready)
			pids := stepProcesses(s.ws)
			sessions := map[int]bool{}
			for _, pid := range pids {
				sessions[session(pid)] = true
			}
			if len(sessions) < 2 {
				t.Fatalf("the step's processes %v are all in one session; the test needs one that left it", pids)
			}
			ctx.expire()
			r := <-done
			if !errors.Is(r.err, context.DeadlineExceeded) {
				t.Errorf("error %v, want a deadline\n%s", r.err, r.output())
			}
			checkGone(t, pids)
			if left := stepProcesses(s.ws); len(left) > 0 {
				t.Errorf("processes left: %v", left)
				checkGone(t, left)
			}
		})
	}
}

// expiringContext is a context whose deadline passes when expire is called,
// so that a "timeout" happens when the script is ready, not by the clock.
type expiringContext struct {
	context.Context
	done chan struct{}
}

func newExpiringContext() *expiringContext {
	return &expiringContext{Context: context.Background(), done: make(chan struct{})}
}

func (c *expiringContext) expire()               { close(c.done) }
func (c *expiringContext) Done() <-chan struct{} { return c.done }

func (c *expiringContext) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// TestStopGivesGrace checks that a stopped step gets SIGTERM first, at each
// level, and can clean up: in a sandbox the signal goes to the processes
// inside, not to bubblewrap, whose end would end them all at once.
func TestStopGivesGrace(t *testing.T) {
	script := `trap 'echo done > cleaned; exit 0' TERM
: > ready
while :; do sleep 0.05; done`
	for _, level := range levels {
		t.Run(level, func(t *testing.T) {
			s := newServer(t)
			h := s.host(t)
			requireIsolated(t, h)
			c := confine(t, h, policy(level), s.ws)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan result, 1)
			go func() { done <- runScript(t, ctx, c, s.ws, script) }()
			net, stop := context.WithTimeout(context.Background(), safetyNet)
			defer stop()
			waitForFile(t, net, filepath.Join(s.ws, "ready"))
			cancel()
			r := <-done
			if !errors.Is(r.err, context.Canceled) {
				t.Errorf("error %v, want it cancelled\n%s", r.err, r.output())
			}
			if b, err := os.ReadFile(filepath.Join(s.ws, "cleaned")); err != nil || string(b) != "done\n" {
				t.Errorf("the step did not clean up: %q, %v\n%s", b, err, r.output())
			}
		})
	}
}

// TestStopRightAfterStart sends a step SIGTERM as soon as it has started, at
// each level: in a sandbox, before bubblewrap has started the program inside,
// which has nothing to clean up yet. The step ends, rather than running on
// with a signal that reached no one.
func TestStopRightAfterStart(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	for _, level := range levels {
		t.Run(level, func(t *testing.T) {
			s := newServer(t)
			h := s.host(t)
			requireIsolated(t, h)
			c := confine(t, h, policy(level), s.ws)
			cmd := &exec.Cmd{Path: sleep, Args: []string{"sleep", "1000"}, Env: []string{"PATH=/usr/bin:/bin"}, Dir: s.ws}
			proc, err := c.Start(cmd)
			if err != nil {
				t.Fatal(err)
			}
			proc.Signal(syscall.SIGTERM)
			exited := make(chan struct{})
			go func() { cmd.Wait(); close(exited) }()
			select {
			case <-exited:
			case <-time.After(safetyNet):
				proc.Signal(syscall.SIGKILL)
				<-exited
				t.Error("the step went on after SIGTERM")
			}
			if err := proc.Release(); err != nil {
				t.Error(err)
			}
		})
	}
}
