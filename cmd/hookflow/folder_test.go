package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestDefaultFolderNamed runs validate and doctor with no folder, from a
// folder like the source tree (./workflows holding Go code and its testdata)
// and from one like a user's: both say which folder they read, and a source
// folder is named as such before its errors.
func TestDefaultFolderNamed(t *testing.T) {
	t.Run("source tree", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "workflows", "load.go"), "package workflows\n")
		writeFile(t, filepath.Join(dir, "workflows", "testdata", "invalid", "bad.yaml"), "on: {}\nsteps: 3\n")
		t.Chdir(dir)

		code, out, errOut := hookflow(t, "validate")
		if code != exitFail {
			t.Errorf("validate: exit %d, want 1\n%s%s", code, out, errOut)
		}
		for _, want := range []string{
			"reading workflows from ./workflows (the default; pass a folder: hookflow validate DIR)\n",
			"./workflows holds Go files or testdata: it looks like a source folder, not a folder of workflow files\n",
			"workflows/testdata/invalid/bad.yaml:",
		} {
			if !strings.Contains(errOut, want) {
				t.Errorf("validate: stderr lacks %q:\n%s", want, errOut)
			}
		}
		if i, j := strings.Index(errOut, "reading workflows"), strings.Index(errOut, "bad.yaml:"); i < 0 || j < i {
			t.Errorf("validate: the folder is not named before the errors:\n%s", errOut)
		}

		code, out, _ = hookflow(t, "doctor")
		if code != exitFail {
			t.Errorf("doctor: exit %d, want 1\n%s", code, out)
		}
		for _, want := range []string{
			"workflows  FAIL  ./workflows: 1 file, not valid:\n",
			"reading workflows from ./workflows (the default; pass a folder with --workflows or set workflows: in hookflow.yaml)\n",
			"it looks like a source folder",
			"workflows/testdata/invalid/bad.yaml:",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("doctor: output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("workflows folder", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "workflows", "hello.yaml"), "on: {dispatch: {}}\nsteps: [{run: 'true'}]\n")
		writeFile(t, filepath.Join(dir, "workflows", "team", "bye.yml"), "on: {dispatch: {}}\nsteps: [{run: 'true'}]\n")
		t.Chdir(dir)

		code, out, errOut := hookflow(t, "validate")
		if code != exitOK || !strings.Contains(out, "2 workflows OK") {
			t.Errorf("validate: exit %d\n%s%s", code, out, errOut)
		}
		if want := "reading workflows from ./workflows (the default; pass a folder: hookflow validate DIR)\n"; errOut != want {
			t.Errorf("validate: stderr %q, want %q", errOut, want)
		}

		code, out, _ = hookflow(t, "doctor", "--data", filepath.Join(dir, "data"))
		if code != exitOK {
			t.Errorf("doctor: exit %d\n%s", code, out)
		}
		for _, want := range []string{
			"workflows  ok    2 in workflows: 2 files, 2 workflows, all valid (revision ",
			"reading workflows from ./workflows (the default;",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("doctor: output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "source folder") {
			t.Errorf("doctor: a workflows folder called a source folder:\n%s", out)
		}

		// A folder named on the command line is not the default.
		code, _, errOut = hookflow(t, "validate", "workflows/team")
		if code != exitOK || errOut != "" {
			t.Errorf("validate workflows/team: exit %d, stderr %q", code, errOut)
		}
	})
}
