package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hookflow/hookflow/workflows"
)

// matchResult is one workflow's verdict, as `match -o json` prints it.
type matchResult struct {
	Workflow string `json:"workflow"`
	Run      bool   `json:"run"`
	Runs     int    `json:"runs,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

func cmdMatch(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("match", "--path P --event FILE [--header K=V]... [--method M] [--workflows DIR] [-o json]", stderr)
	path := fs.String("path", "", "webhook path, as in /hooks/<path>")
	eventFile := fs.String("event", "", "JSON payload file")
	method := fs.String("method", "POST", "HTTP method of the delivery")
	dir := fs.String("workflows", "workflows", "folder of workflow files")
	output := fs.String("o", "text", "output format: text or json")
	var headers pairs
	fs.Var(&headers, "header", "request header K=V (repeatable)")
	if _, err := parseArgs(fs, args); err != nil {
		return usageError(stderr, "match", err)
	}
	if *path == "" || *eventFile == "" {
		return usageError(stderr, "match", errors.New("--path and --event are required"))
	}
	if *output != "text" && *output != "json" {
		return usageError(stderr, "match", fmt.Errorf("-o %q: use text or json", *output))
	}
	set, ok := loadSet(*dir, stderr)
	if !ok {
		return exitFail
	}
	*path = strings.TrimPrefix(strings.TrimPrefix(*path, "/hooks"), "/")
	hooks := set.Hooks(*path)
	if len(hooks) == 0 {
		fmt.Fprintf(stderr, "hookflow match: no workflow serves /hooks/%s\n", *path)
		return exitFail
	}
	ev, err := localEvent(*eventFile, hooks[0].Provider, *path, strings.ToUpper(*method), headers.Map(), hookOptions(hooks[0]))
	if err != nil {
		return usageError(stderr, "match", err)
	}
	var results []matchResult
	for _, v := range set.Match(workflows.NewScope(ev)) {
		r := matchResult{Workflow: v.Workflow.Name, Run: v.Run, Reason: v.Reason}
		if v.Run {
			r.Runs = max(1, len(v.Items))
		}
		results = append(results, r)
	}
	if *output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"event": ev, "verdicts": results})
		return exitOK
	}
	fmt.Fprintf(stdout, "event %s (type %q, branch %q)\n", ev.Name, ev.Type, ev.Branch)
	for _, r := range results {
		if r.Run {
			fmt.Fprintf(stdout, "  run   %s (%d run(s))\n", r.Workflow, r.Runs)
		} else {
			fmt.Fprintf(stdout, "  skip  %s: %s\n", r.Workflow, r.Reason)
		}
	}
	return exitOK
}
