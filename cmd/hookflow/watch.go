package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hookflow/hookflow/client"
	"github.com/hookflow/hookflow/workflows"
)

// watchEvery is how often `runs watch` asks for the run.
const watchEvery = 500 * time.Millisecond

func runsWatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newClientCall("runs watch", "ID", false, stdout, stderr)
	pos, code, ok := c.parse(args, "ID")
	if !ok {
		return code
	}
	var view watchView
	if colourOn(stdout) {
		view = &redrawView{w: stdout}
	} else {
		view = &changeView{w: stdout, seen: map[string]string{}}
	}
	tick := time.NewTicker(watchEvery)
	defer tick.Stop()
	for {
		r, err := c.api.GetRun(ctx, pos[0])
		if err != nil {
			return c.fail(err)
		}
		view.show(r)
		if workflows.Finished(r.Status) {
			return printRunEnd(stdout, "", r)
		}
		select {
		case <-ctx.Done():
			return c.fail(ctx.Err())
		case <-tick.C:
		}
	}
}

// watchLine is one thing of a run whose status `runs watch` shows: a job
// or a step.
type watchLine struct {
	key    string // "build", or "build / test" for a step of a job
	indent string
	name   string
	state  string
	took   string
}

// watchLines lists the jobs and steps of r in order, each job before its
// steps.
func watchLines(r *client.Run) []watchLine {
	var lines []watchLine
	steps := func(indent, job string, steps []client.Step) {
		for _, s := range steps {
			key := s.ID
			if job != "" {
				key = job + " / " + s.ID
			}
			lines = append(lines, watchLine{key: key, indent: indent, name: s.ID, state: stepState(s),
				took: clientDuration(s.StartedAt, s.FinishedAt)})
		}
	}
	if len(r.Jobs) == 0 {
		steps("  ", "", r.Steps)
		return lines
	}
	for _, j := range r.Jobs {
		state := j.Status
		if j.Reason != "" && workflows.Finished(j.Status) {
			state += clientReason(j.Reason)
		}
		lines = append(lines, watchLine{key: j.Key, indent: "  ", name: j.Key, state: state,
			took: clientDuration(j.StartedAt, j.FinishedAt)})
		steps("    ", j.Key, j.Steps)
	}
	return lines
}

// stepState is a step's outcome once it has one, else whether it runs.
func stepState(s client.Step) string {
	switch {
	case s.Outcome != "":
		return s.Outcome
	case !s.StartedAt.IsZero():
		return "running"
	default:
		return "waiting"
	}
}

// watchView shows each state of a run that `runs watch` reads.
type watchView interface{ show(r *client.Run) }

// redrawView draws the run's jobs and steps on a terminal, over the last
// drawing, in colour.
type redrawView struct {
	w     io.Writer
	lines int // how many lines the last drawing took
	last  string
}

func (v *redrawView) show(r *client.Run) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "run %s of %s: %s\n", r.ID, r.Workflow, paint(r.Status))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, l := range watchLines(r) {
		fmt.Fprintf(tw, "%s%s\t%s\t%s\n", l.indent, l.name, paint(l.state), l.took)
	}
	tw.Flush()
	frame := b.String()
	if frame == v.last {
		return
	}
	if v.lines > 0 {
		// Up to the first line of the last drawing, and clear from there.
		fmt.Fprintf(v.w, "\x1b[%dA\x1b[J", v.lines)
	}
	io.WriteString(v.w, frame)
	v.last, v.lines = frame, strings.Count(frame, "\n")
}

// paint colours a status: green for success, red for failure, yellow while
// it runs.
func paint(state string) string {
	word, _, _ := strings.Cut(state, " ")
	switch word {
	case workflows.StatusSucceeded, workflows.OutcomeSuccess:
		return "\x1b[32m" + state + "\x1b[0m"
	case workflows.StatusFailed, workflows.OutcomeFailure, workflows.StatusTimedOut:
		return "\x1b[31m" + state + "\x1b[0m"
	case workflows.StatusRunning:
		return "\x1b[33m" + state + "\x1b[0m"
	}
	return state
}

// changeView prints a line for each job or step whose state changed, for a
// pipe or a log.
type changeView struct {
	w       io.Writer
	status  string
	seen    map[string]string
	started bool
}

func (v *changeView) show(r *client.Run) {
	if (!v.started || r.Status != v.status) && !workflows.Finished(r.Status) {
		fmt.Fprintf(v.w, "run %s of %s: %s\n", r.ID, r.Workflow, r.Status)
		v.started, v.status = true, r.Status
	}
	for _, l := range watchLines(r) {
		if v.seen[l.key] == l.state || l.state == "waiting" || l.state == workflows.StatusQueued {
			continue
		}
		v.seen[l.key] = l.state
		fmt.Fprintf(v.w, "%s: %s\n", l.key, l.state)
	}
}
