package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// TestCommitURL links a commit to its forge's page from the repository
// address the payload carries, and makes no link from anything else.
func TestCommitURL(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name     string
		provider string
		body     string
		sha      string
		want     string
	}{
		{"github", "github", `{"repository":{"html_url":"https://github.com/org/app"}}`, sha, "https://github.com/org/app/commit/" + sha},
		{"gitea", "gitea", `{"repository":{"html_url":"http://gitea.local:3000/org/app/"}}`, sha, "http://gitea.local:3000/org/app/commit/" + sha},
		{"gitlab", "gitlab", `{"project":{"web_url":"https://gitlab.com/group/app"}}`, sha, "https://gitlab.com/group/app/-/commit/" + sha},
		{"bitbucket", "bitbucket", `{"repository":{"links":{"html":{"href":"https://bitbucket.org/team/app"}}}}`, sha,
			"https://bitbucket.org/team/app/commits/" + sha},
		{"javascript URL", "github", `{"repository":{"html_url":"javascript:alert(1)"}}`, sha, ""},
		{"URL with a user", "github", `{"repository":{"html_url":"https://me:pw@github.com/org/app"}}`, sha, ""},
		{"no address", "github", `{"repository":{}}`, sha, ""},
		{"not a sha", "github", `{"repository":{"html_url":"https://github.com/org/app"}}`, "../../evil", ""},
		{"generic", "generic", `{"repository":{"html_url":"https://github.com/org/app"}}`, sha, ""},
		{"payload not an object", "github", `"raw text"`, sha, ""},
		{"address not a string", "github", `{"repository":{"html_url":5}}`, sha, ""},
		{"no payload", "github", ``, sha, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := commitURL(tt.provider, json.RawMessage(tt.body), tt.sha); got != tt.want {
				t.Errorf("commitURL = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestViewTrigger reads a run's trigger from its stored event.
func TestViewTrigger(t *testing.T) {
	ev := workflows.Event{Trigger: "webhook", Provider: "github", Name: "push", Type: "push", Repo: "org/app",
		Branch: "main", Commit: "0123456789abcdef", Sender: "octocat",
		Body: map[string]any{"repository": map[string]any{"html_url": "https://github.com/org/app"}}}
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	got := ViewTrigger(&store.Run{Actor: "api token 1 from 127.0.0.1"}, &store.Event{Trigger: "webhook", Data: data})
	want := TriggerView{Label: "github push", Trigger: "webhook", Provider: "github", Event: "push", Repo: "org/app", Branch: "main",
		Commit: "0123456789abcdef", CommitURL: "https://github.com/org/app/commit/0123456789abcdef", Sender: "octocat",
		Actor: "api token 1 from 127.0.0.1"}
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Errorf("ViewTrigger = %s, want %s", g, w)
	}
	if got.Label != "github push" {
		t.Errorf("Label = %q, want github push", got.Label)
	}
	cron, err := json.Marshal(workflows.Event{Trigger: "cron", Type: "schedule", Name: "schedule", Schedule: "0 3 * * *"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ViewTrigger(&store.Run{}, &store.Event{Trigger: "cron", Data: cron}); got.Label != "cron" || got.Schedule != "0 3 * * *" {
		t.Errorf("cron run's trigger %+v, label %q; want cron with its schedule", got, got.Label)
	}
	if l := ViewTrigger(&store.Run{}, nil).Label; l != "" {
		t.Errorf("Label of a pruned event = %q, want empty", l)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRunTriggerAndActor checks the trigger of runs in the API's answers and
// that dispatch, rerun and replay record who asked: the way in, the token's
// place in the list (never the token) and the client's address.
func TestRunTriggerAndActor(t *testing.T) {
	const token = "second-secret-token"
	f := newFixture(t, map[string]string{"manual.yaml": "on: {dispatch: {inputs: {env: {type: string}}}}\nsteps: [{run: 'true'}]\n"},
		func(c *fixtureConfig) { c.server.Tokens = []string{"first-secret-token", token} })
	auth := map[string]string{"Authorization": "Bearer " + token}
	const actor = "api token 2 from 127.0.0.1"

	first := decode[*RunView](t, f.do(t, "POST", "/api/v1/workflows/manual/dispatch", `{"inputs":{"env":"prod"}}`, auth), http.StatusAccepted)
	got := decode[*RunView](t, f.do(t, "GET", "/api/v1/runs/"+first.ID, "", auth), http.StatusOK)
	if got.Trigger == nil || got.Trigger.Trigger != "dispatch" || got.Trigger.Inputs["env"] != "prod" || got.Trigger.Actor != actor {
		t.Fatalf("dispatched run's trigger = %+v, want dispatch with env=prod by %q", got.Trigger, actor)
	}
	r := f.claim(t)
	f.finish(t, r, workflows.StatusFailed)
	again := decode[*RunView](t, f.do(t, "POST", "/api/v1/runs/"+first.ID+"/rerun", "", auth), http.StatusAccepted)
	stored, err := f.store.GetRun(context.Background(), again.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Actor != actor || again.Trigger == nil || again.Trigger.Actor != actor {
		t.Errorf("rerun's actor: stored %q, answered %+v; want %q", stored.Actor, again.Trigger, actor)
	}
	rc := decode[*workflows.Receipt](t, f.do(t, "POST", "/api/v1/events/"+first.EventID+"/replay", "", auth), http.StatusAccepted)
	replayed, err := f.store.GetRun(context.Background(), rc.Runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if replayed.Actor != actor {
		t.Errorf("replayed run's actor %q, want %q", replayed.Actor, actor)
	}
	list := f.do(t, "GET", "/api/v1/runs", "", auth)
	if strings.Contains(list.body, token) || !strings.Contains(list.body, `"actor":"`+actor+`"`) {
		t.Errorf("runs list shows the token or not the actor: %s", list.body)
	}
}
