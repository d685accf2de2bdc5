// Package actions defines what a workflow step does: the Action interface, the
// Step it is given, and the registry of the kinds a step may name with `uses:`.
//
// A kind is registered once, by name, with a constructor that strictly decodes the
// step's rendered `with:` values. Constructors have no side effects; all work
// happens in Run.
package actions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hookflow/hookflow/internal/mask"
	"github.com/hookflow/hookflow/workflows"
)

// Action is one step's work, built by a Kind's New from the step's rendered `with:`.
//
// Run is called once per attempt, from a single goroutine. It must return when ctx
// is done, having stopped every process it started. Output meant for the run's log
// goes to s.Stdout and s.Stderr. A returned error fails the step; wrap it in a
// *Error to say whether another attempt may succeed.
type Action interface {
	Run(ctx context.Context, s *Step) (Result, error)
}

// Step is everything an action may use while it runs. The runner owns it.
type Step struct {
	// Workspace is the run's private folder; relative paths are resolved against it.
	Workspace string
	// Dir is the working directory for processes, inside Workspace unless absolute.
	Dir string
	// Env is the complete environment for processes, as KEY=value pairs. Nothing of
	// the server's own environment is added to it.
	Env []string
	// Stdout and Stderr receive the step's log output. They are safe to use from two
	// goroutines at once (one for each).
	Stdout io.Writer
	Stderr io.Writer
	// OutputFile is the file a process writes name=value outputs to
	// ($HOOKFLOW_OUTPUT). It exists and is empty when Run starts.
	OutputFile string
	// EnvFile is the file a process writes NAME=value lines to
	// ($HOOKFLOW_ENV) for the job's later steps, and SummaryFile the file it
	// writes Markdown to ($HOOKFLOW_STEP_SUMMARY). Each exists and is empty
	// when Run starts, or is "" when the runner offers none.
	EnvFile     string
	SummaryFile string
	// TempDir is a folder inside Workspace for the step's own files (scripts).
	TempDir string
	// Mask hides the run's secrets. What goes to Stdout and Stderr, and the
	// errors an action returns, are masked with it by the runner; an action
	// uses it (With its own credentials) for errors and lines that may quote
	// a secret in a form the runner cannot know, such as a URL it parsed. It
	// may be nil, which masks nothing.
	Mask *mask.Masker
	// Render renders the ${{ }} templates in text with the step's scope (SPEC
	// §2.1), for templates an action reads only while it runs, such as manifest
	// files. The result is a string, values spliced in as workflows.Stringify
	// writes them. It is nil when the runner offers no scope.
	Render func(text string) (string, error)
	// Sandbox starts the step's processes confined as the step's `sandbox:`
	// asks (SPEC §7). The runner sets it for `run:` steps; an action that starts
	// processes must start them through it when it is set. When it is nil the
	// action starts them itself, each in a process group of its own.
	Sandbox Sandbox
	// KillGrace is how long the processes of a step that ctx stops get
	// between SIGTERM and SIGKILL; 0 means the action's own default.
	KillGrace time.Duration
	// Workflow, Job and StepID name the step: its workflow's name, its job's
	// id (empty in a workflow of `steps:` alone) and its key (the step's id,
	// or step-N). An action that leaves state for its next run, such as an
	// apply's ApplySet, may name it after them.
	Workflow, Job, StepID string
	// Hidden are the absolute paths, symbolic links resolved, that the step
	// must not read: the server's own files and the `sandbox.hidden` paths.
	// The sandbox masks them for processes; an action that reads files
	// itself must refuse them, but for those in Workspace, which is inside
	// the server's data folder.
	Hidden []string
}

// Sandbox starts a step's processes confined: in a namespace sandbox or as a
// plain process, with resource limits, no_new_privs and, when asked, another
// user. One Sandbox serves one step, all its attempts; Start is called from
// one goroutine at a time.
type Sandbox interface {
	// Start starts cmd, which is complete but not yet started, confined. It may
	// change cmd's Path, Args, Env, ExtraFiles and SysProcAttr to do so; the
	// caller sets Dir, Stdin, Stdout and Stderr before, and calls cmd.Wait
	// after, as with cmd.Start. The started process leads a process group and
	// a session of its own. An error means that nothing was started; it is a
	// permanent *Error when the sandbox cannot be applied on this machine.
	Start(cmd *exec.Cmd) (Process, error)
}

// Process is a step process started by a Sandbox, with everything it starts.
// Its methods may be called from any goroutine, also after cmd.Wait returned.
type Process interface {
	// Signal sends sig to every process of the step still running. SIGKILL
	// also reaches processes that left the process group, as far as the
	// sandbox can find them (a PID namespace, a cgroup).
	Signal(sig syscall.Signal)
	// Alive reports whether any process of the step may still be running.
	Alive() bool
	// Release frees what Start set up, such as a cgroup. Call it once, after
	// cmd.Wait has returned and the last processes were sent SIGKILL; it may
	// wait a moment for them to go.
	Release() error
}

// Result is what a finished step reports.
type Result struct {
	// Outputs are readable by later steps as steps.<id>.outputs.<name>.
	Outputs map[string]any
	// ExitCode is the process exit status for steps that run a process, else 0.
	ExitCode int
	// Env are the variables the step set for the job's later steps
	// (EnvFile), and Summary the Markdown it wrote (SummaryFile).
	Env     map[string]string
	Summary string
}

// Error is an action failure that says whether a retry might succeed.
type Error struct {
	// Retryable is true when the same attempt might succeed later (a network
	// error, a 5xx), false when it cannot (bad settings, a 4xx, a failing script).
	Retryable bool
	Err       error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Permanent marks err as one that another attempt would not fix.
func Permanent(err error) error { return &Error{Retryable: false, Err: err} }

// Retryable marks err as one that another attempt might fix.
func Retryable(err error) error { return &Error{Retryable: true, Err: err} }

// IsRetryable reports whether err is worth another attempt. Errors that do not say
// are assumed transient, as a failing shell command may be.
func IsRetryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable
	}
	return true
}

// StopCause is why ctx ended, for the error of an action that ctx stopped.
// Its text is context.Cause(ctx) — who cancelled the run, which timeout ran
// out — rather than "context canceled", and it matches both that cause and
// ctx.Err() with errors.Is, as Run's contract asks. It is nil while ctx goes on.
func StopCause(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	cause := context.Cause(ctx)
	if cause == nil || cause == err {
		return err
	}
	return &stopCause{cause: cause, err: err}
}

// stopCause reads as cause and unwraps to cause and err (ctx.Err()).
type stopCause struct{ cause, err error }

func (e *stopCause) Error() string   { return e.cause.Error() }
func (e *stopCause) Unwrap() []error { return []error{e.cause, e.err} }

// Kind is a named action type a step can select with `uses:`, or, for the
// kind named workflows.RunAction, the one every `run:` step uses.
type Kind struct {
	// Name is what `uses:` says, e.g. "http".
	Name string
	// Params is a pointer to the zero value of the kind's settings struct. Its json
	// tags are the accepted `with:` keys; the loader and the JSON Schema read them.
	// A string field tagged template:"url" holds a URL: the loader compiles its
	// templates so that each value is escaped for the part of the URL it
	// stands in.
	Params any
	// New strictly decodes the rendered `with:` values (unknown keys are errors),
	// validates them and returns a ready Action. It must not have side effects.
	New func(with map[string]any) (Action, error)
}

// Registry holds the kinds steps may use: those `uses:` names and the one of
// `run:` steps (workflows.RunAction). It is filled once at start-up and only
// read after that, so reads need no lock.
type Registry struct {
	kinds map[string]Kind
}

// NewRegistry returns a registry holding kinds, or an error if two share a name.
func NewRegistry(kinds ...Kind) (*Registry, error) {
	r := &Registry{kinds: make(map[string]Kind, len(kinds))}
	for _, k := range kinds {
		if err := r.Add(k); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Add registers k. A second kind with the same name is an error.
func (r *Registry) Add(k Kind) error {
	if k.Name == "" || k.New == nil || k.Params == nil {
		return fmt.Errorf("action kind %q: Name, Params and New are required", k.Name)
	}
	if _, dup := r.kinds[k.Name]; dup {
		return fmt.Errorf("action kind %q registered twice", k.Name)
	}
	if err := checkTemplateTags(k.Params); err != nil {
		return fmt.Errorf("action kind %q: %w", k.Name, err)
	}
	r.kinds[k.Name] = k
	return nil
}

// Lookup returns the kind called name.
func (r *Registry) Lookup(name string) (Kind, bool) {
	k, ok := r.kinds[name]
	return k, ok
}

// Names lists the kinds `uses:` may name, for error messages and the schema:
// every registered kind but the one of `run:` steps.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		if n != workflows.RunAction {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// CheckAction validates a step's action at load time (workflows.ActionChecker):
// the kind must exist, every key must be one of its settings, and settings
// that hold no expressions (rendered != nil) must build.
func (r *Registry) CheckAction(kind string, keys []string, rendered map[string]any) error {
	k, ok := r.kinds[kind]
	if !ok {
		return fmt.Errorf("unknown action %q: use one of %s", kind, strings.Join(r.Names(), ", "))
	}
	known := ParamKeys(k.Params)
	for _, key := range keys {
		if !slices.Contains(known, key) {
			return workflows.SuggestKey(key, known)
		}
	}
	if rendered == nil {
		return nil
	}
	_, err := k.New(rendered)
	return err
}

// URLKeys lists the `with:` keys of kind whose values are URLs
// (workflows.ActionChecker); nil for an unknown kind.
func (r *Registry) URLKeys(kind string) []string {
	k, ok := r.kinds[kind]
	if !ok {
		return nil
	}
	return URLKeys(k.Params)
}

// ParamKeys lists the `with:` keys of a settings struct: its json tag names.
func ParamKeys(params any) []string {
	var keys []string
	for _, f := range paramFields(params) {
		keys = append(keys, f.key)
	}
	return keys
}

// URLKeys lists the `with:` keys of a settings struct whose fields are tagged
// template:"url".
func URLKeys(params any) []string {
	var keys []string
	for _, f := range paramFields(params) {
		if f.Tag.Get("template") == "url" {
			keys = append(keys, f.key)
		}
	}
	return keys
}

// paramField is a field of a settings struct with the `with:` key it takes.
type paramField struct {
	reflect.StructField
	key string
}

// paramFields lists the fields of a settings struct that have a `with:` key.
func paramFields(params any) []paramField {
	t := reflect.TypeOf(params)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var fields []paramField
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			fields = append(fields, paramField{StructField: f, key: name})
		}
	}
	return fields
}

// checkTemplateTags refuses a template tag the loader would not understand,
// so that a misspelt one is found when the kind is registered.
func checkTemplateTags(params any) error {
	for _, f := range paramFields(params) {
		tag, ok := f.Tag.Lookup("template")
		switch {
		case !ok:
		case tag != "url":
			return fmt.Errorf("with: %s: template tag %q: the only one is template:\"url\"", f.key, tag)
		case f.Type.Kind() != reflect.String:
			return fmt.Errorf("with: %s: template:\"url\" goes on a string field, not %s", f.key, f.Type)
		}
	}
	return nil
}
