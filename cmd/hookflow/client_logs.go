package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hookflow/hookflow/client"
	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/workflows"
)

func runsLogs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newClientCall("runs logs", "ID [--job KEY] [-f]", false, stdout, stderr)
	follow := c.fs.Bool("f", false, "follow the log until the run ends; exit 0 when it succeeded, 1 otherwise")
	job := c.fs.String("job", "", "only this job's lines: its key, such as 'deploy (web-01)', or its id for every cell")
	pos, code, ok := c.parse(args, "ID")
	if !ok {
		return code
	}
	// Steps print colour for terminals; a pipe or NO_COLOR gets plain text.
	colour := colourOn(stdout)
	if !*follow {
		w := &plainWriter{w: stdout}
		var out io.Writer = w
		if colour {
			out = stdout
		}
		err := c.api.Log(ctx, pos[0], *job, out)
		if ferr := w.Flush(); err == nil {
			err = ferr
		}
		if err != nil {
			return c.fail(err)
		}
		return exitOK
	}
	r, err := c.api.Follow(ctx, pos[0], *job, func(l client.LogLine) {
		if !colour {
			l.Text = stripANSI(l.Text)
		}
		printLogLine(stdout, l, *job)
	})
	if err != nil {
		return c.fail(err)
	}
	return printRunEnd(stdout, "==> ", r)
}

// printRunEnd tells, after prefix, how run r ended, and returns the exit
// code of a command that waited for it: 0 when it succeeded, else 1.
func printRunEnd(w io.Writer, prefix string, r *client.Run) int {
	took := ""
	if d := clientDuration(r.StartedAt, r.FinishedAt); d != "-" {
		took = " in " + d
	}
	fmt.Fprintf(w, "%srun %s of %s: %s%s%s\n", prefix, r.ID, r.Workflow, r.Status, took, clientReason(r.Reason))
	if r.Status == workflows.StatusSucceeded {
		return exitOK
	}
	return exitFail
}

// printLogLine prints a followed log line: stderr marked with "! ",
// hookflow's own lines with "==> ", and a line of a `jobs:` run after its
// job's key, unless job (the one followed) is that key.
func printLogLine(w io.Writer, l client.LogLine, job string) {
	if l.Job != "" && l.Job != job {
		fmt.Fprintf(w, "[%s] ", l.Job)
	}
	switch l.Stream {
	case runner.Stderr:
		fmt.Fprintf(w, "! %s\n", l.Text)
	case runner.System:
		fmt.Fprintf(w, "==> %s\n", l.Text)
	default:
		fmt.Fprintln(w, l.Text)
	}
}
