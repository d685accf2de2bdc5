package workflows

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Report is the `report:` block (SPEC §13): the run's state as a commit
// status on the forge that delivered its event.
type Report struct {
	CommitStatus bool `yaml:"commit_status" json:"commit_status,omitempty"`
	// Token is the forge's API token, a template (usually a secret).
	Token *Template `yaml:"token" json:"token,omitempty"`
	// Context names the status on the commit; default hookflow/<workflow>.
	Context *Template `yaml:"context" json:"context,omitempty"`
	// PerJob adds one status per job, named <context>/<job>, to the run's.
	PerJob bool `yaml:"per_job" json:"per_job,omitempty"`
	Pos    Pos  `yaml:"-" json:"-"`
}

// Notify is one entry of `notify:`: whom to tell when a run ends a certain way.
type Notify struct {
	When Names `yaml:"when" json:"when"`
	// Repeat is how long a failing workflow stays quiet after a failure
	// notice; default DefaultRepeat.
	Repeat  Duration       `yaml:"repeat" json:"repeat,omitempty"`
	Slack   *SlackNotify   `yaml:"slack" json:"slack,omitempty"`
	Webhook *WebhookNotify `yaml:"webhook" json:"webhook,omitempty"`
	Email   *EmailNotify   `yaml:"email" json:"email,omitempty"`
	Pos     Pos            `yaml:"-" json:"-"`
}

// SlackNotify posts to a Slack incoming webhook.
type SlackNotify struct {
	URL *Template `yaml:"url" json:"url"`
}

// WebhookNotify posts the run as JSON to any URL.
type WebhookNotify struct {
	URL     *Template            `yaml:"url" json:"url"`
	Headers map[string]*Template `yaml:"headers" json:"headers,omitempty"`
}

// EmailNotify mails through the server's notify_smtp.
type EmailNotify struct {
	To      Names     `yaml:"to" json:"to"`
	Subject *Template `yaml:"subject" json:"subject,omitempty"`
}

// Names is a list that may be written as a single name.
type Names []string

func (ns *Names) decodeNode(d *decoder, n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		n = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: n.Line, Column: n.Column, Content: []*yaml.Node{n}}
	}
	var list []string
	d.decode(n, reflectValue(&list))
	*ns = list
	return nil
}

// Values of notify.when, and the kinds of notice.
const (
	NoticeFailure   = "failure"
	NoticeSuccess   = "success"
	NoticeAlways    = "always"
	NoticeRecovered = "recovered"
	// NoticeCancelled is the notice `always` sends for a cancelled run.
	NoticeCancelled = "cancelled"
)

// DefaultRepeat is notify.repeat's default.
const DefaultRepeat = time.Hour

// Kind names where the notice goes: slack, webhook or email.
func (n *Notify) Kind() string {
	switch {
	case n.Slack != nil:
		return "slack"
	case n.Webhook != nil:
		return "webhook"
	default:
		return "email"
	}
}

// Streak is what one notify entry remembers of its workflow's finished runs
// (per concurrency group when there is one).
type Streak struct {
	// Failing: the last run that succeeded or failed, failed.
	Failing bool `json:"failing"`
	// NoticedAt is when this entry last sent a failure notice.
	NoticedAt time.Time `json:"noticed_at,omitzero"`
}

// Notice decides what n tells of a run that ended with status, given the
// streak before it: the kind of notice ("" for none) and the streak after.
// A success after failures is `recovered` (never a first success); a failure
// of a workflow already failing is told again only once Repeat has passed
// since the last failure notice; a cancelled run counts for `always` alone
// and leaves the streak as it was.
func (n *Notify) Notice(status string, s Streak, now time.Time) (string, Streak) {
	has := func(w string) bool { return slices.Contains(n.When, w) }
	switch status {
	case StatusSucceeded:
		switch {
		case s.Failing && has(NoticeRecovered):
			return NoticeRecovered, Streak{}
		case has(NoticeSuccess) || has(NoticeAlways):
			return NoticeSuccess, Streak{}
		}
		return "", Streak{}
	case StatusFailed, StatusTimedOut:
		next := Streak{Failing: true, NoticedAt: s.NoticedAt}
		if !has(NoticeFailure) && !has(NoticeAlways) {
			return "", next
		}
		repeat := time.Duration(n.Repeat)
		if s.Failing && !s.NoticedAt.IsZero() && now.Sub(s.NoticedAt) < repeat {
			return "", next
		}
		next.NoticedAt = now
		return NoticeFailure, next
	case StatusCancelled:
		if has(NoticeAlways) {
			return NoticeCancelled, s
		}
	}
	return "", s
}

// ReportPlan is what a run keeps of its workflow's report: and notify:, as
// JSON in the store: reports go out as the workflow said when the run was
// queued, whatever it says by the time they are sent.
type ReportPlan struct {
	Report *Report   `json:"report,omitempty"`
	Notify []*Notify `json:"notify,omitempty"`
}

// Plan returns w's report plan as JSON, or nil when w reports nothing.
func (w *Workflow) Plan() []byte { return w.plan }

// ParsePlan reads a plan Plan wrote.
func ParsePlan(b []byte) (*ReportPlan, error) {
	var p ReportPlan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("report plan: %w", err)
	}
	return &p, nil
}

// MarshalJSON writes t as its source text.
func (t *Template) MarshalJSON() ([]byte, error) { return json.Marshal(t.Source) }

// UnmarshalJSON compiles source text MarshalJSON wrote.
func (t *Template) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	parsed, err := ParseTemplate(s)
	if err != nil {
		return err
	}
	*t = *parsed
	return nil
}

// validateReport checks report: and notify:, fills their defaults and
// keeps the plan.
func validateReport(w *Workflow, at func(Pos, string, ...any)) {
	if r := w.Report; r != nil {
		if !r.CommitStatus && !r.PerJob {
			at(r.Pos, "report: set commit_status: true (nothing else is reported yet)")
		}
		if r.Token == nil || r.Token.Source == "" {
			at(r.Pos, "report: a commit status needs token: ${{ secrets.NAME }} (an API token of the forge)")
		} else if r.Token.IsLiteral() {
			at(r.Token.Pos, "report.token: write the token as ${{ secrets.NAME }}, not in the workflow file")
		}
		if r.PerJob {
			r.CommitStatus = true
		}
	}
	for _, n := range w.Notify {
		if n == nil {
			continue
		}
		if len(n.When) == 0 {
			at(n.Pos, "notify: when is required: failure, success, always or recovered")
		}
		for _, when := range n.When {
			if !slices.Contains([]string{NoticeFailure, NoticeSuccess, NoticeAlways, NoticeRecovered}, when) {
				at(n.Pos, "notify.when %s: use failure, success, always or recovered", quoteText(when))
			}
		}
		if n.Repeat == 0 {
			n.Repeat = Duration(DefaultRepeat)
		}
		targets := 0
		for _, set := range []bool{n.Slack != nil, n.Webhook != nil, n.Email != nil} {
			if set {
				targets++
			}
		}
		if targets != 1 {
			at(n.Pos, "notify: give exactly one of slack: {url}, webhook: {url, headers} or email: {to, subject}")
		}
		switch {
		case n.Slack != nil && (n.Slack.URL == nil || n.Slack.URL.Source == ""):
			at(n.Pos, "notify.slack: url is required (the incoming webhook's, as ${{ secrets.NAME }})")
		case n.Webhook != nil && (n.Webhook.URL == nil || n.Webhook.URL.Source == ""):
			at(n.Pos, "notify.webhook: url is required")
		case n.Email != nil && len(n.Email.To) == 0:
			at(n.Pos, "notify.email: to is required")
		}
		if n.Email != nil {
			for _, to := range n.Email.To {
				if strings.ContainsAny(to, "\r\n") || !strings.Contains(to, "@") {
					at(n.Pos, "notify.email.to %s: write an address like ops@example.com", quoteText(to))
				}
			}
		}
	}
	if w.Report == nil && len(w.Notify) == 0 {
		return
	}
	b, err := json.Marshal(ReportPlan{Report: w.Report, Notify: w.Notify})
	if err != nil {
		at(w.Pos, "report: %s", err)
		return
	}
	w.plan = b
}
