package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/store/sqlite"
)

// TestDoctor checks what `hookflow doctor` says of a configuration, its
// store and this machine's sandbox, and its exit codes.
func TestDoctor(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeFile(t, filepath.Join(dir, "workflows", "hello.yaml"), "on: {dispatch: {}}\nsteps: [{run: 'true'}]\n")
	config := writeFile(t, filepath.Join(dir, "hookflow.yaml"),
		"workflows: "+filepath.Join(dir, "workflows")+"\ndata_dir: "+data+"\nsandbox: {level: isolated, memory: 1Gi}\n")
	check := func(t *testing.T, wantCode int, want ...string) string {
		t.Helper()
		code, out, errOut := hookflow(t, "doctor", "--config", config)
		if code != wantCode {
			t.Errorf("exit %d, want %d\n%s%s", code, wantCode, out, errOut)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
		return out
	}

	t.Run("fresh", func(t *testing.T) {
		check(t, exitOK,
			"config     ok    "+config+"\n",
			"workflows  ok    1 in "+filepath.Join(dir, "workflows"),
			"store      ok    sqlite://"+filepath.Join(data, "hookflow.db")+" does not exist yet",
			"sandbox    ok    level isolated\n",
			"process    ok    available:",
			"isolated   ok    available: bubblewrap ",
			"landlock ",
			"cgroups ",
			"user ",
		)
	})

	t.Run("store", func(t *testing.T) {
		if err := os.MkdirAll(data, 0o700); err != nil {
			t.Fatal(err)
		}
		st, err := sqlite.Open(context.Background(), filepath.Join(data, "hookflow.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		check(t, exitOK, "store      ok    sqlite://"+filepath.Join(data, "hookflow.db")+"\n")
	})

	t.Run("no bubblewrap", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		check(t, exitFail,
			"sandbox    FAIL  level isolated is configured but not available: bubblewrap is not installed",
			"isolated   warn  not available: bubblewrap is not installed")
	})

	t.Run("invalid config", func(t *testing.T) {
		writeFile(t, config, "sandbox: {level: strict}\n")
		check(t, exitFail, `config     FAIL  config: sandbox level "strict": use auto, isolated or process`, "process    ok ")
	})
}

// doctor shows a folder's first errors and says how to see the rest.
func TestDoctorShowsFirstErrors(t *testing.T) {
	for _, tc := range []struct {
		name, msg, want string
	}{
		{"few", "a:1:1: x\nb:1:1: y", "a:1:1: x\nb:1:1: y"},
		{"exactly n", "1\n2\n3\n4\n5", "1\n2\n3\n4\n5"},
		{"more", "1\n2\n3\n4\n5\n6\n7", "1\n2\n3\n4\n5\n… and 2 more: hookflow validate ./wf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := firstErrors(tc.msg, doctorErrors, "./wf"); got != tc.want {
				t.Errorf("firstErrors = %q, want %q", got, tc.want)
			}
		})
	}
}
