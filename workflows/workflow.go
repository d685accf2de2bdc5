// Package workflows is hookflow's domain: workflow files, the events they react
// to, their expressions and templates, and the Set that decides which workflows
// an event starts. It imports no other hookflow package.
package workflows

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Workflow is one parsed and compiled workflow file (SPEC §2).
type Workflow struct {
	Name          string       `yaml:"name"`
	Description   string       `yaml:"description"`
	On            Triggers     `yaml:"on"`
	If            *Expr        `yaml:"if"`
	ForEach       *Expr        `yaml:"for_each"`
	Concurrency   *Concurrency `yaml:"concurrency"`
	Cooldown      *Cooldown    `yaml:"cooldown"`
	Timeout       Duration     `yaml:"timeout"`
	Env           Env          `yaml:"env"`
	Sandbox       *Sandbox     `yaml:"sandbox"`
	Defaults      Defaults     `yaml:"defaults"`
	OnInterrupt   string       `yaml:"on_interrupt"`
	KeepWorkspace string       `yaml:"keep_workspace"`
	Disabled      bool         `yaml:"disabled"`
	// Report and Notify say how the run's state is told back (SPEC §13).
	Report *Report   `yaml:"report"`
	Notify []*Notify `yaml:"notify"`
	Steps  []*Step   `yaml:"steps"`
	// Jobs are the workflow's jobs in file order; a `steps:` workflow has
	// one, MainJob, holding Steps. A workflow has steps: or jobs:, never
	// both; with jobs:, Steps is nil.
	Jobs Jobs `yaml:"jobs"`

	// File is the path the workflow was read from, relative to its source.
	File string `yaml:"-"`
	// Revision identifies the content the workflow was loaded from: a commit, or
	// a hash of the files.
	Revision string `yaml:"-"`
	// Secrets are the names of every secret the workflow reads.
	Secrets []string `yaml:"-"`
	// Source is the file as it was read, for a runner on another host to
	// load the workflow as this process did.
	Source []byte `yaml:"-"`
	Pos    Pos    `yaml:"-"`

	// plan is Report and Notify as runs keep them (Plan).
	plan []byte
}

// DefaultTimeout bounds a run whose workflow sets no timeout.
const DefaultTimeout = time.Hour

// Values of on_interrupt.
const (
	InterruptFail    = "fail"
	InterruptRequeue = "requeue"
)

// Values of keep_workspace.
const (
	KeepNever     = "never"
	KeepOnFailure = "on_failure"
	KeepAlways    = "always"
)

// Triggers is the `on:` block.
type Triggers struct {
	Webhook  TriggerList[Webhook] `yaml:"webhook"`
	Cron     TriggerList[Cron]    `yaml:"cron"`
	Dispatch *Dispatch            `yaml:"dispatch"`
}

// decodeNode also accepts a bare `dispatch:` with nothing under it, as GitHub
// Actions does for workflow_dispatch. GitHub Actions' own triggers are errors
// that say what to write instead.
func (t *Triggers) decodeNode(d *decoder, n *yaml.Node) error {
	if n = d.triggerHabits(n); n == nil {
		return nil
	}
	type plain Triggers
	if !d.decode(n, reflectValue((*plain)(t))) {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "dispatch" && isNull(n.Content[i+1]) {
			t.Dispatch = &Dispatch{}
		}
	}
	return nil
}

// Webhook is one `on.webhook` trigger.
type Webhook struct {
	Path           string     `yaml:"path"`
	Provider       string     `yaml:"provider"`
	Secret         *Template  `yaml:"secret"`
	BasicAuth      *BasicAuth `yaml:"basic_auth"`
	Signature      *Signature `yaml:"signature"`
	EventHeader    string     `yaml:"event_header"`
	DeliveryHeader string     `yaml:"delivery_header"`
	Events         []string   `yaml:"events"`
	Branches       *Globs     `yaml:"branches"`
	Paths          *Globs     `yaml:"paths"`
	Methods        []string   `yaml:"methods"`
	Respond        string     `yaml:"respond"`
	SyncTimeout    Duration   `yaml:"sync_timeout"`
	Dedup          *Expr      `yaml:"dedup"`
	Pos            Pos        `yaml:"-"`
}

// Values of respond.
const (
	RespondAsync = "async"
	RespondSync  = "sync"
)

// DefaultSyncTimeout is how long a `respond: sync` webhook waits for its run.
const DefaultSyncTimeout = 30 * time.Second

// BasicAuth is a username and password a sender must present.
type BasicAuth struct {
	Username *Template `yaml:"username"`
	Password *Template `yaml:"password"`
}

// Signature configures the generic provider's HMAC check.
type Signature struct {
	Header          string   `yaml:"header"`
	Algorithm       string   `yaml:"algorithm"`
	Encoding        string   `yaml:"encoding"`
	Prefix          string   `yaml:"prefix"`
	TimestampHeader string   `yaml:"timestamp_header"`
	Tolerance       Duration `yaml:"tolerance"`
}

// Cron is one `on.cron` schedule.
type Cron struct {
	Schedule string `yaml:"schedule"`
	Timezone string `yaml:"timezone"`
	Pos      Pos    `yaml:"-"`
}

// decodeNode accepts a bare schedule string as well as the mapping form.
func (c *Cron) decodeNode(d *decoder, n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		*c = Cron{Schedule: n.Value, Pos: Pos{File: d.file, Line: n.Line, Col: n.Column}}
		return nil
	}
	type plain Cron
	d.decode(n, reflectValue((*plain)(c)))
	return nil
}

// Dispatch is `on.dispatch`: manual starts with typed inputs.
type Dispatch struct {
	Inputs Inputs `yaml:"inputs"`
}

// Input is one dispatch input.
type Input struct {
	Name        string   `yaml:"-"`
	Type        string   `yaml:"type"`
	Required    bool     `yaml:"required"`
	Default     any      `yaml:"-"`
	Description string   `yaml:"description"`
	Options     []string `yaml:"options"`
	Pos         Pos      `yaml:"-"`
}

// Input types.
const (
	InputString  = "string"
	InputNumber  = "number"
	InputBoolean = "boolean"
	InputChoice  = "choice"
)

// Concurrency is the `concurrency:` block.
type Concurrency struct {
	Group            *Template `yaml:"group"`
	CancelInProgress bool      `yaml:"cancel_in_progress"`
	Pending          string    `yaml:"pending"`
	Pos              Pos       `yaml:"-"`
}

// Values of concurrency.pending.
const (
	PendingAll    = "all"
	PendingLatest = "latest"
)

// decodeNode accepts `concurrency: group-name` as short for {group: group-name}.
func (c *Concurrency) decodeNode(d *decoder, n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		t, err := parseTemplate(d, n)
		if err != nil {
			return err
		}
		*c = Concurrency{Group: t, Pos: Pos{File: d.file, Line: n.Line, Col: n.Column}}
		return nil
	}
	type plain Concurrency
	d.decode(n, reflectValue((*plain)(c)))
	return nil
}

// Cooldown is the flap guard: a run is skipped if one with the same key started
// within Period.
type Cooldown struct {
	Key    *Template `yaml:"key"`
	Period Duration  `yaml:"period"`
	Pos    Pos       `yaml:"-"`
}

// Sandbox is the `sandbox:` block (SPEC §7); zero fields inherit.
type Sandbox struct {
	Level    string   `yaml:"level" json:"level,omitempty"`
	Network  *bool    `yaml:"network" json:"network,omitempty"`
	Writable []string `yaml:"writable" json:"writable,omitempty"`
	Hidden   []string `yaml:"hidden" json:"hidden,omitempty"`
	Memory   ByteSize `yaml:"memory" json:"memory,omitempty"`
	Pids     int      `yaml:"pids" json:"pids,omitempty"`
	CPU      Duration `yaml:"cpu" json:"cpu,omitempty"`
	User     string   `yaml:"user" json:"user,omitempty"`
	Pos      Pos      `yaml:"-" json:"-"`
}

// Sandbox levels.
const (
	LevelAuto     = "auto"
	LevelIsolated = "isolated"
	LevelProcess  = "process"
)

// Merge returns s with the fields set in over replacing its own.
func (s Sandbox) Merge(over *Sandbox) Sandbox {
	if over == nil {
		return s
	}
	if over.Level != "" {
		s.Level = over.Level
	}
	if over.Network != nil {
		s.Network = over.Network
	}
	s.Writable = append(append([]string(nil), s.Writable...), over.Writable...)
	s.Hidden = append(append([]string(nil), s.Hidden...), over.Hidden...)
	if over.Memory != 0 {
		s.Memory = over.Memory
	}
	if over.Pids != 0 {
		s.Pids = over.Pids
	}
	if over.CPU != 0 {
		s.CPU = over.CPU
	}
	if over.User != "" {
		s.User = over.User
	}
	return s
}

// Defaults are the `defaults:` for every step.
type Defaults struct {
	Shell            string `yaml:"shell"`
	WorkingDirectory string `yaml:"working_directory"`
}

// RunAction is the action kind of run: steps. Its settings are "script" and
// "shell"; uses: cannot name it.
const RunAction = "run"

// Step is one entry of `steps:`.
type Step struct {
	ID               string    `yaml:"id"`
	Name             *Template `yaml:"name"`
	If               *Expr     `yaml:"if"`
	Run              string    `yaml:"run"`
	Uses             string    `yaml:"uses"`
	With             *Value    `yaml:"with"`
	Env              Env       `yaml:"env"`
	Shell            string    `yaml:"shell"`
	WorkingDirectory string    `yaml:"working_directory"`
	Timeout          Duration  `yaml:"timeout"`
	ContinueOnError  bool      `yaml:"continue_on_error"`
	Retry            *Retry    `yaml:"retry"`
	Sandbox          *Sandbox  `yaml:"sandbox"`
	Pos              Pos       `yaml:"-"`

	// Index is the step's place in its job, from 0.
	Index int `yaml:"-"`

	// Action is the kind of action that does the step's work, and Params
	// are the settings it is built from, rendered for each run; both are set
	// when the workflow loads. For a uses: step they are uses: and with:
	// (nil when absent); for a run: step, RunAction with the script and its
	// shell (shell:, else defaults.shell) as literal values, which no
	// template reaches.
	Action string `yaml:"-"`
	Params *Value `yaml:"-"`

	// runNode is where run: stands, for errors inside the script.
	runNode *yaml.Node
}

func (s *Step) decodeNode(d *decoder, n *yaml.Node) error {
	type plain Step
	if d.decode(n, reflectValue((*plain)(s))) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "run" {
				s.runNode = n.Content[i+1]
			}
		}
	}
	return nil
}

// Key is how runs and logs name the step: its id, or step-N (from 1).
func (s *Step) Key() string {
	if s.ID != "" {
		return s.ID
	}
	return fmt.Sprintf("step-%d", s.Index+1)
}

// Retry is a step's `retry:` policy.
type Retry struct {
	Attempts int      `yaml:"attempts"`
	Delay    Duration `yaml:"delay"`
	Backoff  float64  `yaml:"backoff"`
	MaxDelay Duration `yaml:"max_delay"`
}

// DelayBefore returns the wait before attempt n (2 for the first retry).
func (r *Retry) DelayBefore(n int) time.Duration {
	d := float64(r.Delay)
	if d == 0 {
		d = float64(time.Second)
	}
	backoff := r.Backoff
	if backoff == 0 {
		backoff = 2
	}
	for i := 2; i < n; i++ {
		d *= backoff
		if r.MaxDelay > 0 && d >= float64(r.MaxDelay) {
			return time.Duration(r.MaxDelay)
		}
	}
	if r.MaxDelay > 0 && d > float64(r.MaxDelay) {
		return time.Duration(r.MaxDelay)
	}
	return time.Duration(d)
}

// Env is an ordered `env:` mapping whose values are templates.
type Env []EnvVar

// EnvVar is one entry of an Env.
type EnvVar struct {
	Name  string
	Value *Template
}

func (e *Env) decodeNode(d *decoder, n *yaml.Node) error {
	return d.templateEntries(n, "env", "NAME: value", "use letters, digits and _, not starting with a digit", validEnvName,
		func(name string, t *Template) { *e = append(*e, EnvVar{Name: name, Value: t}) })
}

// templateEntries reads a mapping of names to string templates, as env: and
// outputs: are, passing each entry to add in file order. label names the
// block in messages, shape shows how it is written, and valid accepts the
// names that rule describes.
func (d *decoder) templateEntries(n *yaml.Node, label, shape, rule string, valid func(string) bool, add func(name string, t *Template)) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("expected a mapping of %s, got %s", shape, d.describe(n))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case seen[k.Value]:
			d.fail(k, "%s is set twice", d.quote(k))
			continue
		case !valid(k.Value):
			d.fail(k, "%s name %s: %s", label, d.quote(k), rule)
			continue
		}
		seen[k.Value] = true
		if v.Kind != yaml.ScalarNode {
			d.fail(v, "%s %s: expected a string, got %s (use toJSON(...) for structured values)", label, d.firstLine(k), d.describe(v))
			continue
		}
		t, err := parseTemplate(d, v)
		if err != nil {
			d.fail(v, "%s", err)
			continue
		}
		if isNull(v) {
			t = NewLiteral("")
		}
		add(k.Value, t)
	}
	return nil
}

func validEnvName(s string) bool {
	for i, c := range s {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}
