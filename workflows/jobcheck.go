package workflows

import (
	"cmp"
	"reflect"
	"slices"
	"strings"
)

// validateJobs checks the jobs of a `jobs:` workflow: their needs (known, not
// themselves, no cycle), their own settings, and their steps, each with the
// job's defaults.shell over the workflow's. After a decoding error (decoded
// is false) a job without steps is not reported.
func validateJobs(d *decoder, w *Workflow, actions ActionChecker, at func(Pos, string, ...any), decoded bool) {
	byID := make(map[string]*Job, len(w.Jobs))
	ids := make([]string, len(w.Jobs))
	for i, j := range w.Jobs {
		j.Index = i
		byID[j.ID], ids[i] = j, j.ID
	}
	for _, j := range w.Jobs {
		validateNeeds(j, byID, ids, at)
		validateJob(d, w, j, actions, at, decoded)
	}
	checkCycles(w.Jobs, byID, at)
}

// validateNeeds checks each entry of a job's needs.
func validateNeeds(j *Job, byID map[string]*Job, ids []string, at func(Pos, string, ...any)) {
	for i, n := range j.Needs {
		switch {
		case n == j.ID:
			at(j.needPosAt(i), "job %s needs itself: remove %s from its needs:", jobRef(j.ID), jobRef(n))
		case byID[n] == nil:
			at(j.needPosAt(i), "job %s needs %s, which is not a job in this workflow%s", jobRef(j.ID), jobRef(n), suggestJob(n, ids))
		case slices.Index(j.Needs, n) < i:
			at(j.needPosAt(i), "job %s lists %s twice in needs:", jobRef(j.ID), jobRef(n))
		}
	}
}

// validateJob checks a job's own settings and its steps.
func validateJob(d *decoder, w *Workflow, j *Job, actions ActionChecker, at func(Pos, string, ...any), decoded bool) {
	name := jobRef(j.ID)
	if j.If != nil {
		checkKind(j.If, at, reflect.Bool)
	}
	if _, set := j.keys["runs_on"]; set && len(j.RunsOn) == 0 {
		at(j.keyPos("runs_on"), "job %s: runs_on: name at least one runner label, or leave it out for %v", name, DefaultRunsOn)
	}
	if st := j.Strategy; st != nil {
		if st.MaxParallel < 0 {
			at(st.Pos, "job %s: strategy.max_parallel must not be negative (0, or leaving it out, runs every cell at once)", name)
		}
		if m := st.Matrix; m != nil {
			validateMatrix(j, m, at)
		}
	}
	if j.Defaults.Shell != "" {
		if err := checkShell(j.Defaults.Shell); err != nil {
			at(j.keyPos("defaults"), "job %s: defaults.shell: %s", name, err)
		}
	}
	validateSandbox(j.Sandbox, at)
	if c := j.Concurrency; c != nil {
		if c.Group == nil || c.Group.Source == "" {
			at(c.Pos, "job %s: concurrency: group is required", name)
		}
		const perJob = "(a job's concurrency group only keeps jobs of the same group, in any run, from running at once)"
		if c.CancelInProgress {
			at(c.Pos, "job %s: concurrency.cancel_in_progress is a workflow-level setting: set it in the workflow's concurrency: %s", name, perJob)
		}
		switch c.Pending {
		case "":
			c.Pending = PendingAll
		case PendingAll:
		case PendingLatest:
			at(c.Pos, "job %s: concurrency.pending: latest is a workflow-level setting: set it in the workflow's concurrency: %s", name, perJob)
		default:
			at(c.Pos, "job %s: concurrency.pending %s: use all, or leave it out", name, quoteText(c.Pending))
		}
	}
	if decoded && len(j.Steps) == 0 {
		at(j.Pos, "job %s has no steps: add steps: with at least one run: or uses: step", name)
	}
	shell := cmp.Or(j.Defaults.Shell, w.Defaults.Shell)
	stepIDs := map[string]bool{}
	for i, s := range j.Steps {
		if s == nil {
			continue // failed to decode; already reported
		}
		s.Index = i
		validateStep(d, s, shell, stepIDs, at, actions)
	}
}

// validateMatrix checks a job's matrix: an expression must give a list; a
// matrix of axes must exclude by axes only and stay within MaxCells.
func validateMatrix(j *Job, m *Matrix, at func(Pos, string, ...any)) {
	if m.Expr != nil {
		checkKind(m.Expr, at, reflect.Slice, reflect.Array)
		return
	}
	axes := make([]string, len(m.Axes))
	for i, a := range m.Axes {
		axes[i] = a.Name
	}
	bad := false
	for _, e := range m.Exclude {
		keys := make([]string, 0, len(e))
		for k := range e {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !slices.Contains(axes, k) {
				bad = true
				at(m.Pos, "job %s: matrix exclude: %s is not an axis of the matrix (its axes: %s)", jobRef(j.ID), quoteText(k), clip(strings.Join(axes, ", "), maxEcho))
			}
		}
	}
	if bad {
		return
	}
	if _, err := j.Cells(nil); err != nil {
		at(m.Pos, "%s", err)
	}
}

// checkCycles reports each cycle of needs once, naming its jobs in order
// from the first of them in the file, at that job's need of the next.
func checkCycles(jobs []*Job, byID map[string]*Job, at func(Pos, string, ...any)) {
	const (
		unseen = iota
		active
		done
	)
	state := make(map[string]int, len(jobs))
	var stack []*Job
	var visit func(j *Job)
	visit = func(j *Job) {
		state[j.ID] = active
		stack = append(stack, j)
		for _, n := range j.Needs {
			next := byID[n]
			if next == nil || next == j {
				continue // reported by validateNeeds
			}
			switch state[n] {
			case unseen:
				visit(next)
			case active:
				k := slices.Index(stack, next)
				reportCycle(slices.Clone(stack[k:]), at)
			}
		}
		stack = stack[:len(stack)-1]
		state[j.ID] = done
	}
	for _, j := range jobs {
		if state[j.ID] == unseen {
			visit(j)
		}
	}
}

// reportCycle reports jobs, each of which needs the next and the last the
// first.
func reportCycle(cycle []*Job, at func(Pos, string, ...any)) {
	first := 0
	for i, j := range cycle {
		if j.Index < cycle[first].Index {
			first = i
		}
	}
	cycle = append(cycle[first:], cycle[:first]...)
	names := make([]string, 0, len(cycle)+1)
	for _, j := range cycle {
		names = append(names, jobRef(j.ID))
	}
	names = append(names, names[0])
	start := cycle[0]
	at(start.needPosAt(slices.Index(start.Needs, cycle[1].ID)), "jobs %s need each other in a cycle: remove one of these needs", strings.Join(names, " → "))
}

// checkNeedsReads reports expressions of a job that read needs.<id> for an
// id the job does not list in its needs: the value would always be empty.
func checkNeedsReads(j *Job, ids []string, at func(Pos, string, ...any)) {
	report := func(p Pos, read []string) {
		for _, id := range read {
			switch {
			case slices.Contains(j.Needs, id):
			case j.Implicit:
				at(p, "needs.%s: a workflow with steps: is one job and needs nothing; to read another job, write jobs: and give the reading job needs: [%s]", clip(id, maxEcho), clip(id, maxEcho))
			case !slices.Contains(ids, id):
				at(p, "needs.%s: %s is not a job in this workflow%s", clip(id, maxEcho), jobRef(id), suggestJob(id, ids))
			default:
				at(p, "needs.%s: job %s does not list %s in needs: (add it there to read its result and outputs)", id, jobRef(j.ID), id)
			}
		}
	}
	expr := func(e *Expr) {
		if e != nil {
			report(e.Pos, e.NeedsRead())
		}
	}
	tmpl := func(t *Template) {
		if t != nil {
			report(t.Pos, t.NeedsRead())
		}
	}
	j.walkExprs(expr, tmpl)
}

// jobRef names a job, or a need, in a message: as it is when it is a valid
// job id, else quoted.
func jobRef(id string) string {
	if jobIDPattern.MatchString(id) {
		return clip(id, maxEcho)
	}
	return quoteText(id)
}

// suggestJob returns " (did you mean build?)" for the job id closest to
// got, or the list of jobs when none is close.
func suggestJob(got string, ids []string) string {
	best, bestDist := "", len(got)/2+2
	for _, id := range ids {
		if d := editDistance(strings.ToLower(got), strings.ToLower(id)); d < bestDist {
			best, bestDist = id, d
		}
	}
	if best != "" {
		return " (did you mean " + jobRef(best) + "?)"
	}
	if len(ids) == 0 {
		return ""
	}
	return " (the jobs are " + clip(strings.Join(ids, ", "), maxEcho) + ")"
}
