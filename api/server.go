// Package api is hookflow's management API (SPEC §8): workflows, runs with their
// logs, events with their verdicts, dispatch, replay and match, plus the health
// and metrics endpoints. Handlers translate HTTP to the runner and store, and
// domain error codes to statuses; nothing else happens here.
package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hookflow/hookflow/intake"
	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/workflows"
)

// Workflows is the active workflow set and where it comes from. Its methods
// are safe for concurrent use.
type Workflows interface {
	// Set returns the active set; it never returns nil.
	Set() *workflows.Set
	// Status describes the last load, good or not.
	Status() triggers.SourceStatus
	// Reload loads the set again; on an error the last good set stays
	// active and the error says what is wrong with the new one.
	Reload(ctx context.Context) error
}

// Intake decides what an event starts (intake.Intake). Accept stores it with
// its runs and returns once that is durable; Explain stores nothing. Both are
// safe for concurrent use; their errors are *workflows.Error with a code.
type Intake interface {
	Accept(ctx context.Context, e intake.Entry) (*intake.Decision, *workflows.Receipt, error)
	Explain(ctx context.Context, e intake.Entry) (*intake.Decision, error)
}

// Runs acts on runs beyond what the store records: it queues a new attempt
// through the same commit and queue rules as a dispatch (an error with code
// EOverloaded when the queue is full), and stops at once a run this process
// executes. Both are safe for concurrent use.
type Runs interface {
	// Rerun queues a new attempt of old, of workflow w as loaded now, for
	// old's event and item, and returns it.
	Rerun(ctx context.Context, old *store.Run, w *workflows.Workflow) (*store.Run, error)
	// Cancel stops run id if it executes here, for cause, and reports
	// whether it did (another node hears of the cancel through the store).
	Cancel(id string, cause error) bool
}

// LogFeed hands out the live log lines of running runs.
type LogFeed interface {
	// Subscribe follows run id's lines until the run ends or the
	// subscription is closed.
	Subscribe(id string) *runner.Subscription
}

// Server holds what the API handlers need. Set every field, then Register.
type Server struct {
	Store     store.Store
	Workflows Workflows
	Intake    Intake
	Runs      Runs
	Logs      LogFeed
	Gatherer  prometheus.Gatherer
	// PublicMetrics answers /metrics to every client, without a token, for a
	// Prometheus on another host; otherwise /metrics has the API's access rule.
	PublicMetrics bool
	// Pprof serves the runtime profiles under /debug/pprof/ (authorized).
	Pprof bool
	// Tokens are the accepted bearer tokens; with none, only loopback clients
	// are answered.
	Tokens []string
	// Ready reports whether the server can take work (store reachable, not
	// shutting down).
	Ready func(ctx context.Context) error

	// The agent protocol (SPEC §12):
	// AgentJobs is this process's side of jobs run on other hosts.
	AgentJobs AgentJobs
	// AgentLease is how long an agent's claim lasts without a renewal.
	AgentLease time.Duration
	// Secrets returns the values of the named secrets that the server has,
	// for the job an agent claims.
	Secrets func(names []string) map[string]string
	// Vars are the configuration variables, sent with every job to its agent.
	Vars map[string]string

	Logger *slog.Logger

	agentOnce sync.Once
	agentSt   *agentState
}

// AgentJobs is what the agent protocol needs of this process beyond the
// store. Both methods are safe for concurrent use and never block.
type AgentJobs interface {
	// Offered returns a channel that is closed when this process next offers
	// a job to runners on other hosts: a waiting claim looks again at once.
	// (Jobs offered by other nodes are found by polling.)
	Offered() <-chan struct{}
	// Reported tells the process that a job of run runID was reported on
	// (progress, result, release), so that, if it executes the run, it looks
	// at once rather than at its next poll.
	Reported(runID string)
}

// Register adds the API routes to e.
func (s *Server) Register(e *echo.Echo) {
	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/readyz", s.readyz)
	metrics := echo.WrapHandler(promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{}))
	if s.PublicMetrics {
		e.GET("/metrics", metrics)
	} else {
		e.GET("/metrics", metrics, s.Authorize)
	}
	if s.Pprof {
		registerPprof(e, s.Authorize)
	}

	// A browser page on another site must not be able to make the operator's
	// browser call the API (with its cookie, or as a loopback client):
	// cross-origin requests that change anything are refused. Clients that
	// are not browsers send no Origin or Sec-Fetch-Site and are unaffected.
	csrf := http.NewCrossOriginProtection()
	sameOrigin := echo.WrapMiddleware(csrf.Handler)
	g := e.Group("/api/v1", sameOrigin, s.Authorize)
	g.GET("/workflows", s.listWorkflows)
	g.GET("/workflows/:name", s.getWorkflow)
	g.POST("/workflows/:name/dispatch", s.dispatch)
	g.POST("/workflows/reload", s.reload)
	g.GET("/runs", s.listRuns)
	g.GET("/runs/:id", s.getRun)
	g.GET("/runs/:id/logs", s.runLogs)
	g.POST("/runs/:id/cancel", s.cancelRun)
	g.POST("/runs/:id/rerun", s.rerun)
	g.GET("/events", s.listEvents)
	g.GET("/events/:id", s.getEvent)
	g.GET("/events/refused/:id", s.getRefused)
	g.POST("/events/:id/replay", s.replay)
	g.POST("/match", s.match)
	g.GET("/agents", s.listAgents)
	g.POST("/agents", s.addAgent)
	g.DELETE("/agents/:name", s.removeAgent)

	s.registerAgentProtocol(e)
}

func (s *Server) readyz(c echo.Context) error {
	if err := s.Ready(c.Request().Context()); err != nil {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// Authorize is the API's access rule (SPEC §8), as echo middleware: a bearer
// token from the configured list, or, with no token configured, a loopback
// client. Tokens are compared in constant time. An agent token is refused
// whoever presents it.
func (s *Server) Authorize(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if HasAgentToken(c.Request()) {
			return c.JSON(http.StatusUnauthorized, errorBody(errAgentTokenHere))
		}
		if len(s.Tokens) == 0 {
			// The Host must be loopback too, so that a DNS name rebound to
			// 127.0.0.1 cannot let a web page read the API.
			if ip := net.ParseIP(c.RealIP()); ip == nil || !ip.IsLoopback() || !LoopbackHost(c.Request().Host) {
				return c.JSON(http.StatusForbidden, errorBody("the API answers only loopback clients when no api token is configured"))
			}
			return next(c)
		}
		i := s.tokenIndex(bearer(c.Request()))
		if i == 0 {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="hookflow"`)
			return c.JSON(http.StatusUnauthorized, errorBody("missing or invalid token"))
		}
		c.Set(tokenIndexKey, i)
		return next(c)
	}
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		return c.Value
	}
	return ""
}

// SessionCookie is the cookie the web UI keeps the token in.
const SessionCookie = "hookflow_token"

// tokenIndex is the place (from 1) in Tokens of got, or 0 when it is none of
// them. It compares against every token, so that the time taken does not
// tell which one nearly matched, or which one matched.
func (s *Server) tokenIndex(got string) int {
	found := 0
	for i, t := range s.Tokens {
		eq := subtle.ConstantTimeCompare([]byte(got), []byte(t))
		found = subtle.ConstantTimeSelect(eq, i+1, found)
	}
	if got == "" {
		return 0
	}
	return found
}

func errorBody(msg string) map[string]string { return map[string]string{"error": msg} }

// fail answers err with the status its domain code calls for.
func (s *Server) fail(c echo.Context, err error) error {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, store.ErrNotFound):
		status = http.StatusNotFound
	default:
		switch workflows.ErrorCode(err) {
		case workflows.EInvalid, workflows.ENotAllowed:
			status = http.StatusUnprocessableEntity
		case workflows.ENotFound:
			status = http.StatusNotFound
		case workflows.EConflict:
			status = http.StatusConflict
		case workflows.EUnauthorized:
			status = http.StatusUnauthorized
		case workflows.EOverloaded:
			c.Response().Header().Set("Retry-After", "5")
			status = http.StatusTooManyRequests
		case workflows.EUnavailable:
			c.Response().Header().Set("Retry-After", "5")
			status = http.StatusServiceUnavailable
		}
	}
	msg := err.Error()
	if status == http.StatusInternalServerError {
		s.Logger.Error("api", "path", c.Path(), "err", err)
		msg = "internal error"
	}
	return c.JSON(status, errorBody(msg))
}

// badRequest is a 400 for a body or query the API cannot read.
func badRequest(c echo.Context, msg string) error {
	return c.JSON(http.StatusBadRequest, errorBody(msg))
}

// LoopbackHost reports whether a Host header names this machine's loopback
// interface: localhost, 127.x.y.z or ::1, with or without a port.
func LoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
