package intake

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// loadSet writes the workflow files into a folder and loads them.
func loadSet(t *testing.T, files map[string]string) *workflows.Set {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, err := workflows.LoadPaths(nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// committed records what Accept hands over to be stored.
type committed struct {
	events   []*workflows.Event
	verdicts [][]workflows.Verdict
	keys     []string
}

func (c *committed) Dispatch(_ context.Context, ev *workflows.Event, verdicts []workflows.Verdict, key string) (*workflows.Receipt, error) {
	c.events = append(c.events, ev)
	c.verdicts = append(c.verdicts, append([]workflows.Verdict(nil), verdicts...))
	c.keys = append(c.keys, key)
	rc := &workflows.Receipt{EventID: ev.ID}
	for _, v := range verdicts {
		if v.Run {
			rc.Runs = append(rc.Runs, workflows.RunRef{ID: "r-" + v.Workflow.Name, Workflow: v.Workflow.Name})
		}
	}
	return rc, nil
}

const deployYAML = `on:
  webhook:
    path: gh
    provider: github
    secret: "${{ secrets.HOOK }}"
    events: [push]
    branches: [main]
  dispatch:
    inputs:
      version: {required: true}
  cron: "0 3 * * *"
steps: [{run: 'true'}]
`

func newIntake(t *testing.T, files map[string]string) (*Intake, *committed) {
	t.Helper()
	set := loadSet(t, files)
	c := &committed{}
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	return &Intake{Workflows: func() *workflows.Set { return set }, Commit: c,
		Secrets: func([]string) map[string]string { return map[string]string{"HOOK": "s3cret"} },
		Now:     func() time.Time { return at }}, c
}

func signed(body string) http.Header {
	m := hmac.New(sha256.New, []byte("s3cret"))
	m.Write([]byte(body))
	h := http.Header{}
	h.Set("X-GitHub-Event", "push")
	h.Set("X-GitHub-Delivery", "d-1")
	h.Set("Content-Type", "application/json")
	h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	h.Set("Authorization", "Bearer proxy-credential")
	return h
}

func TestDeliveryAcceptAndExplain(t *testing.T) {
	in, c := newIntake(t, map[string]string{"deploy.yaml": deployYAML})
	body := `{"ref":"refs/heads/main","after":"abc"}`
	tests := []struct {
		name    string
		d       *Delivery
		explain bool
		code    workflows.Code
		verdict string // "run" or the skip reason
	}{
		{name: "signed push to main", d: &Delivery{Path: "/hooks/gh", Header: signed(body), Body: []byte(body)}, verdict: "run"},
		{name: "bad signature", d: &Delivery{Path: "gh", Header: http.Header{"X-Hub-Signature-256": {"sha256=00"}}, Body: []byte(body)},
			code: workflows.EUnauthorized},
		{name: "explain takes the signature as good", d: &Delivery{Path: "gh", Header: http.Header{"X-Github-Event": {"push"}}, Body: []byte(body)},
			explain: true, verdict: "run"},
		{name: "other branch", d: &Delivery{Path: "gh", Header: http.Header{"X-Github-Event": {"push"}}, Body: []byte(`{"ref":"refs/heads/dev"}`)},
			explain: true, verdict: "branches: no match for dev"},
		{name: "unknown path", d: &Delivery{Path: "nope"}, explain: true, code: workflows.ENotFound},
		{name: "method", d: &Delivery{Path: "gh", Method: "GET"}, explain: true, code: workflows.ENotAllowed},
		{name: "malformed JSON", d: &Delivery{Path: "gh", Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{`)},
			explain: true, code: workflows.EInvalid},
		{name: "form payload", d: &Delivery{Path: "gh", Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "X-Github-Event": {"push"}},
			Body: []byte("payload=" + strings.ReplaceAll(`{"ref":"refs/heads/main"}`, `"`, "%22"))}, explain: true, verdict: "run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dec *Decision
			var err error
			if tt.explain {
				dec, err = in.Explain(context.Background(), tt.d)
			} else {
				dec, _, err = in.Accept(context.Background(), tt.d)
			}
			defer dec.Release()
			if got := workflows.ErrorCode(err); got != tt.code {
				t.Fatalf("error %v (code %q), want code %q", err, got, tt.code)
			}
			if err != nil {
				if tt.code == workflows.EUnauthorized && strings.Contains(err.Error(), "s3cret") {
					t.Errorf("the error shows the secret: %v", err)
				}
				return
			}
			if len(dec.Verdicts) != 1 {
				t.Fatalf("verdicts %+v", dec.Verdicts)
			}
			got := dec.Verdicts[0].Reason
			if dec.Verdicts[0].Run {
				got = "run"
			}
			if got != tt.verdict {
				t.Errorf("verdict %q, want %q", got, tt.verdict)
			}
		})
	}
	if len(c.events) != 1 || c.keys[0] != "hook/gh/delivery/d-1" {
		t.Fatalf("stored %d events, keys %q", len(c.events), c.keys)
	}
	if got := c.events[0].Headers["authorization"]; got != "***" {
		t.Errorf("the stored event keeps the credential header: %q", got)
	}
}

func TestTarget(t *testing.T) {
	for _, tt := range []struct{ in, path, query string }{
		{"gh", "gh", ""},
		{"/hooks/gh/", "gh", ""},
		{"hooks/team/alerts?token=x&a=1", "team/alerts", "a=1&token=x"},
	} {
		path, q, err := Target(tt.in)
		if err != nil || path != tt.path || q.Encode() != tt.query {
			t.Errorf("Target(%q) = %q, %q, %v", tt.in, path, q.Encode(), err)
		}
	}
	if _, _, err := Target("gh?%zz"); workflows.ErrorCode(err) != workflows.EInvalid {
		t.Errorf("bad query: %v", err)
	}
}

func TestManual(t *testing.T) {
	in, c := newIntake(t, map[string]string{
		"deploy.yaml":  deployYAML,
		"nightly.yaml": "on: {cron: \"0 3 * * *\"}\nsteps: [{run: 'true'}]\n",
		"gated.yaml":   "on: {dispatch: {inputs: {go: {}}}}\nif: inputs.go == \"yes\"\nsteps: [{run: 'true'}]\n",
	})
	ctx := context.Background()
	if _, rc, err := in.Accept(ctx, &Manual{Workflow: "deploy", Inputs: map[string]any{"version": "1.2"}, Actor: "ada"}); err != nil || len(rc.Runs) != 1 {
		t.Fatalf("dispatch: %v %+v", err, rc)
	}
	ev := c.events[0]
	if ev.Trigger != workflows.TriggerDispatch || ev.Actor != "ada" || ev.Inputs["version"] != "1.2" {
		t.Errorf("event %+v", ev)
	}
	for _, tt := range []struct {
		name string
		m    *Manual
		code workflows.Code
	}{
		{"unknown", &Manual{Workflow: "nope"}, workflows.ENotFound},
		{"no dispatch trigger", &Manual{Workflow: "nightly"}, workflows.EConflict},
		{"missing input", &Manual{Workflow: "deploy"}, workflows.EInvalid},
		{"if false", &Manual{Workflow: "gated", Inputs: map[string]any{"go": "no"}}, workflows.EConflict},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := in.Accept(ctx, tt.m); workflows.ErrorCode(err) != tt.code {
				t.Errorf("error %v, want code %q", err, tt.code)
			}
		})
	}
	if dec, err := in.Explain(ctx, &Manual{Workflow: "nightly", AnyTrigger: true}); err != nil || !dec.Verdicts[0].Run {
		t.Errorf("a local run of a cron workflow: %v", err)
	}
	if len(c.events) != 1 {
		t.Errorf("refused starts were stored: %d events", len(c.events))
	}
}

func TestTickAndReplay(t *testing.T) {
	in, c := newIntake(t, map[string]string{"deploy.yaml": deployYAML})
	ctx := context.Background()
	w, _ := in.Workflows().Lookup("deploy")
	at := time.Date(2026, 12, 4, 3, 0, 0, 400, time.UTC)
	if _, _, err := in.Accept(ctx, &Tick{Workflow: w, Schedule: "0 3 * * *", At: at}); err != nil {
		t.Fatal(err)
	}
	ev := c.events[0]
	if ev.Trigger != workflows.TriggerCron || !ev.ScheduledAt.Equal(at.Truncate(time.Second)) || c.keys[0] != "cron/deploy/0 3 * * */1796353200" {
		t.Errorf("tick event %+v key %q", ev, c.keys[0])
	}

	stored, _ := json.Marshal(&workflows.Event{ID: "old", Trigger: workflows.TriggerWebhook, Provider: "github", Path: "gh",
		Method: "POST", Type: "push", Name: "push", Branch: "main", Ref: "refs/heads/main"})
	dec, rc, err := in.Accept(ctx, &Replay{Data: stored, Trigger: workflows.TriggerWebhook})
	if err != nil || len(rc.Runs) != 1 {
		t.Fatalf("replay: %v %+v", err, rc)
	}
	if dec.Event.ID == "old" || dec.Event.Trigger != workflows.TriggerReplay || c.keys[1] != "" {
		t.Errorf("replayed event %+v key %q", dec.Event, c.keys[1])
	}
	if _, _, err := in.Accept(ctx, &Replay{Data: []byte("{")}); err == nil {
		t.Error("a corrupt stored event replayed")
	}
}
