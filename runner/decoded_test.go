package runner

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// TestNormaliseMatchesTheStore checks NormaliseEvent and NormaliseItem
// against what the pool decodes from the store, for each field of an event
// set alone to values the JSON changes, and for items; and that they leave
// their argument as it was.
func TestNormaliseMatchesTheStore(t *testing.T) {
	zone := time.FixedZone("", -5*3600)
	// fill returns values for a field of type typ: the first the JSON changes
	// but NormaliseEvent makes itself, the rest it leaves to the round trip.
	fill := func(typ reflect.Type) []any {
		switch typ {
		case reflect.TypeFor[string]():
			return []any{"plain", "caf\xe9"}
		case reflect.TypeFor[time.Time]():
			return []any{time.Now().In(zone), time.Date(2024, 1, 1, 0, 0, 0, 0, time.Local)}
		case reflect.TypeFor[map[string]string]():
			return []any{map[string]string{}, map[string]string{"k": "v\xff"}, map[string]string{"k\xff": "v"}}
		case reflect.TypeFor[[]string]():
			return []any{[]string{}, []string{"\xff"}}
		case reflect.TypeFor[any]():
			return []any{map[string]any{"n": 1, "l": []any{int64(2), []string{"x"}}, "m": map[string]string{"k": "v"}, "nil": []any(nil)},
				json.Number("1.50"), float32(0.1)}
		case reflect.TypeFor[map[string]any]():
			return []any{map[string]any{}, map[string]any{"n": 2, "t": "x"}, map[string]any{"n": json.Number("2")}}
		case reflect.TypeFor[int](), reflect.TypeFor[bool]():
			return []any{reflect.Zero(typ).Interface()}
		case reflect.TypeFor[[]workflows.Alert]():
			return []any{[]workflows.Alert{{StartsAt: time.Now(), Labels: map[string]string{}}}, []workflows.Alert{}}
		case reflect.TypeFor[workflows.PullRequest]():
			return []any{workflows.PullRequest{Number: 1, Merged: true}}
		}
		return nil
	}
	typ := reflect.TypeFor[workflows.Event]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		values := fill(f.Type)
		if values == nil {
			t.Fatalf("field %s of type %s: give this test values for it (and check decodedValue handles it)", f.Name, f.Type)
		}
		for j, v := range values {
			t.Run(fmt.Sprintf("%s/%d", f.Name, j), func(t *testing.T) {
				ev := &workflows.Event{ID: "ev"}
				reflect.ValueOf(ev).Elem().Field(i).Set(reflect.ValueOf(v))
				before := fmt.Sprintf("%#v", *ev)
				got, err := NormaliseEvent(ev)
				if err != nil {
					t.Fatal(err)
				}
				want := storeRoundTrip(t, ev)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("NormaliseEvent gives\n%#v\nthe store gives\n%#v", *got, *want)
				}
				if after := fmt.Sprintf("%#v", *ev); after != before {
					t.Errorf("NormaliseEvent changed its argument:\n%s\nto\n%s", before, after)
				}
				if _, ok := normalisedEvent(ev); j == 0 && !ok {
					t.Errorf("%#v went through the round trip", v)
				}
			})
		}
	}

	items := []any{nil, 1, 2.5, "x", true, int64(1)<<53 + 1, uint64(1) << 63, []any{1, "a"}, map[string]any{"n": int32(3)},
		[]string{"a"}, map[string]string{"k": "v"}, json.Number("12"), float32(2.5), workflows.Alert{StartsAt: time.Now()},
		time.Now(), []int{1, 2}, map[string]any(nil), "\xff"}
	for _, item := range items {
		before := fmt.Sprintf("%#v", item)
		got, err := NormaliseItem(item)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(item)
		var want any
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("NormaliseItem(%#v) = %#v, the store gives %#v", item, got, want)
		}
		if after := fmt.Sprintf("%#v", item); after != before {
			t.Errorf("NormaliseItem changed %s to %s", before, after)
		}
	}
}

// storeRoundTrip is ev as the pool reads it from the store.
func storeRoundTrip(t *testing.T, ev *workflows.Event) *workflows.Event {
	t.Helper()
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	back := &workflows.Event{}
	if err := json.Unmarshal(data, back); err != nil {
		t.Fatal(err)
	}
	return back
}
