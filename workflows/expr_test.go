package workflows

import (
	"strings"
	"testing"
)

// TestUnknownNamesInCallArguments checks that an unknown name inside the
// arguments of a function with a declared type is a load error, as it is
// anywhere else in an expression.
func TestUnknownNamesInCallArguments(t *testing.T) {
	tests := []struct{ src, want string }{
		{`toJSON(evnt.x)`, "unknown name evnt (1:8)"},
		{`glob(evnt, "x")`, "unknown name evnt (1:6)"},
		{`changed(evnt.path)`, "unknown name evnt (1:9)"},
		{`toJSON(event.brnch) != ""`, "type workflows.Event has no field brnch (1:14)"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, err := compileExpr(tt.src)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to start with %q", err, tt.want)
			}
		})
	}
}
