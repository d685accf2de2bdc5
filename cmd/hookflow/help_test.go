package main

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata from the output")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update to accept it):\n%s", path, got)
	}
}

// TestHelpGolden pins the help and the completion scripts: asked for, they
// go to stdout with exit 0, and the two ways to ask agree.
func TestHelpGolden(t *testing.T) {
	tests := []struct {
		golden string
		args   [][]string // each prints the same
	}{
		{"help.golden", [][]string{{"help"}, {"--help"}, {"-h"}}},
		{"help-runs.golden", [][]string{{"help", "runs"}, {"runs", "--help"}, {"runs", "-h"}, {"runs", "help"}}},
		{"help-runs-list.golden", [][]string{{"runs", "list", "--help"}, {"help", "runs", "list"}, {"runs", "help", "list"}, {"runs", "list", "-h", "--workflow", "x"}}},
		{"completion.bash", [][]string{{"completion", "bash"}}},
		{"completion.zsh", [][]string{{"completion", "zsh"}}},
		{"completion.fish", [][]string{{"completion", "fish"}}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			var first string
			for i, args := range tt.args {
				code, out, errOut := hookflow(t, args...)
				if code != exitOK || errOut != "" {
					t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
				}
				if i == 0 {
					first = out
					golden(t, tt.golden, out)
				} else if out != first {
					t.Errorf("%v prints other help than %v:\n%s", args, tt.args[0], out)
				}
			}
		})
	}
}

// TestHelpEveryCommand asks every command and subcommand for its help: each
// has a synopsis, a description, its flags and an example, and none shows
// the token of the environment.
func TestHelpEveryCommand(t *testing.T) {
	const token = "help-secret-token-0123456789"
	t.Setenv("HOOKFLOW_TOKEN", token)
	t.Setenv("HOOKFLOW_SERVER", "http://127.0.0.1:1")
	for _, c := range commands() {
		if c.hidden {
			continue
		}
		paths := [][]string{{c.name}}
		for _, s := range groupSubs(c.name) {
			paths = append(paths, []string{c.name, s.name})
		}
		for _, path := range paths {
			name := strings.Join(path, " ")
			t.Run(name, func(t *testing.T) {
				code, out, errOut := hookflow(t, append([]string{"help"}, path...)...)
				if code != exitOK || errOut != "" {
					t.Fatalf("exit %d, stderr %q", code, errOut)
				}
				h := helpTexts()[name]
				if h.summary == "" || h.description == "" || h.example == "" {
					t.Errorf("help text of %q is incomplete: %+v", name, h)
				}
				for _, want := range []string{"Usage: hookflow " + name, h.description, "Example:\n  " + h.example + "\n"} {
					if !strings.Contains(out, want) {
						t.Errorf("help lacks %q:\n%s", want, out)
					}
				}
				if strings.Contains(out, token) {
					t.Errorf("help shows the token:\n%s", out)
				}
				if code, again, _ := hookflow(t, append(path, "--help")...); code != exitOK || again != out {
					t.Errorf("--help: exit %d, and prints other help than help %s:\n%s", code, name, again)
				}
			})
		}
	}
}

// TestUsageErrorsGoToStderr checks that help not asked for goes to stderr
// with exit 2, and that an unknown command for help is one.
func TestUsageErrorsGoToStderr(t *testing.T) {
	for _, args := range [][]string{{}, {"runs"}, {"runs", "list", "--bogus"}, {"help", "nope"}, {"help", "runs", "nope"}, {"completion", "tcsh"}} {
		code, out, errOut := hookflow(t, args...)
		if code != exitUsage || out != "" || errOut == "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and only stderr", args, code, out, errOut)
		}
	}
	if _, _, errOut := hookflow(t, "runs", "list", "--bogus"); !strings.Contains(errOut, "runs list takes no flag --bogus\nUsage: hookflow runs list [") {
		t.Errorf("a bad flag does not name it and show the synopsis:\n%s", errOut)
	}
}

// TestCompletionScriptsParse checks that each shell reads its script.
func TestCompletionScriptsParse(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		t.Run(sh, func(t *testing.T) {
			path, err := exec.LookPath(sh)
			if err != nil {
				t.Fatalf("%v: install it with scripts/setup-shells.sh", err)
			}
			_, script, _ := hookflow(t, "completion", sh)
			file := writeFile(t, filepath.Join(t.TempDir(), "hookflow."+sh), script)
			if out, err := exec.Command(path, "-n", file).CombinedOutput(); err != nil {
				t.Errorf("%s -n: %v\n%s", sh, err, out)
			}
		})
	}
}
