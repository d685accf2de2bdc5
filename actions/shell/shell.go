// Package shell runs a `run:` step: its script is written to a file in the step's
// temp folder and started with a shell (SPEC §2.2) in a process group of its own,
// with exactly the step's environment, stdin from /dev/null and its output
// streamed to the step's log. When the script ends, the outputs it wrote to
// $HOOKFLOW_OUTPUT are parsed and whatever it left running is killed.
package shell

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/workflows"
)

// DefaultKillGrace is how long a cancelled step's processes get to exit after
// SIGTERM before they are sent SIGKILL, unless the step says (KillGrace).
const DefaultKillGrace = 5 * time.Second

// fileToken is replaced by the script's path in a shell template.
const fileToken = "{file}"

// Kind is the action kind of `run:` steps (workflows.RunAction). The loader
// sets its settings from the step's run: and shell: (or defaults.shell);
// `uses:` cannot name it.
func Kind() actions.Kind {
	return actions.Kind{
		Name:   workflows.RunAction,
		Params: &Params{},
		New: func(with map[string]any) (actions.Action, error) {
			var p Params
			if err := actions.Decode(with, &p); err != nil {
				return nil, err
			}
			return New(p)
		},
	}
}

// Params are a `run:` step's settings.
type Params struct {
	// Script is the text of `run:`.
	Script string `json:"script"`
	// Shell is "" (bash if the step's PATH has it, else sh), "bash", "sh",
	// "python3", or a command template containing {file}, e.g. "node {file}".
	Shell string `json:"shell"`
}

// Action runs one script. It holds no per-run state, so one Action may serve
// several attempts and steps.
type Action struct {
	script string
	// shell is "", "bash", "sh" or "python3"; template is set instead for a
	// custom command, already split into its arguments.
	shell    string
	template []string
}

var _ actions.Action = (*Action)(nil)

// New validates p and returns the Action that runs it. It has no side effects.
func New(p Params) (*Action, error) {
	if strings.TrimSpace(p.Script) == "" {
		return nil, errors.New("the script is empty")
	}
	a := &Action{script: p.Script}
	switch sh := strings.TrimSpace(p.Shell); sh {
	case "", "bash", "sh", "python3":
		a.shell = sh
	default:
		if !strings.Contains(sh, fileToken) {
			return nil, fmt.Errorf("shell %q: write bash, sh, python3, or a command containing {file}, e.g. \"node {file}\"", p.Shell)
		}
		a.template = strings.Fields(sh)
	}
	return a, nil
}

// Run writes the script to a file in s.TempDir, runs it in s.Dir with exactly
// s.Env and returns its exit code and outputs. A script that cannot be started
// is a permanent error; a non-zero exit is an error "exit code N"; when ctx ends
// first, the error says why (actions.StopCause) and wraps ctx.Err(). Outputs
// are returned even with an error.
func (a *Action) Run(ctx context.Context, s *actions.Step) (actions.Result, error) {
	res := actions.Result{ExitCode: -1}
	if ctx.Err() != nil {
		return res, fmt.Errorf("step not started: %w", actions.StopCause(ctx))
	}
	if err := checkEnv(s.Env); err != nil {
		return res, actions.Permanent(err)
	}
	file, err := a.writeScript(s)
	if err != nil {
		return res, err
	}
	defer os.Remove(file)

	path, args, err := a.command(file, envValue(s.Env, "PATH"))
	if err != nil {
		return res, actions.Permanent(err)
	}
	code, started, runErr := a.execute(ctx, s, path, args)
	res.ExitCode = code
	if !started {
		return res, runErr
	}
	var outErr error
	res.Outputs, res.Env, res.Summary, outErr = readStepFiles(s)
	switch {
	case outErr == nil:
		return res, runErr
	case runErr == nil:
		return res, outErr
	default:
		return res, errors.Join(runErr, outErr)
	}
}

// shellCodeVars are variables whose values shells run as code before, or
// while, running a script: bash sources $BASH_ENV (after expanding $(…) in
// it), sh and bash in POSIX mode $ENV, SHELLOPTS and BASHOPTS turn on options
// such as xtrace, and xtrace expands $(…) in PS4. A value from an event in one
// of them would run as code, so a step may not set them.
var shellCodeVars = []string{"BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4"}

// checkEnv refuses an environment that sets one of shellCodeVars.
func checkEnv(env []string) error {
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if slices.Contains(shellCodeVars, name) {
			return fmt.Errorf("env %s: shells run its value as code, so a step may not set it; use another name, or set it inside the script", name)
		}
	}
	return nil
}

// killGrace is the step's KillGrace with its default applied.
func killGrace(s *actions.Step) time.Duration {
	if s.KillGrace <= 0 {
		return DefaultKillGrace
	}
	return s.KillGrace
}

// writeScript writes the script to a new file in the step's temp folder and
// returns its absolute path. The file is private to the step's user, and
// executable only when the template runs it directly ("{file} --flag").
func (a *Action) writeScript(s *actions.Step) (string, error) {
	if s.TempDir == "" {
		// os.CreateTemp would fall back to the server's /tmp, outside the sandbox.
		return "", actions.Permanent(errors.New("step has no temp folder for its script"))
	}
	dir, err := filepath.Abs(inWorkspace(s, s.TempDir))
	if err != nil {
		return "", fmt.Errorf("script: %w", err)
	}
	ext := ".sh"
	switch {
	case a.shell == "python3":
		ext = ".py"
	case a.template != nil:
		ext = "" // the template's interpreter is unknown; keep the name neutral
	}
	f, err := os.CreateTemp(dir, "run-*"+ext) // mode 0600
	if err != nil {
		return "", fmt.Errorf("script: %w", err)
	}
	_, err = f.WriteString(a.script)
	if err == nil && a.template != nil && strings.Contains(a.template[0], fileToken) {
		err = f.Chmod(0o700)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("script: %w", err)
	}
	return f.Name(), nil
}

// command returns the program and arguments that run the script file, the
// program found on the step's PATH (never the server's).
func (a *Action) command(file, pathEnv string) (string, []string, error) {
	// --noprofile --norc: only the step's environment shapes the script.
	bash := []string{"bash", "--noprofile", "--norc", "-eo", "pipefail", file}
	if a.template != nil {
		args := make([]string, len(a.template))
		for i, f := range a.template {
			args[i] = strings.ReplaceAll(f, fileToken, file)
		}
		prog, err := lookPath(args[0], pathEnv)
		return prog, args, err
	}
	switch a.shell {
	case "":
		if prog, err := lookPath("bash", pathEnv); err == nil {
			return prog, bash, nil
		}
		prog, err := lookPath("sh", pathEnv)
		if err != nil {
			return "", nil, fmt.Errorf("no shell: neither bash nor sh is on the step's PATH %q", pathEnv)
		}
		return prog, []string{"sh", "-e", file}, nil
	case "bash":
		prog, err := lookPath("bash", pathEnv)
		return prog, bash, err
	case "sh":
		prog, err := lookPath("sh", pathEnv)
		return prog, []string{"sh", "-e", file}, err
	default: // python3, as New allows no other
		prog, err := lookPath("python3", pathEnv)
		return prog, []string{"python3", file}, err
	}
}

// lookPath finds an executable named name in the directories of pathEnv, the
// step's PATH. A name with a slash is used as it is (relative names are taken
// from the step's working directory). Relative PATH entries, the empty one
// included, are skipped, for the same reason os/exec refuses them: a program
// found that way is picked by whoever writes the current directory.
func lookPath(name, pathEnv string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if pathEnv == "" {
		return "", fmt.Errorf("shell %s: not found: the step's environment has no PATH", name)
	}
	return "", fmt.Errorf("shell %s: not found on the step's PATH %q", name, pathEnv)
}

// envValue returns the value of key in env, a list of KEY=value pairs. The last
// one wins, as it does for os/exec and the shells.
func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// inWorkspace resolves a relative path of the step against its workspace, as
// actions.Step documents; absolute and empty paths are returned as they are.
func inWorkspace(s *actions.Step, p string) string {
	if p == "" || filepath.IsAbs(p) || s.Workspace == "" {
		return p
	}
	return filepath.Join(s.Workspace, p)
}
