package sandbox

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/runner/sandbox/sandboxtest"
	"github.com/hookflow/hookflow/workflows"
)

// unprivilegedUID is the user this package's tests run as the second time.
const unprivilegedUID = 64101

// TestMain makes the test binary a server: undumpable, as hookflow serve is.
// With stepServerEnv set, it is a server that runs one step (serveStep).
func TestMain(m *testing.M) {
	if err := HardenServer(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if level, ws, ok := strings.Cut(os.Getenv(stepServerEnv), " "); ok {
		os.Exit(serveStep(level, ws))
	}
	os.Exit(m.Run())
}

// TestAsUnprivilegedUser runs the tests of steps again as a user other than
// root: without cgroups the limits are rlimits, and bubblewrap needs a user
// namespace.
func TestAsUnprivilegedUser(t *testing.T) {
	sandboxtest.RerunUnprivileged(t, unprivilegedUID, "^Test(Isolated|Limits|Timeout|StopGivesGrace|ProcessLevel|Levels|Description|User|Writable|StepDiesWithItsServer|TraceKill)")
}

// TestProcessLevel checks what every step process gets at the process level:
// a session and process group of its own, exactly its environment, stdin
// from /dev/null, no_new_privs and the rlimits.
func TestProcessLevel(t *testing.T) {
	const serverSecret = "server-env-secret-8d2e"
	t.Setenv("HOOKFLOW_SECRET_DEPLOY_KEY", serverSecret)
	s := newServer(t)
	c := confine(t, s.host(t), policy(workflows.LevelProcess, func(p *workflows.Sandbox) { p.CPU = workflows.Duration(90e9) }), s.ws)
	if c.Level() != workflows.LevelProcess {
		t.Fatalf("level %s, want process", c.Level())
	}
	r := runScript(t, context.Background(), c, s.ws, `
env | sort
grep '^NoNewPrivs:' /proc/self/status
ps -o pid=,pgid=,sid= -p $$ | awk '{ print ($1 == $2 && $1 == $3) ? "leader" : "not a leader" }'
echo "nofile $(ulimit -n) core $(ulimit -c) cpu $(ulimit -t)"
read -r line || echo "stdin empty"
`, "GREETING=hello")
	if r.err != nil {
		t.Fatalf("step failed: %v\n%s", r.err, r.output())
	}
	if strings.Contains(r.stdout, serverSecret) {
		t.Errorf("the step got the server's environment\n%s", r.output())
	}
	want := []string{"GREETING=hello\n", "NoNewPrivs:\t1\n", "leader\n", "nofile 4096 core 0 cpu 90\n", "stdin empty\n"}
	for _, w := range want {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("missing %q\n%s", w, r.output())
		}
	}
}

// TestProcessLevelSignal checks that a step killed by a signal is reported
// so, through the helper that waits for it: as bash would, with the signal.
func TestProcessLevelSignal(t *testing.T) {
	s := newServer(t)
	c := confine(t, s.host(t), policy(workflows.LevelProcess), s.ws)
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGSEGV} {
		r := runScript(t, context.Background(), c, s.ws, "kill -"+strconv.Itoa(int(sig))+" $$")
		want := fmt.Sprintf("exit code %d (killed by signal: %s)", 128+int(sig), sig)
		if r.code != 128+int(sig) || r.err == nil || r.err.Error() != want {
			t.Errorf("%s: code %d, error %v; want %q\n%s", sig, r.code, r.err, want, r.output())
		}
	}
}

// TestLevels checks the choice of level where bubblewrap is missing: auto
// falls back to process and says so, isolated is an error that says why.
func TestLevels(t *testing.T) {
	s := newServer(t)
	missing := NewHost(Options{Bwrap: filepath.Join(s.root, "no-bwrap-here")})
	if missing.Support().Isolated == nil {
		t.Fatal("isolated is available without bubblewrap")
	}
	c := confine(t, missing, policy(workflows.LevelAuto), s.ws)
	if c.Level() != workflows.LevelProcess || !strings.Contains(c.String(), "unavailable: isolated: bubblewrap is not installed") {
		t.Errorf("auto without bubblewrap: %s %q", c.Level(), c)
	}
	_, err := missing.Confine(policy(workflows.LevelIsolated), s.ws)
	if err == nil || !strings.Contains(err.Error(), "sandbox level isolated is not available on this machine: bubblewrap is not installed") {
		t.Errorf("isolated without bubblewrap: %v", err)
	}

	h := s.host(t)
	requireIsolated(t, h)
	for level, want := range map[string]string{
		workflows.LevelAuto:     workflows.LevelIsolated,
		workflows.LevelIsolated: workflows.LevelIsolated,
		workflows.LevelProcess:  workflows.LevelProcess,
		"":                      workflows.LevelProcess,
	} {
		if c := confine(t, h, policy(level), s.ws); c.Level() != want || !strings.HasPrefix(c.String(), want+" (") {
			t.Errorf("level %q: %s %q, want %s", level, c.Level(), c, want)
		}
	}
	if _, err := h.Confine(policy("strict"), s.ws); err == nil {
		t.Error("an unknown level was accepted")
	}
}

// TestDescription checks what is recorded on runs for a few policies.
func TestDescription(t *testing.T) {
	s := newServer(t)
	h := s.host(t)
	requireIsolated(t, h)
	off := false
	c := confine(t, h, policy(workflows.LevelIsolated, func(p *workflows.Sandbox) {
		p.Network, p.Memory, p.Pids, p.CPU = &off, 1<<30, 100, workflows.Duration(60e9)
	}), s.ws)
	got := c.String()
	want := "isolated (bubblewrap, no network; "
	cg := h.Support().Cgroup
	switch {
	case cg.Has(ctrlMemory) && cg.Has(ctrlPids):
		want += fmt.Sprintf("cgroup v%d memory,pids; rlimit cpu,nofile,core)", cg.Version)
	default:
		want += "rlimit cpu,as,nproc,nofile,core; unavailable: cgroups: " + cg.Err.Error() + ")"
	}
	if got != want {
		t.Errorf("description\n got %q\nwant %q", got, want)
	}
	p := confine(t, h, policy(workflows.LevelProcess, func(p *workflows.Sandbox) { p.Network, p.Hidden = &off, []string{s.root} }), s.ws)
	notes := []string{"landlock v", ", no tcp;", "unavailable: network: false blocks only TCP at the process level"}
	if h.Support().Landlock < minLandlock {
		notes = []string{"unavailable: landlock: the kernel has no Landlock v2", "network: false needs level isolated or Landlock"}
	}
	for _, w := range notes {
		if !strings.Contains(p.String(), w) {
			t.Errorf("process-level description %q does not say %q", p, w)
		}
	}
}

// TestUser checks `user:`: as root, the step runs as that user in a
// workspace it owns; otherwise asking for another user is an error.
func TestUser(t *testing.T) {
	s := newServer(t)
	h := s.host(t)
	requireIsolated(t, h)
	const uid = 64177
	user := fmt.Sprintf("%d:%d", uid, uid)
	if os.Getuid() != 0 {
		_, err := h.Confine(policy(workflows.LevelProcess, func(p *workflows.Sandbox) { p.User = user }), s.ws)
		if err == nil || !strings.Contains(err.Error(), "cannot run steps as another user") {
			t.Errorf("another user without root: %v", err)
		}
		self := strconv.Itoa(os.Getuid())
		if _, err := h.Confine(policy(workflows.LevelProcess, func(p *workflows.Sandbox) { p.User = self }), s.ws); err != nil {
			t.Errorf("the server's own user: %v", err)
		}
		return
	}
	// The folders above a workspace must let the user through.
	_, err := h.Confine(policy(workflows.LevelProcess, func(p *workflows.Sandbox) { p.User = user }), s.ws)
	if err == nil || !strings.Contains(err.Error(), "cannot reach the workspace") {
		t.Fatalf("unreachable workspace: %v", err)
	}
	for d := filepath.Dir(s.ws); d != filepath.Dir(s.root); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	if h.Support().Landlock < minLandlock {
		// Without Landlock nothing hides the server's files at the process
		// level: the user must not be able to read them by their permissions.
		_, err = h.Confine(policy(workflows.LevelProcess, func(p *workflows.Sandbox) { p.User = user }), s.ws)
		if err == nil || !strings.Contains(err.Error(), "could read") {
			t.Fatalf("server files readable by the user: %v", err)
		}
		for _, p := range []string{s.store, s.config, s.secrets, s.other} {
			if err := os.Chmod(p, 0o700); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, level := range levels {
		t.Run(level, func(t *testing.T) {
			c := confine(t, h, policy(level, func(p *workflows.Sandbox) { p.User = user }), s.ws)
			if !strings.Contains(c.String(), fmt.Sprintf("uid %d", uid)) {
				t.Errorf("description %q does not name the user", c)
			}
			r := runScript(t, context.Background(), c, s.ws, `id -u; id -G; echo made > "$HOOKFLOW_WORKSPACE/by-user"; cat "$STORE" "$OTHER/notes" 2>&1 || true`, "STORE="+s.store, "OTHER="+s.other)
			if r.err != nil {
				t.Fatalf("step failed: %v\n%s", r.err, r.output())
			}
			if want := fmt.Sprintf("%d\n%d\n", uid, uid); !strings.HasPrefix(r.stdout, want) {
				t.Errorf("ids %q, want %q", r.stdout, want)
			}
			if strings.Contains(r.stdout, storeSecret) || strings.Contains(r.stdout, otherSecret) {
				t.Errorf("the user read the server's files\n%s", r.output())
			}
		})
	}
}

// TestWritableMustNotExposeServerFiles checks that a writable path that is,
// holds or lies in one of the server's files is refused.
func TestWritableMustNotExposeServerFiles(t *testing.T) {
	s := newServer(t)
	h := s.host(t)
	for _, w := range []string{s.root, s.data, filepath.Join(s.data, "workspaces"), s.config, s.secrets} {
		_, err := h.Confine(policy(workflows.LevelAuto, func(p *workflows.Sandbox) { p.Writable = []string{w} }), s.ws)
		if err == nil || !strings.Contains(err.Error(), "which steps must not reach") {
			t.Errorf("writable %s: %v", w, err)
		}
	}
	if _, err := h.Confine(policy(workflows.LevelAuto, func(p *workflows.Sandbox) { p.Writable = []string{"relative/path"} }), s.ws); err == nil {
		t.Error("a relative writable path was accepted")
	}
}

// TestProcessLevelHidesServerFiles checks that Landlock keeps a
// process-level step, which otherwise sees the host as the server does,
// from the server's files, the hidden paths and the server's /proc files,
// and from TCP with `network: false`.
func TestProcessLevelHidesServerFiles(t *testing.T) {
	const serverSecret = "server-env-secret-0b7d"
	t.Setenv("HOOKFLOW_SECRET_DEPLOY_KEY", serverSecret)
	s := newServer(t)
	h := s.host(t)
	if h.Support().Landlock < minLandlock {
		t.Skip("the kernel has no Landlock v2; the process level then hides nothing")
	}
	hiddenDir := filepath.Join(s.root, "private")
	writeFile(t, filepath.Join(hiddenDir, "key"), "hidden-secret")
	mkdir(t, filepath.Join(s.root, "elsewhere"))
	off := false
	c := confine(t, h, policy(workflows.LevelProcess, func(p *workflows.Sandbox) {
		p.Hidden, p.Network = []string{hiddenDir}, &off
	}), s.ws)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	script := `
readable() { if cat "$1" >/dev/null 2>&1; then echo "READ $1"; else echo "DENIED $1"; fi; }
writes() { if ( : > "$1" ) 2>/dev/null; then echo "WROTE $1"; else echo "DENIED $1"; fi; }
readable "$STORE"
readable "$OTHER/notes"
readable "$CONFIG"
readable "$SECRETS/TOKEN"
readable "$HIDDEN/key"
readable "/proc/$PPID/environ"
cat "$STORE" "$OTHER/notes" "$CONFIG" "$SECRETS/TOKEN" "$HIDDEN/key" "/proc/$PPID/environ" 2>&1 || true
writes "$DATA/planted"
writes "$STORE"
writes "$HOOKFLOW_WORKSPACE/inside"
writes "$ROOT/elsewhere/file"
writes "$ROOT/outside"
readable /etc/hostname
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then echo "TCP on"; else echo "TCP off"; fi
`
	r := runScript(t, context.Background(), c, s.ws, script,
		"STORE="+s.store, "OTHER="+s.other, "CONFIG="+s.config, "SECRETS="+s.secrets, "HIDDEN="+hiddenDir,
		"DATA="+s.data, "ROOT="+s.root, "PORT="+itoa(ln.Addr().(*net.TCPAddr).Port))
	if r.err != nil {
		t.Fatalf("step failed: %v\n%s", r.err, r.output())
	}
	for _, secret := range []string{storeSecret, otherSecret, configSecret, tokenSecret, "hidden-secret", serverSecret} {
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("the step saw %q\n%s", secret, r.output())
		}
	}
	want := []string{
		"DENIED " + s.store, "DENIED " + s.other + "/notes", "DENIED " + s.config, "DENIED " + s.secrets + "/TOKEN",
		"DENIED " + hiddenDir + "/key", "DENIED " + s.data + "/planted",
		"WROTE " + s.ws + "/inside", "WROTE " + s.root + "/elsewhere/file", "READ /etc/hostname", "TCP off",
		// The folders above the server's files can be listed, but take no
		// new entries.
		"DENIED " + s.root + "/outside",
	}
	if os.Getuid() != 0 {
		// The server's /proc files are root's (HardenServer); a step of
		// root's could read them, as it can read anything.
		want = append(want, "DENIED /proc/")
	}
	for _, w := range want {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("missing %q\n%s", w, r.output())
		}
	}
	if b, err := os.ReadFile(s.store); err != nil || string(b) != storeSecret {
		t.Errorf("the store changed: %q, %v", b, err)
	}
}

// TestSweepLeftCgroups checks that a new Host removes the empty step cgroups
// of servers that died, and leaves new ones alone.
func TestSweepLeftCgroups(t *testing.T) {
	cg := probeCgroups()
	if !cg.Has(ctrlPids) {
		t.Skipf("no cgroups to make here: %v", cg.Err)
	}
	dir := cg.dirs[ctrlPids]
	stale, fresh := filepath.Join(dir, cgroupName()), filepath.Join(dir, cgroupName())
	for _, d := range []string{stale, fresh} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(d) })
	}
	old := time.Now().Add(-2 * staleAfter)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Skipf("cannot date a cgroup back here: %v", err)
	}
	NewHost(Options{})
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("the stale cgroup %s is still there", stale)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("the new cgroup %s was removed: %v", fresh, err)
	}
}
