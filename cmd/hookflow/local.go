package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/hookflow/hookflow/actions/builtin"
	"github.com/hookflow/hookflow/config"
	"github.com/hookflow/hookflow/intake"
	"github.com/hookflow/hookflow/workflows"
)

func cmdValidate(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", "[PATH...]", stderr)
	paths, err := parseArgs(fs, args)
	if err != nil {
		return usageError(stderr, "validate", err)
	}
	if len(paths) == 0 {
		paths = []string{defaultWorkflows}
		fmt.Fprintf(stderr, "reading workflows from %s (the default; pass a folder: hookflow validate DIR)\n", inspectFolder(defaultWorkflows).display())
	}
	for _, p := range paths {
		if hint := inspectFolder(p).sourceHint(); hint != "" {
			fmt.Fprintln(stderr, hint)
		}
	}
	set, err := workflows.LoadPaths(builtin.Registry(), paths...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	fmt.Fprintf(stdout, "%d workflows OK (revision %s)\n", len(set.Workflows()), set.Revision)
	return exitOK
}

func cmdSchema(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("schema", "", stderr)
	if _, err := parseArgs(fs, args); err != nil {
		return usageError(stderr, "schema", err)
	}
	params := map[string]any{}
	reg := builtin.Registry()
	for _, name := range reg.Names() {
		k, _ := reg.Lookup(name)
		params[name] = k.Params
	}
	b, err := workflows.Schema(params)
	if err != nil {
		fmt.Fprintf(stderr, "hookflow schema: %s\n", err)
		return exitFail
	}
	stdout.Write(b)
	return exitOK
}

// loadSet loads the workflows folder for run and match, printing any errors.
func loadSet(dir string, stderr io.Writer) (*workflows.Set, bool) {
	set, err := workflows.LoadPaths(builtin.Registry(), dir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, false
	}
	return set, true
}

// explain decides what entry would start against set, storing nothing. On an
// error it prints it and returns the exit code for command cmd: a usage error
// for a malformed payload (naming the file), a failure otherwise.
func explain(ctx context.Context, set *workflows.Set, vars map[string]string, entry intake.Entry, cmd, file string, stderr io.Writer) (*intake.Decision, int) {
	dec, err := (&intake.Intake{Workflows: func() *workflows.Set { return set }, Vars: vars}).Explain(ctx, entry)
	switch workflows.ErrorCode(err) {
	case "":
		return dec, exitOK
	case workflows.EInvalid:
		if file != "" {
			err = fmt.Errorf("event file %s: %w", file, err)
		}
		return nil, usageError(stderr, cmd, err)
	}
	fmt.Fprintf(stderr, "hookflow %s: %s\n", cmd, err)
	return nil, exitFail
}

// fileDelivery is a delivery of the payload in file (none when file is "") to
// target ("p" or "p?query"), with the headers given, as the webhook endpoint
// would receive it.
func fileDelivery(target, file, method string, headers map[string]string) (*intake.Delivery, error) {
	var body []byte
	if file != "" {
		var err error
		if body, err = os.ReadFile(file); err != nil {
			return nil, fmt.Errorf("event file: %w", errors.Unwrap(err))
		}
	}
	path, query, err := intake.Target(target)
	if err != nil {
		return nil, err
	}
	d := &intake.Delivery{Path: path, Method: method, Header: http.Header{}, Query: query, Body: body}
	for k, v := range headers {
		d.Header.Set(k, v)
	}
	return d, nil
}

// localVars are the configuration variables of a local command: the
// HOOKFLOW_VAR_<NAME> environment variables, then its --var flags.
func localVars(flags pairs) map[string]string {
	vars := (&config.Config{}).VarValues(os.Environ())
	for k, v := range flags.Map() {
		vars[k] = v
	}
	return vars
}

// secretsFromEnv reads HOOKFLOW_SECRET_<NAME> variables for the names given.
func secretsFromEnv(names []string) map[string]string {
	secrets := map[string]string{}
	for _, n := range names {
		if v, ok := os.LookupEnv("HOOKFLOW_SECRET_" + n); ok {
			secrets[n] = v
		}
	}
	return secrets
}
