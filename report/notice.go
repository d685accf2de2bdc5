package report

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// headline says in a few words what happened: "deploy failed".
func headline(m *Message) string {
	switch m.State {
	case "failure":
		if m.RunStatus == "timed_out" {
			return m.Workflow + " timed out"
		}
		return m.Workflow + " failed"
	case "recovered":
		return m.Workflow + " recovered"
	case "success":
		return m.Workflow + " succeeded"
	case "cancelled":
		return m.Workflow + " was cancelled"
	}
	return m.Workflow + " " + m.State
}

// icon marks a notice's state at a glance.
func icon(state string) string {
	switch state {
	case "failure":
		return "❌"
	case "cancelled":
		return "⚪"
	}
	return "✅"
}

// slackEscape escapes the three characters Slack's mrkdwn gives a meaning
// (docs.slack.dev/messaging/formatting-message-text#escaping).
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// SlackRequest builds the POST of m to a Slack incoming webhook
// (docs.slack.dev/messaging/sending-messages-using-incoming-webhooks): a
// text for notifications, and blocks with the run's link, the reason and
// the failing step.
func SlackRequest(ctx context.Context, m *Message) (*http.Request, error) {
	if err := checkURL(m.URL); err != nil {
		return nil, fmt.Errorf("slack url: %w", err)
	}
	title := icon(m.State) + " " + slackEscape.Replace(headline(m))
	link := "<" + slackEscape.Replace(m.RunURL) + "|run " + slackEscape.Replace(m.RunID) + ">"
	var fields []map[string]any
	if m.Reason != "" {
		fields = append(fields, mrkdwn("*Reason*\n"+slackEscape.Replace(m.Reason)))
	}
	if m.FailedStep != "" {
		fields = append(fields, mrkdwn("*Failed step*\n"+slackEscape.Replace(m.FailedStep)))
	}
	blocks := []map[string]any{{"type": "section", "text": mrkdwn("*" + title + "*  " + link)}}
	if len(fields) > 0 {
		blocks = append(blocks, map[string]any{"type": "section", "fields": fields})
	}
	return jsonRequest(ctx, m.URL, nil, map[string]any{"text": title + ": " + m.RunURL, "blocks": blocks})
}

func mrkdwn(text string) map[string]any { return map[string]any{"type": "mrkdwn", "text": text} }

// WebhookRequest builds the POST of m as JSON to any URL, with m's headers:
// {"kind": "hookflow.notice", "state", "workflow", "run_url", "reason",
// "failed_step", "run"}.
func WebhookRequest(ctx context.Context, m *Message) (*http.Request, error) {
	if err := checkURL(m.URL); err != nil {
		return nil, fmt.Errorf("webhook url: %w", err)
	}
	headers := map[string]string{}
	for k, v := range m.Headers {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Type", "Content-Length", "Host", "Transfer-Encoding":
			return nil, fmt.Errorf("webhook header %s is hookflow's to set", k)
		}
		if strings.ContainsAny(v, "\r\n") {
			return nil, errors.New("webhook header " + k + ": a value may not hold a line break")
		}
		headers[k] = v
	}
	return jsonRequest(ctx, m.URL, headers, map[string]any{
		"kind": "hookflow.notice", "state": m.State, "workflow": m.Workflow, "run_url": m.RunURL,
		"reason": m.Reason, "failed_step": m.FailedStep, "run": m.Run})
}
