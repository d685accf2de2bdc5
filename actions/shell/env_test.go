package shell

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hookflow/hookflow/actions"
)

// TestShellCodeVarsRefused checks that a step may not set the variables
// whose values shells run as code, so that event data in one never runs.
func TestShellCodeVarsRefused(t *testing.T) {
	for _, name := range shellCodeVars {
		t.Run(name, func(t *testing.T) {
			s := newStep(t)
			canary := filepath.Join(s.Workspace, "canary")
			s.Env = append(s.Env, name+"=$(touch "+canary+")")
			_, err := runStep(t, mustNew(t, "set -x\necho hello", ""), s)
			checkErr(t, err, "env "+name+": shells run its value as code")
			if actions.IsRetryable(err) {
				t.Error("the error is retryable; no retry can fix it")
			}
			if _, err := os.Stat(canary); err == nil {
				t.Errorf("%s ran its value", name)
			}
		})
	}
}
