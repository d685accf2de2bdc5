package workflows

import (
	"slices"
	"time"
)

// Trigger kinds: what started an event.
const (
	TriggerWebhook  = "webhook"
	TriggerCron     = "cron"
	TriggerDispatch = "dispatch"
	TriggerReplay   = "replay"
)

// Event is a normalised delivery, as expressions see it (SPEC §4). Absent fields
// are empty values, never errors. The json form is what a step reads from
// $HOOKFLOW_EVENT and what the store keeps.
type Event struct {
	ID         string            `json:"id" expr:"id"`
	Trigger    string            `json:"trigger" expr:"trigger"`
	Provider   string            `json:"provider,omitempty" expr:"provider"`
	Path       string            `json:"path,omitempty" expr:"path"`
	Method     string            `json:"method,omitempty" expr:"method"`
	Name       string            `json:"name,omitempty" expr:"name"`
	Type       string            `json:"type,omitempty" expr:"type"`
	Action     string            `json:"action,omitempty" expr:"action"`
	Delivery   string            `json:"delivery,omitempty" expr:"delivery"`
	ReceivedAt time.Time         `json:"received_at" expr:"received_at"`
	Headers    map[string]string `json:"headers,omitempty" expr:"headers"`
	Query      map[string]string `json:"query,omitempty" expr:"query"`
	Body       any               `json:"body,omitempty" expr:"body"`
	Raw        string            `json:"raw,omitempty" expr:"raw"`

	// Git providers.
	Repo        string      `json:"repo,omitempty" expr:"repo"`
	Ref         string      `json:"ref,omitempty" expr:"ref"`
	Branch      string      `json:"branch,omitempty" expr:"branch"`
	Tag         string      `json:"tag,omitempty" expr:"tag"`
	Commit      string      `json:"commit,omitempty" expr:"commit"`
	Before      string      `json:"before,omitempty" expr:"before"`
	CloneURL    string      `json:"clone_url,omitempty" expr:"clone_url"`
	Sender      string      `json:"sender,omitempty" expr:"sender"`
	Changed     []string    `json:"changed,omitempty" expr:"changed"`
	PullRequest PullRequest `json:"pull_request,omitzero" expr:"pull_request"`

	// Alerts (alertmanager, grafana).
	Status      string            `json:"status,omitempty" expr:"status"`
	Alerts      []Alert           `json:"alerts,omitempty" expr:"alerts"`
	Labels      map[string]string `json:"labels,omitempty" expr:"labels"`
	Annotations map[string]string `json:"annotations,omitempty" expr:"annotations"`
	GroupKey    string            `json:"group_key,omitempty" expr:"group_key"`

	// Cron.
	Schedule    string    `json:"schedule,omitempty" expr:"schedule"`
	ScheduledAt time.Time `json:"scheduled_at,omitzero" expr:"scheduled_at"`

	// Dispatch.
	Inputs map[string]any `json:"inputs,omitempty" expr:"inputs"`
	Actor  string         `json:"actor,omitempty" expr:"actor"`
}

// PullRequest is the pull-request part of a git event.
type PullRequest struct {
	Number int    `json:"number,omitempty" expr:"number"`
	Base   string `json:"base,omitempty" expr:"base"`
	Head   string `json:"head,omitempty" expr:"head"`
	Merged bool   `json:"merged,omitempty" expr:"merged"`
}

// Alert is one alert of an Alertmanager or Grafana notification.
type Alert struct {
	Status      string            `json:"status" expr:"status"`
	Labels      map[string]string `json:"labels" expr:"labels"`
	Annotations map[string]string `json:"annotations" expr:"annotations"`
	StartsAt    time.Time         `json:"starts_at" expr:"starts_at"`
	EndsAt      time.Time         `json:"ends_at" expr:"ends_at"`
	Fingerprint string            `json:"fingerprint" expr:"fingerprint"`
}

// forExpr returns ev with every string map present, empty where ev has none.
// expr compiles `event.query.env == "prod"` as a string comparison, and
// reading a key of a nil map gives it nil rather than "": the expression
// would fail instead of being false (SPEC §4: absent fields are empty, never
// an error). ev is not modified; it is returned as it is when nothing lacks.
func (ev *Event) forExpr() *Event {
	if ev.Headers != nil && ev.Query != nil && ev.Labels != nil && ev.Annotations != nil && !slices.ContainsFunc(ev.Alerts, Alert.lacksMaps) {
		return ev
	}
	c := *ev
	c.Headers, c.Query = orEmpty(c.Headers), orEmpty(c.Query)
	c.Labels, c.Annotations = orEmpty(c.Labels), orEmpty(c.Annotations)
	if slices.ContainsFunc(c.Alerts, Alert.lacksMaps) {
		c.Alerts = slices.Clone(c.Alerts)
		for i := range c.Alerts {
			c.Alerts[i].Labels, c.Alerts[i].Annotations = orEmpty(c.Alerts[i].Labels), orEmpty(c.Alerts[i].Annotations)
		}
	}
	return &c
}

func (a Alert) lacksMaps() bool { return a.Labels == nil || a.Annotations == nil }

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
