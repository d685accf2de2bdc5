package store

import (
	"errors"
	"testing"
	"time"
)

func TestTimeColumn(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 6e6, time.UTC)
	for _, tc := range []struct {
		name string
		v    any
		want time.Time
	}{
		{"Null", nil, time.Time{}},
		{"UnixMillis", at.UnixMilli(), at},
		{"TimeInUTC", at.In(time.FixedZone("UTC+2", 2*3600)), at},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := timeColumn{t: time.Now()} // a reused destination
			if err := c.Scan(tc.v); err != nil || !c.t.Equal(tc.want) || c.t.Location() != time.UTC {
				t.Fatalf("Scan(%v) = %v (%v), want %v in UTC", tc.v, c.t, err, tc.want)
			}
		})
	}
	t.Run("Text", func(t *testing.T) {
		var c timeColumn
		if err := c.Scan("2030-01-02"); err == nil {
			t.Fatalf("Scan of text = %v, want an error", c.t)
		}
	})
}

func TestDispatchFail(t *testing.T) {
	cause := errors.New("unique constraint")
	for _, tc := range []struct {
		name string
		item *Dispatch
		want string
	}{
		{"Event", &Dispatch{Event: &Event{ID: "evt-1"}}, "dispatch evt-1: unique constraint"},
		{"Rerun", &Dispatch{}, "dispatch (no event): unique constraint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.item.Duplicate, tc.item.CancelRequested = &Event{ID: "stale"}, []string{"stale"}
			tc.item.Fail(cause)
			if !errors.Is(tc.item.Err, cause) || tc.item.Err.Error() != tc.want {
				t.Fatalf("Err = %v, want %q wrapping the cause", tc.item.Err, tc.want)
			}
			if tc.item.Duplicate != nil || tc.item.CancelRequested != nil {
				t.Fatalf("a failed dispatch kept Duplicate %v, CancelRequested %v", tc.item.Duplicate, tc.item.CancelRequested)
			}
		})
	}
}
