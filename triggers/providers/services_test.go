package providers

import (
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

func TestNormalizeAlerts(t *testing.T) {
	diskLabels := func(instance string) map[string]string {
		return map[string]string{"alertname": "DiskFull", "severity": "page", "job": "node", "instance": instance, "mountpoint": "/var"}
	}
	latency := map[string]string{"alertname": "HighLatency", "team": "checkout", "service": "api"}
	latencyNotes := map[string]string{"summary": "p99 latency above 2s", "description": "api p99 is 2.7s"}
	runNormalizeCases(t, []normalizeCase{
		{
			name: "alertmanager", provider: "alertmanager", file: "alertmanager/firing.json",
			want: workflows.Event{
				Name: "alert", Type: "alert", Action: "firing", Status: "firing",
				Labels:      map[string]string{"alertname": "DiskFull", "severity": "page", "job": "node"},
				Annotations: map[string]string{"runbook_url": "https://runbooks.example.com/disk-full"},
				GroupKey:    `{}/{severity="page"}:{alertname="DiskFull"}`,
				Alerts: []workflows.Alert{
					{
						Status: "firing", Labels: diskLabels("db-1:9100"),
						Annotations: map[string]string{"summary": "/var on db-1 is 97% full", "runbook_url": "https://runbooks.example.com/disk-full"},
						StartsAt:    mustTime(t, "2024-07-01T03:12:45.123Z"),
						Fingerprint: "5d4c3b2a1f0e9d8c",
					},
					{
						Status: "resolved", Labels: diskLabels("db-2:9100"),
						Annotations: map[string]string{"summary": "/var on db-2 is 96% full", "runbook_url": "https://runbooks.example.com/disk-full"},
						StartsAt:    mustTime(t, "2024-07-01T02:50:00Z"),
						EndsAt:      mustTime(t, "2024-07-01T03:10:00Z"),
						Fingerprint: "a1b2c3d4e5f60718",
					},
				},
			},
		},
		{
			name: "grafana", provider: "grafana", file: "grafana/firing.json",
			want: workflows.Event{
				Name: "alert", Type: "alert", Action: "firing", Status: "firing",
				Labels: latency, Annotations: latencyNotes, GroupKey: `{}:{alertname="HighLatency"}`,
				Alerts: []workflows.Alert{{
					Status: "firing", Labels: latency, Annotations: latencyNotes,
					StartsAt:    mustTime(t, "2024-08-20T14:03:00+02:00"),
					Fingerprint: "77aa66bb55cc44dd",
				}},
			},
		},
	})
}

func TestAlertEndsAtNotYetIsZero(t *testing.T) {
	var ev workflows.Event
	r := (normalizeCase{file: "alertmanager/firing.json"}).request(t)
	if err := Normalize("alertmanager", r, Options{}, &ev); err != nil {
		t.Fatal(err)
	}
	if !ev.Alerts[0].EndsAt.Equal(time.Time{}) {
		t.Errorf("ends_at %v, want the zero time for a firing alert", ev.Alerts[0].EndsAt)
	}
}

func TestNormalizeServices(t *testing.T) {
	runNormalizeCases(t, []normalizeCase{
		{
			name: "slack event callback", provider: "slack", file: "slack/event_callback.json",
			want: workflows.Event{Name: "event_callback", Type: "event_callback", Action: "app_mention"},
		},
		{
			name: "slack url verification", provider: "slack", file: "slack/url_verification.json",
			want: workflows.Event{Name: "url_verification", Type: "url_verification"},
		},
		{
			name: "slack slash command", provider: "slack", file: "slack/command.form",
			want: workflows.Event{Name: "/deploy", Type: "command"},
		},
		{
			name: "slack button click", provider: "slack", file: "slack/block_actions.form",
			want: workflows.Event{Name: "block_actions", Type: "block_actions", Action: "approve_deploy"},
		},
		{
			name: "stripe", provider: "stripe", file: "stripe/invoice_paid.json",
			want: workflows.Event{Name: "invoice.paid", Type: "invoice.paid", Delivery: "evt_1PqR2sT3uV4wX5yZ6aB7cD8e"},
		},
		{
			name: "standard webhooks", provider: "standard", file: "standard/invoice_created.json",
			headers: map[string]string{"Webhook-Id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "Webhook-Timestamp": "1725364800"},
			want:    workflows.Event{Name: "invoice.created", Type: "invoice.created", Delivery: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"},
		},
	})
}

func TestSlackCommandFields(t *testing.T) {
	var ev workflows.Event
	r := (normalizeCase{file: "slack/command.form"}).request(t)
	if err := Normalize("slack", r, Options{}, &ev); err != nil {
		t.Fatal(err)
	}
	if got := str(ev.Body, "text"); got != "web v1.4.0" {
		t.Errorf("body.text %q, want the decoded form field", got)
	}
}
