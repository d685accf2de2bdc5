package api

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// agentList is GET /api/v1/agents as a client reads it.
type agentList struct {
	Agents []AgentView `json:"agents"`
}

// TestAgentsAPI registers, lists and removes agents through the API: names
// and labels are checked, a name is taken once, the token is shown only when
// the agent is added and stored only hashed, and the list shows whether each
// agent is online and the jobs it holds.
func TestAgentsAPI(t *testing.T) {
	f, spy := agentFixture(t)
	ctx := context.Background()

	for _, tc := range []struct {
		name, body string
		want       int
		msg        string
	}{
		{"no name", `{"labels":["linux"]}`, http.StatusUnprocessableEntity, "name the agent"},
		{"name with a space", `{"name":"web 1","labels":["linux"]}`, http.StatusUnprocessableEntity, "use letters, digits"},
		{"name with a slash", `{"name":"web/1","labels":["linux"]}`, http.StatusUnprocessableEntity, "use letters, digits"},
		{"name too long", `{"name":"` + strings.Repeat("a", 65) + `","labels":["linux"]}`, http.StatusUnprocessableEntity, "longer than 64"},
		{"no labels", `{"name":"web-1"}`, http.StatusUnprocessableEntity, "at least one label"},
		{"empty label list", `{"name":"web-1","labels":[]}`, http.StatusUnprocessableEntity, "at least one label"},
		{"empty label", `{"name":"web-1","labels":["linux",""]}`, http.StatusUnprocessableEntity, "a label is empty"},
		{"label with a comma", `{"name":"web-1","labels":["a,b"]}`, http.StatusUnprocessableEntity, "no spaces or commas"},
		{"label with a tab", `{"name":"web-1","labels":["a\tb"]}`, http.StatusUnprocessableEntity, "no spaces or commas"},
		{"label too long", `{"name":"web-1","labels":["` + strings.Repeat("l", 101) + `"]}`, http.StatusUnprocessableEntity, "longer than 100"},
		{"label twice", `{"name":"web-1","labels":["linux","linux"]}`, http.StatusUnprocessableEntity, "listed twice"},
		{"unknown field", `{"name":"web-1","labels":["linux"],"token":"mine"}`, http.StatusBadRequest, "unknown field"},
		{"not JSON", `{"name":`, http.StatusBadRequest, "invalid JSON"},
	} {
		a := f.do(t, "POST", "/api/v1/agents", tc.body, nil)
		if a.code != tc.want || !strings.Contains(a.errorMessage(t), tc.msg) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, a.code, a.body, tc.want, tc.msg)
		}
	}
	if agents, err := f.store.ListAgents(ctx); err != nil || len(agents) != 0 {
		t.Fatalf("agents after refused additions: %d, %v", len(agents), err)
	}

	token := f.addAgent(t, "web-1", "linux", "web-1")
	f.addAgent(t, "build.box_2", strings.Repeat("l", 100))
	if a := f.do(t, "POST", "/api/v1/agents", `{"name":"web-1","labels":["other"]}`, nil); a.code != http.StatusConflict ||
		a.errorMessage(t) != "an agent named web-1 is registered already" {
		t.Errorf("second web-1: %d %s", a.code, a.body)
	}
	stored, err := f.store.GetAgent(ctx, "web-1")
	if err != nil {
		t.Fatal(err)
	}
	if id, _, _ := parseAgentToken(token); stored.TokenID != id || len(stored.TokenHash) != 32 || strings.Contains(token, string(stored.TokenHash)) {
		t.Errorf("stored token id %q hash %x for token %q", stored.TokenID, stored.TokenHash, token)
	}

	list := decode[agentList](t, f.do(t, "GET", "/api/v1/agents", "", nil), http.StatusOK)
	if len(list.Agents) != 2 || list.Agents[0].Name != "build.box_2" || list.Agents[1].Name != "web-1" {
		t.Fatalf("agents %+v", list.Agents)
	}
	if w := list.Agents[1]; w.Online || !w.LastSeen.IsZero() || w.CreatedAt.IsZero() || !slices.Equal(w.Labels, []string{"linux", "web-1"}) ||
		w.Jobs == nil || len(w.Jobs) != 0 {
		t.Errorf("web-1 before it connected: %+v", w)
	}
	raw := f.do(t, "GET", "/api/v1/agents", "", nil).body
	if strings.Contains(raw, "token") || strings.Contains(raw, stored.TokenID) {
		t.Errorf("the list shows the token: %s", raw)
	}

	// web-1 claims a job and holds it; another waits for a label nobody has.
	as := claimOne(t, f, spy, token, "heal")
	offerJobs(t, f, spy, false, offered{key: "gpu", runsOn: []string{"gpu"}})
	if a := f.agent(t, token, runner.AgentRenewPath, runner.RenewRequest{Jobs: []store.JobRef{as.JobRef}, Version: "0.9.1"}); a.code != http.StatusOK {
		t.Fatalf("renew: %d %s", a.code, a.body)
	}
	list = decode[agentList](t, f.do(t, "GET", "/api/v1/agents", "", nil), http.StatusOK)
	w := list.Agents[1]
	if !w.Online || w.LastSeen.IsZero() || w.Version != "0.9.1" {
		t.Errorf("web-1 after a claim: %+v", w)
	}
	if want := []AgentJob{{Run: as.Run, Job: "heal", Status: workflows.StatusRunning}}; !slices.Equal(w.Jobs, want) {
		t.Errorf("web-1 holds %+v, want %+v", w.Jobs, want)
	}
	if b := list.Agents[0]; b.Online || len(b.Jobs) != 0 {
		t.Errorf("build.box_2: %+v", b)
	}

	// Heard from long ago: offline.
	if err := f.store.SeenAgent(ctx, "web-1", "0.9.1", time.Now().UTC().Add(-2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	views, err := f.server.AgentViews(ctx, time.Now())
	if err != nil || views[1].Online {
		t.Errorf("web-1 seen 2 minutes ago: %+v, %v", views, err)
	}

	if a := f.do(t, "DELETE", "/api/v1/agents/web-1", "", nil); a.code != http.StatusNoContent {
		t.Errorf("remove web-1: %d %s", a.code, a.body)
	}
	if a := f.do(t, "DELETE", "/api/v1/agents/web-1", "", nil); a.code != http.StatusNotFound || a.errorMessage(t) != "no agent web-1" {
		t.Errorf("remove web-1 again: %d %s", a.code, a.body)
	}
	list = decode[agentList](t, f.do(t, "GET", "/api/v1/agents", "", nil), http.StatusOK)
	if len(list.Agents) != 1 || list.Agents[0].Name != "build.box_2" {
		t.Errorf("agents after removing web-1: %+v", list.Agents)
	}
	var empty map[string]json.RawMessage
	f2, _ := agentFixture(t)
	if err := json.Unmarshal([]byte(f2.do(t, "GET", "/api/v1/agents", "", nil).body), &empty); err != nil || string(empty["agents"]) != "[]" {
		t.Errorf("no agents: %s, %v", empty["agents"], err)
	}
}

// TestAgentMetrics reads the agents' gauges through a Prometheus registry:
// agents heard from within a minute, and offered jobs nobody claimed yet by
// the labels they need.
func TestAgentMetrics(t *testing.T) {
	f, spy := agentFixture(t)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewAgentMetrics(f.store, nil))

	gather := func() map[string]float64 {
		t.Helper()
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range families {
			for _, m := range mf.GetMetric() {
				name := mf.GetName()
				for _, l := range m.GetLabel() {
					name += "{" + l.GetName() + "=" + l.GetValue() + "}"
				}
				got[name] = m.GetGauge().GetValue()
			}
		}
		return got
	}
	if got := gather(); len(got) != 1 || got["hookflow_agents_connected"] != 0 {
		t.Errorf("with nothing: %v", got)
	}

	token := f.addAgent(t, "web-1", "linux")
	f.addAgent(t, "web-2", "linux")
	f.addAgent(t, "old", "linux")
	if err := f.store.SeenAgent(ctx, "old", "1", time.Now().UTC().Add(-90*time.Second)); err != nil {
		t.Fatal(err)
	}
	claimOne(t, f, spy, token, "held")
	offerJobs(t, f, spy, false, offered{key: "a", runsOn: []string{"gpu", "linux"}}, offered{key: "b", runsOn: []string{"gpu", "linux"}},
		offered{key: "c", runsOn: []string{"web-9"}})
	want := map[string]float64{
		"hookflow_agents_connected":               1,
		"hookflow_jobs_waiting{labels=gpu,linux}": 2,
		"hookflow_jobs_waiting{labels=web-9}":     1,
	}
	if got := gather(); !maps.Equal(got, want) {
		t.Errorf("gauges %v, want %v", got, want)
	}
}
