// Package actiontest holds test checks shared by the action kinds' tests.
package actiontest

import (
	"errors"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/actions/shell"
)

// WantRetryable fails the test unless err is an *actions.Error with the given
// retryability.
func WantRetryable(t testing.TB, err error, retryable bool) {
	t.Helper()
	var ae *actions.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *actions.Error", err, err)
	}
	if ae.Retryable != retryable {
		t.Errorf("error %q: Retryable = %v, want %v", err, ae.Retryable, retryable)
	}
}

// WantErrorContains fails the test unless err is set and contains every part.
func WantErrorContains(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

// Registry returns a registry of kinds and the kind of `run:` steps, as the
// binary builds one, failing the test if two kinds share a name.
func Registry(t testing.TB, kinds ...actions.Kind) *actions.Registry {
	t.Helper()
	r, err := actions.NewRegistry(append([]actions.Kind{shell.Kind()}, kinds...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
