// Package sandboxtest runs a package's tests a second time as an unprivileged
// user, so that sandboxed steps are tested both as root and as not: the
// sandbox takes other paths for each (user namespaces, rlimits instead of
// cgroups).
package sandboxtest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// RerunUnprivileged runs the tests of the running test binary that match
// pattern again, as uid (with gid uid, no supplementary groups), and fails t
// when they fail. Give each package a uid of its own: a per-user process
// limit counts every process of the user. When the tests do not run as root,
// there is no other user to become, and this skips: they are the
// unprivileged run.
func RerunUnprivileged(t *testing.T, uid int, pattern string) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skipf("the tests already run as uid %d, not as root", os.Getuid())
	}
	// The binary lives in the go tool's private folder, out of the user's
	// reach; a copy in a folder of its own is not.
	dir, err := os.MkdirTemp("", "hookflow-unprivileged-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, filepath.Base(os.Args[0]))
	if err := copyFile(bin, os.Args[0]); err != nil {
		t.Fatal(err)
	}
	args := []string{"-test.run", pattern, "-test.count=1", "-test.timeout=15m"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=/", "TMPDIR=" + os.TempDir(), "LANG=C.UTF-8"}
	if v, ok := os.LookupEnv("GORACE"); ok {
		cmd.Env = append(cmd.Env, "GORACE="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	report := fmt.Sprintf("tests matching %s, as uid %d:\n%s", pattern, uid, indent(out.String()))
	if err != nil {
		t.Errorf("%s\n%v", report, err)
		return
	}
	if !strings.Contains(out.String(), "PASS") || strings.Contains(out.String(), "testing: warning: no tests to run") {
		t.Errorf("%s\nno test ran", report)
		return
	}
	t.Log(report)
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func indent(s string) string {
	return "\t" + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n\t")
}
