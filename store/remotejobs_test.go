package store

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func TestInterruptSteps(t *testing.T) {
	for _, tc := range []struct {
		name, steps, want string
	}{
		{"RunningFails",
			`[{"id":"a","outcome":"success","exit_code":0},{"id":"b","outcome":"running","attempts":2,"outputs":{"x":[1,"é"]}}]`,
			`[{"id":"a","outcome":"success","exit_code":0},{"id":"b","outcome":"failure","attempts":2,"outputs":{"x":[1,"é"]},"error":"interrupted"}]`},
		{"EarlierErrorReplaced", `[{"outcome":"running","error":"retrying"}]`, `[{"outcome":"failure","error":"interrupted"}]`},
		{"NullStepKept", `[null,{"outcome":"running"}]`, `[null,{"outcome":"failure","error":"interrupted"}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := InterruptSteps(json.RawMessage(tc.steps))
			if err != nil {
				t.Fatalf("InterruptSteps: %v", err)
			}
			var g, w any
			if json.Unmarshal(got, &g) != nil || json.Unmarshal([]byte(tc.want), &w) != nil || !reflect.DeepEqual(g, w) {
				t.Fatalf("InterruptSteps = %s, want %s", got, tc.want)
			}
		})
	}
	// What has no running step, or is no list of steps, is kept byte for byte.
	for _, steps := range []string{``, `[]`, `[{"outcome":"success"}]`, `{"outcome":"running"}`, `not json`} {
		if got, err := InterruptSteps(json.RawMessage(steps)); err != nil || !bytes.Equal(got, []byte(steps)) {
			t.Fatalf("InterruptSteps(%s) = %s, %v; want it unchanged", steps, got, err)
		}
	}
}
