package workflows

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Job is one entry of `jobs:` (SPEC §11). A `steps:` workflow has one job,
// MainJob, whose steps are the workflow's; it sets nothing of its own, so the
// workflow's env, defaults, sandbox and timeout are all that apply to it.
type Job struct {
	// ID is the job's key under `jobs:`.
	ID              string       `yaml:"-"`
	Name            *Template    `yaml:"name"`
	Needs           []string     `yaml:"needs"`
	If              *Expr        `yaml:"if"`
	RunsOn          []*Template  `yaml:"runs_on"`
	Strategy        *Strategy    `yaml:"strategy"`
	Env             Env          `yaml:"env"`
	Defaults        Defaults     `yaml:"defaults"`
	Sandbox         *Sandbox     `yaml:"sandbox"`
	Timeout         Duration     `yaml:"timeout"`
	Concurrency     *Concurrency `yaml:"concurrency"`
	Outputs         Outputs      `yaml:"outputs"`
	ContinueOnError bool         `yaml:"continue_on_error"`
	Steps           []*Step      `yaml:"steps"`
	// Pos is where the job's id stands under jobs:.
	Pos Pos `yaml:"-"`

	// Index is the job's place in the file, from 0.
	Index int `yaml:"-"`
	// Implicit is true for the one job of a `steps:` workflow.
	Implicit bool `yaml:"-"`
	// Secrets are the names of the secrets the job reads, the workflow's
	// env included.
	Secrets []string `yaml:"-"`

	// keys are where the job's keys stand, for errors about their values.
	keys map[string]Pos
	// needPos are where the entries of Needs stand.
	needPos []Pos
}

// jobIDPattern is what a job id may be: it is also a cell's key and a
// part of log and API paths.
var jobIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Jobs are the entries of `jobs:` in file order.
type Jobs []*Job

func (js *Jobs) decodeNode(d *decoder, n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("expected a mapping of job id to job (build: {steps: [...]}), got %s", d.describe(n))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			d.fail(k, "job %s is set twice", d.quote(k))
			continue
		}
		seen[k.Value] = true
		if !jobIDPattern.MatchString(k.Value) {
			d.fail(k, "job id %s: use letters, digits, '_' and '-' only", d.quote(k))
		}
		at := Pos{File: d.file, Line: k.Line, Col: k.Column}
		j := &Job{ID: k.Value, Index: len(*js)}
		d.decode(v, reflectValue(j))
		j.Pos = at
		*js = append(*js, j)
	}
	return nil
}

// decodeNode accepts a single name for needs: and runs_on: as well as a
// list, and records where the keys and the needs stand.
func (j *Job) decodeNode(d *decoder, n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("expected a mapping of %s, got %s", strings.Join(yamlKeys(reflectValue(j).Type()), ", "), d.describe(n))
	}
	body := &yaml.Node{Kind: yaml.MappingNode, Tag: n.Tag, Line: n.Line, Column: n.Column}
	j.keys = map[string]Pos{}
	var needs *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		if k.Value == "needs" || k.Value == "runs_on" {
			if v.Kind == yaml.ScalarNode && !isNull(v) {
				v = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: v.Line, Column: v.Column, Content: []*yaml.Node{v}}
			}
			if k.Value == "needs" {
				needs = v
			}
		}
		if _, dup := j.keys[k.Value]; !dup {
			j.keys[k.Value] = Pos{File: d.file, Line: k.Line, Col: k.Column}
		}
		body.Content = append(body.Content, k, v)
	}
	type plain Job
	if !d.decode(body, reflectValue((*plain)(j))) {
		return nil
	}
	if needs != nil && needs.Kind == yaml.SequenceNode && len(needs.Content) == len(j.Needs) {
		for _, item := range needs.Content {
			j.needPos = append(j.needPos, Pos{File: d.file, Line: item.Line, Col: item.Column})
		}
	}
	return nil
}

// keyPos is where key stands in the job, else where the job does.
func (j *Job) keyPos(key string) Pos {
	if p, ok := j.keys[key]; ok {
		return p
	}
	return j.Pos
}

// walkExprs calls expr and tmpl with each expression and template that a job
// evaluates in its own scope, the steps' included, in a fixed order.
func (j *Job) walkExprs(expr func(*Expr), tmpl func(*Template)) {
	tmpl(j.Name)
	expr(j.If)
	for _, t := range j.RunsOn {
		tmpl(t)
	}
	if j.Strategy != nil && j.Strategy.Matrix != nil {
		expr(j.Strategy.Matrix.Expr)
	}
	for _, v := range j.Env {
		tmpl(v.Value)
	}
	if j.Concurrency != nil {
		tmpl(j.Concurrency.Group)
	}
	for _, o := range j.Outputs {
		tmpl(o.Value)
	}
	for _, s := range j.Steps {
		if s == nil {
			continue // failed to decode
		}
		expr(s.If)
		tmpl(s.Name)
		for _, v := range s.Env {
			tmpl(v.Value)
		}
		s.With.eachTemplate(tmpl)
	}
}

// needPosAt is where the i-th entry of Needs stands.
func (j *Job) needPosAt(i int) Pos {
	if i < len(j.needPos) {
		return j.needPos[i]
	}
	return j.keyPos("needs")
}

// MainJob is the id of the one job of a `steps:` workflow.
const MainJob = "main"

// DefaultRunsOn are the labels of a job that names none.
var DefaultRunsOn = []string{"local"}

// Strategy is a job's `strategy:`.
type Strategy struct {
	Matrix *Matrix `yaml:"matrix"`
	// MaxParallel bounds how many cells run at once; 0 is no bound.
	MaxParallel int `yaml:"max_parallel"`
	// FailFast, nil meaning true, cancels a job's other cells when one fails.
	FailFast *bool `yaml:"fail_fast"`
	Pos      Pos   `yaml:"-"`
}

// Matrix is `strategy.matrix`: axes of values, whose combinations (with
// Include added and Exclude taken away) are the job's cells; or an expression
// whose list value gives one cell per element.
type Matrix struct {
	// Expr, when set, is the whole matrix: a list, one cell per element. An
	// element that is a mapping is the cell's matrix; any other value v is
	// {value: v}.
	Expr    *Expr
	Axes    []MatrixAxis
	Include []map[string]any
	Exclude []map[string]any
	Pos     Pos

	// includeKeys are the keys of each Include entry in file order, which
	// is the order their values take in a cell's key.
	includeKeys [][]string
}

// MatrixAxis is one key of a matrix and its values, in file order.
type MatrixAxis struct {
	Name   string
	Values []any
}

// Cell is one combination of a job's matrix: what matrix.* reads in it.
type Cell struct {
	// Key names the cell in its run, unique there: the job id, followed for a
	// matrix cell by its values, "deploy (web-01, amd64)", or for a cell of
	// a matrix expression by its number, "deploy (2)".
	Key string
	// Index is the cell's place among its job's cells, from 0.
	Index int
	// Values is the cell's matrix; nil for a job without a matrix.
	Values map[string]any
}

// Outputs are a job's `outputs:`, name → template, in file order.
type Outputs []Output

func (o *Outputs) decodeNode(d *decoder, n *yaml.Node) error {
	return d.templateEntries(n, "output", "name: value", "start with a letter or _, then letters, digits, _ and -", stepIDPattern.MatchString,
		func(name string, t *Template) { *o = append(*o, Output{Name: name, Value: t}) })
}

// Output is one entry of Outputs.
type Output struct {
	Name  string
	Value *Template
}

// NeedState is a job finished before this one, as it sees it: needs.<job>.
type NeedState struct {
	Outputs map[string]any `expr:"outputs" json:"outputs"`
	// Result is success, failure, cancelled or skipped.
	Result string `expr:"result" json:"result"`
}

// JobInfo is the `job` variable.
type JobInfo struct {
	ID     string `expr:"id"`
	Runner string `expr:"runner"`
}

// Results of needs.<job>.result.
const (
	ResultSuccess   = "success"
	ResultFailure   = "failure"
	ResultCancelled = "cancelled"
	ResultSkipped   = "skipped"
)

// FailFast reports whether a failed cell cancels the job's other cells.
func (j *Job) FailFast() bool {
	return j.Strategy == nil || j.Strategy.FailFast == nil || *j.Strategy.FailFast
}

// Job returns the workflow's job with id.
func (w *Workflow) Job(id string) (*Job, bool) {
	for _, j := range w.Jobs {
		if j.ID == id {
			return j, true
		}
	}
	return nil, false
}
