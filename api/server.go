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

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/workflows"
)

// Server holds what the API handlers need. Set every field, then Register.
type Server struct {
	Store      store.Store
	Source     *triggers.Source
	Dispatcher *runner.Dispatcher
	Pool       *runner.Pool
	Logs       *runner.Broker
	Gatherer   prometheus.Gatherer
	// PublicMetrics answers /metrics to every client, without a token, for a
	// Prometheus on another host; otherwise /metrics has the API's access rule.
	PublicMetrics bool
	// Tokens are the accepted bearer tokens; with none, only loopback clients
	// are answered.
	Tokens []string
	// Ready reports whether the server can take work (store reachable, not
	// shutting down).
	Ready func(ctx context.Context) error
	// Match decides what a delivery would start; shared with the webhook
	// endpoint so that both give the same verdicts.
	Match  func(ctx context.Context, req MatchRequest) (*workflows.Event, []workflows.Verdict, error)
	Logger *slog.Logger
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
	g.POST("/events/:id/replay", s.replay)
	g.POST("/match", s.match)
}

func (s *Server) readyz(c echo.Context) error {
	if err := s.Ready(c.Request().Context()); err != nil {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// Authorize is the API's access rule (SPEC §8), as echo middleware: a bearer
// token from the configured list, or, with no token configured, a loopback
// client. Tokens are compared in constant time.
func (s *Server) Authorize(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if len(s.Tokens) == 0 {
			// The Host must be loopback too, so that a DNS name rebound to
			// 127.0.0.1 cannot let a web page read the API.
			if ip := net.ParseIP(c.RealIP()); ip == nil || !ip.IsLoopback() || !LoopbackHost(c.Request().Host) {
				return c.JSON(http.StatusForbidden, errorBody("the API answers only loopback clients when no api token is configured"))
			}
			return next(c)
		}
		if !s.tokenOK(bearer(c.Request())) {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="hookflow"`)
			return c.JSON(http.StatusUnauthorized, errorBody("missing or invalid token"))
		}
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

// tokenOK compares against every token, so that the time taken does not tell
// which one nearly matched.
func (s *Server) tokenOK(got string) bool {
	ok := 0
	for _, t := range s.Tokens {
		ok |= subtle.ConstantTimeCompare([]byte(got), []byte(t))
	}
	return ok == 1 && got != ""
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
		case workflows.EInvalid:
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
