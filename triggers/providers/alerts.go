package providers

import "github.com/hookflow/hookflow/workflows"

// alerts normalises an Alertmanager webhook notification (payload version 4)
// and a Grafana unified-alerting webhook, which extends the same shape with
// fields of its own (orgId, title, values, …) that stay reachable in body.
// Neither sender names its event in a header, so every notification is the
// event "alert" whose action is the group's status (firing or resolved), and
// neither sends a delivery id: workflows that need deduplication set `dedup:`,
// for example on group_key and status.
func alerts(ev *workflows.Event, _ Options) {
	b := ev.Body
	ev.Name = TypeAlert
	ev.Type = TypeAlert
	ev.Status = str(b, "status")
	ev.Action = ev.Status
	ev.Labels = stringMap(b, "commonLabels")
	ev.Annotations = stringMap(b, "commonAnnotations")
	ev.GroupKey = str(b, "groupKey")
	for _, a := range list(b, "alerts") {
		if _, ok := a.(map[string]any); !ok {
			continue
		}
		ev.Alerts = append(ev.Alerts, workflows.Alert{
			Status: str(a, "status"),
			// Never nil, so that `item.labels.x` in a for_each run and the
			// stored JSON see an empty object rather than null.
			Labels:      nonNil(stringMap(a, "labels")),
			Annotations: nonNil(stringMap(a, "annotations")),
			StartsAt:    timestamp(a, "startsAt"),
			EndsAt:      timestamp(a, "endsAt"),
			Fingerprint: str(a, "fingerprint"),
		})
	}
}

// nonNil returns m, or an empty map when m is nil.
func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
