package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/runner/sandbox/sandboxtest"
)

// unprivilegedUID is the user this package's sandbox tests run as the second
// time.
const unprivilegedUID = 64102

// TestSandboxAsUnprivilegedUser runs the sandbox tests of this package again
// as a user other than root.
func TestSandboxAsUnprivilegedUser(t *testing.T) {
	sandboxtest.RerunUnprivileged(t, unprivilegedUID, "^(TestInjectionCorpus|TestDoctor)$")
}

// injectionCorpus are hostile values for a webhook payload, each of which
// would create canary if anything ran it as code.
func injectionCorpus(canary string) map[string]string {
	touch := "touch " + canary
	return map[string]string{
		"command substitution":        "$(" + touch + ")",
		"backticks":                   "`" + touch + "`",
		"single quote break-out":      "'; " + touch + "; '",
		"double quote break-out":      `"; ` + touch + `; "`,
		"escaped quote break-out":     `\"; ` + touch + ` #`,
		"newline":                     "x\n" + touch + "\n",
		"carriage return":             "x\r\n" + touch,
		"semicolon":                   "; " + touch,
		"pipe":                        "| " + touch,
		"and":                         "&& " + touch,
		"or":                          "|| " + touch,
		"background":                  "& " + touch + " &",
		"redirection":                 "> " + canary,
		"IFS":                         "${IFS}touch${IFS}" + canary,
		"IFS assignment":              "$(IFS=_;c=touch_" + canary + ";$c)",
		"arithmetic":                  "$((1+1))$(" + touch + ")",
		"default expansion":           "${x:-$(" + touch + ")}",
		"indirect expansion":          "${!PATH}$(" + touch + ")",
		"ANSI-C quoting":              "$'\\x41'$(" + touch + ")",
		"history":                     "!! !-1 ^a^b",
		"glob":                        "/*/*/*",
		"brace expansion":             "{a,b}$(" + touch + ")",
		"process substitution":        "<(" + touch + ")",
		"heredoc":                     "<<EOF\n$(" + touch + ")\nEOF",
		"http_proxy assignment":       "http_proxy=http://127.0.0.1:9/ $(" + touch + ")",
		"BASH_ENV assignment":         "BASH_ENV=$(" + touch + ")",
		"env lines":                   "A=1\nBASH_ENV=$(" + touch + ")\nLD_PRELOAD=" + canary,
		"output file lines":           "x\nsha=0\nevil<<EOF\n$(" + touch + ")\nEOF",
		"template":                    "${{ toJSON(secrets) }}",
		"format string":               "%s%n%x%p$(" + touch + ")",
		"option-like":                 "-e $(" + touch + ") --help",
		"unicode":                     "\u202e\ufeff$(" + touch + ")\u2028",
		"null byte":                   "a\x00$(" + touch + ")",
		"trailing null byte":          "$(" + touch + ")\x00",
		"huge":                        strings.Repeat("$("+touch+")", 100_000/len("$("+touch+")")),
		"larger than an env variable": strings.Repeat("`"+touch+"`", 200_000/len("`"+touch+"`")),
	}
}

// injectSteps use the payload's value, through env only, in the ways
// scripts do: quoted and not, as arguments, in nested shells, in a template
// string, in names that tools read (http_proxy), in outputs for later steps.
const injectSteps = `env:
  VALUE: ${{ event.body.value }}
  GREETING: "hello ${{ event.body.value }}!"
  http_proxy: ${{ event.body.value }}
  https_proxy: ${{ event.body.value }}
  TOKEN: ${{ secrets.INJECT_TOKEN }}
steps:
  - id: use
    run: |
      echo "$VALUE"
      printf '%s\n' "$GREETING"
      echo $VALUE
      set -- $VALUE
      echo "$# words"
      [ "$VALUE" = x ] || echo "not x"
      case "$VALUE" in *touch*) echo "mentions touch" ;; esac
      bash -c 'printf "%s\n" "$VALUE"'
      printf '%s' "$VALUE" > value.txt
      echo "sha=$(sha256sum < value.txt | cut -d' ' -f1)" >> "$HOOKFLOW_OUTPUT"
  - id: again
    env: {SHA: "${{ steps.use.outputs.sha }}"}
    run: |
      echo "$SHA"
      sh -c 'printf "%s" "$VALUE" | wc -c'
  - id: posix
    shell: sh
    run: |
      test -n "$VALUE" && echo "$VALUE" > /dev/null
`

// TestInjectionCorpus pushes hostile values through real webhooks into
// workflows that use them through env, at both sandbox levels, and into
// variables that shells run as code, and checks that nothing ran: the canary
// file never appears. Where a value can be given to a process at all, the
// step sees exactly the bytes sent.
func TestInjectionCorpus(t *testing.T) {
	canaryDir, err := os.MkdirTemp("/var/tmp", "hookflow-canary-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(canaryDir) })
	canary := filepath.Join(canaryDir, "pwned")
	t.Setenv("HOOKFLOW_SECRET_INJECT_TOKEN", "inject-token-6b0f")
	hook := "on: {webhook: {path: inject, provider: generic}}\n"
	a := startApp(t, map[string]string{
		// The canary's folder is writable, so that an isolated step could
		// create it if the value ran.
		"isolated.yaml": hook + "sandbox: {level: isolated, writable: [" + canaryDir + "]}\n" + injectSteps,
		"process.yaml":  hook + "sandbox: {level: process}\n" + injectSteps,
		"names.yaml": hook + "sandbox: {writable: [" + canaryDir + "]}\n" +
			"env: {BASH_ENV: \"${{ event.body.value }}\", ENV: \"${{ event.body.value }}\", PS4: \"${{ event.body.value }}\"}\n" +
			"steps:\n  - run: |\n      set -x\n      echo \"$BASH_ENV\"\n",
	})
	corpus := injectionCorpus(canary)
	if len(corpus) < 30 {
		t.Fatalf("the corpus has %d values, want at least 30", len(corpus))
	}
	type delivery struct {
		name, value string
		runs        []string
	}
	var sent []delivery
	for name, value := range corpus {
		body, err := json.Marshal(map[string]string{"value": value})
		if err != nil {
			t.Fatal(err)
		}
		// What the server decodes: JSON turns invalid UTF-8 into U+FFFD.
		var got map[string]string
		json.Unmarshal(body, &got)
		resp, err := http.Post(a.url+"/hooks/inject", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var ack struct {
			Runs []struct{ ID string } `json:"runs"`
		}
		json.NewDecoder(resp.Body).Decode(&ack)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || len(ack.Runs) != 3 {
			t.Fatalf("%s: status %d, %d runs, want 202 and 3", name, resp.StatusCode, len(ack.Runs))
		}
		d := delivery{name: name, value: got["value"]}
		for _, r := range ack.Runs {
			d.runs = append(d.runs, r.ID)
		}
		sent = append(sent, d)
	}
	for _, d := range sent {
		for _, id := range d.runs {
			run := a.waitRun(t, id)
			checkInjectedRun(t, d.name, d.value, run)
		}
	}
	if entries, _ := os.ReadDir(canaryDir); len(entries) > 0 {
		t.Errorf("something ran a payload: %s holds %v", canaryDir, entries)
	}
}

// checkInjectedRun checks how one run with a hostile value ended.
func checkInjectedRun(t *testing.T, name, value string, run *api.RunView) {
	t.Helper()
	if run.Sandbox == "" {
		t.Errorf("%s: run %s records no sandbox", name, run.ID)
	}
	if run.Workflow == "names" {
		if run.Status != "failed" || !strings.Contains(run.Reason, "shells run its value as code") {
			t.Errorf("%s: workflow names: %s %q, want it refused", name, run.Status, run.Reason)
		}
		return
	}
	if want := "isolated ("; run.Workflow == "isolated" && !strings.HasPrefix(run.Sandbox, want) {
		t.Errorf("%s: sandbox %q, want %s…", name, run.Sandbox, want)
	}
	switch {
	case strings.ContainsRune(value, 0):
		if run.Status != "failed" || !strings.Contains(run.Reason, "NUL byte") {
			t.Errorf("%s: workflow %s: %s %q, want a failure naming the NUL byte", name, run.Workflow, run.Status, run.Reason)
		}
	case len(value) > 128<<10:
		// The kernel refuses an environment variable this long.
		if run.Status != "failed" {
			t.Errorf("%s: workflow %s: %s %q, want failed", name, run.Workflow, run.Status, run.Reason)
		}
	default:
		sum := sha256.Sum256([]byte(value))
		if run.Status != "succeeded" {
			t.Errorf("%s: workflow %s: %s %q", name, run.Workflow, run.Status, run.Reason)
		} else if got := run.Steps[0].Outputs["sha"]; got != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: workflow %s: the step saw other bytes than were sent (sha256 %v)", name, run.Workflow, got)
		}
	}
}
