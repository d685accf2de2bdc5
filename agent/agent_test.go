package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions/builtin"
	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/runner/sandbox"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// secretValue is the value of the secret DEPLOY_KEY that assignments carry.
const secretValue = "deploy-key-value-5c1e"

// assignment is job remote of run as the server hands it out: a `jobs:`
// workflow whose one job has steps (YAML list items, indented by 6).
func assignment(run, steps string) runner.Assignment {
	src := "on: {dispatch: {}}\njobs:\n  remote:\n    runs_on: [edge]\n    steps:\n" + steps
	return runner.Assignment{
		JobRef: store.JobRef{Run: run, Job: "remote", Attempt: 1},
		Offer: runner.Offer{Workflow: "remote", File: "remote.yaml", Revision: "r1", Source: src, JobID: "remote",
			Cell: runner.OfferCell{Key: "remote"}, Secrets: []string{"DEPLOY_KEY"}, RunAttempt: 1,
			URL: "http://127.0.0.1/runs/" + run, MaxLogBytes: 1 << 20},
		Event:        json.RawMessage(`{"id":"ev1","trigger":"dispatch","received_at":"2026-12-04T10:00:00Z"}`),
		SecretValues: map[string]string{"DEPLOY_KEY": secretValue},
		LeaseSeconds: 600,
		Runner:       "edge-1",
	}
}

// testAgent is an Agent running in the test.
type testAgent struct {
	*Agent
	logFile string
	cancel  context.CancelFunc
	done    chan error
}

// logs is what the agent logged so far.
func (ta *testAgent) logs() string {
	b, _ := os.ReadFile(ta.logFile)
	return string(b)
}

// startAgent runs an agent of s on data until the test ends or stop is
// called; cfg and tweak, when not nil, adjust its configuration and the
// agent made from it. Its log must never hold the token.
func startAgent(t *testing.T, s *protocolServer, data string, cfg func(*Config), tweak func(*Agent)) *testAgent {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), "agent.log")
	logs, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logs.Close() })
	c := Config{Servers: []string{s.url}, Token: s.token, Name: "edge-1", Labels: []string{"edge"}, DataDir: data,
		Actions: builtin.Registry(), SandboxDefaults: workflows.Sandbox{Level: workflows.LevelProcess},
		ShutdownTimeout: 30 * time.Second, Version: "test",
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if cfg != nil {
		cfg(&c)
	}
	a, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	a.minBackoff, a.maxBackoff = 5*time.Millisecond, 50*time.Millisecond
	a.deliverGrace = 30 * time.Second
	if tweak != nil {
		tweak(a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ta := &testAgent{Agent: a, logFile: logFile, cancel: cancel, done: make(chan error, 1)}
	go func() { ta.done <- a.Run(ctx) }()
	t.Cleanup(func() {
		ta.stop(t)
		if t.Failed() {
			t.Logf("the agent's log:\n%s", ta.logs())
		}
		if strings.Contains(ta.logs(), c.Token) {
			t.Errorf("the agent's log holds its token:\n%s", ta.logs())
		}
		if strings.Contains(ta.logs(), secretValue) {
			t.Errorf("the agent's log holds a secret's value:\n%s", ta.logs())
		}
	})
	return ta
}

// stop stops the agent gracefully and waits for Run to return.
func (ta *testAgent) stop(t *testing.T) {
	t.Helper()
	ta.cancel()
	select {
	case err, ok := <-ta.done:
		if !ok {
			return // stopped before
		}
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		close(ta.done)
	case <-time.After(2 * time.Minute):
		t.Fatalf("the agent did not stop; its log:\n%s", ta.logs())
	}
}

// texts are the texts of the lines of stream (all streams when empty).
func texts(lines []runner.LogLine, stream string) []string {
	var out []string
	for _, l := range lines {
		if stream == "" || l.Stream == stream {
			out = append(out, l.Text)
		}
	}
	return out
}

// spoolDirs lists the job folders of the spool under data.
func spoolDirs(t *testing.T, data string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(data, "jobs"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		dirs = append(dirs, filepath.Join(data, "jobs", e.Name()))
	}
	return dirs
}

// TestJobReportsOnce runs a job as the server hands it out and checks that
// its log, steps and result arrive, each once: the lines in order with the
// secret masked, the steps as they ended, and the result; that the spool
// kept the job without its secrets while it was held, and is gone once the
// server has the result.
func TestJobReportsOnce(t *testing.T) {
	s := newProtocolServer(t)
	data := t.TempDir()
	ref := s.offer(assignment("01JOBREPORTS", `      - id: greet
        run: echo hello; echo "key $KEY"
        env: {KEY: "${{ secrets.DEPLOY_KEY }}"}
      - run: echo "runner $RUNNER"
        env: {RUNNER: "${{ job.runner }}"}
`))
	var spoolChecked bool
	s.onFinish = func() {
		// The agent removes its spool only once the server has the result.
		dirs := spoolDirs(t, data)
		if len(dirs) != 1 {
			t.Errorf("spool folders at finish: %q, want one", dirs)
			return
		}
		spoolChecked = true
		if fi, err := os.Stat(dirs[0]); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("spool folder: %v, %v; want mode 0700", fi.Mode(), err)
		}
		for _, name := range []string{assignmentFile, logFile, resultFile} {
			p := filepath.Join(dirs[0], name)
			fi, err := os.Stat(p)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %v, %v; want mode 0600", name, fi.Mode(), err)
				continue
			}
			b, _ := os.ReadFile(p)
			if strings.Contains(string(b), secretValue) || strings.Contains(string(b), s.token) {
				t.Errorf("%s holds a secret: %s", name, b)
			}
		}
		var kept runner.Assignment
		b, _ := os.ReadFile(filepath.Join(dirs[0], assignmentFile))
		if err := json.Unmarshal(b, &kept); err != nil || kept.JobRef != ref || kept.Source == "" {
			t.Errorf("assignment.json: %s (%v)", b, err)
		}
	}
	startAgent(t, s, data, nil, nil)

	s.waitFor("the job's result", func() bool { j := s.jobs[ref]; return j != nil && j.result != nil })
	s.waitFor("the spool to be removed", func() bool { return len(spoolDirs(t, data)) == 0 })
	j := s.job(ref)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !spoolChecked {
		t.Error("the spool was not there when the result arrived")
	}
	if got, want := texts(j.lines, runner.Stdout), []string{"hello", "key ***", "runner edge-1"}; !slices.Equal(got, want) {
		t.Errorf("stdout lines %q, want %q", got, want)
	}
	if j.finishes != 1 || j.releases != 0 {
		t.Errorf("finished %d times, released %d times; want one finish", j.finishes, j.releases)
	}
	if j.result.Status != workflows.StatusSucceeded || len(j.result.Steps) != 2 {
		t.Fatalf("result %+v", *j.result)
	}
	if len(j.steps) != 2 || j.steps[0].ID != "greet" || j.steps[0].Outcome != workflows.OutcomeSuccess || j.steps[1].Outcome != workflows.OutcomeSuccess {
		t.Errorf("steps reported %+v, want both succeeded", j.steps)
	}
	if j.resent != 0 {
		t.Errorf("%d lines were sent again without a failure", j.resent)
	}
}

// TestOutage has the first server unreachable and the second failing for a
// while in every way a server fails: 503, a connection cut before the
// request is handled, and one cut after it was handled, so that the answer
// is lost. Every line arrives once, in order, and the result once.
func TestOutage(t *testing.T) {
	s := newProtocolServer(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()

	asg := assignment("01OUTAGE", `      - run: for i in $(seq 1 700); do echo "line $i"; done
      - run: for i in $(seq 701 900); do echo "line $i"; done
`)
	asg.LeaseSeconds = 0.3
	ref := s.offer(asg)
	counts := map[string]int{}
	faulted := map[fault]int{}
	s.fault = func(path string) fault {
		counts[path]++
		n := counts[path]
		var f fault
		switch path {
		case runner.AgentClaimPath, runner.AgentRenewPath:
			if n <= 2 {
				f = unavailable
			}
		case runner.AgentProgressPath:
			if n <= 12 {
				f = []fault{cutAfter, unavailable, cutBefore}[n%3]
			}
		case runner.AgentFinishPath:
			if n <= 2 {
				f = []fault{cutAfter, unavailable}[n-1]
			}
		}
		if f != noFault {
			faulted[f]++
		}
		return f
	}
	data := t.TempDir()
	startAgent(t, s, data, func(c *Config) { c.Servers = []string{dead, s.url} }, nil)

	s.waitFor("the job's result", func() bool { j := s.jobs[ref]; return j != nil && j.result != nil })
	// The agent hears that the result arrived from the finish it sends
	// again, or from a renewal saying the job is no longer its own.
	s.waitFor("the spool to be removed", func() bool { return len(spoolDirs(t, data)) == 0 })
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[ref]
	var want []string
	for i := 1; i <= 900; i++ {
		want = append(want, fmt.Sprintf("line %d", i))
	}
	if got := texts(j.lines, runner.Stdout); !slices.Equal(got, want) {
		t.Errorf("stdout: %d lines, want the 900 lines once each in order; first ones %q", len(got), got[:min(len(got), 5)])
	}
	if j.result.Status != workflows.StatusSucceeded || j.releases != 0 {
		t.Errorf("result %s, %d releases", j.result.Status, j.releases)
	}
	if faulted[cutAfter] < 3 || faulted[unavailable] < 3 || faulted[cutBefore] < 3 {
		t.Errorf("faults injected %v, want each kind several times", faulted)
	}
}

// TestRestart stops the agent while the server is down and starts it again
// on the same data folder: a job that was running is handed back with what
// it logged, a job that ended is reported, and no line arrives twice.
func TestRestart(t *testing.T) {
	down := func(path string) fault {
		if path == runner.AgentClaimPath {
			return noFault
		}
		return unavailable
	}
	stopQuickly := func(c *Config) { c.ShutdownTimeout = 100 * time.Millisecond }
	deliverBriefly := func(a *Agent) { a.deliverGrace = 200 * time.Millisecond }

	t.Run("mid job", func(t *testing.T) {
		s := newProtocolServer(t)
		data := t.TempDir()
		ref := s.offer(assignment("01RESTARTMID", `      - run: echo one; echo two; sleep 1; echo three; sleep 30
`))
		first := startAgent(t, s, data, stopQuickly, deliverBriefly)
		s.waitFor("the first lines", func() bool { j := s.jobs[ref]; return j != nil && len(texts(j.lines, runner.Stdout)) >= 2 })
		s.with(func() { s.fault = down })
		s.waitFor("line three in the spool", func() bool {
			dirs := spoolDirs(t, data)
			if len(dirs) == 0 {
				return false
			}
			b, _ := os.ReadFile(filepath.Join(dirs[0], logFile))
			return strings.Contains(string(b), `"three"`)
		})
		first.stop(t)

		dirs := spoolDirs(t, data)
		if len(dirs) != 1 {
			t.Fatalf("spool after the stop: %q", dirs)
		}
		if _, err := os.Stat(filepath.Join(dirs[0], resultFile)); !os.IsNotExist(err) {
			t.Errorf("a job cancelled by the stop has a result in the spool (%v)", err)
		}
		s.mu.Lock()
		before := len(s.jobs[ref].froms)
		if j := s.jobs[ref]; j.released != "" || j.result != nil {
			t.Errorf("the server down heard of the job's end: release %q, result %v", j.released, j.result)
		}
		s.fault = nil
		s.mu.Unlock()

		startAgent(t, s, data, nil, nil)
		s.waitFor("the job handed back", func() bool { return s.jobs[ref].released != "" })
		s.waitFor("the spool to be removed", func() bool { return len(spoolDirs(t, data)) == 0 })
		s.mu.Lock()
		defer s.mu.Unlock()
		j := s.jobs[ref]
		if j.released != errRestarted.Error() || j.result != nil {
			t.Errorf("released %q with result %v, want %q", j.released, j.result, errRestarted)
		}
		if got, want := texts(j.lines, runner.Stdout), []string{"one", "two", "three"}; !slices.Equal(got, want) {
			t.Errorf("stdout %q, want %q", got, want)
		}
		if !slices.Contains(texts(j.lines, runner.System), "job remote cancelled: "+errStopping.Error()) {
			t.Errorf("the lines lack the cancel's: %q", texts(j.lines, ""))
		}
		// The agent that started again knew what the server had stored.
		if after := j.froms[before:]; len(after) == 0 || after[0] < 2 {
			t.Errorf("after the restart, progress was sent from %v, want from 2 or more", after)
		}
	})

	t.Run("ended", func(t *testing.T) {
		s := newProtocolServer(t)
		data := t.TempDir()
		ref := s.offer(assignment("01RESTARTENDED", `      - run: echo one; echo two
`))
		s.fault = down
		first := startAgent(t, s, data, stopQuickly, deliverBriefly)
		s.waitFor("the result in the spool", func() bool {
			dirs := spoolDirs(t, data)
			if len(dirs) == 0 {
				return false
			}
			_, err := os.Stat(filepath.Join(dirs[0], resultFile))
			return err == nil
		})
		first.stop(t)
		if dirs := spoolDirs(t, data); len(dirs) != 1 {
			t.Fatalf("spool after the stop: %q", dirs)
		}
		s.with(func() { s.fault = nil })

		startAgent(t, s, data, nil, nil)
		s.waitFor("the job's result", func() bool { return s.jobs[ref].result != nil })
		s.waitFor("the spool to be removed", func() bool { return len(spoolDirs(t, data)) == 0 })
		s.mu.Lock()
		defer s.mu.Unlock()
		j := s.jobs[ref]
		if j.result.Status != workflows.StatusSucceeded || j.finishes != 1 || j.released != "" {
			t.Errorf("result %s, %d finishes, release %q; want one success", j.result.Status, j.finishes, j.released)
		}
		if got, want := texts(j.lines, runner.Stdout), []string{"one", "two"}; !slices.Equal(got, want) {
			t.Errorf("stdout %q, want %q", got, want)
		}
	})
}

// TestStopOnRenewal has the server answer a renewal with a stop: the
// running step ends long before its 30 s, and the job reports cancelled
// with the stop's reason.
func TestStopOnRenewal(t *testing.T) {
	s := newProtocolServer(t)
	asg := assignment("01STOP", `      - run: echo started; sleep 30
`)
	asg.LeaseSeconds = 0.3
	ref := s.offer(asg)
	startAgent(t, s, t.TempDir(), nil, nil)
	s.waitFor("the step to start", func() bool { j := s.jobs[ref]; return j != nil && slices.Contains(texts(j.lines, ""), "started") })
	s.with(func() { s.jobs[ref].stop = &store.JobStop{JobRef: ref, Reason: "cancelled by alice"} })
	s.waitFor("the job's result", func() bool { return s.jobs[ref].result != nil })

	s.mu.Lock()
	defer s.mu.Unlock()
	res := s.jobs[ref].result
	if res.Status != workflows.StatusCancelled || res.Reason != "cancelled by alice" {
		t.Errorf("result %s (%s), want cancelled by alice", res.Status, res.Reason)
	}
	if len(res.Steps) != 1 || res.Steps[0].Outcome != workflows.OutcomeCancelled {
		t.Errorf("steps %+v, want the step cancelled", res.Steps)
	}
	if took := res.FinishedAt.Sub(res.StartedAt); took >= 30*time.Second {
		t.Errorf("the job took %s: the step was not stopped", took)
	}
}

// TestDropped has the server say that a running job is no longer the
// agent's, by answering its progress 409 or by a renewal's stop marked gone:
// the agent ends the job, reports nothing more of it and removes its spool.
func TestDropped(t *testing.T) {
	for _, tc := range []struct {
		name string
		drop func(j *serverJob, ref store.JobRef)
	}{
		{"progress answered 409", func(j *serverJob, _ store.JobRef) { j.gone = true }},
		{"gone on renewal", func(j *serverJob, ref store.JobRef) {
			j.stop = &store.JobStop{JobRef: ref, Reason: "the run ended", Gone: true}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newProtocolServer(t)
			data := t.TempDir()
			asg := assignment("01DROPPED", `      - run: while :; do echo tick; sleep 0.1; done
`)
			if tc.name == "gone on renewal" {
				asg.LeaseSeconds = 0.3
			}
			ref := s.offer(asg)
			a := startAgent(t, s, data, nil, nil)
			s.waitFor("the step to start", func() bool { j := s.jobs[ref]; return j != nil && len(j.lines) > 1 })
			s.with(func() { tc.drop(s.jobs[ref], ref) })
			s.waitFor("the spool and the workspace to be removed", func() bool {
				ws, _ := os.ReadDir(filepath.Join(data, "workspaces"))
				return len(spoolDirs(t, data)) == 0 && len(ws) == 0
			})
			a.stop(t)
			s.mu.Lock()
			defer s.mu.Unlock()
			if j := s.jobs[ref]; j.finishes != 0 || j.releases != 0 {
				t.Errorf("the dropped job was finished %d times, released %d times", j.finishes, j.releases)
			}
			if !strings.Contains(a.logs(), "dropping the job") {
				t.Errorf("the log does not say the job was dropped:\n%s", a.logs())
			}
		})
	}
}

// TestRefusedToken has the server refuse the agent's token: the agent logs
// the server's reason, never the token, and backs off rather than asking
// again at once.
func TestRefusedToken(t *testing.T) {
	for _, tc := range []struct{ name, token, refuse, logged string }{
		{"unknown token", "not-the-agent-token-0d4c", "", "unknown agent token"},
		{"agent removed", "", "agent edge-1 was removed", "agent edge-1 was removed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newProtocolServer(t)
			s.refuse = tc.refuse
			var claims int
			s.fault = func(path string) fault {
				if path == runner.AgentClaimPath {
					claims++
				}
				return noFault
			}
			a := startAgent(t, s, t.TempDir(), func(c *Config) {
				if tc.token != "" {
					c.Token = tc.token
				}
			}, func(a *Agent) { a.minBackoff, a.maxBackoff = time.Hour, time.Hour })
			s.waitFor("the refusal logged", func() bool { return claims > 0 && strings.Contains(a.logs(), tc.logged) })
			time.Sleep(300 * time.Millisecond) // room for a claim the agent should not make
			a.stop(t)
			s.mu.Lock()
			defer s.mu.Unlock()
			if claims != 1 {
				t.Errorf("%d claims after a refusal, want the agent to wait before the next", claims)
			}
		})
	}
}

// TestSpoolHiddenFromSteps has a step try to read the spool, at each
// sandbox level this machine offers: the data folder is out of its reach.
func TestSpoolHiddenFromSteps(t *testing.T) {
	support := sandbox.NewHost(sandbox.Options{}).Support()
	for _, level := range []string{workflows.LevelProcess, workflows.LevelIsolated} {
		t.Run(level, func(t *testing.T) {
			if level == workflows.LevelProcess && support.Landlock == 0 {
				t.Skip("no Landlock on this machine: process-level steps reach the server's files")
			}
			if level == workflows.LevelIsolated && support.Isolated != nil {
				t.Skipf("no isolated level on this machine: %v", support.Isolated)
			}
			s := newProtocolServer(t)
			data := t.TempDir()
			ref := s.offer(assignment("01HIDDEN", fmt.Sprintf(`      - run: cat %s/jobs/*/assignment.json && echo READ || echo HIDDEN
`, data)))
			startAgent(t, s, data, func(c *Config) { c.SandboxDefaults.Level = level }, nil)
			s.waitFor("the job's result", func() bool { j := s.jobs[ref]; return j != nil && j.result != nil })
			s.mu.Lock()
			defer s.mu.Unlock()
			out := texts(s.jobs[ref].lines, runner.Stdout)
			if !slices.Equal(out, []string{"HIDDEN"}) {
				t.Errorf("a step read the spool: %q", out)
			}
		})
	}
}

// TestRestartEndsLeftoverProcesses starts the agent on a spool that an agent
// which died mid-job left, with a step's process that outlived it: the agent
// ends that process through the step's trace, then hands the job back with
// the line it had kept.
func TestRestartEndsLeftoverProcesses(t *testing.T) {
	leftover := exec.Command("sleep", "300")
	leftover.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := leftover.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- leftover.Wait() }()
	t.Cleanup(func() { _ = leftover.Process.Kill() })

	s := newProtocolServer(t)
	data := t.TempDir()
	asg := assignment("01LEFTOVER", "      - run: sleep 300\n")
	s.with(func() { s.jobs[asg.JobRef] = &serverJob{} }) // claimed by the agent that died
	if err := os.MkdirAll(filepath.Join(data, "jobs"), 0o700); err != nil {
		t.Fatal(err)
	}
	sp, err := createSpool(filepath.Join(data, "jobs"), &asg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.append(runner.LogLine{Step: 0, Stream: runner.System, Text: "step 1: sleep 300"}); err != nil {
		t.Fatal(err)
	}
	if err := sp.writeProcesses([]sandbox.Trace{traceOf(t, leftover.Process.Pid)}); err != nil {
		t.Fatal(err)
	}
	sp.close()

	startAgent(t, s, data, nil, nil)
	select {
	case err := <-ended:
		if err == nil {
			t.Error("the leftover process exited by itself")
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the leftover process still runs")
	}
	s.waitFor("the job handed back", func() bool { return s.jobs[asg.JobRef].released != "" })
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[asg.JobRef]
	if j.released != errRestarted.Error() || !slices.Equal(texts(j.lines, ""), []string{"step 1: sleep 300"}) {
		t.Errorf("released %q with lines %q", j.released, texts(j.lines, ""))
	}
}

// traceOf is the trace of process pid, as a step's sandbox records it.
func traceOf(t *testing.T, pid int) sandbox.Trace {
	t.Helper()
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields from the third on follow the command's closing parenthesis;
	// the start time is the 22nd.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	start, err := strconv.ParseUint(fields[22-3], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return sandbox.Trace{Boot: strings.TrimSpace(string(boot)), PID: pid, Start: start}
}

// TestDataFolderInUse starts a second agent on the data folder of one that
// runs: it refuses to, rather than report the other's jobs.
func TestDataFolderInUse(t *testing.T) {
	s := newProtocolServer(t)
	var claims int
	s.fault = func(path string) fault {
		if path == runner.AgentClaimPath {
			claims++
		}
		return noFault
	}
	data := t.TempDir()
	startAgent(t, s, data, nil, nil)
	s.waitFor("the first agent to claim", func() bool { return claims > 0 })

	second, err := New(Config{Servers: []string{s.url}, Token: s.token, DataDir: data, Actions: builtin.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	err = second.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "another agent uses the data folder") {
		t.Errorf("second agent on the same data folder: %v", err)
	}
}
