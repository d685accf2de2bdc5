package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/store"
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
	body := map[string]any{"inputs": inputs.Map()}
	return clientShow(ctx, c, http.MethodPost, clientPath("workflows", pos[0], "dispatch"), body, func(w io.Writer, r *store.Run) {
		printQueued(w, r)
	})
}

// printQueued tells about a run the server just queued (or did not).
func printQueued(w io.Writer, r *store.Run) {
	if r.Status == workflows.StatusQueued {
		attempt := ""
		if r.Attempt > 1 {
			attempt = fmt.Sprintf(" (attempt %d)", r.Attempt)
		}
		fmt.Fprintf(w, "queued run %s of %s%s\n", r.ID, r.Workflow, attempt)
		return
	}
	fmt.Fprintf(w, "run %s of %s: %s%s\n", r.ID, r.Workflow, r.Status, clientReason(r.Reason))
}

func cmdRuns(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return clientGroup(ctx, "runs", []clientSub{
		{"list", runsList},
		{"show", runsShow},
		{"logs", runsLogs},
		{"cancel", runsCancel},
		{"rerun", runsRerun},
	}, args, stdout, stderr)
}

// runList is the answer of GET /api/v1/runs.
type runList struct {
	Runs []*store.Run `json:"runs"`
	Next string       `json:"next"`
}

func runsList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newClientCall("runs list", "[--workflow W] [--status S] [--event E] [--limit N] [--before CURSOR] [-o json]", true, stdout, stderr)
	workflow := c.fs.String("workflow", "", "only runs of this workflow")
	status := c.fs.String("status", "", "only runs with this status (queued, running, succeeded, failed, cancelled, timed_out, skipped)")
	event := c.fs.String("event", "", "only runs started by this event id")
	limit := c.fs.Int("limit", 0, "at most this many runs (default: the server's)")
	before := c.fs.String("before", "", "only runs older than this cursor (the \"next\" of an earlier page)")
	if _, code, ok := c.parse(args); !ok {
		return code
	}
	if *limit < 0 {
		return usageError(stderr, c.name, fmt.Errorf("--limit %d: use a positive number", *limit))
	}
	q := url.Values{"workflow": {*workflow}, "status": {*status}, "event": {*event}, "before": {*before}}
	if *limit > 0 {
		q.Set("limit", strconv.Itoa(*limit))
	}
	return clientShow(ctx, c, http.MethodGet, clientQuery(clientPath("runs"), q), nil, func(w io.Writer, l *runList) {
		if len(l.Runs) == 0 {
			fmt.Fprintln(w, "no runs")
		} else {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tWORKFLOW\tSTATUS\tQUEUED\tDURATION\tREASON")
			for _, r := range l.Runs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Workflow, r.Status, clientTime(r.QueuedAt),
					clientDuration(r.StartedAt, r.FinishedAt), orDash(oneLine(r.Reason)))
			}
			tw.Flush()
		}
		if l.Next != "" {
			fmt.Fprintf(w, "next: %s\n", l.Next)
		}
	})
}

func runsShow(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newClientCall("runs show", "ID [-o json]", true, stdout, stderr)
	pos, code, ok := c.parse(args, "ID")
	if !ok {
		return code
	}
	return clientShow(ctx, c, http.MethodGet, clientPath("runs", pos[0]), nil, printRun)
}

// printRun shows a run's fields, then a table of its steps.
func printRun(w io.Writer, r *store.Run) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", name, value)
		}
	}
	field("run", r.ID)
	field("workflow", r.Workflow)
	field("revision", r.Revision)
	status := r.Status
	if r.CancelRequested && r.Status == workflows.StatusRunning {
		status += " (cancel requested)"
	}
	field("status", status)
	field("reason", oneLine(r.Reason))
	field("event", r.EventID)
	attempt := strconv.Itoa(r.Attempt)
	if r.RerunOf != "" {
		attempt += " (rerun of " + r.RerunOf + ")"
	}
	field("attempt", attempt)
	if len(r.Item) > 0 && string(r.Item) != "null" {
		field("item", string(r.Item))
	}
	field("group", r.Group)
	field("queued", clientTime(r.QueuedAt))
	field("started", clientTime(r.StartedAt))
	field("finished", clientTime(r.FinishedAt))
	field("duration", clientDuration(r.StartedAt, r.FinishedAt))
	field("node", r.Node)
	field("sandbox", r.Sandbox)
	tw.Flush()

	var steps []runner.StepResult
	if len(r.Steps) > 0 {
		if err := json.Unmarshal(r.Steps, &steps); err != nil {
			fmt.Fprintf(w, "\nsteps: unreadable: %s\n", err)
			return
		}
	}
	if len(steps) == 0 {
		return
	}
	fmt.Fprintln(w, "\nsteps:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ID\tNAME\tOUTCOME\tEXIT\tDURATION")
	for _, s := range steps {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", s.ID, s.Name, s.Outcome, exitText(s.ExitCode), clientDuration(s.StartedAt, s.FinishedAt))
	}
	tw.Flush()
	for _, s := range steps {
		if s.Error == "" && len(s.Outputs) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", s.ID)
		if s.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", oneLine(s.Error))
		}
		keys := make([]string, 0, len(s.Outputs))
		for k := range s.Outputs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %s = %s\n", k, outputValue(s.Outputs[k]))
		}
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

// oneLine keeps multi-line text on one line of a table.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", `\n`)
}

// clientReason is " (reason)", or nothing without one.
func clientReason(reason string) string {
	if reason == "" {
		return ""
	}
	return " (" + oneLine(reason) + ")"
}

func runsCancel(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newClientCall("runs cancel", "ID [-o json]", true, stdout, stderr)
	pos, code, ok := c.parse(args, "ID")
	if !ok {
		return code
	}
	return clientShow(ctx, c, http.MethodPost, clientPath("runs", pos[0], "cancel"), nil, func(w io.Writer, r *store.Run) {
		switch {
		case r.ID == "":
			fmt.Fprintf(w, "cancel requested for run %s\n", pos[0])
		case r.Status == workflows.StatusRunning:
			fmt.Fprintf(w, "cancelling run %s of %s\n", r.ID, r.Workflow)
		default:
			fmt.Fprintf(w, "run %s of %s: %s%s\n", r.ID, r.Workflow, r.Status, clientReason(r.Reason))
		}
	})
}

func runsRerun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newClientCall("runs rerun", "ID [-o json]", true, stdout, stderr)
	pos, code, ok := c.parse(args, "ID")
	if !ok {
		return code
	}
	return clientShow(ctx, c, http.MethodPost, clientPath("runs", pos[0], "rerun"), nil, printQueued)
}

// exitText shows a step's exit code, or "-" while it runs and for a step
// whose action never ran.
func exitText(code *int) string {
	if code == nil {
		return "-"
	}
	return strconv.Itoa(*code)
}
