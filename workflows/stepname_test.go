package workflows_test

import (
	"strings"
	"testing"

	"github.com/hookflow/hookflow/actions/actiontest"
	applyaction "github.com/hookflow/hookflow/actions/apply"
	gitaction "github.com/hookflow/hookflow/actions/git"
	httpaction "github.com/hookflow/hookflow/actions/http"
	"github.com/hookflow/hookflow/workflows"
)

// TestStepDisplayName names steps without a name after what they run, the
// same for every reader, and never renders a template into the name.
func TestStepDisplayName(t *testing.T) {
	long := strings.Repeat("x", 70)
	tests := []struct {
		name string
		step string
		want string
	}{
		{"named", `{name: "Build it", run: make}`, "Build it"},
		{"named with a template", `{name: "deploy ${{ event.branch }}", run: make}`, "deploy ${{ event.branch }}"},
		{"run", `{run: make test}`, "make test"},
		{"run of several lines", "{run: \"  make test\\n  make lint\\n\"}", "make test…"},
		{"long run", `{run: "echo ` + long + `"}`, "echo " + long[:55] + "…"},
		{"git", `{uses: git, with: {url: "https://example.com/org/repo.git"}}`, "git clone https://example.com/org/repo.git"},
		{"git with a user in its URL", `{uses: git, with: {url: "https://bot:hunter2@example.com/org/repo.git"}}`, "git clone https://example.com/org/repo.git"},
		{"http", `{uses: http, with: {method: post, url: "https://example.com/hook"}}`, "POST https://example.com/hook"},
		{"http without a method", `{uses: http, with: {url: "https://example.com/ping"}}`, "GET https://example.com/ping"},
		{"http with a secret", `{uses: http, with: {url: "https://example.com/?key=${{ secrets.KEY }}"}}`,
			"GET https://example.com/?key=${{ secrets.KEY }}"},
		{"apply", `{uses: apply, with: {path: deploy/app.yaml}}`, "apply deploy/app.yaml"},
	}
	reg := actiontest.Registry(t, httpaction.Kind(), gitaction.Kind(), applyaction.Kind())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "on: {dispatch: {}}\nsteps:\n  - " + tt.step + "\n"
			w, err := workflows.Parse("name.yaml", []byte(src), reg)
			if err != nil {
				t.Fatal(err)
			}
			if got := w.Steps[0].DisplayName(); got != tt.want {
				t.Errorf("DisplayName() = %q, want %q", got, tt.want)
			}
		})
	}
}
