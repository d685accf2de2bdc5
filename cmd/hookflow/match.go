package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/hookflow/hookflow/api"
)

func cmdMatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("match", "--path P[?QUERY] --event FILE [--header K=V]... [--method M] [--var K=V]... [--workflows DIR] [-o json]", stderr)
	path := fs.String("path", "", "webhook path, as in /hooks/<path>, with an optional ?query")
	eventFile := fs.String("event", "", "payload file (JSON, form or any body the endpoint takes)")
	method := fs.String("method", "POST", "HTTP method of the delivery")
	dir := fs.String("workflows", "workflows", "folder of workflow files")
	output := fs.String("o", "text", "output format: text or json")
	var headers, vars pairs
	fs.Var(&headers, "header", "request header K=V (repeatable), e.g. Content-Type=application/x-www-form-urlencoded")
	fs.Var(&vars, "var", "configuration variable K=V, vars.K (repeatable; over HOOKFLOW_VAR_K)")
	if _, err := parseArgs(fs, args); err != nil {
		return usageError(stderr, "match", err)
	}
	if *path == "" || *eventFile == "" && !strings.EqualFold(*method, http.MethodGet) {
		return usageError(stderr, "match", errors.New("--path and --event are required (a GET delivery's payload is its query string)"))
	}
	if *output != "text" && *output != "json" {
		return usageError(stderr, "match", fmt.Errorf("-o %q: use text or json", *output))
	}
	set, ok := loadSet(*dir, stderr)
	if !ok {
		return exitFail
	}
	d, err := fileDelivery(*path, *eventFile, *method, headers.Map())
	if err != nil {
		return usageError(stderr, "match", err)
	}
	dec, code := explain(ctx, set, localVars(vars), d, "match", *eventFile, stderr)
	if dec == nil {
		return code
	}
	answer := api.Explanation(dec)
	if *output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(answer)
		return exitOK
	}
	ev := answer.Event
	if answer.Challenge != "" {
		fmt.Fprintf(stdout, "event %s: a Slack url_verification handshake, answered with its challenge; nothing runs\n", ev.Name)
		return exitOK
	}
	fmt.Fprintf(stdout, "event %s (type %q, branch %q)\n", ev.Name, ev.Type, ev.Branch)
	for _, r := range answer.Verdicts {
		if r.Run {
			fmt.Fprintf(stdout, "  run   %s (%d run(s))\n", r.Workflow, r.Runs)
		} else {
			fmt.Fprintf(stdout, "  skip  %s: %s\n", r.Workflow, r.Reason)
		}
	}
	return exitOK
}
