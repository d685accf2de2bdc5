package sandbox

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/actions/shell"
	"github.com/hookflow/hookflow/workflows"
)

// safetyNet bounds every step in the tests, so that a bug makes a test fail
// instead of hang. It is not a performance expectation.
const safetyNet = 2 * time.Minute

// Secrets the server's files hold, which no step may read.
const (
	storeSecret  = "store-secret-7c1f"
	configSecret = "config-secret-93ab"
	tokenSecret  = "token-secret-51d0"
	otherSecret  = "other-run-secret-e2a4"
)

// server is a server's files, laid out as `hookflow serve` lays them out. It
// lives outside /tmp: an isolated step gets a /tmp of its own, so files there
// would be out of its reach without any mask, and prove nothing.
type server struct {
	root    string
	data    string // the data folder, holding the store and the workspaces
	store   string
	config  string
	secrets string // the secrets folder
	ws      string // this run's workspace
	other   string // another run's workspace
}

func newServer(t testing.TB) *server {
	t.Helper()
	base := "/var/tmp"
	if fi, err := os.Stat(base); err != nil || !fi.IsDir() {
		t.Fatalf("%s is needed for files outside /tmp: %v", base, err)
	}
	root, err := os.MkdirTemp(base, "hookflow-sandbox-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A step may have left files its user owns; the test's user can
		// remove them all the same, being their owner or root.
		os.RemoveAll(root)
	})
	s := &server{
		root:    root,
		data:    filepath.Join(root, "data"),
		config:  filepath.Join(root, "hookflow.yaml"),
		secrets: filepath.Join(root, "secrets"),
	}
	s.store = filepath.Join(s.data, "hookflow.db")
	s.ws = filepath.Join(s.data, "workspaces", "01RUN")
	s.other = filepath.Join(s.data, "workspaces", "01OTHER")
	for _, d := range []string{s.ws, s.other, s.secrets} {
		mkdir(t, d)
	}
	writeFile(t, s.store, storeSecret)
	writeFile(t, s.config, "secret: "+configSecret)
	writeFile(t, filepath.Join(s.secrets, "TOKEN"), tokenSecret)
	writeFile(t, filepath.Join(s.other, "notes"), otherSecret)
	return s
}

// host is a Host protecting the server's files, as hookflow serve makes it.
func (s *server) host(t testing.TB) *Host {
	t.Helper()
	return NewHost(Options{Protected: []string{s.data, s.config, s.secrets}})
}

func mkdir(t testing.TB, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, name, content string) {
	t.Helper()
	mkdir(t, filepath.Dir(name))
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// requireIsolated fails the test when this machine cannot run the isolated
// level: the tests are meant to run with bubblewrap for real.
func requireIsolated(t testing.TB, h *Host) {
	t.Helper()
	if err := h.Support().Isolated; err != nil {
		t.Fatalf("the isolated level is not available: %v\n(install bubblewrap: scripts/setup-sandbox.sh)", err)
	}
}

// policy is a sandbox policy at level, changed by mods.
func policy(level string, mods ...func(*workflows.Sandbox)) workflows.Sandbox {
	p := workflows.Sandbox{Level: level}
	for _, m := range mods {
		m(&p)
	}
	return p
}

// confine is h.Confine that fails the test on an error.
func confine(t testing.TB, h *Host, p workflows.Sandbox, ws string) *Confinement {
	t.Helper()
	c, err := h.Confine(p, ws)
	if err != nil {
		t.Fatalf("Confine(%+v): %v", p, err)
	}
	return c
}

// result is what a step run in the tests did.
type result struct {
	stdout, stderr string
	code           int
	err            error
}

// output is the step's stdout and stderr, for error messages.
func (r result) output() string {
	return "stdout:\n" + r.stdout + "\nstderr:\n" + r.stderr
}

// runScript runs script with bash as a `run:` step does, in the workspace ws
// with its files laid out as the runner lays them out, confined by c, until
// ctx ends (or the safety net). env is added to the step's environment.
func runScript(t testing.TB, ctx context.Context, c actions.Sandbox, ws, script string, env ...string) result {
	t.Helper()
	tmp := filepath.Join(ws, ".hookflow", "step-1")
	mkdir(t, tmp)
	mkdir(t, filepath.Join(ws, ".hookflow", "home"))
	out := filepath.Join(tmp, "output")
	if err := os.WriteFile(out, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	s := &actions.Step{
		Workspace: ws, Dir: ws, TempDir: tmp, OutputFile: out,
		Env: append([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + filepath.Join(ws, ".hookflow", "home"),
			"LANG=C.UTF-8", "HOOKFLOW_OUTPUT=" + out, "HOOKFLOW_WORKSPACE=" + ws}, env...),
		Stdout: &stdout, Stderr: &stderr, Sandbox: c, KillGrace: 500 * time.Millisecond,
	}
	a, err := shell.New(shell.Params{Script: script, Shell: "bash"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, safetyNet)
	defer cancel()
	res, err := a.Run(ctx, s)
	return result{stdout: stdout.String(), stderr: stderr.String(), code: res.ExitCode, err: err}
}

// stepProcesses lists the processes working in ws or below: a step's.
func stepProcesses(ws string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd"); err == nil && within(cwd, ws) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// session is the session ID of pid, from /proc/PID/stat.
func session(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	sid, _ := strconv.Atoi(fields[3]) // state, ppid, pgrp, session
	return sid
}

// gone reports whether pid has stopped: it no longer exists, or is a zombie
// waiting for its parent.
func gone(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z") || strings.HasPrefix(rest, "X")
}

// checkGone fails the test if any of pids is still running once a killed
// process has had time to go; it kills those left.
func checkGone(t testing.TB, pids []int) {
	t.Helper()
	deadline := time.Now().Add(safetyNet)
	for _, pid := range pids {
		for !gone(pid) {
			if time.Now().After(deadline) {
				t.Errorf("process %d of the step is still running", pid)
				syscall.Kill(pid, syscall.SIGKILL)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// waitForFile waits until path exists, or ctx ends.
func waitForFile(t testing.TB, ctx context.Context, path string) {
	t.Helper()
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never appeared", path)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
