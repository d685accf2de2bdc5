package shell

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
)

// heapPeak records the largest heap seen while it is sampled.
type heapPeak struct {
	mu   sync.Mutex
	peak uint64
}

func (h *heapPeak) sample() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.mu.Lock()
	h.peak = max(h.peak, m.HeapInuse)
	h.mu.Unlock()
}

// countingWriter counts what it is given and keeps none of it. Every 4 MiB it
// samples the heap, so that memory is measured while output flows.
type countingWriter struct {
	n    atomic.Int64
	heap *heapPeak
}

func (w *countingWriter) Write(p []byte) (int, error) {
	const every = 4 << 20
	n := w.n.Add(int64(len(p)))
	if (n-int64(len(p)))/every != n/every {
		w.heap.sample()
	}
	return len(p), nil
}

// TestLargeInterleavedOutput writes 50 MiB to each of stdout and stderr in
// alternating chunks: nothing may deadlock, every byte must arrive, and the
// output must not be collected in memory on the way.
func TestLargeInterleavedOutput(t *testing.T) {
	const chunk, rounds = 512 << 10, 100 // 50 MiB per stream
	script := `i=0
while [ $i -lt 100 ]; do
	head -c 524288 /dev/zero
	head -c 524288 /dev/zero >&2
	i=$((i + 1))
done`
	cases := []struct {
		name      string
		oneWriter bool
	}{
		{name: "separate writers"},
		{name: "one writer for both streams", oneWriter: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			heap := &heapPeak{}
			stdout, stderr := &countingWriter{heap: heap}, &countingWriter{heap: heap}
			s := newStep(t)
			s.Stdout, s.Stderr = stdout, stderr
			if tc.oneWriter {
				s.Stderr = stdout
			}
			a := mustNew(t, script, "")

			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := runStep(t, a, s)
			checkErr(t, err)
			var after runtime.MemStats
			runtime.ReadMemStats(&after)

			const perStream = chunk * rounds
			if tc.oneWriter {
				if got := stdout.n.Load(); got != 2*perStream {
					t.Errorf("got %d bytes, want %d", got, 2*perStream)
				}
			} else {
				if got := stdout.n.Load(); got != perStream {
					t.Errorf("stdout: got %d bytes, want %d", got, perStream)
				}
				if got := stderr.n.Load(); got != perStream {
					t.Errorf("stderr: got %d bytes, want %d", got, perStream)
				}
			}
			const limit = 32 << 20
			if grew := int64(heap.peak) - int64(before.HeapInuse); grew > limit {
				t.Errorf("heap in use grew by %d MiB while copying, want less than %d MiB", grew>>20, limit>>20)
			}
			if grew := int64(after.Sys) - int64(before.Sys); grew > limit {
				t.Errorf("memory from the OS grew by %d MiB, want less than %d MiB", grew>>20, limit>>20)
			}
		})
	}
}

// failingWriter accepts its first write and fails every later one, like a log
// whose storage went away.
type failingWriter struct{ writes atomic.Int64 }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.writes.Add(1) > 1 {
		return 0, errors.New("log storage gone")
	}
	return len(p), nil
}

// TestFailingLogWriter checks that a log writer that fails does not block the
// script on a full pipe, and that the step reports the lost log.
func TestFailingLogWriter(t *testing.T) {
	s := newStep(t)
	s.Stdout = &failingWriter{}
	res, err := runStep(t, mustNew(t, "head -c 8388608 /dev/zero\necho ok=yes >> \"$HOOKFLOW_OUTPUT\"", ""), s)
	checkErr(t, err, "step log: log storage gone")
	if res.ExitCode != 0 {
		t.Errorf("exit code = %d, want 0", res.ExitCode)
	}
	checkOutputs(t, res.Outputs, map[string]string{"ok": "yes"})
}

// treeScript starts a child that ignores SIGTERM, and a grandchild under it,
// records their PIDs and its own, then waits. Once all are recorded it creates
// the file "ready".
const treeScript = `bash -c 'trap "" TERM; sh -c "sleep 1000" & echo $! > grandchild.pid; echo $$ > child.pid; sleep 1000' &
echo $$ > shell.pid
while [ ! -s child.pid ] || [ ! -s grandchild.pid ]; do sleep 0.01; done
: > ready
wait`

// TestStopKillsProcessTree stops a step whose processes ignore SIGTERM and
// checks that none of them survives, and that the error says why it stopped.
func TestStopKillsProcessTree(t *testing.T) {
	cases := []struct {
		name string
		// start returns the context for Run and the function that ends it.
		start func() (context.Context, func())
		want  error
		// message, when set, is the error's whole text.
		message string
	}{
		{
			name: "deadline",
			start: func() (context.Context, func()) {
				ctx := newExpiringContext()
				return ctx, ctx.expire
			},
			want: context.DeadlineExceeded,
		},
		{
			name: "cancel",
			start: func() (context.Context, func()) {
				return context.WithCancel(context.Background())
			},
			want: context.Canceled,
		},
		{
			// Whoever cancels says why, and the error says it too.
			name: "cancel with a cause",
			start: func() (context.Context, func()) {
				ctx, cancel := context.WithCancelCause(context.Background())
				return ctx, func() { cancel(errCancelledByTest) }
			},
			want:    errCancelledByTest,
			message: "step stopped: cancelled through the API",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStep(t)
			logOutput(t, s)
			ctx, stop := tc.start()
			type result struct {
				res actions.Result
				err error
			}
			a := mustNew(t, treeScript, "")
			done := make(chan result, 1)
			go func() {
				res, err := a.Run(ctx, s)
				done <- result{res, err}
			}()

			net, cancel := context.WithTimeout(context.Background(), safetyNet)
			defer cancel()
			waitForFile(t, net, filepath.Join(s.Dir, "ready"))
			stop()
			var r result
			select {
			case r = <-done:
			case <-net.Done():
				t.Fatal("Run did not return after its context ended")
			}

			if !errors.Is(r.err, tc.want) || !errors.Is(r.err, ctx.Err()) {
				t.Errorf("error = %v, want one wrapping %v and %v", r.err, tc.want, ctx.Err())
			}
			if tc.message != "" && r.err.Error() != tc.message {
				t.Errorf("error = %q, want %q", r.err, tc.message)
			}
			// bash dies of the SIGTERM: 128 + 15.
			if r.res.ExitCode != 143 {
				t.Errorf("exit code = %d, want 143", r.res.ExitCode)
			}
			for _, name := range []string{"shell", "child", "grandchild"} {
				checkGone(t, name, readPID(t, filepath.Join(s.Dir, name+".pid")))
			}
		})
	}
}

// errCancelledByTest is the cause a test gives when it cancels a step.
var errCancelledByTest = errors.New("cancelled through the API")

// TestRealTimeout runs a step under a real context deadline.
func TestRealTimeout(t *testing.T) {
	s := newStep(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	res, err := mustNew(t, "sleep 1000", "").Run(ctx, s)
	logOutput(t, s)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want one wrapping context.DeadlineExceeded", err)
	}
	if res.ExitCode <= 128 {
		t.Errorf("exit code = %d, want one saying a signal ended it", res.ExitCode)
	}
}

// TestStopGivesGraceToChildren checks that after the shell dies of SIGTERM,
// the command it ran still gets the grace period to clean up.
func TestStopGivesGraceToChildren(t *testing.T) {
	s := newStep(t)
	logOutput(t, s)
	script := `sh -c 'trap "sleep 0.2; echo done > cleaned; exit 0" TERM; : > ready; while :; do sleep 1; done' &
wait`
	a := mustNew(t, script, "")
	s.KillGrace = 20 * time.Second // long enough for any machine to clean up

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := a.Run(ctx, s)
		done <- err
	}()
	net, stop := context.WithTimeout(context.Background(), safetyNet)
	defer stop()
	waitForFile(t, net, filepath.Join(s.Dir, "ready"))
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want one wrapping context.Canceled", err)
		}
	case <-net.Done():
		t.Fatal("Run did not return after its context ended")
	}
	if b, err := os.ReadFile(filepath.Join(s.Dir, "cleaned")); err != nil || string(b) != "done\n" {
		t.Errorf("the child did not finish its clean-up: %q, %v", b, err)
	}
}

// TestLeftoverProcessesKilled checks that a script that succeeds does not
// leave processes behind.
func TestLeftoverProcessesKilled(t *testing.T) {
	cases := []struct {
		name   string
		script string
	}{
		{name: "holding the output open", script: "sleep 1000 &\necho $! > bg.pid"},
		{name: "detached from the output", script: "nohup sleep 1000 >/dev/null 2>&1 &\necho $! > bg.pid"},
		{name: "ignoring SIGTERM", script: "(trap '' TERM; exec sleep 1000) &\necho $! > bg.pid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStep(t)
			res, err := runStep(t, mustNew(t, tc.script, ""), s)
			checkErr(t, err)
			if res.ExitCode != 0 {
				t.Errorf("exit code = %d, want 0", res.ExitCode)
			}
			checkGone(t, "background process", readPID(t, filepath.Join(s.Dir, "bg.pid")))
		})
	}
}

// escapeScript starts a process in a session of its own, which holds the
// step's output open, and returns once that process has left the group.
const escapeScript = `setsid sh -c 'echo $$ > escaped.pid.tmp; mv escaped.pid.tmp escaped.pid; exec sleep 1000' &
while [ ! -s escaped.pid ]; do sleep 0.01; done
echo done`

// TestEscapedProcessDoesNotHang checks that a process that left the step's
// process group, and so escapes its killing, cannot keep Run waiting by holding
// the output pipes open.
func TestEscapedProcessDoesNotHang(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid is not installed")
	}
	s := newStep(t)
	pidFile := filepath.Join(s.Dir, "escaped.pid")
	t.Cleanup(func() {
		if _, err := os.Stat(pidFile); err == nil {
			pid := readPID(t, pidFile)
			syscall.Kill(pid, syscall.SIGKILL)
			checkGone(t, "escaped process", pid)
		}
	})
	res, err := runStep(t, mustNew(t, escapeScript, ""), s)
	checkErr(t, err)
	if res.ExitCode != 0 {
		t.Errorf("exit code = %d, want 0", res.ExitCode)
	}
	if got := s.Stderr.(interface{ String() string }).String(); !strings.Contains(got, "output cut off") {
		t.Errorf("stderr = %q, want a note that the output was cut off", got)
	}
}

// BenchmarkRunTrue measures what running a step costs beyond its script.
func BenchmarkRunTrue(b *testing.B) {
	a := mustNew(b, "true", "")
	s := newStep(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := a.Run(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
}
