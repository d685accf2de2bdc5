// Package agent is `hookflow agent` (SPEC §12): a runner on another host
// than the servers. It has no store and no inbound port: it connects out to
// any of the servers, long-polls for jobs whose labels it has, runs them as
// a server would (same actions, sandbox levels, masking, log capture),
// reports their lines, steps and results, and renews their leases.
//
// What it must still report lives in a spool under its data folder until
// the server has it, so that a server that restarts, a network cut or the
// agent's own restart loses none of a job's lines or result, and delivers
// none twice: lines are sent by their index, and a result or a release is
// recorded once per attempt.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/runner/sandbox"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// Config configures an Agent.
type Config struct {
	// Servers are the URLs of the server nodes, any of which answers; the
	// agent moves to the next when one cannot be reached.
	Servers []string
	// Token is the agent's token, sent as a bearer token. It is never
	// logged.
	Token string
	// Name, when set, is the name the token was registered with; the
	// server refuses the token under another.
	Name string
	// Labels are those the agent offers; empty offers all it was
	// registered with.
	Labels []string
	// Parallel is how many jobs run at once; 0 means 1.
	Parallel int
	// DataDir holds the spool (jobs/) and the jobs' workspaces
	// (workspaces/).
	DataDir string

	// Actions are the kinds `uses:` steps may name.
	Actions *actions.Registry
	// Sandbox confines the processes of `run:` steps; it must protect
	// DataDir, the token and the agent's other files. Nil makes one that
	// protects DataDir.
	Sandbox *sandbox.Host
	// SandboxDefaults is the agent's `sandbox:`, which workflows and steps
	// override; an empty level means process.
	SandboxDefaults workflows.Sandbox
	// Path is the PATH given to step processes; empty means
	// runner.DefaultPath.
	Path string

	// ShutdownTimeout is how long running jobs may go on once Run's context
	// ends before they are cancelled and handed back; 0 means 30s.
	ShutdownTimeout time.Duration
	// Version is sent with claims and renewals.
	Version string
	Logger  *slog.Logger
	// HTTP makes the requests; nil means a client that trusts the system's
	// roots. Its Timeout should be zero: the agent bounds each request.
	HTTP *http.Client
}

// Agent runs jobs for the servers of Config. Run runs it once.
type Agent struct {
	cfg      Config
	log      *slog.Logger
	conn     *conn
	executor *runner.Executor
	jobsDir  string
	// minBackoff and maxBackoff bound the waits between failed attempts.
	minBackoff, maxBackoff time.Duration
	// deliverGrace bounds how long a stopping agent goes on delivering
	// what its jobs left.
	deliverGrace time.Duration

	mu   sync.Mutex
	held map[store.JobRef]*heldJob
	// heldChanged is signalled when a job is held anew, for the renewer.
	heldChanged chan struct{}
	// stopJobs cancels every running job, as the agent stops.
	stopJobs context.CancelCauseFunc
	jobsCtx  context.Context
}

// Defaults.
const (
	defaultShutdownTimeout = 30 * time.Second
	defaultDeliverGrace    = 10 * time.Second
	// claimWait is how long the server may hold a claim.
	claimWait = 25
	// minClaimEvery spaces claims that the server answers at once.
	minClaimEvery = time.Second
)

// Reasons given to the server for a job handed back.
var (
	errStopping  = errors.New("the agent is stopping")
	errRestarted = errors.New("the agent restarted")
)

// New checks cfg and returns the agent it configures.
func New(cfg Config) (*Agent, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("agent: name a server")
	}
	servers := make([]string, len(cfg.Servers))
	for i, s := range cfg.Servers {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("agent: server %q: write a URL such as https://hookflow.example.com", s)
		}
		servers[i] = strings.TrimRight(s, "/")
	}
	if cfg.Token == "" {
		return nil, errors.New("agent: the token is empty")
	}
	if cfg.Actions == nil {
		return nil, errors.New("agent: no actions")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("agent: name a data folder")
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("agent: data folder: %w", err)
	}
	cfg.DataDir = dir
	if cfg.Parallel <= 0 {
		cfg.Parallel = 1
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = defaultShutdownTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{}
	}
	if cfg.Sandbox == nil {
		cfg.Sandbox = sandbox.NewHost(sandbox.Options{Protected: []string{cfg.DataDir}})
	}
	a := &Agent{cfg: cfg, log: cfg.Logger, jobsDir: filepath.Join(dir, "jobs"),
		minBackoff: minBackoff, maxBackoff: maxBackoff, deliverGrace: defaultDeliverGrace,
		held: map[store.JobRef]*heldJob{}, heldChanged: make(chan struct{}, 1)}
	a.conn = &conn{servers: servers, token: cfg.Token, agent: "hookflow-agent/" + cfg.Version, http: cfg.HTTP}
	a.executor = &runner.Executor{Actions: cfg.Actions, WorkspaceRoot: filepath.Join(dir, "workspaces"), Path: cfg.Path,
		Sandbox: cfg.Sandbox, SandboxDefaults: cfg.SandboxDefaults, Logger: cfg.Logger}
	return a, nil
}

func (a *Agent) backoff() *backoff { return &backoff{min: a.minBackoff, max: a.maxBackoff} }

// Run first reports what an earlier life of the agent left in the spool,
// then claims and runs jobs until ctx ends. Then it stops gracefully: it
// claims no more, lets running jobs go on for the shutdown timeout, then
// cancels them and hands them back to the server, delivers for a short
// while what can be delivered, and returns. What could not be delivered
// stays in the spool for the next start.
func (a *Agent) Run(ctx context.Context) error {
	if err := os.MkdirAll(a.jobsDir, 0o700); err != nil {
		return fmt.Errorf("agent: spool: %w", err)
	}
	lock, err := lockDataDir(a.cfg.DataDir)
	if err != nil {
		return err
	}
	defer lock.Close()
	a.jobsCtx, a.stopJobs = context.WithCancelCause(context.WithoutCancel(ctx))
	defer a.stopJobs(nil)
	deliverCtx, stopDelivery := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDelivery()

	var renewer, executing, reporting sync.WaitGroup
	renewer.Go(func() { a.renew(deliverCtx) })
	for _, left := range a.leftovers() {
		reporting.Go(func() { a.conclude(deliverCtx, left.job, left.result, errRestarted.Error()) })
	}
	for range a.cfg.Parallel {
		executing.Go(func() { a.claimJobs(ctx, deliverCtx, &reporting) })
	}

	<-ctx.Done()
	a.log.Info("agent stopping: no more claims; running jobs may finish", "timeout", a.cfg.ShutdownTimeout)
	if !waitFor(&executing, a.cfg.ShutdownTimeout) {
		a.stopJobs(errStopping)
		executing.Wait()
	}
	if !waitFor(&reporting, a.deliverGrace) {
		stopDelivery()
		reporting.Wait()
	}
	stopDelivery()
	renewer.Wait()
	return nil
}

// lockDataDir keeps other agents out of dir while the returned file is
// open: two agents on one spool would report each other's jobs, and end each
// other's processes.
func lockDataDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "agent.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("agent: lock the data folder: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("agent: another agent uses the data folder %s", dir)
		}
		return nil, fmt.Errorf("agent: lock the data folder: %w", err)
	}
	return f, nil
}

// sleep waits for d, or until ctx ends; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// waitFor waits for wg, at most d; false when d passed first.
func waitFor(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// leftJob is a job an earlier life of the agent left in the spool.
type leftJob struct {
	job *heldJob
	// result is nil when the job did not end: it is handed back.
	result *runner.Result
}

// leftovers reads the spool that an earlier life of the agent left, ends what
// is left of the processes of the jobs it was running, and returns the jobs
// whose lines and result, or release, are still to be reported.
func (a *Agent) leftovers() []leftJob {
	entries, err := os.ReadDir(a.jobsDir)
	if err != nil {
		a.log.Error("read the spool", "err", err)
		return nil
	}
	var left []leftJob
	for _, e := range entries {
		dir := filepath.Join(a.jobsDir, e.Name())
		if !e.IsDir() {
			continue
		}
		sp, asg, err := openSpool(dir)
		if err != nil {
			// Not even its claim was kept whole: nothing can be said of it.
			a.log.Warn("remove a job's spool that cannot be read", "spool", dir, "err", err)
			_ = os.RemoveAll(dir)
			continue
		}
		j := newHeldJob(asg.JobRef, asg.Lease(), sp, a.log)
		for _, tr := range sp.processes() {
			found, err := tr.Kill()
			if found {
				j.log.Warn("killed the processes a step left running", "pid", tr.PID)
			}
			if err != nil {
				j.log.Error("end the processes a step left running", "err", err)
			}
		}
		_ = sp.writeProcesses(nil)
		res, err := sp.result()
		if err != nil {
			j.log.Warn("the job's result cannot be read: it is handed back", "err", err)
		}
		if res != nil {
			j.log.Info("reporting a job that ended before the agent restarted", "status", res.Status, "unsent_lines", sp.unsent())
		} else {
			j.log.Info("handing back a job the agent was running as it stopped", "unsent_lines", sp.unsent())
		}
		a.hold(j)
		left = append(left, leftJob{job: j, result: res})
	}
	return left
}

// claimJobs is one of the agent's Parallel workers: it claims a job, runs
// it, and claims the next, until ctx ends. Each job's report goes on in
// reporting, with deliverCtx.
func (a *Agent) claimJobs(ctx, deliverCtx context.Context, reporting *sync.WaitGroup) {
	b := a.backoff()
	for ctx.Err() == nil {
		var asg runner.Assignment
		asked := time.Now()
		status, err := a.conn.post(ctx, runner.AgentClaimPath, runner.ClaimRequest{Labels: a.cfg.Labels, Name: a.cfg.Name,
			Version: a.cfg.Version, WaitSeconds: claimWait}, &asg, claimWait*time.Second+claimSlack)
		switch {
		case err == nil && status == http.StatusOK && asg.Run != "" && asg.JobRef.Job != "" && asg.Attempt > 0:
			// Granted: run, or handed back by execute if the agent is
			// stopping meanwhile.
		case ctx.Err() != nil:
			return
		case err != nil:
			a.logFailure(a.log, "claim a job", err)
			b.wait(ctx)
			continue
		case status == http.StatusNoContent:
			b.reset()
			// A server that does not hold claims is not asked more
			// than once a second.
			if d := time.Until(asked.Add(minClaimEvery)); d > 0 {
				sleep(ctx, d)
			}
			continue
		case asg.Run == "" || asg.JobRef.Job == "" || asg.Attempt <= 0:
			a.log.Error("claim a job: the server's assignment names no job", "run", asg.Run, "job", asg.JobRef.Job, "attempt", asg.Attempt)
			b.wait(ctx)
			continue
		}
		b.reset()
		a.execute(ctx, deliverCtx, &asg, reporting)
	}
}

// execute runs a claimed job and starts its report.
func (a *Agent) execute(ctx, deliverCtx context.Context, asg *runner.Assignment, reporting *sync.WaitGroup) {
	log := a.log.With("run", asg.Run, "job", asg.JobRef.Job, "attempt", asg.Attempt)
	sp, err := createSpool(a.jobsDir, asg)
	if err != nil {
		log.Error("keep a claimed job in the spool: it is handed back", "err", err)
		reason := "the agent cannot keep the job in its spool"
		_, err := a.conn.post(deliverCtx, runner.AgentReleasePath, runner.ReleaseRequest{JobRef: asg.JobRef, Reason: reason}, nil, requestTimeout)
		if err != nil {
			log.Warn("hand back the job", "err", err)
		}
		return
	}
	j := newHeldJob(asg.JobRef, asg.Lease(), sp, a.log)
	jobCtx, cancel := context.WithCancelCause(a.jobsCtx)
	defer cancel(nil)
	j.cancel = cancel
	a.hold(j)
	if ctx.Err() != nil {
		// Claimed as the agent began to stop.
		reporting.Go(func() { a.conclude(deliverCtx, j, nil, errStopping.Error()) })
		return
	}
	log.Info("claimed job", "workflow", asg.Workflow, "runner", asg.Runner)

	sendCtx, stopSending := context.WithCancel(deliverCtx)
	var sending sync.WaitGroup
	sending.Go(func() { a.sender(sendCtx, j) })
	var res runner.Result
	job, err := asg.Job(a.cfg.Actions, asg.Runner)
	if err != nil {
		now := time.Now()
		res = runner.Result{Status: workflows.StatusFailed, Reason: err.Error(), Steps: []runner.StepResult{}, StartedAt: now, FinishedAt: now}
	} else {
		res = a.executor.Execute(jobCtx, job, j)
	}
	stopSending()
	sending.Wait()

	switch {
	case j.dropped.Load():
		reporting.Go(func() { a.conclude(deliverCtx, j, nil, "") })
	case res.Status == workflows.StatusCancelled && errors.Is(context.Cause(jobCtx), errStopping):
		// Stopped by the agent's shutdown: another runner may do it. A
		// job that ended before the stop reached it is reported.
		reporting.Go(func() { a.conclude(deliverCtx, j, nil, errStopping.Error()) })
	default:
		if err := sp.writeResult(&res); err != nil {
			log.Error("keep the job's result in the spool", "err", err)
		}
		reporting.Go(func() { a.conclude(deliverCtx, j, &res, "") })
	}
}

// hold adds j to the jobs whose leases the agent renews.
func (a *Agent) hold(j *heldJob) {
	a.mu.Lock()
	a.held[j.ref] = j
	a.mu.Unlock()
	select {
	case a.heldChanged <- struct{}{}:
	default:
	}
}

// unhold forgets j.
func (a *Agent) unhold(j *heldJob) {
	a.mu.Lock()
	if a.held[j.ref] == j {
		delete(a.held, j.ref)
	}
	a.mu.Unlock()
}

// holding returns the jobs held, and the shortest of their leases.
func (a *Agent) holding() ([]store.JobRef, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	refs := make([]store.JobRef, 0, len(a.held))
	var lease time.Duration
	for ref, j := range a.held {
		if j.dropped.Load() {
			continue
		}
		refs = append(refs, ref)
		if lease == 0 || j.lease < lease {
			lease = j.lease
		}
	}
	return refs, lease
}

// renew renews the leases of the jobs held every third of a lease, and
// stops the jobs the server says to stop, until ctx ends.
func (a *Agent) renew(ctx context.Context) {
	for {
		_, lease := a.holding()
		if lease == 0 {
			select {
			case <-ctx.Done():
				return
			case <-a.heldChanged:
				continue
			}
		}
		t := time.NewTimer(lease / 3)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		refs, _ := a.holding()
		if len(refs) == 0 {
			continue
		}
		var resp runner.RenewResponse
		_, err := a.conn.post(ctx, runner.AgentRenewPath, runner.RenewRequest{Jobs: refs, Version: a.cfg.Version}, &resp, requestTimeout)
		if err != nil {
			if ctx.Err() == nil {
				a.logFailure(a.log, "renew the leases of the jobs held", err)
			}
			if refused(err) {
				// The token was removed: nothing the jobs do can be
				// reported, and their leases will lapse; stop them.
				for _, ref := range refs {
					a.stopJob(store.JobStop{JobRef: ref, Reason: "the server refused the agent's token", Gone: true})
				}
			}
			continue
		}
		for _, s := range resp.Stop {
			a.stopJob(s)
		}
	}
}

// stopJob does what the server said of a job held.
func (a *Agent) stopJob(s store.JobStop) {
	a.mu.Lock()
	j := a.held[s.JobRef]
	a.mu.Unlock()
	if j == nil {
		return
	}
	reason := s.Reason
	if reason == "" {
		reason = "cancelled"
	}
	if s.Gone {
		j.drop(fmt.Errorf("%w: %s", errDropped, reason))
		return
	}
	if j.cancel != nil && !j.stopped.Swap(true) {
		j.log.Info("the server stops the job", "reason", reason)
		j.cancel(errors.New(reason))
	}
}
