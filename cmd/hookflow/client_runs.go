package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/hookflow/hookflow/client"
	"github.com/hookflow/hookflow/workflows"
)

func cmdDispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newClientCall("dispatch", "WORKFLOW [--input K=V]... [--server URL] [--token T] [-o json]", true, stdout, stderr)
	var inputs pairs
	c.fs.Var(&inputs, "input", "dispatch input K=V (repeatable)")
	pos, code, ok := c.parse(args, "WORKFLOW")
	if !ok {
		return code
	}
	in := map[string]any{}
	for k, v := range inputs.Map() {
		in[k] = v
	}
	r, err := c.api.Dispatch(ctx, pos[0], in)
	return show(c, r, err, printQueued)
}

// printQueued tells about a run the server just started for dispatch or
// rerun.
func printQueued(w io.Writer, r *client.Run) {
	printStarted(w, workflows.RunRef{ID: r.ID, Workflow: r.Workflow, Status: r.Status}, r.Attempt, r.Reason)
}

// printStarted is the one wording of a run that dispatch, rerun and replay
// started, with the command that follows it; a run that ended at once (a
// skipped one) is told as it ended.
func printStarted(w io.Writer, r workflows.RunRef, attempt int, reason string) {
	if workflows.Finished(r.Status) {
		fmt.Fprintf(w, "run %s of %s: %s%s\n", r.ID, r.Workflow, r.Status, clientReason(reason))
		return
	}
	again := ""
	if attempt > 1 {
		again = fmt.Sprintf(" (attempt %d)", attempt)
	}
	fmt.Fprintf(w, "started run %s of %s%s\n  follow: hookflow runs watch %s\n", r.ID, r.Workflow, again, r.ID)
}

// printEnded tells how a run ended, or why it did not start.
func printEnded(w io.Writer, r *client.Run) {
	fmt.Fprintf(w, "run %s of %s: %s%s\n", r.ID, r.Workflow, r.Status, clientReason(r.Reason))
}

func cmdRuns(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return clientGroup(ctx, "runs", runsSubs(), args, stdout, stderr)
}

func runsSubs() []clientSub {
	return []clientSub{
		{"list", runsList},
		{"show", runsShow},
		{"logs", runsLogs},
		{"watch", runsWatch},
		{"cancel", runsCancel},
		{"rerun", runsRerun},
	}
}

func runsList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newClientCall("runs list", "[--workflow W] [--status S] [--event E] [--limit N] [--before CURSOR] [-o json]", true, stdout, stderr)
	var f client.RunFilter
	c.fs.StringVar(&f.Workflow, "workflow", "", "only runs of this workflow")
	c.fs.StringVar(&f.Status, "status", "", "only runs with this status (queued, running, succeeded, failed, cancelled, timed_out, skipped)")
	c.fs.StringVar(&f.Event, "event", "", "only runs started by this event id")
	c.pageFlags("runs", &f.Page)
	if code, ok := c.parsePage(args, &f.Page); !ok {
		return code
	}
	l, err := c.api.ListRuns(ctx, f)
	return show(c, l, err, func(w io.Writer, l *client.RunList) {
		rows := make([]string, len(l.Runs))
		for i, r := range l.Runs {
			rows[i] = fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s", r.ID, r.Workflow, r.Status, orDash(triggerText(r.Trigger)),
				clientTime(r.QueuedAt), clientDuration(r.StartedAt, r.FinishedAt), orDash(oneLine(r.Reason)))
		}
		printPage(w, "runs", "ID\tWORKFLOW\tSTATUS\tTRIGGER\tQUEUED\tDURATION\tREASON", rows, l.Next)
	})
}

func runsShow(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return byID(ctx, "runs show", args, stdout, stderr, (*client.Client).GetRun, printRun)
}

// printRun shows a run's fields, then a table of its steps.
func printRun(w io.Writer, r *client.Run) {
	status := r.Status
	if r.CancelRequested && r.Status == workflows.StatusRunning {
		status += " (cancel requested)"
	}
	attempt := strconv.Itoa(r.Attempt)
	if r.RerunOf != "" {
		attempt += " (rerun of " + r.RerunOf + ")"
	}
	item := ""
	if len(r.Item) > 0 && string(r.Item) != "null" {
		item = string(r.Item)
	}
	var t client.Trigger
	if r.Trigger != nil {
		t = *r.Trigger
	}
	commit := t.Commit
	if t.CommitURL != "" {
		commit += " " + t.CommitURL
	}
	printFields(w, "run", r.ID, "workflow", r.Workflow, "revision", r.Revision, "status", status,
		"reason", oneLine(r.Reason), "trigger", t.Label, "repository", t.Repo, "branch", t.Branch, "tag", t.Tag,
		"commit", commit, "sender", t.Sender, "inputs", inputsText(t.Inputs), "schedule", t.Schedule, "started by", t.Actor,
		"event", r.EventID, "attempt", attempt, "item", item, "group", r.Group,
		"queued", clientTime(r.QueuedAt), "started", clientTime(r.StartedAt), "finished", clientTime(r.FinishedAt),
		"duration", clientDuration(r.StartedAt, r.FinishedAt), "node", r.Node, "sandbox", r.Sandbox)
	if len(r.Jobs) > 0 {
		printJobs(w, r.Jobs)
	} else if len(r.Steps) > 0 {
		fmt.Fprintln(w, "\nsteps:")
		printSteps(w, "  ", r.Steps)
		printStepDetails(w, "", r.Steps)
	}
	printReports(w, r.Reports)
}

// printReports lists a run's commit statuses and notices: what each says,
// of which status, whether it was sent, and why not.
func printReports(w io.Writer, reports []client.Report) {
	if len(reports) == 0 {
		return
	}
	fmt.Fprintln(w, "\nreports:")
	for _, r := range reports {
		what := r.Kind + " notice"
		if r.Kind == "commit_status" {
			what = "commit status"
			if r.Job != "" {
				what += " of " + r.Job
			}
		}
		line := fmt.Sprintf("  %s  %s (%s)  %s", what, r.State, r.RunStatus, r.Status)
		if r.Attempts > 1 {
			line += fmt.Sprintf("  %d attempts", r.Attempts)
		}
		fmt.Fprintln(w, line+clientReason(r.Error))
	}
}

// triggerText is a run's trigger for a list row: its label, then the
// branch or tag and the short commit of a push, or the schedule of a cron
// run; runs show tells who started it by hand.
func triggerText(t *client.Trigger) string {
	if t == nil {
		return ""
	}
	parts := []string{t.Label}
	for _, p := range []string{t.Branch, t.Tag, t.Commit[:min(7, len(t.Commit))], t.Schedule} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " ")
}

// inputsText is a dispatch's inputs as k=v pairs, sorted.
func inputsText(inputs map[string]any) string {
	pairs := make([]string, 0, len(inputs))
	for k, v := range inputs {
		pairs = append(pairs, k+"="+outputValue(v))
	}
	sort.Strings(pairs)
	return strings.Join(pairs, " ")
}

// printJobs shows a `jobs:` run's jobs as a tree: each job with what it
// needs, its matrix cells under it, and each one's steps under that.
func printJobs(w io.Writer, jobs []client.Job) {
	fmt.Fprintln(w, "\njobs:")
	for i, j := range jobs {
		cell := len(j.Matrix) > 0
		if cell && (i == 0 || jobs[i-1].ID != j.ID) {
			fmt.Fprintf(w, "  %s%s\n", j.ID, needsText(j.Needs))
		}
		indent, name := "  ", j.Key+needsText(j.Needs)
		if cell {
			indent, name = "    ", strings.TrimPrefix(j.Key, j.ID+" ")
		}
		line := fmt.Sprintf("%s%s  %s  %s", indent, name, j.Status, clientDuration(j.StartedAt, j.FinishedAt))
		if j.Runner != "" {
			line += "  on " + j.Runner
		}
		fmt.Fprintln(w, line+clientReason(j.Reason))
		printSteps(w, indent+"  ", j.Steps)
		printStepDetails(w, indent+"  ", j.Steps)
		if len(j.Outputs) > 0 {
			fmt.Fprintf(w, "%s  outputs:\n", indent)
			printOutputs(w, indent+"    ", j.Outputs)
		}
	}
}

// needsText is " ← a, b" for a job that needs a and b.
func needsText(needs []string) string {
	if len(needs) == 0 {
		return ""
	}
	return " ← " + strings.Join(needs, ", ")
}

// printSteps shows steps as a table.
func printSteps(w io.Writer, indent string, steps []client.Step) {
	if len(steps) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%sID\tNAME\tOUTCOME\tEXIT\tDURATION\n", indent)
	for _, s := range steps {
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\n", indent, s.ID, s.Name, s.Outcome, exitText(s.ExitCode), clientDuration(s.StartedAt, s.FinishedAt))
	}
	tw.Flush()
}

// printStepDetails shows each step's error and outputs.
func printStepDetails(w io.Writer, indent string, steps []client.Step) {
	for _, s := range steps {
		if s.Error == "" && len(s.Outputs) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s%s:\n", indent, s.ID)
		if s.Error != "" {
			fmt.Fprintf(w, "%s  error: %s\n", indent, oneLine(s.Error))
		}
		printOutputs(w, indent+"  ", s.Outputs)
	}
}

// printOutputs shows outputs as name = value lines, sorted.
func printOutputs(w io.Writer, indent string, outputs map[string]any) {
	keys := make([]string, 0, len(outputs))
	for k := range outputs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s%s = %s\n", indent, k, outputValue(outputs[k]))
	}
}

// outputValue shows a step output: a string as it is, anything else as JSON.
func outputValue(v any) string {
	if s, ok := v.(string); ok {
		return oneLine(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func runsCancel(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newClientCall("runs cancel", "ID [-o json]", true, stdout, stderr)
	pos, code, ok := c.parse(args, "ID")
	if !ok {
		return code
	}
	r, err := c.api.Cancel(ctx, pos[0])
	return show(c, r, err, func(w io.Writer, r *client.Run) {
		switch {
		case r.ID == "":
			fmt.Fprintf(w, "cancel requested for run %s\n", pos[0])
		case r.Status == workflows.StatusRunning:
			fmt.Fprintf(w, "cancelling run %s of %s\n", r.ID, r.Workflow)
		default:
			printEnded(w, r)
		}
	})
}

func runsRerun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return byID(ctx, "runs rerun", args, stdout, stderr, (*client.Client).Rerun, printQueued)
}

// exitText shows a step's exit code, or "-" while it runs and for a step
// whose action never ran.
func exitText(code *int) string {
	if code == nil {
		return "-"
	}
	return strconv.Itoa(*code)
}
