package workflows_test

import (
	"os"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/actions/actiontest"
	gitaction "github.com/hookflow/hookflow/actions/git"
	httpaction "github.com/hookflow/hookflow/actions/http"
	"github.com/hookflow/hookflow/workflows"
)

// TestHabitReplacementsLoad takes each GitHub Actions habit of
// testdata/invalid/github-*.yaml, checks that its error suggests a
// replacement, and that the workflow written with that replacement loads.
func TestHabitReplacementsLoad(t *testing.T) {
	reg := actiontest.Registry(t, httpaction.Kind(), gitaction.Kind())
	tests := []struct {
		habit string // the file under testdata/invalid
		write string // what its error says to write
		fixed string // the workflow written so
	}{
		{"github-on-push", `on: {webhook: {path: github, provider: github, events: [push]}}`, `
name: build
on: {webhook: {path: github, provider: github, events: [push]}}
steps:
  - run: make
`},
		{"github-on-list", `on: {webhook: {path: github, provider: github, events: [push, pull_request]}}`, `
on: {webhook: {path: github, provider: github, events: [push, pull_request]}}
steps:
  - run: make test
`},
		{"github-on-branches", `webhook: {path: github, provider: github, events: [push], branches: [main, "release/*"], paths: ["**", "!docs/**"]}`, `
on:
  webhook: {path: github, provider: github, events: [push], branches: [main, "release/*"], paths: ["**", "!docs/**"]}
steps:
  - run: make deploy
`},
		{"github-pull-request", `webhook: [{path: github, provider: github, events: [push], branches: [main]}, {path: github, provider: github, events: [pull_request.opened, pull_request.synchronize]}]`, `
on:
  webhook: [{path: github, provider: github, events: [push], branches: [main]}, {path: github, provider: github, events: [pull_request.opened, pull_request.synchronize]}]
  dispatch: {}
steps:
  - run: make test
`},
		{"github-on-tags", `webhook: {path: github, provider: github, events: [tag, release.published]}; select the tags with if: event.type != "tag" || glob(event.tag, "v*")`, `
on:
  webhook: {path: github, provider: github, events: [tag, release.published]}
if: event.type != "tag" || glob(event.tag, "v*")
steps:
  - run: make release
`},
		{"github-workflow-dispatch", "write dispatch: and keep its inputs:", `
on:
  dispatch:
    inputs:
      version:
        type: string
        required: true
steps:
  - run: echo "$VERSION"
    env: {VERSION: "${{ inputs.version }}"}
`},
		{"github-schedule", `cron: ["0 3 * * *", "30 12 * * MON"]`, `
on:
  cron: ["0 3 * * *", "30 12 * * MON"]
steps:
  - run: ./nightly.sh
`},
		{"github-context-if", "write event.body.pull_request.merged", `
on:
  webhook: {path: github, provider: github}
if: event.type == 'push' && event.ref == 'refs/heads/main'
steps:
  - run: make
    if: startsWith(event.branch, 'release/') || event.body.pull_request.merged
  - run: make docs
    if: contains(event.body.head_commit.message, '[docs]')
`},
		{"github-context-templates", "write event.branch", `
on:
  webhook: {path: github, provider: github}
env:
  SHA: ${{ event.commit }}
  BRANCH: "branch ${{ event.branch }}"
  ACTOR: ${{ event.sender }}
  REPO: 'repo: ${{ event.repo }}'
steps:
  - run: make
  - uses: http
    with:
      url: https://chat.example.com/hook
      json: {text: "${{ event.body.head_commit.message }}"}
`},
		{"github-checkout", `uses: git and with: {url: "${{ event.clone_url }}", ref: "${{ event.commit }}"}`, `
on:
  webhook: {path: github, provider: github}
steps:
  - uses: git
    with: {url: "${{ event.clone_url }}", ref: "${{ event.commit }}"}
  - name: Build
    run: make
`},
		{"github-paths-ignore", `paths: ["src/**", "!src/vendor/**"]`, `
on:
  webhook:
    - path: github
      provider: github
      paths: ["**", "!docs/**", "!*.md"]
    - path: other
      provider: github
      paths: ["src/**", "!src/vendor/**"]
steps:
  - run: make
`},
		{"github-timeout-minutes", "write timeout: 2m30s", `
on:
  webhook: {path: github, provider: github}
timeout: 90m
steps:
  - run: make
    timeout: 5m
  - run: make slow
    timeout: 2m30s
`},
		{"github-dashed-keys", "write continue_on_error", `
on:
  webhook: {path: github, provider: github}
concurrency:
  group: deploy
  cancel_in_progress: true
steps:
  - run: make
    working_directory: src
    continue_on_error: true
`},
		{"github-defaults-run", "write shell: and working_directory: directly under defaults:", `
on:
  webhook: {path: github, provider: github}
defaults:
  shell: bash
steps:
  - run: make
`},
		{"github-output", `write outputs to "$HOOKFLOW_OUTPUT"`, `
on:
  webhook: {path: github, provider: github}
steps:
  - id: build
    run: |
      make
      echo "image=web:1" >> "$HOOKFLOW_OUTPUT"
  - run: echo "tag=1" >> ${HOOKFLOW_OUTPUT}
`},
		{"github-env", `set PATH through "$HOOKFLOW_ENV"`, `
on:
  webhook: {path: github, provider: github}
steps:
  - run: |
      echo "APP=web" >> $HOOKFLOW_ENV
      echo "PATH=$HOME/bin:$PATH" >> "$HOOKFLOW_ENV"
`},
		{"github-step-summary", `write the summary to "$HOOKFLOW_STEP_SUMMARY"`, `
on:
  webhook: {path: github, provider: github}
steps:
  - run: echo "### Deployed :rocket:" >> $HOOKFLOW_STEP_SUMMARY
`},
	}
	for _, tt := range tests {
		t.Run(tt.habit, func(t *testing.T) {
			file := "testdata/invalid/" + tt.habit + ".yaml"
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, err = workflows.Parse(file, data, reg)
			if err == nil || !strings.Contains(err.Error(), tt.write) {
				t.Fatalf("error %v does not say %q", err, tt.write)
			}
			if _, err := workflows.Parse(tt.habit+"-fixed.yaml", []byte(tt.fixed), reg); err != nil {
				t.Errorf("written as the hint says, it does not load: %v", err)
			}
		})
	}
}

// TestHabitKeysInAnyBlock checks that the hints for dashed keys and
// timeout-minutes come from the decoder's unknown-key path, so that they
// apply to any block, whatever its type: here a job-like block decoded on
// its own.
func TestHabitKeysInAnyBlock(t *testing.T) {
	type strategy struct {
		MaxParallel int  `yaml:"max_parallel"`
		FailFast    bool `yaml:"fail_fast"`
	}
	type job struct {
		RunsOn          []string           `yaml:"runs_on"`
		Timeout         workflows.Duration `yaml:"timeout"`
		ContinueOnError bool               `yaml:"continue_on_error"`
		Strategy        strategy           `yaml:"strategy"`
		Paths           []string           `yaml:"paths"`
	}
	src := `runs-on: [builder]
timeout-minutes: 15
continue-on-error: true
strategy:
  max-parallel: 2
  fail-fast: false
paths-ignore: [docs]
permissions: {}
`
	var j job
	err := workflows.DecodeYAML("job.yaml", []byte(src), &j)
	want := strings.Join([]string{
		`job.yaml:1:1: unknown key "runs-on": write runs_on`,
		`job.yaml:2:1: unknown key "timeout-minutes": write timeout: 15m`,
		`job.yaml:3:1: unknown key "continue-on-error": write continue_on_error`,
		`job.yaml:5:3: unknown key "max-parallel": write max_parallel`,
		`job.yaml:6:3: unknown key "fail-fast": write fail_fast`,
		`job.yaml:7:1: unknown key "paths-ignore": write paths: ["**", "!docs"]`,
		`job.yaml:8:1: unknown key "permissions" (expected one of: runs_on, timeout, continue_on_error, strategy, paths)`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("errors:\n%v\nwant:\n%s", err, want)
	}
}

// TestHabitsLeaveTheRestAlone checks that what only looks like a habit is
// not one: a script's own GITHUB_* variables, a dashed key without an
// underscore twin, and a name that merely starts with github.
func TestHabitsLeaveTheRestAlone(t *testing.T) {
	reg := actiontest.Registry(t, httpaction.Kind())
	src := `on:
  webhook: {path: github, provider: github}
env:
  GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}
steps:
  - run: |
      curl -H "Authorization: token $GITHUB_TOKEN" https://api.github.com/
      echo "$GITHUB_OUTPUTS $GITHUB_ENVIRONMENT" >> "$HOOKFLOW_OUTPUT"
`
	if _, err := workflows.Parse("fine.yaml", []byte(src), reg); err != nil {
		t.Fatalf("a workflow without habits did not load: %v", err)
	}
	bad := `on:
  webhook: {path: github, provider: github}
if: githubx.ref == "x"
steps:
  - run: make
    time-out: 5m
`
	_, err := workflows.Parse("other.yaml", []byte(bad), reg)
	want := "other.yaml:3:5: expression: unknown name githubx\n" +
		`other.yaml:6:5: unknown key "time-out" (did you mean "timeout"?)`
	if err == nil || err.Error() != want {
		t.Errorf("errors:\n%v\nwant:\n%s", err, want)
	}
}

// TestTriggerHabitForms checks the hint for the other ways GitHub Actions
// users write on:, each at the place the habit is written.
func TestTriggerHabitForms(t *testing.T) {
	tests := []struct{ on, want string }{
		{"on: workflow_dispatch", "t.yaml:1:5: on: workflow_dispatch: write on: {dispatch: {}}"},
		{"on: [push, workflow_dispatch]", "t.yaml:1:5: on: [push, workflow_dispatch]: GitHub events arrive through a webhook here: write on: {webhook: {path: github, provider: github, events: [push]}, dispatch: {}}"},
		{"on:\n  webhook: {path: ci}\n  pull_request_target:\n    branches-ignore: [\"wip/*\"]",
			`t.yaml:3:3: unknown key "pull_request_target": GitHub events arrive through a webhook here: write webhook: {path: github, provider: github, events: [pull_request], branches: ["**", "!wip/*"]}`},
		{"on:\n  push:\n    tags-ignore: [\"v0.*\", nightly]",
			`t.yaml:2:3: unknown key "push": GitHub events arrive through a webhook here: write webhook: {path: github, provider: github, events: [tag]}; select the tags with if: (!glob(event.tag, "v0.*") && !glob(event.tag, "nightly"))`},
		{"on:\n  push:\n    branches: [main]\n    tags: [\"v*\"]",
			`t.yaml:2:3: unknown key "push": GitHub events arrive through a webhook here: write webhook: [{path: github, provider: github, events: [push], branches: [main]}, {path: github, provider: github, events: [tag]}]; select the tags with if: event.type != "tag" || glob(event.tag, "v*")`},
		{"on:\n  schedule: daily", `t.yaml:2:3: unknown key "schedule": write cron: with the schedules, e.g. cron: ["0 3 * * *"]`},
		{"on: [push, deploy]", "t.yaml:1:5: expected a mapping of webhook, cron, dispatch, got a list"},
	}
	for _, tt := range tests {
		t.Run(tt.on, func(t *testing.T) {
			_, err := workflows.Parse("t.yaml", []byte(tt.on+"\nsteps: [{run: make}]\n"), nil)
			if err == nil || err.Error() != tt.want {
				t.Errorf("errors:\n%v\nwant:\n%s", err, tt.want)
			}
		})
	}
}
