package main

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/config"
)

// leakyKey is a secret of several lines, as a private key is, holding the
// characters that encodings change: @ / + = & " and spaces.
const leakyKey = "-----BEGIN OPENSSH PRIVATE KEY-----\n" +
	"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n" +
	`QyNTUxOQAAACDx@k/e+y=1&2 "quoted" space sep0lQ8m3Xb7QYwJcRrY9aZzAAAAJh` + "\n" +
	"kJ0s2ZCdLNgAAAAtzc2gtZWQyNTUxOQAAACDxMv1r0k4T7rQ0lQ8m3Xb7QYwJcRrY9aZz\n" +
	"-----END OPENSSH PRIVATE KEY-----"

// leakyToken is a secret of one line with the same characters.
const leakyToken = `tok3n@git.example/p+th=1&q="two words"`

// leakSteps are the ways a step may print a secret, one step each. The
// workflow gives every step KEY and TOKEN, the two secrets.
var leakSteps = []struct {
	id, run string
	// outputs are outputs the step sets, each of which must show ***.
	outputs []string
}{
	{id: "as-written", run: `printf '%s\n' "$KEY"; echo "token: $TOKEN, key: $KEY (end)"`},
	{id: "output", run: `
{ echo "token=$TOKEN"; echo "mixed=before $TOKEN after"
  echo "key<<EOF"; printf '%s\n' "$KEY"; echo EOF; } >> "$HOOKFLOW_OUTPUT"
echo "outputs written for $TOKEN"`, outputs: []string{"token", "mixed", "key"}},
	{id: "query-escaped", run: `
for s in "$TOKEN" "$KEY"; do
  printf %s "$s" | perl -pe 's/([^A-Za-z0-9_.~-])/sprintf("%%%02X", ord($1))/seg; s/%20/+/g'; echo
done`},
	{id: "path-escaped", run: `
for s in "$TOKEN" "$KEY"; do
  printf %s "$s" | perl -pe 's/([^A-Za-z0-9_.~\$&+:=@-])/sprintf("%%%02X", ord($1))/seg'; echo
done`},
	{id: "uri-component", run: `printf %s "$TOKEN" | jq -sRr @uri; printf %s "$KEY" | jq -sRr @uri`},
	{id: "json-go", run: `echo "token $TOKEN_JSON"; echo "key $KEY_JSON"`},
	{id: "json-jq", run: `jq -n --arg token "$TOKEN" --arg key "$KEY" '{$token, $key}'; jq -cn --arg key "$KEY" '{$key}'`},
	{id: "base64", run: `printf %s "$KEY" | base64; printf %s "$TOKEN" | base64; echo "$TOKEN" | base64`},
	{id: "base64-one-line", run: `printf %s "$KEY" | base64 -w0; echo; printf %s "$TOKEN" | base64 -w0; echo`},
	{id: "base64-url-safe", run: `
for s in "$TOKEN" "$KEY"; do
  printf %s "$s" | basenc --base64url -w0; echo
  printf %s "$s" | basenc --base64url -w0 | tr -d =; echo
done`},
	{id: "base64-in-longer-text", run: `
for p in a ab abc; do
  printf '%s:%s!' "$p" "$TOKEN" | base64 -w0; echo
  printf '%s:%s!' "$p" "$KEY" | basenc --base64url -w0; echo
done`},
	{id: "hex", run: `
printf %s "$TOKEN" | od -An -v -tx1 | tr -d ' \n'; echo
printf %s "$TOKEN" | od -An -v -tx1 | tr -d ' \n' | tr a-f A-F; echo
printf %s "$KEY" | xxd -p`},
	{id: "split-writes", run: `
printf %s "${TOKEN:0:5}"; sleep 0.2; printf '%s\n' "${TOKEN:5}"
printf %s "${KEY:0:50}"; sleep 0.2; printf '%s\n' "${KEY:50}"
printf %s "${KEY:0:100}"; sleep 0.2; printf %s "${KEY:100:5}"; sleep 0.2; printf '%s\n' "${KEY:105}"`},
	// Last: its failure, an error quoting the secret, ends the run.
	{id: "error", run: `echo "x<<$TOKEN" >> "$HOOKFLOW_OUTPUT"; echo "bad output written for $TOKEN"`},
}

// leakWorkflow is a workflow with one step of leakSteps each.
func leakWorkflow() string {
	var b strings.Builder
	b.WriteString(`on: {dispatch: {}}
env:
  KEY: "${{ secrets.KEY }}"
  TOKEN: "${{ secrets.TOKEN }}"
  KEY_JSON: "${{ toJSON(secrets.KEY) }}"
  TOKEN_JSON: "${{ toJSON(secrets.TOKEN) }}"
steps:
`)
	for _, s := range leakSteps {
		fmt.Fprintf(&b, "  - id: %s\n    name: \"%s with ${{ secrets.TOKEN }}\"\n    run: |\n", s.id, s.id)
		for line := range strings.SplitSeq(strings.TrimSpace(s.run), "\n") {
			b.WriteString("      " + line + "\n")
		}
	}
	return b.String()
}

// secretForms are texts that stand for secret and must show nowhere: the
// value, each line, and the value and each line URL-encoded, JSON-escaped,
// in base64 and in hex.
func secretForms(secret string) []string {
	pieces := []string{secret}
	for line := range strings.SplitSeq(secret, "\n") {
		if len(line) >= 8 {
			pieces = append(pieces, line)
		}
	}
	var forms []string
	for _, p := range pieces {
		q := url.QueryEscape(p)
		j, _ := json.Marshal(p)
		h := hex.EncodeToString([]byte(p))
		forms = append(forms, p, q, url.PathEscape(p), strings.ReplaceAll(q, "+", "%20"),
			string(j[1:len(j)-1]), strings.ReplaceAll(string(j[1:len(j)-1]), `\u0026`, "&"),
			h, strings.ToUpper(h))
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			forms = append(forms, enc.EncodeToString([]byte(p)))
		}
	}
	return forms
}

// secretRuns are texts of which no 16 characters in a row may show: the
// lines of secret, its hex, and its base64 inside longer texts at each
// offset, without the characters at either end that mix in other bytes.
func secretRuns(secret string) []string {
	var runs []string
	for line := range strings.SplitSeq(secret, "\n") {
		runs = append(runs, line)
	}
	h := hex.EncodeToString([]byte(secret))
	runs = append(runs, h, strings.ToUpper(h))
	for _, prefix := range []string{"", "a", "ab"} {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			e := enc.EncodeToString([]byte(prefix + secret + "!"))
			runs = append(runs, e[4:len(e)-4])
		}
	}
	return runs
}

// findLeak returns what of the secrets shows in text, or "".
func findLeak(text string, secrets ...string) string {
	for _, s := range secrets {
		for _, f := range secretForms(s) {
			if strings.Contains(text, f) {
				return f
			}
		}
		for _, r := range secretRuns(s) {
			for i := 0; i+16 <= len(r); i++ {
				if strings.Contains(text, r[i:i+16]) {
					return r[i : i+16]
				}
			}
		}
	}
	return ""
}

// jsonText is every string in a JSON document, keys too, one a line, so
// that a secret is found as written rather than JSON-escaped.
func jsonText(t *testing.T, data []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, data)
	}
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			b.WriteString(v + "\n")
		case map[string]any:
			for k, x := range v {
				b.WriteString(k + "\n")
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return b.String()
}

// get returns the body of a GET of path, failing the test on another status
// than 200.
func (a *testApp) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get(a.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return string(body)
}

// TestSecretsNeverShow runs a workflow whose steps print two secrets, one
// of several lines, in every form a step may give them, through a real
// server that reads one from its environment and one from its secrets
// folder. Neither shows in the stored log, the followed log, the run's JSON
// (step names, outputs, errors, reason) or its page.
func TestSecretsNeverShow(t *testing.T) {
	secretsDir := t.TempDir()
	writeFile(t, filepath.Join(secretsDir, "KEY"), leakyKey+"\n")
	t.Setenv(config.DefaultSecretPrefix+"TOKEN", leakyToken)
	a := startApp(t, map[string]string{"leak.yaml": leakWorkflow()}, func(c *config.Config) { c.Secrets.Dir = secretsDir })

	var run api.RunView
	if code := a.call(t, "POST", "/api/v1/workflows/leak/dispatch", nil, &run); code != http.StatusAccepted {
		t.Fatalf("dispatch: %d", code)
	}
	followed := followLog(t, a, run.ID)
	final := a.waitRun(t, run.ID)
	if final.Status != "failed" || len(final.Steps) != len(leakSteps) {
		t.Fatalf("run %s (%s) with %d steps, want failed with %d", final.Status, final.Reason, len(final.Steps), len(leakSteps))
	}
	stored := a.get(t, "/api/v1/runs/"+run.ID+"/logs")
	runJSON := a.get(t, "/api/v1/runs/"+run.ID)
	page := a.get(t, "/ui/runs/"+run.ID)

	for i, s := range leakSteps {
		t.Run(s.id, func(t *testing.T) {
			step := final.Steps[i]
			var logged []string
			for line := range strings.SplitSeq(stored, "\n") {
				// time step stream | text
				if f := strings.SplitN(line, " ", 4); len(f) == 4 && f[1] == s.id && f[2] != "system" {
					logged = append(logged, line)
				}
			}
			text := strings.Join(logged, "\n")
			if leak := findLeak(text+"\n"+followed.steps[i], leakyKey, leakyToken); leak != "" {
				t.Errorf("%q shows in the log:\n%s", leak, text)
			}
			// The step did print the secret: masked.
			if !strings.Contains(text, "***") || !strings.Contains(followed.steps[i], "***") {
				t.Errorf("no *** in the stored or followed log of the step:\n%s\n---\n%s", text, followed.steps[i])
			}
			if step.Name != s.id+" with ***" {
				t.Errorf("name %q", step.Name)
			}
			for _, name := range s.outputs {
				if v, _ := step.Outputs[name].(string); !strings.Contains(v, "***") {
					t.Errorf("output %s = %q, want the secret masked", name, step.Outputs[name])
				}
			}
		})
	}

	last := final.Steps[len(final.Steps)-1]
	if last.Outcome != "failure" || !strings.Contains(last.Error, "x<<***") || !strings.Contains(final.Reason, "x<<***") {
		t.Errorf("last step %s: error %q, run reason %q; want both to quote the secret masked", last.Outcome, last.Error, final.Reason)
	}
	for name, text := range map[string]string{
		"stored log":         stored,
		"followed log":       followed.raw + strings.Join(followed.steps, "\n"),
		"followed end event": jsonText(t, []byte(followed.end)),
		"run JSON":           runJSON + jsonText(t, []byte(runJSON)),
		"run page":           page + html.UnescapeString(page),
		"reason":             final.Reason,
		"step error":         last.Error,
	} {
		if leak := findLeak(text, leakyKey, leakyToken); leak != "" {
			t.Errorf("%q shows in the %s", leak, name)
		}
		if !strings.Contains(text, "***") {
			t.Errorf("no *** in the %s: is it empty?", name)
		}
	}
}

// followedLog is a run's log as GET /api/v1/runs/{id}/logs?follow=1 streams
// it: the texts of each step's output lines, the whole stream, and the data
// of its end event.
type followedLog struct {
	steps    []string
	raw, end string
}

// followLog follows the log of run id as server-sent events until its end
// event.
func followLog(t *testing.T, a *testApp, id string) *followedLog {
	t.Helper()
	req, _ := http.NewRequest("GET", a.url+"/api/v1/runs/"+id+"/logs?follow=1", nil)
	req.Header.Set("Accept", "text/event-stream")
	client := &http.Client{Timeout: 2 * time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("follow: %d %q", resp.StatusCode, ct)
	}
	f := &followedLog{steps: make([]string, len(leakSteps))}
	var raw strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	var event string
	for sc.Scan() {
		line := sc.Text()
		raw.WriteString(line + "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "end":
			f.raw, f.end = raw.String(), strings.TrimPrefix(line, "data: ")
			return f
		case strings.HasPrefix(line, "data: ") && event == "log":
			var l struct {
				Step   int    `json:"step"`
				Stream string `json:"stream"`
				Text   string `json:"text"`
			}
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &l); err != nil {
				t.Fatalf("log event %s: %v", line, err)
			}
			// hookflow's own lines name the step, masked: leave them out of
			// the step's, which must show *** of their own.
			if l.Stream != "system" && l.Step >= 0 && l.Step < len(f.steps) {
				f.steps[l.Step] += l.Text + "\n"
			}
		}
	}
	t.Fatalf("the log stream ended without an end event (%v):\n%s", sc.Err(), raw.String())
	return nil
}
