package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// The agent protocol (SPEC §12): a runner on another host claims jobs,
// renews its lease on them, and reports their logs and results, under
// /api/v1/agent/ with a token of its own. That token opens nothing else, and
// an API token does not open these routes.

// Agent tokens are "hfa_" + a token id (16 hex digits, by which the store
// finds the agent) + "_" + a secret (32 random bytes, base64url), of which
// the store keeps only the SHA-256.
const (
	agentTokenPrefix = "hfa_"
	agentTokenIDLen  = 16
)

// NewAgentToken returns a new agent token, its id, and the hash of its secret
// for the store.
func NewAgentToken() (token, tokenID string, hash []byte) {
	id := make([]byte, agentTokenIDLen/2)
	secret := make([]byte, 32)
	rand.Read(id)
	rand.Read(secret)
	tokenID = hex.EncodeToString(id)
	s := base64.RawURLEncoding.EncodeToString(secret)
	return agentTokenPrefix + tokenID + "_" + s, tokenID, secretHash(s)
}

func secretHash(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// parseAgentToken splits a token into its id and secret.
func parseAgentToken(token string) (tokenID, secret string, ok bool) {
	rest, ok := strings.CutPrefix(token, agentTokenPrefix)
	if !ok || len(rest) < agentTokenIDLen+2 || rest[agentTokenIDLen] != '_' {
		return "", "", false
	}
	tokenID, secret = rest[:agentTokenIDLen], rest[agentTokenIDLen+1:]
	if _, err := hex.DecodeString(tokenID); err != nil {
		return "", "", false
	}
	return tokenID, secret, true
}

// HasAgentToken reports whether r presents an agent token, which only the
// agent protocol accepts: the management API, the metrics and the UI refuse
// it, even where they would answer a client without a token.
func HasAgentToken(r *http.Request) bool { return strings.HasPrefix(bearer(r), agentTokenPrefix) }

// errAgentTokenHere is the answer to an agent token anywhere but the agent
// protocol.
const errAgentTokenHere = "agent tokens may only use /api/v1/agent/"

// Bounds of the agent protocol's request bodies: progress carries log lines.
const (
	maxProgressBody = 8 << 20
	maxAgentBody    = 1 << 20
)

// Claims wait for a job at most maxClaimWait, defaultClaimWait unless the
// agent asks otherwise, looking at the store every claimPoll for jobs
// offered by other nodes (this node's offers wake them at once).
const (
	maxClaimWait     = 60 * time.Second
	defaultClaimWait = 25 * time.Second
	claimPoll        = 500 * time.Millisecond
)

// seenEvery is how often an agent's last_seen is written at most, per
// process: often enough to stay within agentOnlineWithin.
const seenEvery = 10 * time.Second

// agentState is what the agent protocol keeps in this process: when each
// agent was last recorded as seen, and whether claims must end because the
// server stops.
type agentState struct {
	mu       sync.Mutex
	seen     map[string]seenMark
	stopping chan struct{}
}

// seenMark is the last SeenAgent this process wrote for an agent.
type seenMark struct {
	at      time.Time
	version string
}

func (s *Server) agents() *agentState {
	s.agentOnce.Do(func() {
		s.agentSt = &agentState{seen: map[string]seenMark{}, stopping: make(chan struct{})}
	})
	return s.agentSt
}

// EndClaims ends the claims waiting for a job, at once and from then on, so
// that a server shutting down is not held up by agents' long polls.
func (s *Server) EndClaims() {
	st := s.agents()
	st.mu.Lock()
	defer st.mu.Unlock()
	select {
	case <-st.stopping:
	default:
		close(st.stopping)
	}
}

// registerAgentProtocol adds the agent protocol's routes to e.
func (s *Server) registerAgentProtocol(e *echo.Echo) {
	const prefix = "/api/v1/agent"
	g := e.Group(prefix, s.authorizeAgent)
	route := func(path string, h echo.HandlerFunc) { g.POST(strings.TrimPrefix(path, prefix), h) }
	route(runner.AgentClaimPath, s.claimJob)
	route(runner.AgentRenewPath, s.renewJobs)
	route(runner.AgentProgressPath, s.jobProgress)
	route(runner.AgentFinishPath, s.finishJob)
	route(runner.AgentReleasePath, s.releaseJob)
}

// agentKey is where authorizeAgent leaves the agent in the request's context.
const agentKey = "hookflow.agent"

// authorizeAgent lets through requests that carry the token of a registered
// agent, read from the store on every request, so that a removed agent is
// refused at once. A refusal never says why.
func (s *Server) authorizeAgent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		refuse := func() error {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="hookflow-agent"`)
			return c.JSON(http.StatusUnauthorized, errorBody("missing or invalid agent token"))
		}
		var token string
		if h := c.Request().Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			token = strings.TrimSpace(h[7:])
		}
		tokenID, secret, ok := parseAgentToken(token)
		if !ok {
			return refuse()
		}
		a, err := s.Store.AgentByToken(c.Request().Context(), tokenID)
		if errors.Is(err, store.ErrNotFound) {
			return refuse()
		}
		if err != nil {
			return s.unavailable(c, err)
		}
		if subtle.ConstantTimeCompare(secretHash(secret), a.TokenHash) != 1 {
			return refuse()
		}
		c.Set(agentKey, a)
		return next(c)
	}
}

// unavailable answers a store failure: the agent tries again later.
func (s *Server) unavailable(c echo.Context, err error) error {
	s.Logger.Error("agent protocol", "path", c.Path(), "err", err)
	c.Response().Header().Set("Retry-After", "5")
	return c.JSON(http.StatusServiceUnavailable, errorBody("the store could not answer; try again"))
}

func agentOf(c echo.Context) *store.Agent { return c.Get(agentKey).(*store.Agent) }

// seen records that agent a was heard from, running version (the version it
// last said, when empty), unless this process recorded it less than
// seenEvery ago with the same version.
func (s *Server) seen(ctx context.Context, a *store.Agent, version string, now time.Time) {
	st := s.agents()
	st.mu.Lock()
	last, ok := st.seen[a.Name]
	if version == "" {
		version = a.Version
		if ok {
			version = last.version
		}
	}
	if ok && last.version == version && now.Sub(last.at) < seenEvery {
		st.mu.Unlock()
		return
	}
	st.seen[a.Name] = seenMark{at: now, version: version}
	st.mu.Unlock()
	if err := s.Store.SeenAgent(ctx, a.Name, version, now); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.Logger.Warn("record an agent as seen", "agent", a.Name, "err", err)
	}
}

// decodeAgentBody reads the JSON body of an agent request, of at most limit
// bytes, into v; an empty body leaves v as it is. Fields it does not know are
// ignored, so that agents and servers of other versions understand each
// other. When it cannot read the body it answers the request itself and
// returns false.
func decodeAgentBody(c echo.Context, limit int64, v any) (ok bool, err error) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, limit))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return false, c.JSON(http.StatusRequestEntityTooLarge, errorBody(fmt.Sprintf("request body larger than %d MiB", limit>>20)))
	}
	if err != nil {
		return false, badRequest(c, "read the body: "+err.Error())
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return true, nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return false, badRequest(c, errInvalidJSON(err).Error())
	}
	return true, nil
}

// checkRef answers 422 for a report that names no job.
func checkRef(c echo.Context, ref store.JobRef) (bool, error) {
	if ref.Run == "" || ref.Job == "" || ref.Attempt < 1 {
		return false, c.JSON(http.StatusUnprocessableEntity, errorBody("name the job: run, job and attempt (from 1)"))
	}
	return true, nil
}

// reportFailed answers a report's error: about a job the agent does not
// hold (any longer), 409, for the agent to drop the job.
func (s *Server) reportFailed(c echo.Context, ref store.JobRef, err error) error {
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return c.JSON(http.StatusConflict, errorBody(fmt.Sprintf("job %q of run %s, attempt %d, is not held by agent %s",
			ref.Job, ref.Run, ref.Attempt, agentOf(c).Name)))
	}
	return s.fail(c, err)
}

func (s *Server) lease() time.Duration {
	if s.AgentLease > 0 {
		return s.AgentLease
	}
	return runner.DefaultLease
}

func (s *Server) reported(runID string) {
	if s.AgentJobs != nil {
		s.AgentJobs.Reported(runID)
	}
}

// claimJob answers a claim: a job offered for labels the agent has, as soon
// as there is one, or 204 when none came within the wait.
func (s *Server) claimJob(c echo.Context) error {
	a := agentOf(c)
	var req runner.ClaimRequest
	if ok, err := decodeAgentBody(c, maxAgentBody, &req); !ok {
		return err
	}
	if req.Name != "" && req.Name != a.Name {
		return c.JSON(http.StatusForbidden, errorBody(fmt.Sprintf("this token belongs to agent %s", a.Name)))
	}
	labels := a.Labels
	if len(req.Labels) > 0 {
		var missing []string
		for _, l := range req.Labels {
			if !slices.Contains(a.Labels, l) && !slices.Contains(missing, l) {
				missing = append(missing, l)
			}
		}
		if len(missing) > 0 {
			return c.JSON(http.StatusForbidden, errorBody(fmt.Sprintf("agent %s was not registered with the labels [%s]",
				a.Name, strings.Join(missing, ", "))))
		}
		labels = req.Labels
	}
	wait := defaultClaimWait
	if req.WaitSeconds > 0 {
		wait = min(time.Duration(req.WaitSeconds*float64(time.Second)), maxClaimWait)
	}
	ctx := c.Request().Context()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(claimPoll)
	defer tick.Stop()
	stopping := s.agents().stopping
	for {
		// Listen for offers before looking, so that one made in between
		// is not missed.
		var offered <-chan struct{}
		if s.AgentJobs != nil {
			offered = s.AgentJobs.Offered()
		}
		now := time.Now().UTC()
		s.seen(ctx, a, req.Version, now)
		job, err := s.Store.ClaimJob(ctx, a.Name, labels, s.lease(), now)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return s.unavailable(c, err)
		}
		if job != nil {
			as, err := s.assignment(ctx, a, job)
			if err == nil {
				return c.JSON(http.StatusOK, as)
			}
			if derr := s.dropClaim(ctx, a, job, err); derr != nil {
				return s.unavailable(c, derr)
			}
			if !errors.Is(err, errUnassignable) {
				return s.unavailable(c, err)
			}
			continue
		}
		select {
		case <-offered:
		case <-tick.C:
		case <-deadline.C:
			return c.NoContent(http.StatusNoContent)
		case <-stopping:
			return c.NoContent(http.StatusNoContent)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// errUnassignable marks a claimed job that cannot be handed to its agent: what
// it needs of its run is gone. Its message is the job's reason.
var errUnassignable = errors.New("the job cannot be given to a runner")

// assignment is claimed job as its agent receives it: with its run's event
// and item, and the values of the secrets it reads.
func (s *Server) assignment(ctx context.Context, a *store.Agent, job *store.Job) (*runner.Assignment, error) {
	as := &runner.Assignment{JobRef: store.JobRef{Run: job.RunID, Job: job.Key, Attempt: job.Attempt},
		LeaseSeconds: s.lease().Seconds(), Runner: a.Name}
	if err := json.Unmarshal(job.Offer, &as.Offer); err != nil {
		return nil, fmt.Errorf("%w: its offer is unreadable: %v", errUnassignable, err)
	}
	run, err := s.Store.GetRun(ctx, job.RunID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: run %s is gone", errUnassignable, job.RunID)
	}
	if err != nil {
		return nil, err
	}
	ev, err := s.Store.GetEvent(ctx, run.EventID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: event %s of run %s is gone", errUnassignable, run.EventID, run.ID)
	}
	if err != nil {
		return nil, err
	}
	as.Event, as.Item, as.Vars = ev.Data, run.Item, s.Vars
	if len(as.Secrets) > 0 && s.Secrets != nil {
		for name, value := range s.Secrets(as.Secrets) {
			if slices.Contains(as.Secrets, name) {
				if as.SecretValues == nil {
					as.SecretValues = map[string]string{}
				}
				as.SecretValues[name] = value
			}
		}
	}
	return as, nil
}

// dropClaim ends a job claimed for agent a that could not be assigned
// because of cause: failed, when what it needs is gone; handed back
// otherwise (the store could not answer), as if the agent had released it.
// It returns an error only when the store could not end it.
func (s *Server) dropClaim(ctx context.Context, a *store.Agent, job *store.Job, cause error) error {
	ref := store.JobRef{Run: job.RunID, Job: job.Key, Attempt: job.Attempt}
	ctx = context.WithoutCancel(ctx)
	var err error
	if errors.Is(cause, errUnassignable) {
		s.Logger.Warn("a claimed job cannot be assigned", "run", job.RunID, "job", job.Key, "agent", a.Name, "err", cause)
		now := time.Now().UTC()
		err = s.Store.FinishJob(ctx, ref, a.Name, &store.Job{Status: workflows.StatusFailed, Reason: cause.Error(),
			Steps: json.RawMessage("[]"), FinishedAt: now})
	} else {
		err = s.Store.ReleaseJob(ctx, ref, a.Name, "the server could not read its run", time.Now().UTC())
	}
	if err != nil {
		return errors.Join(cause, err)
	}
	s.reported(job.RunID)
	return nil
}

// renewJobs extends the leases of the jobs the agent holds, and tells it which
// to stop.
func (s *Server) renewJobs(c echo.Context) error {
	a := agentOf(c)
	var req runner.RenewRequest
	if ok, err := decodeAgentBody(c, maxAgentBody, &req); !ok {
		return err
	}
	ctx := c.Request().Context()
	now := time.Now().UTC()
	s.seen(ctx, a, req.Version, now)
	stop, err := s.Store.RenewJobs(ctx, a.Name, req.Jobs, now.Add(s.lease()))
	if err != nil {
		return s.fail(c, err)
	}
	if stop == nil {
		stop = []store.JobStop{}
	}
	return c.JSON(http.StatusOK, runner.RenewResponse{Stop: stop})
}

// jobProgress stores a job's log lines, and its steps so far.
func (s *Server) jobProgress(c echo.Context) error {
	a := agentOf(c)
	var req runner.ProgressRequest
	if ok, err := decodeAgentBody(c, maxProgressBody, &req); !ok {
		return err
	}
	if ok, err := checkRef(c, req.JobRef); !ok {
		return err
	}
	if req.From < 0 {
		return c.JSON(http.StatusUnprocessableEntity, errorBody("from must not be negative"))
	}
	lines := make([]store.LogLine, len(req.Lines))
	for i, l := range req.Lines {
		lines[i] = store.LogLine{Step: l.Step, Stream: l.Stream, Time: l.Time.UTC(), Text: l.Text}
	}
	var steps json.RawMessage
	if req.Steps != nil {
		var err error
		if steps, err = json.Marshal(req.Steps); err != nil {
			return badRequest(c, err.Error())
		}
	}
	ctx := c.Request().Context()
	s.seen(ctx, a, "", time.Now().UTC())
	stored, err := s.Store.AppendJobLogs(ctx, req.JobRef, a.Name, req.From, lines, steps, req.Sandbox)
	if err != nil {
		return s.reportFailed(c, req.JobRef, err)
	}
	return c.JSON(http.StatusOK, runner.ProgressResponse{Stored: stored})
}

// finishJob records a job's result.
func (s *Server) finishJob(c echo.Context) error {
	a := agentOf(c)
	var req runner.FinishRequest
	// A result carries every step's outputs, each up to 1 MiB.
	if ok, err := decodeAgentBody(c, maxProgressBody, &req); !ok {
		return err
	}
	if ok, err := checkRef(c, req.JobRef); !ok {
		return err
	}
	res := req.Result
	if !workflows.Finished(res.Status) {
		return c.JSON(http.StatusUnprocessableEntity, errorBody(fmt.Sprintf("status %q is not the end of a job", res.Status)))
	}
	steps := res.Steps
	if steps == nil {
		steps = []runner.StepResult{}
	}
	j := &store.Job{Status: res.Status, Reason: res.Reason, Sandbox: runner.RunSandbox(steps), FinishedAt: res.FinishedAt.UTC()}
	var err error
	if j.Steps, err = json.Marshal(steps); err != nil {
		return badRequest(c, err.Error())
	}
	if res.Outputs != nil {
		if j.Outputs, err = json.Marshal(res.Outputs); err != nil {
			return badRequest(c, err.Error())
		}
	}
	now := time.Now().UTC()
	if j.FinishedAt.IsZero() {
		j.FinishedAt = now
	}
	ctx := c.Request().Context()
	s.seen(ctx, a, "", now)
	if err := s.Store.FinishJob(ctx, req.JobRef, a.Name, j); err != nil {
		return s.reportFailed(c, req.JobRef, err)
	}
	err = c.NoContent(http.StatusNoContent)
	s.reported(req.Run)
	return err
}

// releaseJob takes back a job the agent cannot finish.
func (s *Server) releaseJob(c echo.Context) error {
	a := agentOf(c)
	var req runner.ReleaseRequest
	if ok, err := decodeAgentBody(c, maxAgentBody, &req); !ok {
		return err
	}
	if ok, err := checkRef(c, req.JobRef); !ok {
		return err
	}
	reason := strings.TrimSpace(req.Reason)
	if reason == "" {
		reason = "the agent " + a.Name + " handed it back"
	}
	now := time.Now().UTC()
	ctx := c.Request().Context()
	s.seen(ctx, a, "", now)
	if err := s.Store.ReleaseJob(ctx, req.JobRef, a.Name, reason, now); err != nil {
		return s.reportFailed(c, req.JobRef, err)
	}
	err := c.NoContent(http.StatusNoContent)
	s.reported(req.Run)
	return err
}
