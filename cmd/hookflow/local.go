package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/hookflow/hookflow/actions"
	applyaction "github.com/hookflow/hookflow/actions/apply"
	gitaction "github.com/hookflow/hookflow/actions/git"
	httpaction "github.com/hookflow/hookflow/actions/http"
	"github.com/hookflow/hookflow/actions/shell"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/triggers/providers"
	"github.com/hookflow/hookflow/workflows"
)

// newRegistry returns the action kinds this binary ships.
func newRegistry() *actions.Registry {
	r, err := actions.NewRegistry(shell.Kind(), httpaction.Kind(), gitaction.Kind(), applyaction.Kind())
	if err != nil {
		panic(err) // two kinds with one name: a programming error
	}
	return r
}

func cmdValidate(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", "[PATH...]", stderr)
	paths, err := parseArgs(fs, args)
	if err != nil {
		return usageError(stderr, "validate", err)
	}
	if len(paths) == 0 {
		paths = []string{"workflows"}
	}
	set, err := workflows.LoadPaths(newRegistry(), paths...)
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
	reg := newRegistry()
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
	set, err := workflows.LoadPaths(newRegistry(), dir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, false
	}
	return set, true
}

// localEvent builds an event from a payload file as if it had been delivered to
// a webhook path, without checking any signature.
func localEvent(file, provider, path, method string, headers map[string]string, opt providers.Options) (*workflows.Event, error) {
	body, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("event file: %w", errors.Unwrap(err))
	}
	if !json.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v)
		return nil, fmt.Errorf("event file %s is not valid JSON: %s", file, strings.TrimPrefix(err.Error(), "json: "))
	}
	ev, err := deliveryEvent(provider, path, method, headers, body, opt)
	if err != nil {
		return nil, fmt.Errorf("event file %s: %w", file, err)
	}
	return ev, nil
}

// deliveryEvent normalises a JSON delivery to path into an event, as the
// webhook endpoint would after verifying it.
func deliveryEvent(provider, path, method string, headers map[string]string, body []byte, opt providers.Options) (*workflows.Event, error) {
	req := &providers.Request{Method: method, Path: path, Headers: http.Header{}, Query: url.Values{}, Body: body, ContentType: "application/json"}
	for k, v := range headers {
		req.Headers.Set(k, v)
	}
	req.Headers.Set("Content-Type", "application/json")
	ev := &workflows.Event{ID: ulid.Make().String(), Trigger: workflows.TriggerWebhook, ReceivedAt: time.Now().UTC()}
	if err := providers.Normalize(provider, req, opt, ev); err != nil {
		return nil, err
	}
	return ev, nil
}

// match is POST /api/v1/match: what a delivery would start, with nothing
// stored and no signature checked.
func (a *App) match(_ context.Context, req api.MatchRequest) (*workflows.Event, []workflows.Verdict, error) {
	set := a.source.Set()
	path := strings.TrimPrefix(strings.TrimPrefix(req.Path, "/hooks"), "/")
	hooks := set.Hooks(path)
	if len(hooks) == 0 {
		return nil, nil, workflows.Errorf(workflows.ENotFound, "no workflow serves /hooks/%s", path)
	}
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = http.MethodPost
	}
	body := []byte(req.Body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	ev, err := deliveryEvent(hooks[0].Provider, path, method, req.Headers, body, hookOptions(hooks[0]))
	if err != nil {
		return nil, nil, workflows.Errorf(workflows.EInvalid, "%s", err)
	}
	return ev, set.Match(workflows.NewScope(ev)), nil
}

// hookOptions are the provider options a webhook trigger sets.
func hookOptions(h *workflows.Webhook) providers.Options {
	if h == nil {
		return providers.Options{}
	}
	return providers.Options{EventHeader: h.EventHeader, DeliveryHeader: h.DeliveryHeader}
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
