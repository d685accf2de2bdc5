package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/runner"
)

// These tests run `hookflow serve` and `hookflow agent` as separate
// processes, each agent with a data folder of its own (SPEC §12).

// agentProcess is one `hookflow agent` process.
type agentProcess struct {
	cmd    *exec.Cmd
	name   string
	dir    string
	stderr *syncBuffer
	done   chan struct{}
}

var agentConnecting = regexp.MustCompile(`hookflow agent \S+ connecting to`)

// startAgent registers nothing: it starts agent name with token against
// servers, in dir (made if need be), and waits until it says it connects.
func startAgent(t *testing.T, dir, name, token string, servers []string, extra ...string) *agentProcess {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"agent", "--server", strings.Join(servers, ","), "--token-file", tokenFile,
		"--name", name, "--data", filepath.Join(dir, "data")}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "HOOKFLOW_TEST_AS_COMMAND=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	a := &agentProcess{cmd: cmd, name: name, dir: dir, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = a.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(a.done) }()
	found := make(chan struct{}, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if agentConnecting.MatchString(sc.Text()) {
				found <- struct{}{}
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-a.done
		if t.Failed() {
			log := a.stderr.String()
			t.Logf("agent %s log, last lines:\n%s", name, log[max(0, len(log)-3000):])
		}
	})
	select {
	case <-found:
		return a
	case <-a.done:
		t.Fatalf("agent %s exited:\n%s", name, a.stderr.String())
	case <-time.After(time.Minute):
		t.Fatalf("agent %s did not start:\n%s", name, a.stderr.String())
	}
	return nil
}

// kill stops the agent with SIGKILL.
func (a *agentProcess) kill(t *testing.T) {
	t.Helper()
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.done
}

// addAgent registers agent name with labels on the server at url and
// returns its token.
func addAgent(t *testing.T, url, name string, labels ...string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "labels": labels})
	resp, err := http.Post(url+"/api/v1/agents", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated || out.Token == "" {
		t.Fatalf("add agent %s: %d %v %+v", name, resp.StatusCode, err, out)
	}
	return out.Token
}

// serverAt starts `hookflow serve` on SQLite in dir/data with config,
// listening on addr, and waits until it listens.
func serverAt(t *testing.T, dir, config, addr string, env ...string) *node {
	t.Helper()
	return stopAtEnd(t, launchServe(t, env, "--config", config, "--listen", addr,
		"--workflows", filepath.Join(dir, "workflows"), "--data", filepath.Join(dir, "data")))
}

// stopAtEnd kills nd when the test ends, showing the end of its log if the
// test failed.
func stopAtEnd(t *testing.T, nd *node) *node {
	t.Helper()
	t.Cleanup(func() {
		nd.cmd.Process.Kill()
		nd.cmd.Wait()
		if t.Failed() {
			log := nd.stderr.String()
			t.Logf("server log, last lines:\n%s", log[max(0, len(log)-4000):])
		}
	})
	return nd
}

// freeAddr returns a loopback address with a port free now, for a server
// that must come back on the same one.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// runJobs reads run id with its jobs through the API.
func runJobs(t *testing.T, url, id string) api.RunView {
	t.Helper()
	var v api.RunView
	if code := getJSON(t, url+"/api/v1/runs/"+id, &v); code != http.StatusOK {
		t.Fatalf("GET run %s: %d", id, code)
	}
	return v
}

// waitRunDone waits until run id has finished, and returns it.
func waitRunDone(t *testing.T, url, id string, limit time.Duration) api.RunView {
	t.Helper()
	var v api.RunView
	waitFor(t, limit, "run "+id+" finishes", func() bool {
		v = runJobs(t, url, id)
		return api.Finished(v.Status)
	})
	return v
}

// agentCall posts body to an agent protocol path with token, and returns the
// status.
func agentCall(t *testing.T, url, path, token string, body any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAgentsHealOnTheAlertingHost sends one Alertmanager notification with
// three alerts: each alert's remedy runs on the agent named by its instance
// label, as the job records and a stamp in that agent's own folder proves.
// Then the tokens' limits: an agent token is refused by the management API,
// cannot claim labels it was not given, and stops working once removed.
func TestAgentsHealOnTheAlertingHost(t *testing.T) {
	dir := t.TempDir()
	stamps := outputs(t, dir)
	writeFile(t, filepath.Join(dir, "workflows", "heal.yaml"), fmt.Sprintf(`
on:
  webhook: {path: alerts, provider: alertmanager, secret: "${{ secrets.AM_TOKEN }}"}
for_each: event.alerts
if: item.status == "firing"
sandbox: {level: process, writable: [%q]}
jobs:
  remedy:
    runs_on: ["${{ item.labels.instance }}"]
    env: {INSTANCE: "${{ item.labels.instance }}", RUNNER: "${{ job.runner }}", STAMPS: %q}
    steps:
      - run: |
          echo "healing $INSTANCE on $RUNNER"
          pwd > "$STAMPS/$INSTANCE"
`, stamps, stamps))
	config := writeFile(t, filepath.Join(dir, "hookflow.yaml"), "limits: {lease: 3s}\nshutdown_timeout: 2s\n")
	srv := serverAt(t, dir, config, "127.0.0.1:0", "HOOKFLOW_SECRET_AM_TOKEN=am-secret")
	hosts := []string{"web-1", "web-2", "web-3"}
	tokens := map[string]string{}
	agents := map[string]*agentProcess{}
	for _, h := range hosts {
		tokens[h] = addAgent(t, srv.url, "agent-"+h, h, "linux")
		agents[h] = startAgent(t, filepath.Join(dir, "agent-"+h), "agent-"+h, tokens[h], []string{srv.url})
	}

	body := `{"version":"4","status":"firing","receiver":"hookflow","groupKey":"{}:{alertname=\"ServiceDown\"}","alerts":[` +
		`{"status":"firing","labels":{"alertname":"ServiceDown","instance":"web-1"},"fingerprint":"a1"},` +
		`{"status":"firing","labels":{"alertname":"ServiceDown","instance":"web-2"},"fingerprint":"a2"},` +
		`{"status":"firing","labels":{"alertname":"ServiceDown","instance":"web-3"},"fingerprint":"a3"}]}`
	req, _ := http.NewRequest(http.MethodPost, srv.url+"/hooks/alerts", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer am-secret")
	req.Header.Set("User-Agent", "Alertmanager/0.27.0")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var receipt struct {
		Runs []struct {
			ID string `json:"id"`
		} `json:"runs"`
	}
	json.NewDecoder(resp.Body).Decode(&receipt)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || len(receipt.Runs) != 3 {
		t.Fatalf("webhook: %d with %d runs, want 202 with 3", resp.StatusCode, len(receipt.Runs))
	}
	for _, r := range receipt.Runs {
		v := waitRunDone(t, srv.url, r.ID, 2*time.Minute)
		if v.Status != "succeeded" || len(v.Jobs) != 1 {
			t.Fatalf("run %s: %s (%s), jobs %+v", r.ID, v.Status, v.Reason, v.Jobs)
		}
		j := v.Jobs[0]
		host := j.RunsOn[0]
		if j.Runner != "agent-"+host {
			t.Errorf("the remedy for %s ran on %q, want agent-%s", host, j.Runner, host)
		}
		var log strings.Builder
		if err := getText(t, srv.url+"/api/v1/runs/"+r.ID+"/logs", &log); err != nil {
			t.Fatal(err)
		}
		if want := "healing " + host + " on agent-" + host; !strings.Contains(log.String(), want) {
			t.Errorf("log of %s lacks %q:\n%s", r.ID, want, log.String())
		}
	}
	// Each remedy's step wrote where it ran: its workspace, which lies in
	// the data folder of the agent of its host, and of none other.
	for _, h := range hosts {
		where, err := os.ReadFile(filepath.Join(stamps, h))
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(dir, "agent-"+h, "data") + "/"; !strings.HasPrefix(string(where), want) {
			t.Errorf("the remedy for %s ran in %s, want a workspace under %s", h, where, want)
		}
	}

	// An agent token is no API token, even for a loopback client of a
	// server without api tokens.
	for _, path := range []string{"/api/v1/runs", "/api/v1/agents", "/api/v1/workflows", "/metrics", "/ui/"} {
		req, _ := http.NewRequest(http.MethodGet, srv.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+tokens["web-1"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET %s with an agent token: %d, want refused", path, resp.StatusCode)
		}
	}
	claim := runner.ClaimRequest{Labels: []string{"web-2"}, WaitSeconds: 0.1}
	if code := agentCall(t, srv.url, runner.AgentClaimPath, tokens["web-1"], claim); code != http.StatusForbidden {
		t.Errorf("claim of labels not granted: %d, want 403", code)
	}
	agents["web-1"].kill(t)
	req, _ = http.NewRequest(http.MethodDelete, srv.url+"/api/v1/agents/agent-web-1", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("remove agent: %v %v", resp, err)
	}
	claim.Labels = nil
	if code := agentCall(t, srv.url, runner.AgentClaimPath, tokens["web-1"], claim); code != http.StatusUnauthorized {
		t.Errorf("claim by a removed agent: %d, want 401", code)
	}
}

// getText reads url's body into b.
func getText(t *testing.T, url string, b *strings.Builder) error {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = bufio.NewReader(resp.Body).WriteTo(b)
	return err
}

// stampWorkflow runs one job on an agent labelled pool: it writes "start
// RUNNER" and, after a pause, "end RUNNER" to log.
func stampWorkflow(log, extra string) string {
	return fmt.Sprintf(`
on: {dispatch: {}}
sandbox: {level: process}
%s
jobs:
  work:
    runs_on: [pool]
    env: {RUNNER: "${{ job.runner }}", LOG: %q}
    steps:
      - run: |
          echo "start $RUNNER" >> "$LOG"
          for i in $(seq 1 40); do echo "line $i"; sleep 0.1; done
          echo "end $RUNNER" >> "$LOG"
`, extra, log)
}

// TestAgentKilledMidJob SIGKILLs the agent running a job: the job is taken
// back once its lease expires, and fails "interrupted", or, with
// on_interrupt: requeue, runs again on the other agent — never on both at
// once.
func TestAgentKilledMidJob(t *testing.T) {
	for _, requeue := range []bool{false, true} {
		t.Run(fmt.Sprintf("requeue=%v", requeue), func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(outputs(t, dir), "stamps")
			extra := ""
			if requeue {
				extra = "on_interrupt: requeue"
			}
			writeFile(t, filepath.Join(dir, "workflows", "work.yaml"), stampWorkflow(log, extra))
			config := writeFile(t, filepath.Join(dir, "hookflow.yaml"), "limits: {lease: 2s}\nshutdown_timeout: 2s\n")
			srv := serverAt(t, dir, config, "127.0.0.1:0")
			first := startAgent(t, filepath.Join(dir, "a1"), "a1", addAgent(t, srv.url, "a1", "pool"), []string{srv.url})
			id := dispatchRun(t, srv.url, "work")
			waitFor(t, time.Minute, "the job starts on a1", func() bool {
				data, _ := os.ReadFile(log)
				return strings.Contains(string(data), "start a1")
			})
			startAgent(t, filepath.Join(dir, "a2"), "a2", addAgent(t, srv.url, "a2", "pool"), []string{srv.url})
			first.kill(t)

			v := waitRunDone(t, srv.url, id, 2*time.Minute)
			data, _ := os.ReadFile(log)
			if strings.Contains(string(data), "end a1") {
				t.Errorf("the killed agent's job went on:\n%s", data)
			}
			j := v.Jobs[0]
			if !requeue {
				if v.Status != "failed" || j.Status != "failed" || !strings.Contains(j.Reason, "interrupted: the runner a1 stopped renewing its lease") {
					t.Fatalf("run %s (%s), job %s (%s); want failed, interrupted", v.Status, v.Reason, j.Status, j.Reason)
				}
				if strings.Contains(string(data), "a2") {
					t.Errorf("the job ran again without on_interrupt: requeue:\n%s", data)
				}
				return
			}
			if v.Status != "succeeded" || j.Runner != "a2" || j.Attempt != 2 {
				t.Fatalf("run %s (%s), job on %s attempt %d; want succeeded on a2, attempt 2", v.Status, v.Reason, j.Runner, j.Attempt)
			}
			if got := strings.TrimSpace(string(data)); got != "start a1\nstart a2\nend a2" {
				t.Errorf("stamps:\n%s\nwant a1's start, then a2's whole run", got)
			}
		})
	}
}

// TestServerKilledWhileAnAgentRuns SIGKILLs the server while an agent runs a
// job that writes 300 lines, and starts it again on the same address: the
// agent's result and whole log arrive once.
func TestServerKilledWhileAnAgentRuns(t *testing.T) {
	dir := t.TempDir()
	marks := filepath.Join(outputs(t, dir), "marks")
	writeFile(t, filepath.Join(dir, "workflows", "long.yaml"), fmt.Sprintf(`
on: {dispatch: {}}
sandbox: {level: process}
jobs:
  work:
    runs_on: [pool]
    env: {MARKS: %q}
    steps:
      - run: |
          echo started >> "$MARKS"
          for i in $(seq 1 300); do echo "line $i"; sleep 0.02; done
          echo "done=yes" >> "$HOOKFLOW_OUTPUT"
        id: s
    outputs: {done: "${{ steps.s.outputs.done }}"}
`, marks))
	config := writeFile(t, filepath.Join(dir, "hookflow.yaml"), "limits: {lease: 3s}\nshutdown_timeout: 2s\n")
	addr := freeAddr(t)
	srv := serverAt(t, dir, config, addr)
	token := addAgent(t, srv.url, "a1", "pool")
	startAgent(t, filepath.Join(dir, "a1"), "a1", token, []string{srv.url})
	id := dispatchRun(t, srv.url, "long")
	waitFor(t, time.Minute, "the job starts", func() bool {
		data, _ := os.ReadFile(marks)
		return len(data) > 0
	})
	srv.kill(t)
	// The job goes on without the server; give it time to end meanwhile.
	time.Sleep(3 * time.Second)
	srv = serverAt(t, dir, config, addr)

	v := waitRunDone(t, srv.url, id, 2*time.Minute)
	if v.Status != "succeeded" || v.Jobs[0].Runner != "a1" || v.Jobs[0].Outputs["done"] != "yes" {
		t.Fatalf("run %s (%s), jobs %+v", v.Status, v.Reason, v.Jobs)
	}
	var log strings.Builder
	if err := getText(t, srv.url+"/api/v1/runs/"+id+"/logs", &log); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, line := range strings.Split(log.String(), "\n") {
		if _, l, ok := strings.Cut(line, "line "); ok {
			counts[l]++
		}
	}
	for i := 1; i <= 300; i++ {
		if n := counts[fmt.Sprint(i)]; n != 1 {
			t.Errorf("line %d stored %d times", i, n)
		}
	}
	if data, _ := os.ReadFile(marks); strings.Count(string(data), "started") != 1 {
		t.Errorf("the job started %d times", strings.Count(string(data), "started"))
	}
}

// TestAgentsOnSeveralNodes runs 500 jobs (10 runs of 50 matrix cells) on
// four agents spread over two nodes sharing PostgreSQL: each is executed
// exactly once, and none is left behind.
func TestAgentsOnSeveralNodes(t *testing.T) {
	const runs, cells, agents = 10, 50, 4
	dir := t.TempDir()
	log := filepath.Join(outputs(t, dir), "cells")
	values := make([]string, cells)
	for i := range values {
		values[i] = fmt.Sprint(i + 1)
	}
	nodes, dsn := startCluster(t, dir, 2, map[string]string{"fan.yaml": fmt.Sprintf(`
on: {dispatch: {inputs: {n: {}}}}
sandbox: {level: process}
jobs:
  cell:
    strategy:
      matrix: {i: [%s]}
    runs_on: [pool]
    env: {LOG: %q, LINE: "${{ run.id }} ${{ matrix.i }} ${{ job.runner }}"}
    steps:
      - run: echo "$LINE" >> "$LOG"
`, strings.Join(values, ", "), log)})
	st := openCheck(t, dsn)
	for i := range agents {
		name := fmt.Sprint("a", i)
		token := addAgent(t, nodes[0].url, name, "pool")
		// Each agent talks to a node of its own first.
		servers := []string{nodes[i%2].url, nodes[(i+1)%2].url}
		startAgent(t, filepath.Join(dir, name), name, token, servers, "--parallel", "2")
	}
	dispatchEach(t, nodes, "fan", runs)
	waitFor(t, 5*time.Minute, "every run finishes", func() bool { return allFinished(t, st) })

	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	perAgent := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("line %q", line)
		}
		seen[f[0]+" "+f[1]]++
		perAgent[f[2]]++
	}
	var twice []string
	for k, n := range seen {
		if n > 1 {
			twice = append(twice, k)
		}
	}
	if len(seen) != runs*cells || len(twice) > 0 {
		t.Fatalf("%d cells ran, want %d; more than once: %v", len(seen), runs*cells, twice)
	}
	for _, r := range runsOf(t, st, "fan") {
		if r.Status != "succeeded" {
			t.Errorf("run %s ended %s (%q)", r.ID, r.Status, r.Reason)
		}
		jobs, err := st.Jobs(t.Context(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			if j.Status != "succeeded" || j.Attempt != 1 || !strings.HasPrefix(j.Runner, "a") {
				t.Errorf("run %s job %s: %s attempt %d on %q", r.ID, j.Key, j.Status, j.Attempt, j.Runner)
			}
		}
	}
	queue, err := st.RemoteQueue(t.Context())
	if err != nil || len(queue) > 0 {
		t.Errorf("jobs left offered or held: %d, %v", len(queue), err)
	}
	t.Logf("cells per agent: %v", perAgent)
}
