package workflows

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
	Pos             Pos          `yaml:"-"`

	// Index is the job's place in the file, from 0.
	Index int `yaml:"-"`
	// Implicit is true for the one job of a `steps:` workflow.
	Implicit bool `yaml:"-"`
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
}

// MatrixAxis is one key of a matrix and its values, in file order.
type MatrixAxis struct {
	Name   string
	Values []any
}

// Cell is one combination of a job's matrix: what matrix.* reads in it.
type Cell struct {
	// Key names the cell in its run, unique there: the job id, followed for a
	// matrix cell by its values, "deploy (web-01, amd64)".
	Key string
	// Index is the cell's place among its job's cells, from 0.
	Index int
	// Values is the cell's matrix; nil for a job without a matrix.
	Values map[string]any
}

// Outputs are a job's `outputs:`, name → template, in file order.
type Outputs []Output

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

// Cells returns the job's cells, its matrix evaluated in s: one cell, keyed
// by the job id, for a job without a matrix. An empty list means the matrix
// has no combination.
func (j *Job) Cells(s *Scope) ([]Cell, error) {
	return []Cell{{Key: j.ID}}, nil
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
