package intake

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/oklog/ulid/v2"

	"github.com/hookflow/hookflow/triggers/providers"
	"github.com/hookflow/hookflow/workflows"
)

// Delivery is a request to /hooks/{path}, as the webhook endpoint received it
// or as `hookflow match` / `hookflow run` and POST /api/v1/match describe it.
type Delivery struct {
	// Path is the trigger path: "github" for /hooks/github. A leading
	// "/hooks/" and slashes are trimmed.
	Path   string
	Method string // default POST
	Header http.Header
	Query  url.Values
	Body   []byte

	// Workflow, when set, decides only this workflow, by its own filters
	// (disabled, for_each, if) and not by its triggers': `hookflow run`
	// starts the workflow it names with the payload it is given.
	Workflow string
	// Provider, when set, shapes the event instead of the path's provider
	// (`hookflow run --provider`).
	Provider string
	// Inputs are dispatch inputs given with the delivery to Workflow
	// (`hookflow run --event F --input K=V`).
	Inputs map[string]any
}

// Target splits what a user writes for a delivery's target, "/hooks/p?x=1" or
// "p", into the trigger path and the query string.
func Target(s string) (path string, query url.Values, err error) {
	path, rawQuery, _ := strings.Cut(s, "?")
	query, err = url.ParseQuery(rawQuery)
	if err != nil {
		return "", nil, workflows.Errorf(workflows.EInvalid, "query string: %s", err)
	}
	return cleanPath(path), query, nil
}

func cleanPath(p string) string {
	p = strings.Trim(p, "/")
	if rest, ok := strings.CutPrefix(p, "hooks/"); ok {
		return strings.Trim(rest, "/")
	}
	return p
}

// Route returns the webhook triggers that serve path in set, or an error with
// code ENotFound when none does, or ENotAllowed when none takes method.
func Route(set *workflows.Set, path, method string) ([]*workflows.Webhook, error) {
	hooks := set.Hooks(path)
	if len(hooks) == 0 {
		return nil, workflows.Errorf(workflows.ENotFound, "no workflow serves /hooks/%s", path)
	}
	for _, hook := range hooks {
		if slices.Contains(hook.Methods, method) {
			return hooks, nil
		}
	}
	return hooks, workflows.Errorf(workflows.ENotAllowed, "method %s not allowed", method)
}

// AllowedMethods lists the methods the triggers on one path take.
func AllowedMethods(hooks []*workflows.Webhook) []string {
	var all []string
	for _, hook := range hooks {
		for _, m := range hook.Methods {
			if !slices.Contains(all, m) {
				all = append(all, m)
			}
		}
	}
	return all
}

func (d *Delivery) decide(in *Intake, set *workflows.Set, verify bool) (*Decision, error) {
	path, method := cleanPath(d.Path), strings.ToUpper(d.Method)
	if method == "" {
		method = http.MethodPost
	}
	var only *workflows.Workflow
	var inputs map[string]any
	if d.Workflow != "" {
		w, ok := set.Lookup(d.Workflow)
		if !ok {
			return nil, workflows.Errorf(workflows.ENotFound, "no workflow %q", d.Workflow)
		}
		var err error
		if inputs, err = resolveInputs(w, d.Inputs); err != nil {
			return nil, err
		}
		only = w
	}
	var hooks []*workflows.Webhook
	if only == nil || path != "" {
		var err error
		if hooks, err = Route(set, path, method); err != nil {
			return nil, err
		}
	}
	// Every trigger on a path has the same provider, secret and options.
	var hook *workflows.Webhook
	provider := d.Provider
	if len(hooks) > 0 {
		hook = hooks[0]
		if provider == "" {
			provider = hook.Provider
		}
	}
	if provider == "" {
		provider = "generic"
	}
	req := &providers.Request{Method: method, Path: path, Headers: d.Header, Query: d.Query, Body: d.Body}
	if req.Headers == nil {
		req.Headers = http.Header{}
	}
	if req.Query == nil {
		req.Query = url.Values{}
	}
	now := in.now()
	if verify {
		if err := providers.Verify(provider, req, in.credentials(hook), now); err != nil {
			return nil, &workflows.Error{Code: workflows.EUnauthorized, Message: "missing or invalid signature", Cause: err}
		}
	}

	ev := &workflows.Event{ID: ulid.Make().String(), Trigger: workflows.TriggerWebhook, ReceivedAt: now.UTC()}
	var opt providers.Options
	if hook != nil {
		opt = providers.Options{EventHeader: hook.EventHeader, DeliveryHeader: hook.DeliveryHeader}
	}
	if err := providers.Normalize(provider, req, opt, ev); err != nil {
		return nil, workflows.Errorf(workflows.EInvalid, "%s", err)
	}
	if challenge, ok := slackChallenge(provider, ev); ok {
		// Slack checks a new Events API URL once by asking for its
		// challenge back; that handshake is not an event.
		return &Decision{Event: ev, Challenge: challenge}, nil
	}
	providers.RedactHeaders(ev.Headers)
	providers.RedactQuery(ev.Query)

	if only != nil {
		ev.Inputs = inputs
		scope := in.scope(ev)
		scope.Inputs = inputs
		return &Decision{Event: ev, Verdicts: []workflows.Verdict{only.Decide(scope)}}, nil
	}
	scope := in.scope(ev)
	buf := in.verdictBuffer()
	dec := &Decision{Event: ev, DedupKey: dedupKey(hooks, scope), buf: buf, pool: &in.buffers}
	dec.Verdicts = set.MatchInto(scope, *buf)
	return dec, nil
}

// credentials renders a trigger's secret and basic-auth settings; with no
// trigger (a local run by workflow name) there are none.
func (in *Intake) credentials(hook *workflows.Webhook) providers.Credentials {
	if hook == nil {
		return providers.Credentials{}
	}
	var names []string
	for _, t := range []*workflows.Template{hook.Secret, basicPart(hook, true), basicPart(hook, false)} {
		if t != nil {
			names = append(names, t.SecretNames()...)
		}
	}
	scope := in.scope(nil)
	if in.Secrets != nil {
		scope.Secrets = in.Secrets(names)
	}
	render := func(t *workflows.Template) string {
		if t == nil {
			return ""
		}
		s, err := t.RenderString(scope)
		if err != nil {
			return "" // an unrenderable secret is an empty one: fail closed
		}
		return s
	}
	c := providers.Credentials{Secret: render(hook.Secret), SecretSet: hook.Secret != nil, Signature: hook.Signature}
	if hook.BasicAuth != nil {
		c.BasicSet = true
		c.Username, c.Password = render(hook.BasicAuth.Username), render(hook.BasicAuth.Password)
	}
	return c
}

func basicPart(hook *workflows.Webhook, user bool) *workflows.Template {
	if hook.BasicAuth == nil {
		return nil
	}
	if user {
		return hook.BasicAuth.Username
	}
	return hook.BasicAuth.Password
}

// dedupKey is the key that makes a redelivery a duplicate: the trigger's
// `dedup` expression if one is set, else the provider's delivery id. Keys are
// scoped to the path.
func dedupKey(hooks []*workflows.Webhook, scope *workflows.Scope) string {
	for _, hook := range hooks {
		if hook.Dedup == nil {
			continue
		}
		v, err := hook.Dedup.Eval(scope)
		if err != nil || v == nil || workflows.Stringify(v) == "" {
			return ""
		}
		return "hook/" + hook.Path + "/expr/" + workflows.Stringify(v)
	}
	if scope.Event.Delivery == "" {
		return ""
	}
	return "hook/" + hooks[0].Path + "/delivery/" + scope.Event.Delivery
}

// slackChallenge returns the challenge of a Slack url_verification request.
func slackChallenge(provider string, ev *workflows.Event) (string, bool) {
	if provider != "slack" || ev.Type != "url_verification" {
		return "", false
	}
	body, _ := ev.Body.(map[string]any)
	challenge, ok := body["challenge"].(string)
	return challenge, ok
}
