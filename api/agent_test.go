package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// agentJobsSpy stands for the pool that offers jobs in this process: a real
// bell rung by offer, and the runs it was told were reported on.
type agentJobsSpy struct {
	bell     *runner.Bell
	mu       sync.Mutex
	reported []string
}

func (a *agentJobsSpy) Offered() <-chan struct{} { return a.bell.Wait() }

func (a *agentJobsSpy) Reported(runID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reported = append(a.reported, runID)
}

func (a *agentJobsSpy) reports() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.reported)
}

// serverSecrets are the secrets the agent fixture's server has.
var serverSecrets = map[string]string{"DEPLOY_KEY": "k-123", "DB_PASSWORD": "pw-456", "OTHER": "o-789"}

// agentFixture is the API with the agent protocol: a pool spy, a lease and
// secrets. tokens are the API tokens.
func agentFixture(t *testing.T, tokens ...string) (*fixture, *agentJobsSpy) {
	t.Helper()
	spy := &agentJobsSpy{bell: runner.NewBell()}
	f := newFixture(t, map[string]string{"manual.yaml": manualYAML}, func(c *fixtureConfig) {
		c.server.Tokens = tokens
		c.server.AgentJobs, c.server.AgentLease = spy, time.Minute
		// It answers with every secret it has, asked or not: the server
		// must pass on only those the job reads.
		c.server.Secrets = func([]string) map[string]string { return serverSecrets }
	})
	return f, spy
}

// addAgent registers an agent through the API and returns its token.
func (f *fixture) addAgent(t *testing.T, name string, labels ...string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "labels": labels})
	header := map[string]string{}
	if len(f.server.Tokens) > 0 {
		header["Authorization"] = "Bearer " + f.server.Tokens[0]
	}
	got := decode[addedAgent](t, f.do(t, "POST", "/api/v1/agents", string(body), header), http.StatusCreated)
	if got.Name != name || !slices.Equal(got.Labels, labels) || got.Token == "" {
		t.Fatalf("added %+v", got)
	}
	return got.Token
}

// agent posts body as JSON to an agent protocol path with token.
func (f *fixture) agent(t *testing.T, token, path string, body any) answer {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return f.do(t, "POST", path, string(b), map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"})
}

// offered is a job to offer: its key, labels and the secrets it reads; raw,
// when set, is its offer as stored instead.
type offered struct {
	key     string
	runsOn  []string
	secrets []string
	raw     json.RawMessage
}

// offerJobs queues a run, claims it as its node would, records its jobs and
// offers them to runners on other hosts; ring wakes this process's claims.
// It returns the run.
func offerJobs(t *testing.T, f *fixture, spy *agentJobsSpy, ring bool, jobs ...offered) *store.Run {
	t.Helper()
	ctx := context.Background()
	f.dispatchRun(t, "manual")
	r := f.claim(t)
	rows := make([]*store.Job, len(jobs))
	for i, j := range jobs {
		rows[i] = &store.Job{Key: j.key, ID: j.key, JobIndex: i, Name: j.key, Status: workflows.StatusQueued, RunsOn: j.runsOn}
	}
	if err := f.store.SaveJobs(ctx, r.ID, rows, nil); err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		offer, _ := json.Marshal(runner.Offer{Workflow: "manual", File: "manual.yaml", Source: manualYAML, JobID: j.key,
			Secrets: j.secrets, RunAttempt: r.Attempt, MaxLogBytes: 1 << 20})
		if j.raw != nil {
			offer = j.raw
		}
		reason := fmt.Sprintf("waiting for a runner with labels [%s]", strings.Join(j.runsOn, ", "))
		if err := f.store.OfferJob(ctx, r.ID, j.key, offer, "", reason, time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
	}
	if ring {
		spy.bell.Ring()
	}
	return r
}

// storedJob reads job key of run id from the store.
func storedJob(t *testing.T, f *fixture, id, key string) *store.Job {
	t.Helper()
	jobs, err := f.store.Jobs(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if j.Key == key {
			return j
		}
	}
	t.Fatalf("run %s has no job %s", id, key)
	return nil
}

// TestNewAgentToken checks the token's shape and that only its secret's hash
// is what the store keeps.
func TestNewAgentToken(t *testing.T) {
	token, id, hash := NewAgentToken()
	m := regexp.MustCompile(`^hfa_([0-9a-f]{16})_([A-Za-z0-9_-]+)$`).FindStringSubmatch(token)
	if m == nil || m[1] != id {
		t.Fatalf("token %q with id %q", token, id)
	}
	secret, err := base64.RawURLEncoding.DecodeString(m[2])
	if err != nil || len(secret) != 32 {
		t.Fatalf("secret %q: %d bytes, %v", m[2], len(secret), err)
	}
	if sum := sha256.Sum256([]byte(m[2])); hex.EncodeToString(hash) != hex.EncodeToString(sum[:]) {
		t.Errorf("hash %x is not the secret's SHA-256", hash)
	}
	if strings.Contains(token, hex.EncodeToString(hash)) {
		t.Error("the token holds its hash")
	}
	if other, otherID, _ := NewAgentToken(); other == token || otherID == id {
		t.Error("two tokens alike")
	}
	for _, bad := range []string{"", "hfa_", "hfa_" + id, "hfa_" + id + "_", "hfa_" + id + "x" + m[2], "hfa_" + strings.ToUpper(id) + "g_" + m[2],
		"hfb_" + id + "_" + m[2], "hfa_0123456789abcdeg_" + m[2]} {
		if _, _, ok := parseAgentToken(bad); ok {
			t.Errorf("parseAgentToken(%q) accepted", bad)
		}
	}
	if gotID, gotSecret, ok := parseAgentToken(token); !ok || gotID != id || gotSecret != m[2] {
		t.Errorf("parseAgentToken(%q) = %q, %q, %v", token, gotID, gotSecret, ok)
	}
}

// TestAgentAuth checks the agent protocol's door: only a registered agent's
// token opens it, every refusal is the same 401 without a hint, an API token
// does not open it, and a removed agent is refused on its next request.
func TestAgentAuth(t *testing.T) {
	f, _ := agentFixture(t, "api-token")
	token := f.addAgent(t, "web-1", "linux")
	id, secret, _ := parseAgentToken(token)
	other, _, _ := NewAgentToken()
	otherID, _, _ := parseAgentToken(other)
	claim := runner.ClaimRequest{WaitSeconds: 0.05}

	if a := f.agent(t, token, runner.AgentClaimPath, claim); a.code != http.StatusNoContent {
		t.Fatalf("claim with the agent's token: %d %s", a.code, a.body)
	}
	refused := map[string]string{
		"no token":           "",
		"api token":          "api-token",
		"not an agent token": "hfa_nonsense",
		"wrong secret":       "hfa_" + id + "_" + strings.Repeat("A", len(secret)),
		"secret cut short":   "hfa_" + id + "_" + secret[:len(secret)-1],
		"unknown id":         "hfa_" + otherID + "_" + secret,
		"never registered":   other,
	}
	for name, tok := range refused {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{runner.AgentClaimPath, runner.AgentRenewPath, runner.AgentProgressPath,
				runner.AgentFinishPath, runner.AgentReleasePath, "/api/v1/agent/nope"} {
				header := map[string]string{}
				if tok != "" {
					header["Authorization"] = "Bearer " + tok
				}
				a := f.do(t, "POST", path, `{}`, header)
				if a.code != http.StatusUnauthorized || a.errorMessage(t) != "missing or invalid agent token" {
					t.Errorf("POST %s: %d %s", path, a.code, a.body)
				}
			}
		})
	}

	if a := f.do(t, "DELETE", "/api/v1/agents/web-1", "", map[string]string{"Authorization": "Bearer api-token"}); a.code != http.StatusNoContent {
		t.Fatalf("remove: %d %s", a.code, a.body)
	}
	if a := f.agent(t, token, runner.AgentClaimPath, claim); a.code != http.StatusUnauthorized || a.errorMessage(t) != "missing or invalid agent token" {
		t.Errorf("claim by a removed agent: %d %s", a.code, a.body)
	}
}

// TestAgentTokenRefusedByManagement sends an agent token to every route the
// server has outside the agent protocol, found in echo's own route list so
// that no route can be forgotten: each refuses it, also for a loopback client
// of a server with no API tokens, which would otherwise need none.
func TestAgentTokenRefusedByManagement(t *testing.T) {
	// Routes that answer everyone, with or without a token.
	public := map[string]bool{"/healthz": true, "/readyz": true}
	param := regexp.MustCompile(`:[^/]+`)
	for _, tokens := range [][]string{nil, {"api-token"}} {
		t.Run(fmt.Sprintf("api tokens %v", tokens), func(t *testing.T) {
			f, _ := agentFixture(t, tokens...)
			token := f.addAgent(t, "web-1", "linux")
			checked := 0
			for _, r := range f.echo.Routes() {
				if public[r.Path] || strings.HasPrefix(r.Path, "/api/v1/agent/") || r.Path == "/api/v1/agent" {
					continue
				}
				method := r.Method
				if method == echo.RouteNotFound {
					method = http.MethodGet
				}
				path := strings.ReplaceAll(param.ReplaceAllString(r.Path, "x"), "*", "x")
				for _, header := range []map[string]string{
					{"Authorization": "Bearer " + token},
					{"Cookie": SessionCookie + "=" + token},
				} {
					a := f.do(t, method, path, `{}`, header)
					if a.code != http.StatusUnauthorized || a.errorMessage(t) != "agent tokens may only use /api/v1/agent/" {
						t.Errorf("%s %s with %v: %d %s", method, path, header, a.code, a.body)
					}
					checked++
				}
			}
			if checked < 30 {
				t.Errorf("only %d requests checked", checked)
			}
			runs, err := f.store.ListRuns(context.Background(), store.RunFilter{})
			if err != nil || len(runs) > 0 {
				t.Errorf("an agent token queued runs: %d, %v", len(runs), err)
			}
			agents, err := f.store.ListAgents(context.Background())
			if err != nil || len(agents) != 1 {
				t.Errorf("agents after the agent token's requests: %d, %v", len(agents), err)
			}
		})
	}
}

// TestAgentClaimLabels checks what an agent may claim: only labels it was
// registered with, under its own name, and only jobs whose labels it has.
func TestAgentClaimLabels(t *testing.T) {
	f, spy := agentFixture(t)
	token := f.addAgent(t, "web-1", "linux", "web-1")
	r := offerJobs(t, f, spy, true, offered{key: "gpu", runsOn: []string{"linux", "gpu"}})

	a := f.agent(t, token, runner.AgentClaimPath, runner.ClaimRequest{Labels: []string{"linux", "gpu", "web-2", "gpu"}, WaitSeconds: 0.05})
	if a.code != http.StatusForbidden || a.errorMessage(t) != "agent web-1 was not registered with the labels [gpu, web-2]" {
		t.Errorf("claim with labels not granted: %d %s", a.code, a.body)
	}
	a = f.agent(t, token, runner.AgentClaimPath, runner.ClaimRequest{Name: "web-2", WaitSeconds: 0.05})
	if a.code != http.StatusForbidden || a.errorMessage(t) != "this token belongs to agent web-1" {
		t.Errorf("claim under another name: %d %s", a.code, a.body)
	}
	for _, req := range []runner.ClaimRequest{
		{WaitSeconds: 0.05},
		{Name: "web-1", Labels: []string{"linux"}, WaitSeconds: 0.05},
	} {
		if a := f.agent(t, token, runner.AgentClaimPath, req); a.code != http.StatusNoContent {
			t.Errorf("claim %+v of a job needing gpu: %d %s", req, a.code, a.body)
		}
	}
	if j := storedJob(t, f, r.ID, "gpu"); j.Status != workflows.StatusQueued || j.Runner != "" {
		t.Errorf("job %s on %q", j.Status, j.Runner)
	}
}

// TestAgentClaimWaits checks the long poll: with nothing offered a claim
// ends empty after its wait; one waiting gets a job as soon as it is
// offered, by this process (which rings) or by another node (which does
// not), with what the job needs and only the secrets it reads.
func TestAgentClaimWaits(t *testing.T) {
	f, spy := agentFixture(t)
	token := f.addAgent(t, "web-1", "linux", "web-1")

	if a := f.agent(t, token, runner.AgentClaimPath, runner.ClaimRequest{WaitSeconds: 0.3}); a.code != http.StatusNoContent || a.body != "" {
		t.Fatalf("claim with nothing offered: %d %q", a.code, a.body)
	}
	for _, ring := range []bool{true, false} {
		t.Run(fmt.Sprintf("ring=%v", ring), func(t *testing.T) {
			// The claim says a version of its own, which shows it started.
			version := fmt.Sprint("1.2.3-ring-", ring)
			got := make(chan answer, 1)
			go func() {
				// The wait is capped at 60s: an answer with a job, rather
				// than 204, shows the offer ended the wait.
				got <- f.agent(t, token, runner.AgentClaimPath, runner.ClaimRequest{Version: version, WaitSeconds: 3600})
			}()
			// Let the claim start waiting before anything is offered.
			waitFor(t, func() bool {
				a, err := f.store.GetAgent(context.Background(), "web-1")
				return err == nil && a.Version == version
			})
			r := offerJobs(t, f, spy, ring, offered{key: "heal", runsOn: []string{"web-1"}, secrets: []string{"DEPLOY_KEY", "MISSING"}})
			var a answer
			select {
			case a = <-got:
			case <-time.After(90 * time.Second):
				t.Fatal("the claim did not end")
			}
			as := decode[runner.Assignment](t, a, http.StatusOK)
			if as.JobRef != (store.JobRef{Run: r.ID, Job: "heal", Attempt: 1}) || as.Runner != "web-1" || as.LeaseSeconds != 60 {
				t.Errorf("assignment %+v", as)
			}
			if as.JobID != "heal" || as.Workflow != "manual" || as.Source != manualYAML || as.RunAttempt != r.Attempt {
				t.Errorf("offer %+v", as.Offer)
			}
			var ev workflows.Event
			if err := json.Unmarshal(as.Event, &ev); err != nil || ev.Trigger != "dispatch" {
				t.Errorf("event %s: %v", as.Event, err)
			}
			if want := map[string]string{"DEPLOY_KEY": "k-123"}; fmt.Sprint(as.SecretValues) != fmt.Sprint(want) {
				t.Errorf("secrets %v, want %v", as.SecretValues, want)
			}
			if j := storedJob(t, f, r.ID, "heal"); j.Status != workflows.StatusRunning || j.Runner != "web-1" || j.Attempt != 1 {
				t.Errorf("job %s on %q attempt %d", j.Status, j.Runner, j.Attempt)
			}
		})
	}
}

// TestAgentClaimDropsUnassignable checks that a claimed job the server
// cannot hand over (its offer unreadable) fails with the reason and wakes
// its run, while the claim goes on waiting for another.
func TestAgentClaimDropsUnassignable(t *testing.T) {
	f, spy := agentFixture(t)
	token := f.addAgent(t, "web-1", "linux")
	r := offerJobs(t, f, spy, true, offered{key: "broken", runsOn: []string{"linux"}, raw: json.RawMessage(`{"job_id": 7}`)})
	if a := f.agent(t, token, runner.AgentClaimPath, runner.ClaimRequest{WaitSeconds: 0.3}); a.code != http.StatusNoContent {
		t.Errorf("claim: %d %s", a.code, a.body)
	}
	j := storedJob(t, f, r.ID, "broken")
	if j.Status != workflows.StatusFailed || !strings.HasPrefix(j.Reason, "the job cannot be given to a runner: its offer is unreadable") {
		t.Errorf("job %s (%s)", j.Status, j.Reason)
	}
	if got := spy.reports(); !slices.Equal(got, []string{r.ID}) {
		t.Errorf("runs woken: %v", got)
	}
}

// waitFor polls cond for up to a minute.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within a minute")
		}
	}
}

// claimOne offers one job needing linux and claims it as token's agent.
func claimOne(t *testing.T, f *fixture, spy *agentJobsSpy, token, key string) runner.Assignment {
	t.Helper()
	offerJobs(t, f, spy, true, offered{key: key, runsOn: []string{"linux"}})
	return decode[runner.Assignment](t, f.agent(t, token, runner.AgentClaimPath, runner.ClaimRequest{WaitSeconds: 30}), http.StatusOK)
}

// TestAgentReports checks the reports on a claimed job through HTTP: lines
// sent twice are stored once, a gap is refused with the count to resend
// from, steps are kept, the result is recorded once and wakes the run, and
// reports on a job the agent does not hold are 409.
func TestAgentReports(t *testing.T) {
	f, spy := agentFixture(t)
	token := f.addAgent(t, "web-1", "linux")
	other := f.addAgent(t, "web-2", "linux")
	as := claimOne(t, f, spy, token, "build")
	ctx := context.Background()
	now := time.Now().UTC()
	line := func(i int) runner.LogLine {
		return runner.LogLine{Step: 0, Stream: runner.Stdout, Time: now, Text: fmt.Sprintf("line %d", i)}
	}
	progress := func(from int, lines ...runner.LogLine) runner.ProgressRequest {
		return runner.ProgressRequest{JobRef: as.JobRef, From: from, Lines: lines,
			Steps: []runner.StepResult{{Index: 0, ID: "make", Outcome: "running", Sandbox: "process"}}}
	}

	for _, tc := range []struct {
		name string
		req  runner.ProgressRequest
		want int
	}{
		{"first batch", progress(0, line(0), line(1)), 2},
		{"the same batch again", progress(0, line(0), line(1)), 2},
		{"overlapping", progress(1, line(1), line(2)), 3},
		{"leaving a gap", progress(5, line(5)), 3},
	} {
		got := decode[runner.ProgressResponse](t, f.agent(t, token, runner.AgentProgressPath, tc.req), http.StatusOK)
		if got.Stored != tc.want {
			t.Errorf("%s: stored %d, want %d", tc.name, got.Stored, tc.want)
		}
	}
	lines, err := f.store.Logs(ctx, as.Run, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, l := range lines {
		if l.Job != "build" {
			t.Errorf("line %q of job %q", l.Text, l.Job)
		}
		texts = append(texts, l.Text)
	}
	if !slices.Equal(texts, []string{"line 0", "line 1", "line 2"}) {
		t.Errorf("stored lines %q", texts)
	}
	if j := storedJob(t, f, as.Run, "build"); !strings.Contains(string(j.Steps), `"id":"make"`) {
		t.Errorf("steps %s", j.Steps)
	}

	// Reports on jobs the agent does not hold.
	stranger := as.JobRef
	stranger.Attempt = 2
	for _, tc := range []struct {
		name, token, path string
		body              any
	}{
		{"progress by another agent", other, runner.AgentProgressPath, progress(3, line(3))},
		{"progress of another attempt", token, runner.AgentProgressPath, runner.ProgressRequest{JobRef: stranger, Lines: []runner.LogLine{line(0)}}},
		{"finish by another agent", other, runner.AgentFinishPath, runner.FinishRequest{JobRef: as.JobRef, Result: runner.Result{Status: workflows.StatusSucceeded}}},
		{"finish of another attempt", token, runner.AgentFinishPath, runner.FinishRequest{JobRef: stranger, Result: runner.Result{Status: workflows.StatusSucceeded}}},
		{"finish of an unknown job", token, runner.AgentFinishPath, runner.FinishRequest{JobRef: store.JobRef{Run: as.Run, Job: "nope", Attempt: 1},
			Result: runner.Result{Status: workflows.StatusSucceeded}}},
		{"release by another agent", other, runner.AgentReleasePath, runner.ReleaseRequest{JobRef: as.JobRef, Reason: "stop"}},
		{"release of another attempt", token, runner.AgentReleasePath, runner.ReleaseRequest{JobRef: stranger, Reason: "stop"}},
	} {
		if a := f.agent(t, tc.token, tc.path, tc.body); a.code != http.StatusConflict || !strings.Contains(a.errorMessage(t), "is not held by agent") {
			t.Errorf("%s: %d %s", tc.name, a.code, a.body)
		}
	}

	// Requests that cannot be read or make no sense.
	for _, tc := range []struct {
		name, path, body string
		want             int
	}{
		{"finish not JSON", runner.AgentFinishPath, `{"run":`, http.StatusBadRequest},
		{"finish still running", runner.AgentFinishPath, fmt.Sprintf(`{"run":%q,"job":"build","attempt":1,"result":{"status":"running"}}`, as.Run),
			http.StatusUnprocessableEntity},
		{"finish of no job", runner.AgentFinishPath, `{"result":{"status":"succeeded"}}`, http.StatusUnprocessableEntity},
		{"progress from below 0", runner.AgentProgressPath, fmt.Sprintf(`{"run":%q,"job":"build","attempt":1,"from":-1}`, as.Run),
			http.StatusUnprocessableEntity},
		{"progress too large", runner.AgentProgressPath, `{"lines":[{"text":"` + strings.Repeat("x", 9<<20) + `"}]}`, http.StatusRequestEntityTooLarge},
		{"finish too large", runner.AgentFinishPath, `{"result":{"reason":"` + strings.Repeat("x", 9<<20) + `"}}`, http.StatusRequestEntityTooLarge},
	} {
		a := f.do(t, "POST", tc.path, tc.body, map[string]string{"Authorization": "Bearer " + token})
		if a.code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, a.code, a.body, tc.want)
		}
	}
	if got := spy.reports(); len(got) > 0 {
		t.Errorf("runs woken before any result: %v", got)
	}

	// The result, twice: the second changes nothing.
	exit := 0
	finish := runner.FinishRequest{JobRef: as.JobRef, Result: runner.Result{Status: workflows.StatusSucceeded,
		Steps:   []runner.StepResult{{Index: 0, ID: "make", Outcome: workflows.OutcomeSuccess, ExitCode: &exit, Sandbox: "process"}},
		Outputs: map[string]any{"image": "web:1"}, FinishedAt: now}}
	for i := range 2 {
		if a := f.agent(t, token, runner.AgentFinishPath, finish); a.code != http.StatusNoContent {
			t.Fatalf("finish %d: %d %s", i+1, a.code, a.body)
		}
	}
	j := storedJob(t, f, as.Run, "build")
	if j.Status != workflows.StatusSucceeded || j.Sandbox != "process" || !strings.Contains(string(j.Outputs), `"web:1"`) ||
		!strings.Contains(string(j.Steps), `"outcome":"success"`) {
		t.Errorf("job %s sandbox %q outputs %s steps %s", j.Status, j.Sandbox, j.Outputs, j.Steps)
	}
	if got := spy.reports(); len(got) == 0 || got[0] != as.Run {
		t.Errorf("runs woken: %v, want %s", got, as.Run)
	}
	if a := f.agent(t, token, runner.AgentProgressPath, progress(3, line(3))); a.code != http.StatusConflict {
		t.Errorf("progress after the result: %d %s", a.code, a.body)
	}

	// A job handed back.
	second := claimOne(t, f, spy, token, "test")
	if a := f.agent(t, token, runner.AgentReleasePath, runner.ReleaseRequest{JobRef: second.JobRef, Reason: "the agent stops"}); a.code != http.StatusNoContent {
		t.Fatalf("release: %d %s", a.code, a.body)
	}
	if j := storedJob(t, f, second.Run, "test"); j.Status != workflows.StatusFailed || !strings.Contains(j.Reason, "the agent stops") {
		t.Errorf("released job %s (%s)", j.Status, j.Reason)
	}
	if got := spy.reports(); !slices.Contains(got, second.Run) {
		t.Errorf("runs woken: %v, want %s among them", got, second.Run)
	}
}

// TestAgentRenew checks that a renewal extends the held jobs' leases, tells
// the agent to stop the jobs it no longer holds, and records it as seen.
func TestAgentRenew(t *testing.T) {
	f, spy := agentFixture(t)
	token := f.addAgent(t, "web-1", "linux")
	as := claimOne(t, f, spy, token, "build")
	before := storedJob(t, f, as.Run, "build").LeaseUntil
	gone := as.JobRef
	gone.Attempt = 7
	got := decode[runner.RenewResponse](t, f.agent(t, token, runner.AgentRenewPath,
		runner.RenewRequest{Jobs: []store.JobRef{as.JobRef, gone}, Version: "2.0.0"}), http.StatusOK)
	if len(got.Stop) != 1 || got.Stop[0].JobRef != gone || !got.Stop[0].Gone {
		t.Errorf("stop %+v, want only attempt 7, gone", got.Stop)
	}
	if after := storedJob(t, f, as.Run, "build").LeaseUntil; after.Before(before) {
		t.Errorf("lease until %v, before %v", after, before)
	}
	a, err := f.store.GetAgent(context.Background(), "web-1")
	if err != nil || a.Version != "2.0.0" || a.LastSeen.IsZero() {
		t.Errorf("agent %+v, %v", a, err)
	}
	empty := f.agent(t, token, runner.AgentRenewPath, runner.RenewRequest{})
	if empty.code != http.StatusOK || strings.TrimSpace(empty.body) != `{"stop":[]}` {
		t.Errorf("renew of nothing: %d %s", empty.code, empty.body)
	}
}

// TestEndClaims checks that a claim waiting for a job ends when the server
// stops, rather than holding up its shutdown.
func TestEndClaims(t *testing.T) {
	f, _ := agentFixture(t)
	token := f.addAgent(t, "web-1", "linux")
	got := make(chan answer, 1)
	go func() {
		got <- f.agent(t, token, runner.AgentClaimPath, runner.ClaimRequest{Version: "1", WaitSeconds: 60})
	}()
	waitFor(t, func() bool {
		a, err := f.store.GetAgent(context.Background(), "web-1")
		return err == nil && a.Version == "1"
	})
	f.server.EndClaims()
	select {
	case a := <-got:
		if a.code != http.StatusNoContent {
			t.Errorf("claim: %d %s", a.code, a.body)
		}
	case <-time.After(50 * time.Second):
		t.Fatal("the claim went on waiting after EndClaims")
	}
	// Later claims do not wait.
	if a := f.agent(t, token, runner.AgentClaimPath, runner.ClaimRequest{WaitSeconds: 60}); a.code != http.StatusNoContent {
		t.Errorf("claim after EndClaims: %d %s", a.code, a.body)
	}
}
