package providers

import (
	"strings"

	"github.com/hookflow/hookflow/workflows"
)

// This file holds the providers that are services rather than git forges or
// alerting systems: Slack, Stripe and Standard Webhooks senders. Each names
// its event in the body's type field.

// slackCommandType is the type of a Slack slash-command delivery.
const slackCommandType = "command"

// slack normalises the three kinds of Slack deliveries:
//   - Events API (JSON): type is the envelope's type (event_callback,
//     url_verification, app_rate_limited); an event_callback's action is the
//     inner event's type, so `events: [event_callback.app_mention]` works.
//   - slash commands (a form without a type): type "command", name the command
//     itself, e.g. "/deploy".
//   - interactivity (a form whose payload field holds JSON, which Decode has
//     already unpacked): type is the interaction's type (block_actions,
//     view_submission, shortcut, …) and action the id the app gave the button,
//     view or shortcut.
//
// Slack sends no delivery id.
func slack(ev *workflows.Event, _ Options) {
	b := ev.Body
	if cmd := str(b, "command"); cmd != "" && at(b, "type") == nil {
		ev.Name = cmd
		ev.Type = slackCommandType
		return
	}
	ev.Name = str(b, "type")
	ev.Type = strings.ToLower(ev.Name)
	switch ev.Type {
	case "event_callback":
		ev.Action = str(b, "event", "type")
	case "block_actions":
		if actions := list(b, "actions"); len(actions) > 0 {
			ev.Action = str(actions[0], "action_id")
		}
	case "view_submission", "view_closed":
		ev.Action = str(b, "view", "callback_id")
	case "shortcut", "message_action":
		ev.Action = str(b, "callback_id")
	}
}

// stripe normalises a Stripe event. Its type ("invoice.paid") is both name and
// type, kept whole because workflows filter on exactly those strings; the event
// id ("evt_…") is the same on every retry, so it is the delivery id.
func stripe(ev *workflows.Event, _ Options) {
	ev.Name = str(ev.Body, "type")
	ev.Type = strings.ToLower(ev.Name)
	ev.Delivery = str(ev.Body, "id")
}

// standard normalises a Standard Webhooks delivery: the body's type names the
// event and the webhook-id header, stable across retries, is the delivery id.
func standard(ev *workflows.Event, _ Options) {
	ev.Name = str(ev.Body, "type")
	ev.Type = strings.ToLower(ev.Name)
	ev.Delivery = header(ev, "webhook-id")
}
