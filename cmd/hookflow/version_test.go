package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestStampedVersion(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: "2026-12-04T21:28:53Z"}, {Key: "vcs.modified", Value: modified}}
	}
	for _, tc := range []struct {
		name, linked, module string
		settings             []debug.BuildSetting
		want                 string
	}{
		{"linker stamp wins", "v1.2.0", "(devel)", vcs("a8332b0f00", "true"), "v1.2.0"},
		{"go install module@version", "dev", "v1.3.0", nil, "v1.3.0"},
		{"clean checkout", "dev", "(devel)", vcs("a8332b0f00", "false"), "dev-a8332b0"},
		{"uncommitted changes", "dev", "(devel)", vcs("a8332b0f00", "true"), "dev-a8332b0-dirty"},
		{"no stamp", "dev", "(devel)", nil, "dev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := &debug.BuildInfo{Main: debug.Module{Version: tc.module}, Settings: tc.settings}
			if got := stampedVersion(tc.linked, info); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestBuiltBinaryVersion builds hookflow from a clone of this repository, the
// way make build and a plain go build do, and checks that `hookflow version`
// and the server's first line name the commit rather than "dev" (go build
// makes a pseudo-version of it, v0.0.0-TIME-REVISION).
func TestBuiltBinaryVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary three times")
	}
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not in a git checkout (%v): nothing to stamp", err)
	}
	clone := filepath.Join(t.TempDir(), "hookflow")
	gitCmd(t, t.TempDir(), "clone", "-q", strings.TrimSpace(string(root)), clone)
	rev := strings.TrimSpace(gitCmd(t, clone, "rev-parse", "--short=7", "HEAD"))
	// The environment may turn stamping off (GOFLAGS=-buildvcs=false); a
	// user's build has it on.
	env := append(os.Environ(), "GOFLAGS=-buildvcs=true", "GOPROXY=off")
	build := func(t *testing.T, args ...string) string {
		t.Helper()
		bin := filepath.Join(t.TempDir(), "hookflow")
		cmd := exec.Command("go", append(append([]string{"build"}, args...), "-o", bin, "./cmd/hookflow")...)
		cmd.Dir, cmd.Env = clone, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		return bin
	}
	version := func(t *testing.T, bin string) string {
		t.Helper()
		out, err := exec.Command(bin, "version").Output()
		if err != nil {
			t.Fatalf("%s version: %v", bin, err)
		}
		return strings.TrimSpace(string(out))
	}

	t.Run("go build", func(t *testing.T) {
		bin := build(t)
		got := version(t, bin)
		if !strings.Contains(got, rev) || strings.Contains(got, "dirty") {
			t.Errorf("version %q does not name the clean commit %s", got, rev)
		}
		// The server says the same in its first line.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		data := t.TempDir()
		cmd := exec.CommandContext(ctx, bin, "serve", "--listen", "127.0.0.1:0", "--data", data,
			"--workflows", filepath.Join(clone, "examples", "quickstart", "workflows"))
		cmd.Dir = data
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
		defer cmd.Process.Kill()
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			t.Fatalf("serve printed no line: %v", err)
		}
		if want := got + " listening on "; !strings.HasPrefix(line, want) {
			t.Errorf("serve's first line %q, want it to start %q", line, want)
		}
	})

	t.Run("uncommitted changes", func(t *testing.T) {
		f, err := os.OpenFile(filepath.Join(clone, "README.md"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("\nlocal note\n")
		f.Close()
		defer gitCmd(t, clone, "checkout", "-q", "README.md")
		if got := version(t, build(t)); !strings.Contains(got, rev) || !strings.Contains(got, "dirty") {
			t.Errorf("version %q does not name the commit %s with uncommitted changes", got, rev)
		}
	})

	t.Run("make build", func(t *testing.T) {
		cmd := exec.Command("make", "build", "GO=go")
		cmd.Dir, cmd.Env = clone, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make build: %v\n%s", err, out)
		}
		if got := version(t, filepath.Join(clone, "bin", "hookflow")); !strings.Contains(got, rev) {
			t.Errorf("version %q does not name the commit %s", got, rev)
		}
	})
}
