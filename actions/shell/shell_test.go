package shell

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/workflows"
)

// TestKind checks the kind of run: steps: its name, the settings the loader
// gives it, and that building it decodes them strictly.
func TestKind(t *testing.T) {
	k := Kind()
	if k.Name != workflows.RunAction {
		t.Errorf("Name = %q, want %q", k.Name, workflows.RunAction)
	}
	if got := actions.ParamKeys(k.Params); !slices.Equal(got, []string{"script", "shell"}) {
		t.Errorf("ParamKeys = %v, want [script shell]", got)
	}
	if _, err := actions.NewRegistry(k); err != nil {
		t.Errorf("NewRegistry: %v", err)
	}
	a, err := k.New(map[string]any{"script": "true", "shell": "python3"})
	if err != nil {
		t.Fatal(err)
	}
	if sh := a.(*Action); sh.script != "true" || sh.shell != "python3" {
		t.Errorf("built %+v, want script true with python3", sh)
	}
	for with, want := range map[string]map[string]any{
		`unknown field "env"`: {"script": "true", "env": map[string]any{}},
		"script is empty":     {"shell": "sh"},
		`shell "zsh"`:         {"script": "true", "shell": "zsh"},
	} {
		if _, err := k.New(want); err == nil || !strings.Contains(err.Error(), with) {
			t.Errorf("New(%v) = %v, want an error containing %q", want, err, with)
		}
	}
}

func TestNew(t *testing.T) {
	cases := []struct {
		name    string
		params  Params
		wantErr string
	}{
		{name: "default shell", params: Params{Script: "true"}},
		{name: "bash", params: Params{Script: "true", Shell: "bash"}},
		{name: "sh", params: Params{Script: "true", Shell: "sh"}},
		{name: "python3", params: Params{Script: "pass", Shell: "python3"}},
		{name: "template", params: Params{Script: "true", Shell: "node --trace {file}"}},
		{name: "script run directly", params: Params{Script: "true", Shell: "{file}"}},
		{name: "empty script", params: Params{Script: ""}, wantErr: "script is empty"},
		{name: "blank script", params: Params{Script: " \n\t"}, wantErr: "script is empty"},
		{name: "unknown shell", params: Params{Script: "true", Shell: "zsh"}, wantErr: `shell "zsh": write bash, sh, python3, or a command containing {file}`},
		{name: "template without {file}", params: Params{Script: "true", Shell: "perl -e"}, wantErr: "containing {file}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := New(tc.params)
			if tc.wantErr != "" {
				checkErr(t, err, tc.wantErr)
				return
			}
			checkErr(t, err)
			if a == nil {
				t.Fatal("New returned no Action")
			}
		})
	}
}

// TestKillGraceDefault checks that a step that does not say how long its
// processes get after SIGTERM gets DefaultKillGrace, and one that says gets
// what it says.
func TestKillGraceDefault(t *testing.T) {
	if got := killGrace(&actions.Step{}); got != DefaultKillGrace {
		t.Errorf("killGrace of a step without KillGrace = %s, want %s", got, DefaultKillGrace)
	}
	if got := killGrace(&actions.Step{KillGrace: time.Second}); got != time.Second {
		t.Errorf("killGrace of a step with KillGrace 1s = %s", got)
	}
}

// TestEnvIsExactlyTheStepEnv checks that a step's processes see the step's
// environment and nothing of the server's.
func TestEnvIsExactlyTheStepEnv(t *testing.T) {
	t.Setenv("HOOKFLOW_LEAK_CANARY", "leaked")
	// Variables the shells set for themselves.
	shellSet := []string{"PWD", "OLDPWD", "SHLVL", "_"}
	cases := []struct {
		name   string
		shell  string
		script string
	}{
		{name: "default shell", script: "env"},
		{name: "sh", shell: "sh", script: "env"},
		{name: "python3", shell: "python3", script: "import os\nfor k, v in os.environ.items():\n    print(k + '=' + v)\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStep(t, "APP=web", "GREETING=hello world", "EMPTY=")
			if tc.shell == "python3" {
				s.Env[0] = "PATH=" + testPath + ":" + pythonDir(t)
			}
			_, err := runStep(t, mustNew(t, tc.script, tc.shell), s)
			checkErr(t, err)

			var got []string
			for _, line := range strings.Split(strings.TrimSpace(s.Stdout.(*bytes.Buffer).String()), "\n") {
				name, _, _ := strings.Cut(line, "=")
				if !slices.Contains(shellSet, name) {
					got = append(got, line)
				}
			}
			want := slices.Clone(s.Env)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("the script saw\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestWorkingDir(t *testing.T) {
	cases := []struct {
		name string
		dir  func(ws string) string
	}{
		{name: "absolute", dir: func(ws string) string { return filepath.Join(ws, "src") }},
		{name: "relative to the workspace", dir: func(string) string { return "src" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStep(t)
			want := filepath.Join(s.Workspace, "src")
			if err := os.Mkdir(want, 0o755); err != nil {
				t.Fatal(err)
			}
			s.Dir = tc.dir(s.Workspace)
			res, err := runStep(t, mustNew(t, `echo "dir=$(pwd -P)" >> "$HOOKFLOW_OUTPUT"`, ""), s)
			checkErr(t, err)
			want, _ = filepath.EvalSymlinks(want)
			checkOutputs(t, res.Outputs, map[string]string{"dir": want})
		})
	}
}

func TestExitCode(t *testing.T) {
	cases := []struct {
		name     string
		script   string
		wantCode int
		wantErr  []string
	}{
		{name: "success", script: "exit 0"},
		{name: "exit 3", script: "exit 3", wantCode: 3, wantErr: []string{"exit code 3"}},
		{name: "last command fails", script: "true\nfalse", wantCode: 1, wantErr: []string{"exit code 1"}},
		{name: "killed by a signal", script: "kill -KILL $$", wantCode: 128 + 9, wantErr: []string{"exit code 137", "killed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := runStep(t, mustNew(t, tc.script, ""), newStep(t))
			checkErr(t, err, tc.wantErr...)
			if res.ExitCode != tc.wantCode {
				t.Errorf("exit code = %d, want %d", res.ExitCode, tc.wantCode)
			}
			// A failing script is not an error the runner must never retry.
			if err != nil && !actions.IsRetryable(err) {
				t.Errorf("error %v is marked permanent", err)
			}
		})
	}
}

// TestShell checks which program runs the script, and how.
func TestShell(t *testing.T) {
	// shOnly holds nothing but sh, to show that bash is looked up on the
	// step's PATH, not the server's.
	shOnly := t.TempDir()
	if err := os.Symlink("/bin/sh", filepath.Join(shOnly, "sh")); err != nil {
		t.Fatal(err)
	}
	const after = "\necho after=yes >> \"$HOOKFLOW_OUTPUT\""
	cases := []struct {
		name        string
		shell       string
		script      string
		path        string // the step's PATH; testPath when empty
		needsPython bool
		wantCode    int
		want        map[string]string
	}{
		{name: "default is bash with pipefail", script: "false | true" + after, wantCode: 1},
		{name: "default stops at the first error", script: "false" + after, wantCode: 1},
		{name: "default runs bash", script: `echo "bash=${BASH_VERSION:+yes}" >> "$HOOKFLOW_OUTPUT"`, want: map[string]string{"bash": "yes"}},
		{name: "default falls back to sh without bash on the step's PATH", path: shOnly, script: `echo "bash=${BASH_VERSION:+yes}" >> "$HOOKFLOW_OUTPUT"`, want: map[string]string{"bash": ""}},
		{name: "bash has pipefail", shell: "bash", script: "false | true" + after, wantCode: 1},
		{name: "sh has no pipefail", shell: "sh", script: "false | true" + after, want: map[string]string{"after": "yes"}},
		{name: "sh stops at the first error", shell: "sh", script: "false" + after, wantCode: 1},
		{
			name: "python3", shell: "python3", needsPython: true,
			script: "import os\nwith open(os.environ['HOOKFLOW_OUTPUT'], 'a') as f:\n    f.write('lang=python\\n')\n",
			want:   map[string]string{"lang": "python"},
		},
		{name: "python3 exit code", shell: "python3", needsPython: true, script: "raise SystemExit(4)", wantCode: 4},
		{name: "template without -e", shell: "sh {file}", script: "false" + after, want: map[string]string{"after": "yes"}},
		{name: "template with arguments", shell: "env MODE=template sh {file}", script: `echo "mode=$MODE" >> "$HOOKFLOW_OUTPUT"`, want: map[string]string{"mode": "template"}},
		{name: "template runs the file itself", shell: "{file}", script: "#!/bin/sh\necho direct=yes >> \"$HOOKFLOW_OUTPUT\"", want: map[string]string{"direct": "yes"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStep(t)
			switch {
			case tc.path != "":
				s.Env[0] = "PATH=" + tc.path
			case tc.needsPython:
				s.Env[0] = "PATH=" + testPath + ":" + pythonDir(t)
			}
			res, err := runStep(t, mustNew(t, tc.script, tc.shell), s)
			if tc.wantCode == 0 {
				checkErr(t, err)
			} else {
				checkErr(t, err, "exit code "+strconv.Itoa(tc.wantCode))
			}
			if res.ExitCode != tc.wantCode {
				t.Errorf("exit code = %d, want %d", res.ExitCode, tc.wantCode)
			}
			if tc.want == nil {
				tc.want = map[string]string{}
			}
			checkOutputs(t, res.Outputs, tc.want)
		})
	}
}

// TestNotStarted checks the failures that happen before a script runs: they
// are permanent, and report exit code -1.
func TestNotStarted(t *testing.T) {
	empty := t.TempDir()
	cases := []struct {
		name    string
		shell   string
		modify  func(s *actions.Step)
		wantErr string
	}{
		{name: "bash not on the step's PATH", shell: "bash", modify: func(s *actions.Step) { s.Env[0] = "PATH=" + empty }, wantErr: "shell bash: not found on the step's PATH"},
		{name: "no shell on the step's PATH", modify: func(s *actions.Step) { s.Env[0] = "PATH=" + empty }, wantErr: "neither bash nor sh"},
		{name: "no PATH at all", shell: "sh", modify: func(s *actions.Step) { s.Env = s.Env[1:] }, wantErr: "has no PATH"},
		{name: "relative PATH entries are not searched", shell: "sh", modify: func(s *actions.Step) { s.Env[0] = "PATH=bin:" }, wantErr: "shell sh: not found"},
		{name: "template program missing", shell: "no-such-interpreter {file}", wantErr: "shell no-such-interpreter: not found"},
		{name: "working directory missing", modify: func(s *actions.Step) { s.Dir = filepath.Join(s.Workspace, "nope") }, wantErr: "start bash"},
		{name: "no temp folder", modify: func(s *actions.Step) { s.TempDir = "" }, wantErr: "no temp folder"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStep(t)
			if tc.modify != nil {
				tc.modify(s)
			}
			res, err := runStep(t, mustNew(t, "echo ran > ran", tc.shell), s)
			checkErr(t, err, tc.wantErr)
			var ae *actions.Error
			if !errors.As(err, &ae) || ae.Retryable {
				t.Errorf("error %v is not marked permanent", err)
			}
			if res.ExitCode != -1 {
				t.Errorf("exit code = %d, want -1", res.ExitCode)
			}
		})
	}

	t.Run("context already done", func(t *testing.T) {
		s := newStep(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		res, err := mustNew(t, "echo ran > ran", "").Run(ctx, s)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want one wrapping context.Canceled", err)
		}
		if res.ExitCode != -1 {
			t.Errorf("exit code = %d, want -1", res.ExitCode)
		}
		if _, err := os.Stat(filepath.Join(s.Dir, "ran")); err == nil {
			t.Error("the script ran")
		}
	})
}

// TestProcessSetup checks what a step process starts with besides its
// environment: stdin from /dev/null and a process group of its own.
func TestProcessSetup(t *testing.T) {
	script := `echo "stdin=$(readlink /proc/self/fd/0)" >> "$HOOKFLOW_OUTPUT"
echo "pid=$$" >> "$HOOKFLOW_OUTPUT"
echo "pgid=$(cut -d' ' -f5 /proc/$$/stat)" >> "$HOOKFLOW_OUTPUT"
cat` // would block if stdin were a terminal or pipe left open
	res, err := runStep(t, mustNew(t, script, ""), newStep(t))
	checkErr(t, err)
	if got := res.Outputs["stdin"]; got != "/dev/null" {
		t.Errorf("stdin is %v, want /dev/null", got)
	}
	if res.Outputs["pgid"] != res.Outputs["pid"] {
		t.Errorf("process group %v, want the script's own (%v)", res.Outputs["pgid"], res.Outputs["pid"])
	}
	if res.Outputs["pgid"] == strconv.Itoa(syscall.Getpgrp()) {
		t.Errorf("the script runs in the test's process group %v", res.Outputs["pgid"])
	}
}

// TestScriptFileRemoved checks that attempts do not pile up script files.
func TestScriptFileRemoved(t *testing.T) {
	s := newStep(t)
	_, err := runStep(t, mustNew(t, `echo "file=$0" >> "$HOOKFLOW_OUTPUT"`, ""), s)
	checkErr(t, err)
	entries, err := os.ReadDir(s.TempDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "output" {
			t.Errorf("%s left in the temp folder", e.Name())
		}
	}
}
