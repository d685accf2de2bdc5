package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

func cmdEvents(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return clientGroup(ctx, "events", []clientSub{
		{"list", eventsList},
		{"show", eventsShow},
		{"replay", eventsReplay},
	}, args, stdout, stderr)
}

// eventList is the answer of GET /api/v1/events.
type eventList struct {
	Events []*store.Event `json:"events"`
	Next   string         `json:"next"`
}

func eventsList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newClientCall("events list", "[--path P] [--limit N] [--before CURSOR] [-o json]", true, stdout, stderr)
	path := c.fs.String("path", "", "only deliveries to this webhook path")
	limit := c.fs.Int("limit", 0, "at most this many events (default: the server's)")
	before := c.fs.String("before", "", "only events older than this cursor (the \"next\" of an earlier page)")
	if _, code, ok := c.parse(args); !ok {
		return code
	}
	if *limit < 0 {
		return usageError(stderr, c.name, fmt.Errorf("--limit %d: use a positive number", *limit))
	}
	q := url.Values{"path": {*path}, "before": {*before}}
	if *limit > 0 {
		q.Set("limit", strconv.Itoa(*limit))
	}
	return clientShow(ctx, c, http.MethodGet, clientQuery(clientPath("events"), q), nil, func(w io.Writer, l *eventList) {
		if len(l.Events) == 0 {
			fmt.Fprintln(w, "no events")
		} else {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tRECEIVED\tTRIGGER\tPATH\tTYPE\tRUNS\tSKIPPED")
			for _, e := range l.Events {
				runs, skipped := 0, 0
				for _, v := range e.Verdicts {
					runs += len(v.Runs)
					if len(v.Runs) == 0 {
						skipped++
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", e.ID, clientTime(e.ReceivedAt), eventTrigger(e),
					orDash(e.Path), orDash(e.Type), runs, skipped)
			}
			tw.Flush()
		}
		if l.Next != "" {
			fmt.Fprintf(w, "next: %s\n", l.Next)
		}
	})
}

func eventsShow(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newClientCall("events show", "ID [-o json]", true, stdout, stderr)
	pos, code, ok := c.parse(args, "ID")
	if !ok {
		return code
	}
	return clientShow(ctx, c, http.MethodGet, clientPath("events", pos[0]), nil, printEvent)
}

// printEvent shows a stored delivery and what each workflow made of it. The
// payload itself is left to -o json.
func printEvent(w io.Writer, e *store.Event) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", name, value)
		}
	}
	field("event", e.ID)
	field("trigger", eventTrigger(e))
	field("path", e.Path)
	field("type", e.Type)
	field("delivery", e.Delivery)
	field("dedup key", e.DedupKey)
	field("received", clientTime(e.ReceivedAt))
	tw.Flush()
	if len(e.Verdicts) == 0 {
		fmt.Fprintln(w, "\nno workflow listens for it")
		return
	}
	fmt.Fprintln(w, "\nverdicts:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, v := range e.Verdicts {
		if len(v.Runs) > 0 {
			fmt.Fprintf(tw, "  run\t%s\t%s\n", v.Workflow, strings.Join(v.Runs, ", "))
		} else {
			fmt.Fprintf(tw, "  skip\t%s\t%s\n", v.Workflow, oneLine(v.Reason))
		}
	}
	tw.Flush()
}

// eventTrigger is the trigger, with the provider that shaped the event.
func eventTrigger(e *store.Event) string {
	if e.Provider == "" {
		return e.Trigger
	}
	return e.Trigger + " (" + e.Provider + ")"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func eventsReplay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newClientCall("events replay", "ID [-o json]", true, stdout, stderr)
	pos, code, ok := c.parse(args, "ID")
	if !ok {
		return code
	}
	return clientShow(ctx, c, http.MethodPost, clientPath("events", pos[0], "replay"), nil, printReceipt)
}

// printReceipt shows the runs a replay queued and the workflows it skipped.
func printReceipt(w io.Writer, r *workflows.Receipt) {
	if r.Duplicate {
		fmt.Fprintf(w, "event %s: a duplicate of an earlier delivery; nothing new was queued\n", r.EventID)
	} else {
		fmt.Fprintf(w, "event %s: %d run(s) queued, %d workflow(s) skipped\n", r.EventID, len(r.Runs), len(r.Skipped))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, run := range r.Runs {
		fmt.Fprintf(tw, "  run\t%s\t%s\t%s\n", run.Workflow, run.ID, run.Status)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(tw, "  skip\t%s\t%s\n", s.Workflow, oneLine(s.Reason))
	}
	tw.Flush()
}
