package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/hookflow/hookflow/actions/builtin"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/config"
	"github.com/hookflow/hookflow/intake"
	"github.com/hookflow/hookflow/report"
	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/postgres"
	"github.com/hookflow/hookflow/store/sqlite"
	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/web"
	"github.com/hookflow/hookflow/workflows"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", "[--config F] [--listen A] [--workflows DIR] [--data DIR] [--store DSN]", stderr)
	flags := config.BindFlags(fs)
	if _, err := parseArgs(fs, args); err != nil {
		return usageError(stderr, "serve", err)
	}
	cfg, err := flags.Load()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	app := &App{Config: *cfg, Logger: newLogger(stderr, cfg.LogLevel)}
	if err := app.Open(ctx); err != nil {
		fmt.Fprintf(stderr, "hookflow serve: %s\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "hookflow %s listening on %s (workflows %s, revision %s)\n", version, app.URL(), cfg.Workflows, app.source.Set().Revision)
	if err := app.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "hookflow serve: %s\n", err)
		return exitFail
	}
	return exitOK
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// App is a whole hookflow server: store, workflows, dispatcher, pool, cron and
// HTTP. Tests start one in-process on 127.0.0.1:0 with a temporary data folder.
type App struct {
	Config config.Config
	Logger *slog.Logger

	store      store.Store
	cluster    *cluster // nil unless other nodes share the store
	source     *triggers.Source
	dispatcher *runner.Dispatcher
	intake     *intake.Intake
	pool       *runner.Pool
	cron       *triggers.Cron
	git        *triggers.GitSource // nil when workflows come from a folder
	echo       *echo.Echo
	listener   net.Listener
	registry   *prometheus.Registry
	health     *runner.WriteHealth
	refusals   *store.RefusalLog
	reporter   *report.Reporter
	stopping   atomic.Bool
}

// Open prepares everything and starts listening; Run serves.
func (a *App) Open(ctx context.Context) error {
	c := &a.Config
	if a.Logger == nil {
		a.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	a.store = st
	a.cluster = newCluster(st, a.Logger)
	a.registry = prometheus.NewRegistry()
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := newServerMetrics(a.registry, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, _ := a.store.QueueDepth(ctx)
		return float64(n)
	})
	runMetrics := runner.NewMetrics(a.registry)

	secrets, vars := c.SecretLookup(os.LookupEnv), c.VarValues(os.Environ())
	reg := builtin.Registry()
	a.cron = triggers.NewCron(a.fireCron, a.Logger)
	files := c.WorkflowFiles(reg)
	load := func(context.Context) (*workflows.Set, error) { return files.Paths(c.Workflows.Folder) }
	if g := c.Workflows.Git; g != nil {
		a.git = triggers.NewGitSource(*g, filepath.Join(c.DataDir, "workflows-git"), a.Logger)
		load = a.git.Loader(files)
	}
	a.source, err = triggers.NewSource(ctx, load, func(set *workflows.Set) {
		m.workflowsLoaded.Set(float64(len(set.Workflows())))
		a.cron.Schedule(set)
		a.Logger.Info("workflows loaded", "count", len(set.Workflows()), "revision", set.Revision)
	}, func(err error) {
		m.reloadErrors.Inc()
		a.Logger.Error("workflow reload failed; the last good set stays active", "err", err)
	})
	if err != nil {
		st.Close()
		return fmt.Errorf("workflows:\n%w", err)
	}

	logs := runner.NewBroker()
	executor := &runner.Executor{Actions: reg, WorkspaceRoot: filepath.Join(c.DataDir, "workspaces"),
		Path: os.Getenv("PATH"), MaxLogBytes: int(c.Limits.MaxLogBytes), Logger: a.Logger,
		Sandbox: newServerSandbox(c, a.Logger), SandboxDefaults: c.Sandbox, Labels: c.Runner.Labels}
	// Runs executed here are handed their event as dispatched, not decoded
	// again from the store.
	handoff := runner.NewHandoff(runner.HandoffConfig{})
	a.pool = runner.NewPool(runner.PoolConfig{Store: st, Executor: executor, Workflows: a.source.Set, Secrets: secrets, Vars: vars, Handoff: handoff,
		Logs: logs, Metrics: runMetrics, Node: c.Node, MaxParallel: c.Limits.MaxParallelRuns,
		Lease: time.Duration(c.Limits.Lease), RecoverEvery: a.cluster.recoverEvery(time.Duration(c.Limits.Lease)),
		QueueTimeout: time.Duration(c.Limits.QueueTimeout), ShutdownGrace: time.Duration(c.ShutdownTimeout), BaseURL: strings.TrimSuffix(c.PublicURL, "/"), Logger: a.Logger})
	a.health = runner.NewWriteHealth(func(ctx context.Context) error { return st.ProbeWrite(ctx, time.Now().UTC()) }, 0, nil)
	a.dispatcher = runner.NewDispatcher(runner.DispatcherConfig{Store: st, MaxQueued: c.Limits.MaxQueuedRuns, Handoff: handoff,
		DedupWindow: time.Duration(c.Limits.DedupWindow), Secrets: secrets, Vars: vars, Notify: a.pool.Wake,
		CancelRequested: a.pool.CancelRequested, Metrics: runMetrics, Health: a.health})

	if c.Metrics.Pprof {
		// Sampled, so that profiling costs little: one mutex contention in
		// 10, and blocking events of about 100 µs or more.
		runtime.SetMutexProfileFraction(10)
		runtime.SetBlockProfileRate(int(100 * time.Microsecond))
	}
	a.echo = echo.New()
	a.echo.HideBanner, a.echo.HidePort = true, true
	// Only the connection's own address counts: X-Forwarded-For is whatever
	// the client says, and would let anyone look like a loopback client.
	a.echo.IPExtractor = echo.ExtractIPDirect()
	a.intake = &intake.Intake{Workflows: a.source.Set, Commit: a.dispatcher, Secrets: secrets, Vars: vars}
	srv := &api.Server{Store: st, Workflows: a.source, Intake: a.intake, Runs: runControl{a.dispatcher, a.pool}, Logs: logs,
		Gatherer: a.registry, PublicMetrics: c.Metrics.Public, Pprof: c.Metrics.Pprof, Tokens: c.API.Tokens, Ready: a.ready, Logger: a.Logger,
		AgentJobs: a.pool, AgentLease: time.Duration(c.Limits.Lease), Secrets: secrets, Vars: vars}
	srv.Register(a.echo)
	a.registry.MustRegister(api.NewAgentMetrics(st, a.Logger))
	// Agents' claims wait up to a minute for a job: a shutdown ends them.
	a.echo.Server.RegisterOnShutdown(srv.EndClaims)
	web.New(srv, nil).Register(a.echo)
	a.refusals = store.NewRefusalLog(st, store.RefusalLogOptions{Keep: c.Limits.MaxRefused,
		MaxAge: time.Duration(c.Limits.RefusedRetention)}, a.Logger)
	a.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hookflow_refused_dropped_total",
		Help: "Refused webhook deliveries not recorded because too many came at once."},
		func() float64 { return float64(a.refusals.Dropped()) }))
	hooks := &triggers.Webhooks{Intake: a.intake, WaitRun: a.waitRun,
		MaxBody: int64(c.Limits.MaxBody), MaxMatching: c.Limits.MaxMatching, Rate: c.Limits.Rate,
		Stopping: a.stopping.Load, Logger: a.Logger, Refusals: a.refusals}
	hooks.SetMetrics(a.registry)
	hooks.Register(a.echo)
	a.echo.Server.ReadHeaderTimeout = time.Duration(c.Limits.ReadHeaderTimeout)
	a.echo.Server.ReadTimeout = time.Minute
	a.echo.Server.IdleTimeout = 2 * time.Minute

	a.listener, err = net.Listen("tcp", c.Listen)
	if err != nil {
		st.Close()
		return fmt.Errorf("listen: %w", err)
	}
	if c.PublicURL == "" {
		a.Config.PublicURL = a.URL()
	}
	smtp, err := smtpOf(c.NotifySMTP)
	if err != nil {
		a.listener.Close()
		st.Close()
		return err
	}
	a.reporter = &report.Reporter{Store: st, Node: c.Node, BaseURL: strings.TrimSuffix(a.Config.PublicURL, "/"),
		Secrets: secrets, Vars: vars, SMTP: smtp, Logger: a.Logger, Metrics: report.NewMetrics(a.registry),
		View: func(ctx context.Context, r *store.Run) (any, error) { return api.ViewRunJobs(ctx, a.store, r) }}
	return nil
}

// smtpOf is notify_smtp as the reporter takes it; nil when unset.
func smtpOf(c config.SMTPConfig) (*report.SMTP, error) {
	if c.Host == "" {
		return nil, nil
	}
	s := &report.SMTP{Host: c.Host, Port: c.Port, Username: c.Username, Password: c.Password, From: c.From,
		StartTLS: *c.StartTLS}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("notify_smtp ca_file: %w", err)
		}
		s.RootCAs = x509.NewCertPool()
		if !s.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("notify_smtp ca_file %s: no PEM certificate in it", c.CAFile)
		}
	}
	return s, nil
}

// URL is where the server answers.
func (a *App) URL() string {
	scheme := "http"
	if a.Config.TLS.Cert != "" {
		scheme = "https"
	}
	return scheme + "://" + a.listener.Addr().String()
}

// Run serves until ctx is done, then shuts down gracefully (SPEC §5): it stops
// accepting (503), lets running runs finish up to the shutdown timeout, then
// cancels them as interrupted.
func (a *App) Run(ctx context.Context) error {
	dispatchCtx, stopDispatch := context.WithCancel(context.WithoutCancel(ctx))
	poolCtx, stopPool := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a.dispatcher.Run(dispatchCtx) }()
	poolErr := make(chan error, 1)
	go func() { defer wg.Done(); poolErr <- a.pool.Run(poolCtx) }()
	a.cron.Start()
	if a.cluster != nil {
		wg.Add(1)
		go func() { defer wg.Done(); a.cluster.run(dispatchCtx, a.pool.Wake) }()
	}
	go a.prune(dispatchCtx)
	wg.Add(1)
	go func() { defer wg.Done(); a.reporter.Run(dispatchCtx) }()
	wg.Add(1)
	go func() { defer wg.Done(); a.refusals.Run(dispatchCtx) }()
	go a.watchWorkflows(dispatchCtx)

	serveErr := make(chan error, 1)
	go func() {
		a.echo.Server.Handler = a.echo
		var err error
		if a.Config.TLS.Cert != "" {
			err = a.echo.Server.ServeTLS(a.listener, a.Config.TLS.Cert, a.Config.TLS.Key)
		} else {
			err = a.echo.Server.Serve(a.listener)
		}
		serveErr <- err
	}()

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	case err = <-poolErr:
		err = fmt.Errorf("run pool: %w", err)
	}
	a.Logger.Info("shutting down")
	a.stopping.Store(true)
	a.cron.Stop()
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if serr := a.echo.Server.Shutdown(shutCtx); serr != nil {
		a.Logger.Warn("http shutdown", "err", serr)
	}
	stopDispatch()
	stopPool()
	wg.Wait()
	if cerr := a.store.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// watchWorkflows reloads the workflow set when its source changes: a folder
// on every change (debounced), a git repository at every poll.
func (a *App) watchWorkflows(ctx context.Context) {
	if a.git != nil {
		a.git.Poll(ctx, a.source.Reload)
		return
	}
	reload := func(ctx context.Context) error {
		// Errors are reported by the source's callback; the watch goes on.
		a.source.Reload(ctx)
		return nil
	}
	if err := triggers.WatchFolder(ctx, a.Config.Workflows.Folder, 0, reload, a.Logger); err != nil {
		a.Logger.Error("cannot watch the workflows folder; reload it with POST /api/v1/workflows/reload", "err", err)
	}
}

// waitRun polls a run until it has finished, for `respond: sync` webhooks.
// When ctx ends first, it answers with the run as it is then, and ctx's error.
func (a *App) waitRun(ctx context.Context, id string) (string, any, error) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		r, err := a.store.GetRun(ctx, id)
		switch {
		case ctx.Err() != nil:
			return a.runNow(ctx, id)
		case err != nil:
			return "", nil, err
		case api.Finished(r.Status):
			v, err := api.ViewRunJobs(ctx, a.store, r)
			if err != nil {
				return "", nil, err
			}
			return r.Status, v, nil
		}
		select {
		case <-ctx.Done():
			return a.runNow(ctx, id)
		case <-t.C:
		}
	}
}

// runNow reads a run after ctx has ended, with a short time of its own.
func (a *App) runNow(ctx context.Context, id string) (string, any, error) {
	last, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	r, err := a.store.GetRun(last, id)
	if err != nil {
		return "", nil, errors.Join(ctx.Err(), err)
	}
	v, err := api.ViewRunJobs(last, a.store, r)
	if err != nil {
		return "", nil, errors.Join(ctx.Err(), err)
	}
	return r.Status, v, ctx.Err()
}

// ready is /readyz: the store answers, its last write did not fail (or it
// can write again), and the server is not stopping.
func (a *App) ready(ctx context.Context) error {
	if a.stopping.Load() {
		return errors.New("shutting down")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := a.store.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := a.health.Check(ctx); err != nil {
		return fmt.Errorf("store cannot write: %w", err)
	}
	return nil
}

// fireCron starts one tick of a workflow's schedule. Of several nodes, only
// the cron leader fires; the tick's dedup key makes it fire once even if two
// nodes schedule it.
func (a *App) fireCron(tick *intake.Tick) {
	if a.stopping.Load() || !a.cluster.leadsCron() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, _, err := a.intake.Accept(ctx, tick); err != nil {
		a.Logger.Error("cron dispatch", "workflow", tick.Workflow.Name, "err", err)
	}
}

// runControl is what the API does to runs beyond the store: queue a rerun
// through the dispatcher, stop a run this process executes.
type runControl struct {
	*runner.Dispatcher
	*runner.Pool
}

// prune deletes what is older than the retention, once an hour.
func (a *App) prune(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		now := time.Now().UTC()
		if err := a.store.Prune(ctx, now.Add(-time.Duration(a.Config.Retention)), now); err != nil && ctx.Err() == nil {
			a.Logger.Error("prune", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// openStore opens the store the DSN names.
func openStore(ctx context.Context, c *config.Config) (store.Store, error) {
	if config.IsPostgres(c.Store) {
		st, err := postgres.Open(ctx, c.Store, postgres.Options{})
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		return st, nil
	}
	path, ok := strings.CutPrefix(c.Store, "sqlite://")
	if !ok {
		return nil, fmt.Errorf("store %q: use sqlite://FILE or postgres://…", c.Store)
	}
	st, err := sqlite.Open(ctx, path, sqlite.Options{Durability: c.Durability})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return st, nil
}
