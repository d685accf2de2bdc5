package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

var refusalTests = []test{
	{"AddListGet", func(t *testing.T, h *harness) {
		h.wantRefusals(store.RefusalFilter{})
		bad := &workflows.Refusal{ID: "01J0000000000000000000000A", Time: t0, Path: "github", Method: "POST",
			Status: 401, Reason: "missing or invalid signature: X-Hub-Signature-256 does not match the body",
			Remote: "127.0.0.1", Provider: "github", Delivery: "d-1",
			Headers: map[string]string{"X-Hub-Signature-256": "***", "Content-Type": "application/json"}}
		dup := &workflows.Refusal{ID: "01J0000000000000000000000B", Time: at(time.Second), Path: "github",
			Method: "POST", Status: 200, Reason: "duplicate delivery", Body: `{"ref":"refs/heads/main"}`}
		// Text neither database keeps as it is is made storable, not refused.
		odd := &workflows.Refusal{ID: "01J0000000000000000000000C", Time: at(2 * time.Second),
			Path: "x\x00y", Method: "GET", Status: 404, Reason: "no workflow serves /hooks/x"}
		if err := h.s.AddRefusals(h.ctx, []*workflows.Refusal{bad, dup, odd}); err != nil {
			t.Fatalf("AddRefusals: %v", err)
		}
		odd.Path = "x\uFFFDy"
		h.wantRefusals(store.RefusalFilter{}, odd, dup, bad)
		h.wantRefusals(store.RefusalFilter{Limit: 2}, odd, dup)
		h.wantRefusals(store.RefusalFilter{Before: dup.ID}, bad)
		got, err := h.s.GetRefusal(h.ctx, bad.ID)
		if err != nil {
			t.Fatalf("GetRefusal: %v", err)
		}
		if !reflect.DeepEqual(got, bad) {
			t.Fatalf("GetRefusal = %+v, want %+v", got, bad)
		}
		_, err = h.s.GetRefusal(h.ctx, "01J00000000000000000000000")
		wantErr(t, "GetRefusal of an unknown id", err, store.ErrNotFound)
		err = h.s.AddRefusals(h.ctx, []*workflows.Refusal{{Time: t0}})
		if workflows.ErrorCode(err) != workflows.EInvalid {
			t.Fatalf("AddRefusals without an id: error %v, want %s", err, workflows.EInvalid)
		}
	}},
	{"TrimByCount", func(t *testing.T, h *harness) {
		all := h.addRefusals(10, time.Second)
		if err := h.s.TrimRefusals(h.ctx, 4, at(-time.Hour)); err != nil {
			t.Fatalf("TrimRefusals: %v", err)
		}
		h.wantRefusals(store.RefusalFilter{}, newestFirst(all[6:])...)
		// Fewer than keep: nothing more goes.
		if err := h.s.TrimRefusals(h.ctx, 5, at(-time.Hour)); err != nil {
			t.Fatalf("TrimRefusals: %v", err)
		}
		h.wantRefusals(store.RefusalFilter{}, newestFirst(all[6:])...)
	}},
	{"TrimByAge", func(t *testing.T, h *harness) {
		all := h.addRefusals(10, time.Minute)
		// Older than t0+7m goes, whatever the count bound allows.
		if err := h.s.TrimRefusals(h.ctx, 1000, at(7*time.Minute)); err != nil {
			t.Fatalf("TrimRefusals: %v", err)
		}
		h.wantRefusals(store.RefusalFilter{}, newestFirst(all[7:])...)
		// No count bound.
		if err := h.s.TrimRefusals(h.ctx, 0, at(8*time.Minute)); err != nil {
			t.Fatalf("TrimRefusals: %v", err)
		}
		h.wantRefusals(store.RefusalFilter{}, newestFirst(all[8:])...)
	}},
}

// addRefusals stores n refusals, step apart from t0, oldest first, and
// returns them.
func (h *harness) addRefusals(n int, step time.Duration) []*workflows.Refusal {
	h.t.Helper()
	rs := make([]*workflows.Refusal, n)
	for i := range rs {
		rs[i] = &workflows.Refusal{ID: fmt.Sprintf("01J00000000000000000000%03d", i), Time: at(time.Duration(i) * step),
			Path: "alerts", Method: "POST", Status: 401, Reason: "missing or invalid signature"}
	}
	if err := h.s.AddRefusals(h.ctx, rs); err != nil {
		h.t.Fatalf("AddRefusals: %v", err)
	}
	return rs
}

// newestFirst returns rs reversed.
func newestFirst(rs []*workflows.Refusal) []*workflows.Refusal {
	out := slices.Clone(rs)
	slices.Reverse(out)
	return out
}

// wantRefusals checks that ListRefusals(f) returns want.
func (h *harness) wantRefusals(f store.RefusalFilter, want ...*workflows.Refusal) {
	h.t.Helper()
	got, err := h.s.ListRefusals(h.ctx, f)
	if err != nil {
		h.t.Fatalf("ListRefusals(%+v): %v", f, err)
	}
	if want == nil {
		want = []*workflows.Refusal{}
	}
	if !reflect.DeepEqual(got, want) {
		h.t.Fatalf("ListRefusals(%+v):\n got %s\nwant %s", f, refusalIDs(got), refusalIDs(want))
	}
}

func refusalIDs(rs []*workflows.Refusal) string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = fmt.Sprintf("%s %+v", r.ID, *r)
	}
	return fmt.Sprint(ids)
}
