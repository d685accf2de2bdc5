package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/workflows"
)

// sample is a payload file and the headers its sender sends with it.
type sample struct {
	file    string
	headers map[string]string
}

// verdictSet is a workflow folder and the deliveries to try on one path.
type verdictSet struct {
	name    string
	folder  string
	path    string
	sign    func(body []byte, h http.Header) // adds the credential, if the set needs one
	samples []sample
}

// TestCLIAndServerAgree delivers every sample payload of examples/ and every
// provider's test deliveries to a real server and gives the same bytes and
// headers to `hookflow match`: both must decide the same for every workflow
// (the same runs, the same skip reasons), or both refuse the delivery.
func TestCLIAndServerAgree(t *testing.T) {
	const secret = "agree-secret"
	for _, name := range []string{"GITHUB_WEBHOOK_SECRET", "QUICKSTART_SECRET", "OPS_WEBHOOK_SECRET", "ALERTMANAGER_TOKEN"} {
		t.Setenv("HOOKFLOW_SECRET_"+name, secret)
	}
	hub := func(body []byte, h http.Header) {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	}
	bearer := func(_ []byte, h http.Header) { h.Set("Authorization", "Bearer "+secret) }
	push, ping := map[string]string{"X-GitHub-Event": "push"}, map[string]string{"X-GitHub-Event": "ping"}
	ex := filepath.Join("..", "..", "examples")
	sets := []verdictSet{
		{name: "github-deploy", folder: filepath.Join(ex, "github-deploy", "workflows"), path: "github", sign: hub, samples: []sample{
			{filepath.Join(ex, "github-deploy", "push-main.json"), push},
			{filepath.Join(ex, "github-deploy", "push-feature.json"), push},
			{filepath.Join(ex, "github-deploy", "push-docs-only.json"), push},
			{filepath.Join(ex, "github-deploy", "ping.json"), ping},
		}},
		{name: "quickstart", folder: filepath.Join(ex, "quickstart", "workflows"), path: "quickstart", sign: hub, samples: []sample{
			{filepath.Join(ex, "quickstart", "push.json"), push},
		}},
		{name: "gitops", folder: filepath.Join(ex, "gitops", "hookflow"), path: "ops", sign: hub, samples: []sample{
			{filepath.Join(ex, "gitops", "push-ops.json"), push},
		}},
		{name: "alertmanager-heal", folder: filepath.Join(ex, "alertmanager-heal", "workflows"), path: "alertmanager", sign: bearer, samples: []sample{
			{filepath.Join(ex, "alertmanager-heal", "firing.json"), nil},
			{filepath.Join(ex, "alertmanager-heal", "resolved.json"), nil},
		}},
	}
	sets = append(sets, providerSets(t)...)
	for _, set := range sets {
		t.Run(set.name, func(t *testing.T) {
			files := map[string]string{}
			entries, err := os.ReadDir(set.folder)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if b, err := os.ReadFile(filepath.Join(set.folder, e.Name())); err == nil && !e.IsDir() {
					files[e.Name()] = string(b)
				}
			}
			app := startApp(t, files)
			for _, s := range set.samples {
				t.Run(filepath.Base(s.file), func(t *testing.T) {
					body, err := os.ReadFile(s.file)
					if err != nil {
						t.Fatal(err)
					}
					server, serverCode := serverVerdicts(t, app, set, s, body)
					cli, cliErr := cliVerdicts(t, app, set, s)
					switch {
					case serverCode >= 400 || cliErr != "":
						if serverCode < 400 || cliErr == "" {
							t.Fatalf("server answered %d, the CLI said %q", serverCode, cliErr)
						}
						return
					case len(server) == 0 && len(cli) == 0:
						t.Fatalf("no verdict from either side: the sample decides nothing")
					}
					if got, want := fmt.Sprint(cli), fmt.Sprint(server); got != want {
						t.Errorf("verdicts differ\nCLI:    %s\nserver: %s", got, want)
					}
				})
			}
		})
	}
}

// providerSets builds, for every provider with test deliveries, a workflow
// folder of two workflows on one path: one that takes everything and one with
// the filters a user of that provider writes.
func providerSets(t *testing.T) []verdictSet {
	t.Helper()
	root := filepath.Join("..", "..", "triggers", "providers", "testdata")
	// The event headers each sample file arrives with, by provider and file.
	events := map[string]map[string]map[string]string{
		"github": {
			"create_tag.json": {"X-GitHub-Event": "create"}, "ping.json": {"X-GitHub-Event": "ping"},
			"pull_request.json": {"X-GitHub-Event": "pull_request"}, "push.json": {"X-GitHub-Event": "push"},
			"push_delete.json": {"X-GitHub-Event": "push"}, "push_tag.json": {"X-GitHub-Event": "push"},
			"release.json": {"X-GitHub-Event": "release"},
		},
		"gitlab": {
			"merge_request.json": {"X-Gitlab-Event": "Merge Request Hook"}, "pipeline.json": {"X-Gitlab-Event": "Pipeline Hook"},
			"push.json": {"X-Gitlab-Event": "Push Hook"}, "tag_push.json": {"X-Gitlab-Event": "Tag Push Hook"},
		},
		"gitea":   {"pull_request.json": {"X-Gitea-Event": "pull_request"}, "push.json": {"X-Gitea-Event": "push"}},
		"forgejo": {"push.json": {"X-Forgejo-Event": "push"}},
		"bitbucket": {
			"cloud_pullrequest_fulfilled.json": {"X-Event-Key": "pullrequest:fulfilled"}, "cloud_push.json": {"X-Event-Key": "repo:push"},
			"server_pr_merged.json": {"X-Event-Key": "pr:merged"}, "server_refs_changed.json": {"X-Event-Key": "repo:refs_changed"},
		},
	}
	filters := map[string]string{
		"alertmanager": `if: event.status == "firing"`, "grafana": `if: event.status == "firing"`,
		"slack": `if: event.type != "block_actions"`, "stripe": `if: event.type startsWith "invoice."`,
		"standard": `if: event.type == "invoice.created"`, "generic": `if: event.body.version != ""`,
	}
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var sets []verdictSet
	for _, d := range dirs {
		provider := d.Name()
		folder := t.TempDir()
		filter, git := filters[provider], events[provider] != nil
		if git {
			filter = "    events: [push, pull_request]\n    branches: [main]"
		}
		writeFile(t, filepath.Join(folder, "any.yaml"), fmt.Sprintf("on: {webhook: {path: %s, provider: %s}}\nsteps: [{run: 'true'}]\n", provider, provider))
		filtered := fmt.Sprintf("on:\n  webhook:\n    path: %s\n    provider: %s\n", provider, provider)
		filtered += filter + "\n"
		filtered += "steps: [{run: 'true'}]\n"
		writeFile(t, filepath.Join(folder, "filtered.yaml"), filtered)
		set := verdictSet{name: provider, folder: folder, path: provider, sign: func([]byte, http.Header) {}}
		files, _ := os.ReadDir(filepath.Join(root, provider))
		for _, f := range files {
			headers := map[string]string{}
			for k, v := range events[provider][f.Name()] {
				headers[k] = v
			}
			if strings.HasSuffix(f.Name(), ".form") {
				headers["Content-Type"] = "application/x-www-form-urlencoded"
			} else {
				headers["Content-Type"] = "application/json"
			}
			set.samples = append(set.samples, sample{filepath.Join(root, provider, f.Name()), headers})
		}
		sets = append(sets, set)
	}
	return sets
}

// serverVerdicts delivers the sample to the server and returns its verdict per
// workflow ("run N" or the skip reason) and the status it answered.
func serverVerdicts(t *testing.T, app *testApp, set verdictSet, s sample, body []byte) (map[string]string, int) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, app.url+"/hooks/"+set.path, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range s.headers {
		req.Header.Set(k, v)
	}
	set.sign(body, req.Header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		return nil, resp.StatusCode
	}
	var rc workflows.Receipt
	var challenge struct{ Challenge string }
	if json.Unmarshal(data, &challenge); challenge.Challenge != "" {
		return map[string]string{"": "challenge " + challenge.Challenge}, resp.StatusCode
	}
	if err := json.Unmarshal(data, &rc); err != nil {
		t.Fatalf("%d %s: %v", resp.StatusCode, data, err)
	}
	if rc.Duplicate {
		t.Fatalf("the sample was taken for a duplicate: %s", data)
	}
	out := map[string]string{}
	runs := map[string]int{}
	for _, r := range rc.Runs {
		runs[r.Workflow]++
	}
	for w, n := range runs {
		out[w] = fmt.Sprintf("run %d", n)
	}
	for _, sk := range rc.Skipped {
		out[sk.Workflow] = sk.Reason
	}
	return out, resp.StatusCode
}

// cliVerdicts runs `hookflow match` on the sample and returns its verdict per
// workflow, or its error output when it refused the delivery.
func cliVerdicts(t *testing.T, app *testApp, set verdictSet, s sample) (map[string]string, string) {
	t.Helper()
	args := []string{"match", "--path", set.path, "--event", s.file, "--workflows", app.Config.Workflows.Folder, "-o", "json"}
	keys := make([]string, 0, len(s.headers))
	for k := range s.headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--header", k+"="+s.headers[k])
	}
	code, stdout, stderr := hookflow(t, args...)
	if code != exitOK {
		return nil, strings.TrimSpace(stderr)
	}
	var answer api.MatchAnswer
	if err := json.Unmarshal([]byte(stdout), &answer); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if answer.Challenge != "" {
		return map[string]string{"": "challenge " + answer.Challenge}, ""
	}
	out := map[string]string{}
	for _, v := range answer.Verdicts {
		if v.Run {
			out[v.Workflow] = fmt.Sprintf("run %d", v.Runs)
		} else {
			out[v.Workflow] = v.Reason
		}
	}
	return out, ""
}
