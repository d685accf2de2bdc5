// Package providers turns webhook deliveries from the senders hookflow knows
// (SPEC §4: GitHub, GitLab, Gitea, Forgejo, Bitbucket, Alertmanager, Grafana,
// Slack, Stripe, Standard Webhooks, and generic senders) into the normalised
// workflows.Event that workflow filters and steps read.
package providers

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/hookflow/hookflow/workflows"
)

// Normalised event types shared by several providers (SPEC §4). Any other
// event keeps its raw name, lower-cased, as its type.
const (
	TypePush        = "push"
	TypeTag         = "tag"
	TypePullRequest = "pull_request"
	TypeRelease     = "release"
	TypePing        = "ping"
	TypeAlert       = "alert"
)

// Options is the part of a webhook trigger's configuration that normalisation
// needs. Only the generic provider reads it; the others name their events and
// deliveries in fixed places.
type Options struct {
	// EventHeader names the header holding the event name (`event_header`).
	EventHeader string
	// DeliveryHeader names the header holding the delivery id (`delivery_header`).
	DeliveryHeader string
}

// normalizer fills the provider-specific fields of ev. It runs after the
// request-level fields (Headers with lower-case keys, Query, Body, Raw) are set,
// reads them from ev, and must accept a body of any shape without panicking.
type normalizer func(ev *workflows.Event, opt Options)

// normalizers is every provider's normaliser, by the name a workflow's
// `provider:` uses. It is the single list of providers here; a test checks it
// against workflows.ProviderNames().
var normalizers = map[string]normalizer{
	"github":       forge([]string{"x-github-event"}, []string{"x-github-delivery"}),
	"gitea":        forge([]string{"x-gitea-event"}, []string{"x-gitea-delivery"}),
	"forgejo":      forge([]string{"x-forgejo-event", "x-gitea-event"}, []string{"x-forgejo-delivery", "x-gitea-delivery"}),
	"gitlab":       gitlab,
	"bitbucket":    bitbucket,
	"alertmanager": alerts,
	"grafana":      alerts,
	"slack":        slack,
	"stripe":       stripe,
	"standard":     standard,
	"generic":      generic,
}

// Normalize fills ev from the delivery r received for a trigger of provider:
// provider, method, path, headers (lower-case keys, repeated values joined with
// ", "), query (the first value of each key), body and raw (see Decode), and
// then what SPEC §4 lists for the provider: name, type, action, delivery, the
// git fields, or the alert fields. Fields the delivery does not carry stay
// empty. It leaves ID, Trigger and ReceivedAt to the caller.
//
// An empty provider means generic, as in workflow files. An unknown provider is
// a plain (internal) error, since workflow loading rejects those; a payload that
// cannot be decoded is a workflows.EInvalid error from Decode, after the
// request-level fields are filled.
func Normalize(provider string, r *Request, opt Options, ev *workflows.Event) error {
	if provider == "" {
		provider = "generic"
	}
	normalize, ok := normalizers[provider]
	if !ok {
		return fmt.Errorf("normalise: unknown provider %q", provider)
	}
	ev.Provider = provider
	ev.Method = r.Method
	ev.Path = r.Path
	ev.Headers = lowerHeaders(r.Headers)
	ev.Query = firstValues(r.Query)
	body, raw, err := Decode(r)
	ev.Raw = raw
	if err != nil {
		return err
	}
	ev.Body = body
	normalize(ev, opt)
	return nil
}

// lowerHeaders flattens h to one string per lower-cased name, joining repeated
// values with ", " as HTTP allows for list-valued headers. Keys are visited in
// sorted order so that names differing only in case (possible in a hand-built
// http.Header) merge the same way every time.
func lowerHeaders(h http.Header) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for _, k := range slices.Sorted(maps.Keys(h)) {
		key := strings.ToLower(k)
		v := strings.Join(h[k], ", ")
		if prev, ok := out[key]; ok {
			v = prev + ", " + v
		}
		out[key] = v
	}
	return out
}

// firstValues keeps the first value of each query parameter, which is what a
// filter like `event.query.env == "prod"` means.
func firstValues(q url.Values) map[string]string {
	if len(q) == 0 {
		return nil
	}
	out := make(map[string]string, len(q))
	for k, vs := range q {
		if len(vs) > 0 {
			out[k] = vs[0]
		} else {
			out[k] = ""
		}
	}
	return out
}

// header returns the first of the named headers (lower-case names) that ev
// carries with a non-empty value.
func header(ev *workflows.Event, names ...string) string {
	for _, n := range names {
		if v := ev.Headers[n]; v != "" {
			return v
		}
	}
	return ""
}

// generic names the event and the delivery from the headers the trigger
// configures; without event_header an event has neither name nor type.
func generic(ev *workflows.Event, opt Options) {
	if opt.EventHeader != "" {
		ev.Name = header(ev, strings.ToLower(opt.EventHeader))
		ev.Type = strings.ToLower(ev.Name)
	}
	if opt.DeliveryHeader != "" {
		ev.Delivery = header(ev, strings.ToLower(opt.DeliveryHeader))
	}
}
