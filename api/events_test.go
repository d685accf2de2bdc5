package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/intake"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// Webhook workflows of the match and replay tests.
const (
	queryYAML  = "on: {webhook: {path: q, provider: generic}}\nif: event.query.env == \"prod\"\nsteps: [{run: 'true'}]\n"
	formYAML   = "on: {webhook: {path: form, provider: generic}}\nif: event.body.team == \"ops\"\nsteps: [{run: 'true'}]\n"
	slackYAML  = "on: {webhook: {path: slack, provider: slack, secret: '${{ secrets.SLACK }}'}}\nsteps: [{run: 'true'}]\n"
	signedYAML = "on: {webhook: {path: signed, provider: github, secret: '${{ secrets.GH }}', events: [push]}}\n" +
		"steps: [{run: 'true'}]\n"
)

// deliver stores a JSON delivery to /hooks/path through the intake, as the
// webhook endpoint would, and returns its receipt.
func (f *fixture) deliver(t *testing.T, path, body string) *workflows.Receipt {
	t.Helper()
	d := &intake.Delivery{Path: path, Header: map[string][]string{"Content-Type": {"application/json"}}, Body: []byte(body)}
	dec, rc, err := f.intake.Accept(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	dec.Release()
	return rc
}

// TestGetEvent checks one event's view with its verdicts, and the list's
// path filter.
func TestGetEvent(t *testing.T) {
	f := newFixture(t, map[string]string{"hook.yaml": hookYAML, "form.yaml": formYAML}, nil)
	ran, skipped := f.deliver(t, "gh", `{"ok":true}`), f.deliver(t, "form", `{"team":"dev"}`)
	t.Run("started", func(t *testing.T) {
		ev := decode[store.Event](t, f.do(t, "GET", "/api/v1/events/"+ran.EventID, "", nil), http.StatusOK)
		if ev.ID != ran.EventID || ev.Trigger != "webhook" || ev.Path != "gh" || len(ev.Verdicts) != 1 ||
			ev.Verdicts[0].Workflow != "hook" || len(ev.Verdicts[0].Runs) != 1 || ev.Verdicts[0].Runs[0] != ran.Runs[0].ID {
			t.Errorf("event %+v", ev)
		}
	})
	t.Run("skipped", func(t *testing.T) {
		ev := decode[store.Event](t, f.do(t, "GET", "/api/v1/events/"+skipped.EventID, "", nil), http.StatusOK)
		if len(ev.Verdicts) != 1 || ev.Verdicts[0].Workflow != "form" || ev.Verdicts[0].Reason != "if: false" {
			t.Errorf("event %+v", ev)
		}
	})
	t.Run("path filter", func(t *testing.T) {
		p := listPage(t, f.do(t, "GET", "/api/v1/events?path=form", "", nil), "events")
		if strings.Join(p.IDs, ",") != skipped.EventID {
			t.Errorf("events %v, want %s", p.IDs, skipped.EventID)
		}
	})
}

// TestReplay checks POST /api/v1/events/{id}/replay: the stored event is
// matched again against the active workflows as a new event with trigger
// `replay`, 202 when it starts runs and 200 when it starts none.
func TestReplay(t *testing.T) {
	files := map[string]string{"hook.yaml": hookYAML, "manual.yaml": manualYAML, "other.yaml": manualYAML}
	cases := []struct {
		name     string
		store    func(*testing.T, *fixture) (event string)
		want     int
		workflow string // of the new run, or of the skip
		reason   string
	}{
		{"webhook event", func(t *testing.T, f *fixture) string { return f.deliver(t, "gh", `{"ok":true}`).EventID },
			http.StatusAccepted, "hook", ""},
		{"webhook event that starts nothing", func(t *testing.T, f *fixture) string { return f.deliver(t, "gh", `{"ok":false}`).EventID },
			http.StatusOK, "hook", "if: false"},
		// Only the workflows that had a verdict on it: manual, not other.
		{"dispatch event", func(t *testing.T, f *fixture) string { return f.dispatchRun(t, "manual").EventID },
			http.StatusAccepted, "manual", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, files, nil)
			old := tc.store(t, f)
			rc := decode[workflows.Receipt](t, f.do(t, "POST", "/api/v1/events/"+old+"/replay", "", nil), tc.want)
			if rc.EventID == old || rc.EventID == "" {
				t.Fatalf("receipt %+v of event %s", rc, old)
			}
			ev, err := f.store.GetEvent(context.Background(), rc.EventID)
			if err != nil {
				t.Fatal(err)
			}
			var data workflows.Event
			if err := json.Unmarshal(ev.Data, &data); err != nil {
				t.Fatal(err)
			}
			if ev.Trigger != workflows.TriggerReplay || data.Trigger != workflows.TriggerReplay || data.ID != rc.EventID {
				t.Errorf("stored replay %s %s", ev.Trigger, ev.Data)
			}
			runs, err := f.store.ListRuns(context.Background(), store.RunFilter{EventID: rc.EventID})
			if err != nil {
				t.Fatal(err)
			}
			if tc.reason != "" {
				if len(rc.Runs) != 0 || len(runs) != 0 || len(rc.Skipped) != 1 || rc.Skipped[0] != (workflows.Skip{Workflow: tc.workflow, Reason: tc.reason}) {
					t.Errorf("receipt %+v, %d runs stored", rc, len(runs))
				}
				return
			}
			if len(rc.Runs) != 1 || rc.Runs[0].Workflow != tc.workflow || len(runs) != 1 || runs[0].ID != rc.Runs[0].ID {
				t.Errorf("receipt %+v, stored %+v", rc, runs)
			}
		})
	}
}

// TestMatch checks POST /api/v1/match: a delivery is taken as the webhook
// endpoint takes it, signatures unchecked, and answered with a verdict per
// workflow; nothing is stored.
func TestMatch(t *testing.T) {
	f := newFixture(t, map[string]string{"hook.yaml": hookYAML, "query.yaml": queryYAML, "form.yaml": formYAML,
		"slack.yaml": slackYAML, "signed.yaml": signedYAML}, nil)
	cases := []struct {
		name      string
		body      string
		want      int
		verdict   MatchVerdict // of the only workflow on the path
		challenge string
		msg       string // the error
	}{
		{"JSON body", `{"path":"gh","body":{"ok":true}}`, http.StatusOK, MatchVerdict{Workflow: "hook", Run: true, Runs: 1}, "", ""},
		{"JSON body, if false", `{"path":"/hooks/gh","body":{"ok":false}}`, http.StatusOK,
			MatchVerdict{Workflow: "hook", Reason: "if: false"}, "", ""},
		{"form as a JSON string", `{"path":"form","headers":{"content-type":"application/x-www-form-urlencoded"},"body":"team=ops&x=1"}`,
			http.StatusOK, MatchVerdict{Workflow: "form", Run: true, Runs: 1}, "", ""},
		{"query in the path", `{"path":"/hooks/q?env=prod"}`, http.StatusOK, MatchVerdict{Workflow: "query", Run: true, Runs: 1}, "", ""},
		{"other query in the path", `{"path":"q?env=dev"}`, http.StatusOK, MatchVerdict{Workflow: "query", Reason: "if: false"}, "", ""},
		{"signature not checked", `{"path":"signed","headers":{"X-GitHub-Event":"push"},"body":{}}`, http.StatusOK,
			MatchVerdict{Workflow: "signed", Run: true, Runs: 1}, "", ""},
		{"slack url_verification", `{"path":"slack","headers":{"Content-Type":"application/json"},` +
			`"body":{"type":"url_verification","token":"t","challenge":"c-123"}}`, http.StatusOK, MatchVerdict{}, "c-123", ""},
		{"unknown path", `{"path":"nope","body":{}}`, http.StatusNotFound, MatchVerdict{}, "", "no workflow serves /hooks/nope"},
		{"method not allowed", `{"path":"gh","method":"GET"}`, http.StatusUnprocessableEntity, MatchVerdict{}, "", "method GET not allowed"},
		{"malformed payload", `{"path":"gh","headers":{"Content-Type":"application/json"},"body":"{"}`, http.StatusUnprocessableEntity,
			MatchVerdict{}, "", "JSON"},
		{"malformed query", `{"path":"q?env=%zz"}`, http.StatusUnprocessableEntity, MatchVerdict{}, "", "query string: "},
		{"no path", `{"body":{}}`, http.StatusBadRequest, MatchVerdict{}, "", "path is required"},
		{"request not JSON", `path=gh`, http.StatusBadRequest, MatchVerdict{}, "", "invalid JSON: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := f.do(t, "POST", "/api/v1/match", tc.body, nil)
			if tc.want != http.StatusOK {
				if a.code != tc.want || !strings.Contains(a.errorMessage(t), tc.msg) {
					t.Errorf("%d %s, want %d %s", a.code, a.body, tc.want, tc.msg)
				}
				return
			}
			m := decode[MatchAnswer](t, a, http.StatusOK)
			if m.Challenge != tc.challenge || m.Event == nil || m.Event.Trigger != workflows.TriggerWebhook {
				t.Fatalf("answer %s", a.body)
			}
			if tc.challenge != "" {
				if len(m.Verdicts) != 0 {
					t.Errorf("verdicts %+v on a handshake", m.Verdicts)
				}
				return
			}
			if len(m.Verdicts) != 1 || m.Verdicts[0] != tc.verdict {
				t.Errorf("verdicts %+v, want %+v", m.Verdicts, tc.verdict)
			}
		})
	}
	events, err := f.store.ListEvents(context.Background(), store.EventFilter{})
	if err != nil || len(events) != 0 {
		t.Errorf("match stored %d events (%v)", len(events), err)
	}
}
