package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// TestRefusedEvents checks the refused deliveries' list, in the events
// list's shape and pages, and one refusal's view.
func TestRefusedEvents(t *testing.T) {
	f := newFixture(t, map[string]string{"hook.yaml": hookYAML}, nil)
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	var ids []string // oldest first
	var rs []*workflows.Refusal
	for i, reason := range []string{"missing or invalid signature: github: X-Hub-Signature-256 does not match the body",
		"no workflow serves /hooks/nope", "method GET not allowed"} {
		r := &workflows.Refusal{ID: "01J00000000000000000000R0" + string(rune('0'+i)), Time: t0.Add(time.Duration(i) * time.Second),
			Path: "gh", Method: "POST", Status: 401, Reason: reason, Headers: map[string]string{"X-Hub-Signature-256": "***"}}
		rs, ids = append(rs, r), append(ids, r.ID)
	}
	if err := f.store.AddRefusals(t.Context(), rs); err != nil {
		t.Fatal(err)
	}
	// A stored event is not among the refused ones.
	f.deliver(t, "gh", `{"ok":true}`)

	p := listPage(t, f.do(t, "GET", "/api/v1/events?refused=1&limit=2", "", nil), "events")
	if strings.Join(p.IDs, ",") != ids[2]+","+ids[1] || *p.Next != ids[1] {
		t.Fatalf("first page %v next %v, want %s,%s next %s", p.IDs, *p.Next, ids[2], ids[1], ids[1])
	}
	p = listPage(t, f.do(t, "GET", "/api/v1/events?refused=true&limit=2&before="+*p.Next, "", nil), "events")
	if strings.Join(p.IDs, ",") != ids[0] || *p.Next != "" {
		t.Fatalf("second page %v next %q, want %s and no next", p.IDs, *p.Next, ids[0])
	}

	got := decode[workflows.Refusal](t, f.do(t, "GET", "/api/v1/events/refused/"+ids[0], "", nil), http.StatusOK)
	if got.Reason != rs[0].Reason || got.Status != 401 || got.Headers["X-Hub-Signature-256"] != "***" || !got.Time.Equal(t0) {
		t.Errorf("refusal %+v", got)
	}
	if a := f.do(t, "GET", "/api/v1/events/refused/01J00000000000000000000XXX", "", nil); a.code != http.StatusNotFound {
		t.Errorf("unknown refusal: %d", a.code)
	}
	if a := f.do(t, "GET", "/api/v1/events?refused=1&path=gh", "", nil); a.code != http.StatusBadRequest {
		t.Errorf("refused with a path filter: %d", a.code)
	}
}
