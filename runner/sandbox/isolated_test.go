package sandbox

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// TestIsolatedFiles checks what an isolated step can read and write: not the
// store, another run's workspace, the configuration or the secrets; nothing
// outside its workspace and its writable paths; a /tmp of its own.
func TestIsolatedFiles(t *testing.T) {
	s := newServer(t)
	h := s.host(t)
	requireIsolated(t, h)
	writable := filepath.Join(s.root, "writable")
	mkdir(t, writable)
	hiddenDir := filepath.Join(s.root, "private")
	writeFile(t, filepath.Join(hiddenDir, "key"), "hidden-secret")
	c := confine(t, h, policy(workflows.LevelIsolated, func(p *workflows.Sandbox) {
		p.Writable = []string{writable}
		p.Hidden = []string{hiddenDir}
	}), s.ws)
	if c.Level() != workflows.LevelIsolated {
		t.Fatalf("level %s, want isolated", c.Level())
	}
	tmpMarker := "hookflow-sandbox-test-" + filepath.Base(s.root)
	script := `
readable() { if cat "$1" >/dev/null 2>&1; then echo "READ $1"; else echo "DENIED $1"; fi; }
writes() { if ( : > "$1" ) 2>/dev/null; then echo "WROTE $1"; else echo "DENIED $1"; fi; }
readable "$STORE"
readable "$OTHER/notes"
readable "$CONFIG"
readable "$SECRETS/TOKEN"
readable "$HIDDEN/key"
for d in "$DATA" "$DATA/workspaces" "$SECRETS" "$HIDDEN"; do echo "list $d:" $(ls -A "$d" 2>&1); done
cat "$STORE" "$OTHER/notes" "$CONFIG" "$SECRETS/TOKEN" "$HIDDEN/key" 2>&1 || true
writes "$ROOT/outside"
writes "$DATA/planted"
writes /etc/hookflow-planted
writes /usr/hookflow-planted
writes "$HOOKFLOW_WORKSPACE/inside"
writes "$WRITABLE/inside"
writes "/tmp/$MARKER"
readable /etc/hostname
`
	r := runScript(t, context.Background(), c, s.ws, script,
		"STORE="+s.store, "OTHER="+s.other, "CONFIG="+s.config, "SECRETS="+s.secrets, "HIDDEN="+hiddenDir,
		"DATA="+s.data, "ROOT="+s.root, "WRITABLE="+writable, "MARKER="+tmpMarker)
	if r.err != nil {
		t.Fatalf("step failed: %v\n%s", r.err, r.output())
	}
	for _, secret := range []string{storeSecret, otherSecret, configSecret, tokenSecret, "hidden-secret"} {
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("the step saw %q\n%s", secret, r.output())
		}
	}
	want := []string{
		"DENIED " + s.store, "DENIED " + s.other + "/notes", "DENIED " + s.config, "DENIED " + s.secrets + "/TOKEN",
		"DENIED " + hiddenDir + "/key",
		"DENIED " + s.root + "/outside", "DENIED " + s.data + "/planted",
		"DENIED /etc/hookflow-planted", "DENIED /usr/hookflow-planted",
		"WROTE " + s.ws + "/inside", "WROTE " + writable + "/inside", "WROTE /tmp/" + tmpMarker,
		"READ /etc/hostname",
		// Masked folders are empty; the data folder holds only the way to
		// the step's own workspace.
		"list " + s.data + ": workspaces", "list " + s.data + "/workspaces: 01RUN",
		"list " + s.secrets + ":", "list " + hiddenDir + ":",
	}
	for _, w := range want {
		if !strings.Contains(r.stdout, w+"\n") {
			t.Errorf("missing %q\n%s", w, r.output())
		}
	}
	for _, p := range []string{s.root + "/outside", s.data + "/planted", "/etc/hookflow-planted", "/usr/hookflow-planted", "/tmp/" + tmpMarker} {
		if _, err := os.Stat(p); err == nil {
			os.Remove(p)
			t.Errorf("%s was written on the host", p)
		}
	}
	for _, p := range []string{s.ws + "/inside", writable + "/inside"} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestIsolatedEnvironment checks that an isolated step sees exactly its own
// environment, nothing of the server's, even through /proc, and runs without
// privileges.
func TestIsolatedEnvironment(t *testing.T) {
	const serverSecret = "server-env-secret-41c9"
	t.Setenv("HOOKFLOW_SECRET_DEPLOY_KEY", serverSecret)
	s := newServer(t)
	h := s.host(t)
	requireIsolated(t, h)
	c := confine(t, h, policy(workflows.LevelIsolated), s.ws)
	r := runScript(t, context.Background(), c, s.ws, `
env | sort
cat /proc/[0-9]*/environ 2>/dev/null | tr '\0' '\n' | sort -u
grep -E '^(NoNewPrivs|CapEff|CapPrm|CapBnd):' /proc/self/status
echo "pid $$"
ls /proc | grep -E '^[0-9]+$' | wc -l | sed 's/^/processes /'
read -r line || echo "stdin empty"
`, "GREETING=hello")
	if r.err != nil {
		t.Fatalf("step failed: %v\n%s", r.err, r.output())
	}
	if strings.Contains(r.stdout, serverSecret) || strings.Contains(r.stdout, "HOOKFLOW_SECRET_") {
		t.Errorf("the step saw the server's environment\n%s", r.output())
	}
	for _, w := range []string{"GREETING=hello\n", "NoNewPrivs:\t1\n", "CapEff:\t0000000000000000\n", "CapBnd:\t0000000000000000\n", "stdin empty\n"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("missing %q\n%s", w, r.output())
		}
	}
	// Its own PID namespace: the sandbox's init, the shell and its commands.
	if strings.Contains(r.stdout, "pid 1\n") || !strings.Contains(r.stdout, "pid 2\n") {
		t.Errorf("the shell is not PID 2 of a namespace of its own\n%s", r.output())
	}
}

// TestIsolatedNetwork checks that `network: false` leaves a step no way to a
// listener on the host's loopback, and that `network: true` does.
func TestIsolatedNetwork(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Write([]byte("hello from the host\n"))
			conn.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	s := newServer(t)
	h := s.host(t)
	requireIsolated(t, h)
	script := `if exec 3<>"/dev/tcp/127.0.0.1/$PORT"; then read -r line <&3; echo "connected: $line"; else echo "no connection"; fi`
	for _, tc := range []struct {
		name    string
		network bool
		want    string
	}{
		{"network false", false, "no connection\n"},
		{"network true", true, "connected: hello from the host\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := confine(t, h, policy(workflows.LevelIsolated, func(p *workflows.Sandbox) { p.Network = &tc.network }), s.ws)
			r := runScript(t, context.Background(), c, s.ws, script, "PORT="+itoa(port))
			if r.err != nil || r.stdout != tc.want {
				t.Errorf("got %q (%v), want %q\n%s", r.stdout, r.err, tc.want, r.output())
			}
			if !tc.network && !strings.Contains(c.String(), "no network") {
				t.Errorf("description %q does not say there is no network", c)
			}
		})
	}
}

// TestIsolatedHostSockets checks that the host's sockets under /run, which a
// read-only mount would leave open to connect to (Docker's among them), are
// out of an isolated step's reach unless listed as writable.
func TestIsolatedHostSockets(t *testing.T) {
	dir, err := os.MkdirTemp("/run", "hookflow-sandbox-test-")
	if err != nil {
		t.Skipf("cannot make sockets under /run here: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, name := range []string{"listed.sock", "other.sock"} {
		ln, err := net.Listen("unix", filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
	}
	s := newServer(t)
	h := s.host(t)
	requireIsolated(t, h)
	// /var/run is where such sockets are usually named; it leads to /run.
	listed := filepath.Join("/var/run", filepath.Base(dir), "listed.sock")
	if _, err := os.Stat(listed); err != nil {
		listed = filepath.Join(dir, "listed.sock")
	}
	c := confine(t, h, policy(workflows.LevelIsolated, func(p *workflows.Sandbox) { p.Writable = []string{listed} }), s.ws)
	r := runScript(t, context.Background(), c, s.ws, `
for s in "$LISTED" "$OTHER"; do if [ -S "$s" ]; then echo "socket $s"; else echo "no socket $s"; fi; done`,
		"LISTED="+listed, "OTHER="+filepath.Join(dir, "other.sock"))
	want := "socket " + listed + "\nno socket " + filepath.Join(dir, "other.sock") + "\n"
	if r.err != nil || r.stdout != want {
		t.Errorf("got %q (%v), want %q\n%s", r.stdout, r.err, want, r.output())
	}
}
