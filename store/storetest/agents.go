package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

var agentTests = []test{
	{"AddGetListRemove", func(t *testing.T, h *harness) {
		h.wantAgents()
		web := &store.Agent{Name: "web-07", Labels: []string{"linux", "web-07"}, TokenID: "tok-web",
			TokenHash: bytes.Repeat([]byte{0xa7}, 32), CreatedAt: t0}
		builder := &store.Agent{Name: "builder", Labels: []string{"builder"}, TokenID: "tok-builder",
			TokenHash: bytes.Repeat([]byte{0x00, 0xff}, 16), CreatedAt: at(time.Second)}
		h.addAgent(web)
		h.addAgent(builder)
		h.wantAgent(web.Name, web)
		h.wantAgents(builder, web)
		a, err := h.s.AgentByToken(h.ctx, "tok-builder")
		if err != nil {
			t.Fatalf("AgentByToken: %v", err)
		}
		if diff := agentDiff(a, builder); diff != "" {
			t.Fatalf("AgentByToken: %s", diff)
		}

		// A name or a token id is one agent's only.
		again := &store.Agent{Name: "web-07", TokenID: "tok-other", TokenHash: []byte{1}, CreatedAt: t0}
		wantErr(t, "AddAgent of a name taken", h.s.AddAgent(h.ctx, again), store.ErrConflict)
		again.Name, again.TokenID = "web-08", "tok-web"
		wantErr(t, "AddAgent of a token id taken", h.s.AddAgent(h.ctx, again), store.ErrConflict)
		h.wantAgents(builder, web)

		if err := h.s.RemoveAgent(h.ctx, "web-07"); err != nil {
			t.Fatalf("RemoveAgent: %v", err)
		}
		_, err = h.s.GetAgent(h.ctx, "web-07")
		wantErr(t, "GetAgent of a removed agent", err, store.ErrNotFound)
		_, err = h.s.AgentByToken(h.ctx, "tok-web")
		wantErr(t, "AgentByToken of a removed agent", err, store.ErrNotFound)
		wantErr(t, "RemoveAgent again", h.s.RemoveAgent(h.ctx, "web-07"), store.ErrNotFound)
		h.wantAgents(builder)
		// The name is free again.
		h.addAgent(&store.Agent{Name: "web-07", TokenID: "tok-web-2", TokenHash: []byte{2}, CreatedAt: t0})
	}},
	{"UnknownAgent", func(t *testing.T, h *harness) {
		_, err := h.s.GetAgent(h.ctx, "nobody")
		wantErr(t, "GetAgent", err, store.ErrNotFound)
		_, err = h.s.AgentByToken(h.ctx, "tok-nobody")
		wantErr(t, "AgentByToken", err, store.ErrNotFound)
		wantErr(t, "RemoveAgent", h.s.RemoveAgent(h.ctx, "nobody"), store.ErrNotFound)
		wantErr(t, "SeenAgent", h.s.SeenAgent(h.ctx, "nobody", "1.0.0", t0), store.ErrNotFound)
	}},
	{"SeenAgent", func(t *testing.T, h *harness) {
		a := &store.Agent{Name: "web-07", Labels: []string{"web-07"}, TokenID: "tok-web", TokenHash: []byte{1}, CreatedAt: t0}
		h.addAgent(a)
		for _, tc := range []struct {
			version string
			now     time.Time
		}{{"1.4.0", at(time.Minute)}, {"1.5.0", at(time.Hour)}} {
			if err := h.s.SeenAgent(h.ctx, "web-07", tc.version, tc.now); err != nil {
				t.Fatalf("SeenAgent: %v", err)
			}
			a.Version, a.LastSeen = tc.version, tc.now
			h.wantAgent("web-07", a)
		}
	}},
	{"AddRefusals", func(t *testing.T, h *harness) {
		for _, tc := range []struct {
			name  string
			agent store.Agent
		}{
			{"NoName", store.Agent{TokenID: "tok", TokenHash: []byte{1}}},
			{"NoTokenID", store.Agent{Name: "web-07", TokenHash: []byte{1}}},
			{"NoTokenHash", store.Agent{Name: "web-07", TokenID: "tok"}},
			{"NulInName", store.Agent{Name: "web\x0007", TokenID: "tok", TokenHash: []byte{1}}},
			{"InvalidLabel", store.Agent{Name: "web-07", Labels: []string{"\xff"}, TokenID: "tok", TokenHash: []byte{1}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := h.s.AddAgent(h.ctx, &tc.agent); workflows.ErrorCode(err) != workflows.EInvalid {
					t.Fatalf("AddAgent = %v, want an %s error", err, workflows.EInvalid)
				}
			})
		}
		h.wantAgents()
	}},
	{"NoLabelsAndNoCreationTime", func(t *testing.T, h *harness) {
		h.addAgent(&store.Agent{Name: "bare", TokenID: "tok", TokenHash: []byte{1}})
		a, err := h.s.GetAgent(h.ctx, "bare")
		if err != nil {
			t.Fatalf("GetAgent: %v", err)
		}
		if a.Labels == nil || len(a.Labels) != 0 || a.CreatedAt.IsZero() || !a.LastSeen.IsZero() {
			t.Fatalf("GetAgent = %+v; want no labels (not nil), created now, never seen", a)
		}
	}},
	{"PruneKeepsAgents", func(t *testing.T, h *harness) {
		a := &store.Agent{Name: "web-07", TokenID: "tok", TokenHash: []byte{1}, CreatedAt: t0}
		h.addAgent(a)
		if err := h.s.Prune(h.ctx, at(1000*time.Hour), at(1000*time.Hour)); err != nil {
			t.Fatalf("Prune: %v", err)
		}
		h.wantAgents(a)
	}},
}

// addAgent adds a.
func (h *harness) addAgent(a *store.Agent) {
	h.t.Helper()
	if err := h.s.AddAgent(h.ctx, a); err != nil {
		h.t.Fatalf("AddAgent(%s): %v", a.Name, err)
	}
}

// wantAgent checks agent name.
func (h *harness) wantAgent(name string, want *store.Agent) {
	h.t.Helper()
	got, err := h.s.GetAgent(h.ctx, name)
	if err != nil {
		h.t.Fatalf("GetAgent(%s): %v", name, err)
	}
	if diff := agentDiff(got, want); diff != "" {
		h.t.Fatalf("GetAgent(%s): %s", name, diff)
	}
}

// wantAgents checks ListAgents.
func (h *harness) wantAgents(want ...*store.Agent) {
	h.t.Helper()
	got, err := h.s.ListAgents(h.ctx)
	if err != nil {
		h.t.Fatalf("ListAgents: %v", err)
	}
	if got == nil {
		h.t.Fatalf("ListAgents = nil, want an empty list")
	}
	if len(got) != len(want) {
		h.t.Fatalf("ListAgents = %d agents, want %d", len(got), len(want))
	}
	for i := range want {
		if diff := agentDiff(got[i], want[i]); diff != "" {
			h.t.Fatalf("ListAgents #%d: %s", i, diff)
		}
	}
}

// agentDiff lists the fields in which got differs from want; an empty list
// of labels equals a nil one.
func agentDiff(got, want *store.Agent) string {
	var d differ
	d.field("Name", got.Name, want.Name)
	if len(got.Labels) != 0 || len(want.Labels) != 0 {
		d.field("Labels", got.Labels, want.Labels)
	}
	d.field("TokenID", got.TokenID, want.TokenID)
	d.field("TokenHash", got.TokenHash, want.TokenHash)
	d.when("CreatedAt", got.CreatedAt, want.CreatedAt)
	d.when("LastSeen", got.LastSeen, want.LastSeen)
	d.field("Version", got.Version, want.Version)
	return d.String()
}
