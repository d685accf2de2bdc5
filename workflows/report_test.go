package workflows_test

import (
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// TestNotice walks one notify entry through sequences of finished runs:
// recovered comes once after failures and never on a first success, and a
// failing workflow is told again only once repeat has passed.
func TestNotice(t *testing.T) {
	start := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		when   []string
		runs   []string // statuses, ten minutes apart
		notice []string // what each run tells ("" for nothing)
	}{
		{"first success is no recovery", []string{"recovered"},
			[]string{"succeeded", "succeeded"}, []string{"", ""}},
		{"recovered once after failures", []string{"failure", "recovered"},
			[]string{"failed", "failed", "succeeded", "succeeded", "timed_out", "succeeded"},
			[]string{"failure", "", "recovered", "", "failure", "recovered"}},
		{"repeat after an hour", []string{"failure"},
			[]string{"failed", "failed", "failed", "failed", "failed", "failed", "failed", "failed"},
			[]string{"failure", "", "", "", "", "", "failure", ""}},
		{"cancelled leaves the streak", []string{"recovered", "always"},
			[]string{"failed", "cancelled", "succeeded", "cancelled"},
			[]string{"failure", "cancelled", "recovered", "cancelled"}},
		{"success only", []string{"success"},
			[]string{"failed", "succeeded", "succeeded"}, []string{"", "success", "success"}},
		{"recovered without failure notices", []string{"recovered"},
			[]string{"failed", "succeeded"}, []string{"", "recovered"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &workflows.Notify{When: tt.when, Repeat: workflows.Duration(workflows.DefaultRepeat)}
			var s workflows.Streak
			for i, status := range tt.runs {
				var got string
				got, s = n.Notice(status, s, start.Add(time.Duration(i)*10*time.Minute))
				if got != tt.notice[i] {
					t.Errorf("run %d (%s): notice %q, want %q", i+1, status, got, tt.notice[i])
				}
			}
		})
	}
}

// TestReportPlan checks that a plan survives the store's JSON with its
// templates compiled, and that a workflow without report: has none.
func TestReportPlan(t *testing.T) {
	src := `name: deploy
on: {webhook: {path: deploy, provider: gitea}}
report: {commit_status: true, token: "${{ secrets.FORGE_TOKEN }}", per_job: true}
notify:
  - when: [failure, recovered]
    webhook: {url: "https://hooks.example.com/x", headers: {Authorization: "Bearer ${{ secrets.HOOK }}"}}
  - when: failure
    email: {to: ops@example.com}
steps: [{run: make}]
`
	w, err := workflows.Parse("deploy.yaml", []byte(src), registry(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := workflows.ParsePlan(w.Plan())
	if err != nil {
		t.Fatal(err)
	}
	if p.Report == nil || !p.Report.CommitStatus || !p.Report.PerJob || p.Report.Token.Source != "${{ secrets.FORGE_TOKEN }}" {
		t.Errorf("report = %+v", p.Report)
	}
	if got := p.Report.Token.SecretNames(); len(got) != 1 || got[0] != "FORGE_TOKEN" {
		t.Errorf("token reads secrets %v", got)
	}
	if len(p.Notify) != 2 || p.Notify[0].Kind() != "webhook" || p.Notify[1].Kind() != "email" {
		t.Fatalf("notify = %+v", p.Notify)
	}
	if got := p.Notify[1].Email.To; len(got) != 1 || got[0] != "ops@example.com" {
		t.Errorf("email to %v", got)
	}
	if time.Duration(p.Notify[0].Repeat) != workflows.DefaultRepeat {
		t.Errorf("repeat %v, want the default", p.Notify[0].Repeat)
	}
	if h := p.Notify[0].Webhook.Headers["Authorization"]; h == nil || h.Source != "Bearer ${{ secrets.HOOK }}" {
		t.Errorf("headers %+v", p.Notify[0].Webhook.Headers)
	}

	plain, err := workflows.Parse("plain.yaml", []byte("name: plain\non: {dispatch: {}}\nsteps: [{run: make}]\n"), registry(t))
	if err != nil {
		t.Fatal(err)
	}
	if plain.Plan() != nil {
		t.Errorf("a workflow without report: has plan %s", plain.Plan())
	}
}
