package store

import (
	"testing"
	"time"
)

func TestStampLogLines(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	given := now.Add(-time.Second)
	lines := []LogLine{{Text: "a"}, {Text: "b", Time: given}, {Text: "c"}}
	// The run had 4 lines; reserving these 3 took its counter to 7.
	if first := StampLogLines(lines, 7, now); first != 5 {
		t.Fatalf("first Seq = %d, want 5", first)
	}
	for i, want := range []time.Time{now, given, now} {
		if !lines[i].Time.Equal(want) {
			t.Fatalf("line %d: Time %v, want %v", i, lines[i].Time, want)
		}
	}
}
