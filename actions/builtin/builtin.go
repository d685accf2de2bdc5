// Package builtin is the set of action kinds the hookflow binary ships, so
// that the binary and the tests that load its workflows build one registry.
package builtin

import (
	"github.com/hookflow/hookflow/actions"
	applyaction "github.com/hookflow/hookflow/actions/apply"
	gitaction "github.com/hookflow/hookflow/actions/git"
	httpaction "github.com/hookflow/hookflow/actions/http"
	"github.com/hookflow/hookflow/actions/shell"
)

// Registry returns a registry of every kind the binary ships: run, http, git
// and apply.
func Registry() *actions.Registry {
	r, err := actions.NewRegistry(shell.Kind(), httpaction.Kind(), gitaction.Kind(), applyaction.Kind())
	if err != nil {
		panic(err) // two kinds with one name: a programming error
	}
	return r
}
