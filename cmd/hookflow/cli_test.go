package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/api"
)

// hookflow runs the command line in-process and returns its exit code and output.
func hookflow(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func writeFile(t testing.TB, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const quickstart = "../../examples/quickstart"

func TestValidate(t *testing.T) {
	code, out, errOut := hookflow(t, "validate", quickstart+"/workflows")
	if code != exitOK || !strings.Contains(out, "2 workflows OK") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	dir := t.TempDir()
	bad := writeFile(t, filepath.Join(dir, "bad.yaml"), "on:\n  webhook: {path: x}\nsteps:\n  - run: echo ${{ event.ref }}\n")
	code, _, errOut = hookflow(t, "validate", dir)
	if code != exitFail {
		t.Fatalf("exit %d, want 1", code)
	}
	if want := bad + ":4:15: ${{ }} inside run:"; !strings.HasPrefix(errOut, want) {
		t.Errorf("stderr %q, want prefix %q", errOut, want)
	}
}

func TestRunQuickstart(t *testing.T) {
	code, out, errOut := hookflow(t, "run", "hello-push", "--workflows", quickstart+"/workflows",
		"--event", quickstart+"/push.json", "--header", "X-GitHub-Event=push")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"push to main at 59b20b8d", `changed: ["deploy/banner.yaml","index.html"]`, "hello from main", "succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestRunExitCodes(t *testing.T) {
	dir := t.TempDir()
	wfs := filepath.Join(dir, "workflows")
	writeFile(t, filepath.Join(wfs, "fails.yaml"), "on: {webhook: {path: x}}\nsteps:\n  - run: exit 4\n")
	writeFile(t, filepath.Join(wfs, "inputs.yaml"), "on: {dispatch: {inputs: {who: {required: true}}}}\nsteps:\n  - env: {WHO: \"${{ inputs.who }}\"}\n    run: echo \"hi $WHO\"\n")
	event := writeFile(t, filepath.Join(dir, "event.json"), `{"a": 1}`)
	badJSON := writeFile(t, filepath.Join(dir, "bad.json"), `{"a": `)
	form := writeFile(t, filepath.Join(dir, "form.txt"), `payload=%7B%22a%22%3A1%7D`)
	writeFile(t, filepath.Join(wfs, "slack.yaml"), "on: {webhook: {path: slack, provider: slack}}\nsteps:\n  - run: 'true'\n")
	handshake := writeFile(t, filepath.Join(dir, "handshake.json"), `{"type": "url_verification", "challenge": "c-1"}`)
	tests := []struct {
		name string
		args []string
		code int
		out  string // in stdout for 0/1, the one stderr line for 2
	}{
		{"failed run", []string{"run", "fails", "--event", event}, exitFail, "failed"},
		{"dispatch inputs", []string{"run", "inputs", "--input", "who=ada"}, exitOK, "hi ada"},
		{"missing input", []string{"run", "inputs"}, exitUsage, `hookflow run: input "who" is required`},
		{"missing event file", []string{"run", "fails", "--event", filepath.Join(dir, "nope.json")}, exitUsage, "hookflow run: event file: no such file or directory"},
		{"bad JSON", []string{"run", "fails", "--event", badJSON, "--header", "Content-Type=application/json"}, exitUsage, "hookflow run: event file " + badJSON + ": invalid JSON at byte 6: unexpected end of JSON input"},
		// A form body is taken as the server takes it, GitHub's payload= included.
		{"form body", []string{"run", "fails", "--event", form, "--header", "Content-Type=application/x-www-form-urlencoded"}, exitFail, "failed"},
		{"unknown workflow", []string{"run", "nope", "--event", event}, exitUsage, `hookflow run: no workflow "nope"`},
		{"no workflow named", []string{"run"}, exitUsage, "hookflow run: name one workflow"},
		{"bad flag", []string{"run", "fails", "--evnt", event}, exitUsage, "hookflow run: run takes no flag --evnt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := hookflow(t, append(tt.args, "--workflows", wfs)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out, errOut)
			}
			text := out
			if code == exitUsage {
				text = errOut
				if tt.name != "bad flag" && strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
					t.Errorf("want one line, got:\n%s", errOut)
				}
			}
			if !strings.Contains(text, tt.out) {
				t.Errorf("output lacks %q:\n%s", tt.out, text)
			}
		})
	}
	// A Slack handshake starts nothing on the server; nor does it here.
	code, out, errOut := hookflow(t, "run", "slack", "--event", handshake, "--workflows", wfs)
	if code != exitFail || !strings.Contains(errOut, "Slack url_verification handshake") {
		t.Errorf("slack handshake: exit %d\n%s%s", code, out, errOut)
	}
}

func TestMatch(t *testing.T) {
	dir := t.TempDir()
	push := writeFile(t, filepath.Join(dir, "dev.json"), `{"ref": "refs/heads/dev", "after": "abc"}`)
	code, out, errOut := hookflow(t, "match", "--path", "/hooks/quickstart", "--event", quickstart+"/push.json",
		"--header", "X-GitHub-Event=push", "--workflows", quickstart+"/workflows")
	if code != exitOK || !strings.Contains(out, "run   hello-push (1 run(s))") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = hookflow(t, "match", "--path", "quickstart", "--event", push, "--header", "X-GitHub-Event=push",
		"--workflows", quickstart+"/workflows", "-o", "json")
	var got struct {
		Verdicts []api.MatchVerdict `json:"verdicts"`
	}
	if err := json.Unmarshal([]byte(out), &got); code != exitOK || err != nil {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if len(got.Verdicts) != 1 || got.Verdicts[0].Run || got.Verdicts[0].Reason != "branches: no match for dev" {
		t.Errorf("verdicts %+v", got.Verdicts)
	}
	if code, _, errOut := hookflow(t, "match", "--path", "nowhere", "--event", push, "--workflows", quickstart+"/workflows"); code != exitFail || !strings.Contains(errOut, "no workflow serves /hooks/nowhere") {
		t.Errorf("unknown path: exit %d %s", code, errOut)
	}

	// A GET delivery's payload is its query string, as on the server.
	wfs := filepath.Join(dir, "get")
	writeFile(t, filepath.Join(wfs, "ping.yaml"), "on: {webhook: {path: ping, provider: generic, methods: [GET]}}\nif: event.body.host == \"web-07\"\nsteps: [{run: 'true'}]\n")
	for query, want := range map[string]string{"web-07": "run   ping (1 run(s))", "web-08": "skip  ping: if: false"} {
		code, out, errOut := hookflow(t, "match", "--path", "ping?host="+query, "--method", "GET", "--workflows", wfs)
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("GET ?host=%s: exit %d, want %q:\n%s%s", query, code, want, out, errOut)
		}
	}
	if code, _, errOut := hookflow(t, "match", "--path", "ping", "--event", push, "--workflows", wfs); code != exitFail || !strings.Contains(errOut, "method POST not allowed") {
		t.Errorf("POST to a GET trigger: exit %d %s", code, errOut)
	}
}

func TestSchemaAndVersion(t *testing.T) {
	code, out, errOut := hookflow(t, "schema")
	var schema map[string]any
	if err := json.Unmarshal([]byte(out), &schema); code != exitOK || err != nil {
		t.Fatalf("exit %d, %v\n%s", code, err, errOut)
	}
	if !strings.Contains(out, `"http"`) {
		t.Error("schema does not list the http action")
	}
	if code, out, _ := hookflow(t, "version"); code != exitOK || !strings.HasPrefix(out, "hookflow ") {
		t.Errorf("version: exit %d %q", code, out)
	}
	if code, _, errOut := hookflow(t, "frobnicate"); code != exitUsage || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d %q", code, errOut)
	}
}

// TestRunJobs runs a jobs: workflow locally: needs order, a matrix, outputs
// from one job to the next, $HOOKFLOW_ENV between steps, and a failing job
// that fails the run.
func TestRunJobs(t *testing.T) {
	dir := t.TempDir()
	wfs := filepath.Join(dir, "workflows")
	writeFile(t, filepath.Join(wfs, "chain.yaml"), `
on: {dispatch: {inputs: {fail: {default: "no"}}}}
jobs:
  build:
    steps:
      - id: b
        run: |
          echo "GREETING=hello" >> "$HOOKFLOW_ENV"
          echo "image=web:7" >> "$HOOKFLOW_OUTPUT"
      - run: echo "env says $GREETING"
    outputs: {image: "${{ steps.b.outputs.image }}"}
  deploy:
    needs: build
    strategy: {matrix: {host: [a, b]}, max_parallel: 1}
    env: {IMAGE: "${{ needs.build.outputs.image }}", HOST: "${{ matrix.host }}", FAIL: "${{ inputs.fail }}"}
    steps:
      - run: |
          echo "deploy $IMAGE to $HOST"
          [ "$FAIL" != "$HOST" ]
`)
	code, out, errOut := hookflow(t, "run", "chain", "--workflows", wfs)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"[build] step-2 | env says hello", "[deploy (a)] step-1 | deploy web:7 to a",
		"[deploy (b)] step-1 | deploy web:7 to b", "job deploy (b): succeeded", "succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "env says hello") > strings.Index(out, "deploy web:7 to a") {
		t.Errorf("deploy ran before build:\n%s", out)
	}
	code, out, errOut = hookflow(t, "run", "chain", "--workflows", wfs, "--input", "fail=a")
	if code != exitFail || !strings.Contains(out, "job deploy (a) failed") || !strings.Contains(out, "job deploy (b): cancelled") {
		t.Fatalf("exit %d, want 1 with deploy (a) failed and (b) cancelled\n%s%s", code, out, errOut)
	}
}
