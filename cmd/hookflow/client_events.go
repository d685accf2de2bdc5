package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/hookflow/hookflow/client"
	"github.com/hookflow/hookflow/store"
)

func cmdEvents(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return clientGroup(ctx, "events", eventsSubs(), args, stdout, stderr)
}

func eventsSubs() []clientSub {
	return []clientSub{{"list", eventsList}, {"show", eventsShow}, {"replay", eventsReplay}}
}

func eventsList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newClientCall("events list", "[--path P | --refused] [--limit N] [--before CURSOR] [-o json]", true, stdout, stderr)
	var f client.EventFilter
	var refused bool
	c.fs.StringVar(&f.Path, "path", "", "only deliveries to this webhook path")
	c.fs.BoolVar(&refused, "refused", false, "the deliveries refused rather than stored (bad signature, unknown path, duplicate, …), with why")
	c.pageFlags("events", &f.Page)
	if code, ok := c.parsePage(args, &f.Page); !ok {
		return code
	}
	if refused {
		if f.Path != "" {
			return usageError(stderr, c.name, errors.New("--path does not filter refused deliveries"))
		}
		l, err := c.api.ListRefused(ctx, f.Page)
		return show(c, l, err, printRefused)
	}
	l, err := c.api.ListEvents(ctx, f)
	return show(c, l, err, func(w io.Writer, l *client.EventList) {
		rows := make([]string, len(l.Events))
		for i, e := range l.Events {
			runs, skipped := 0, 0
			for _, v := range e.Verdicts {
				runs += len(v.Runs)
				if len(v.Runs) == 0 {
					skipped += max(v.Count, 1)
				}
			}
			rows[i] = fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%d\t%d", e.ID, clientTime(e.ReceivedAt), eventTrigger(e),
				orDash(e.Path), orDash(e.Type), runs, skipped)
		}
		printPage(w, "events", "ID\tRECEIVED\tTRIGGER\tPATH\tTYPE\tRUNS\tSKIPPED", rows, l.Next)
	})
}

// printRefused lists refused deliveries with why each was refused.
func printRefused(w io.Writer, l *client.RefusalList) {
	rows := make([]string, len(l.Refused))
	for i, r := range l.Refused {
		rows[i] = fmt.Sprintf("%s\t%s\t%s\t%s\t%d\t%s", r.ID, clientTime(r.Time), r.Method, orDash(r.Path),
			r.Status, oneLine(r.Reason))
	}
	printPage(w, "refused deliveries", "ID\tTIME\tMETHOD\tPATH\tSTATUS\tREASON", rows, l.Next)
}

func eventsShow(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return byID(ctx, "events show", args, stdout, stderr, (*client.Client).GetEvent, printEvent)
}

// printEvent shows a stored delivery and what each workflow made of it. The
// payload itself is left to -o json.
func printEvent(w io.Writer, e *client.Event) {
	printFields(w, "event", e.ID, "trigger", eventTrigger(&e.Event), "path", e.Path, "type", e.Type,
		"delivery", e.Delivery, "dedup key", e.DedupKey, "received", clientTime(e.ReceivedAt))
	if len(e.Verdicts) == 0 {
		fmt.Fprintln(w, "\nno workflow listens for it")
		return
	}
	fmt.Fprintln(w, "\nverdicts:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, v := range e.Verdicts {
		switch {
		case len(v.Runs) > 0:
			fmt.Fprintf(tw, "  run\t%s\t%s\n", v.Workflow, strings.Join(v.Runs, ", "))
		case v.Count > 0:
			fmt.Fprintf(tw, "  skip\t%d more\t%s\n", v.Count, oneLine(v.Reason))
		default:
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

func eventsReplay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return byID(ctx, "events replay", args, stdout, stderr, (*client.Client).Replay, printReceipt)
}

// printReceipt shows the runs a replay queued and the workflows it skipped.
func printReceipt(w io.Writer, r *client.Receipt) {
	if r.Duplicate {
		fmt.Fprintf(w, "event %s: a duplicate of an earlier delivery; nothing new was queued\n", r.EventID)
	} else {
		fmt.Fprintf(w, "event %s: %d run(s) queued, %d workflow(s) skipped\n", r.EventID, len(r.Runs), r.SkippedCount())
	}
	for _, run := range r.Runs {
		printStarted(w, run, 1, "")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range r.Skipped {
		fmt.Fprintf(tw, "  skip\t%s\t%s\n", s.Workflow, oneLine(s.Reason))
	}
	for _, reason := range slices.Sorted(maps.Keys(r.SkippedMore)) {
		fmt.Fprintf(tw, "  skip\t%d more\t%s\n", r.SkippedMore[reason], oneLine(reason))
	}
	tw.Flush()
}
