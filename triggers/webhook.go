package triggers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"

	"github.com/hookflow/hookflow/intake"
	"github.com/hookflow/hookflow/workflows"
)

// RunWaiter waits until run id has finished or ctx is done, and returns its
// status and the record to answer a `respond: sync` sender with.
type RunWaiter func(ctx context.Context, id string) (status string, record any, err error)

// Webhooks is the endpoint /hooks/{path} (SPEC §3). Its order of work is: rate
// limit, size limit, route, method, read, slot, signature, parse, normalise,
// dedup, match, store, answer; the slot is held until the event is stored.
type Webhooks struct {
	// Intake verifies, decides and stores each delivery.
	Intake  *intake.Intake
	WaitRun RunWaiter
	// MaxBody is the largest body accepted (limits.max_body).
	MaxBody int64
	// Stopping reports that the server is shutting down: deliveries get 503 so
	// that their senders retry elsewhere or later.
	Stopping func() bool
	// MaxMatching bounds the work on deliveries between reading the body and
	// storing the event (limits.max_matching; 0 means twice GOMAXPROCS): it is
	// how many deliveries of MaxBody bytes are verified, parsed, matched and
	// stored at once. A smaller delivery takes a share of a slot in proportion
	// to its size, at least a 64th, so that small deliveries still arrive
	// together and are stored in one commit, while the memory that parsed
	// bodies take, about proportional to their size, stays bounded. A delivery
	// that finds no room within SlotWait (default 2s) gets 429.
	MaxMatching int
	SlotWait    time.Duration
	// Rate limits each client address's deliveries (limits.rate); the
	// address is the connection's as echo's IPExtractor gives it.
	Rate RateLimit
	// MaxClients bounds the addresses Rate remembers (default 10000).
	MaxClients int
	Logger     *slog.Logger
	Now        func() time.Time
	// Refusals, when set, is told of each delivery answered but not stored
	// as an event.
	Refusals RefusalRecorder

	requests *prometheus.CounterVec
	slots    *semaphore.Weighted // of MaxMatching × MaxBody bytes
	clients  *clientLimits       // nil when Rate is off
}

// SetMetrics registers hookflow_webhook_requests_total with reg and counts
// deliveries in it.
func (h *Webhooks) SetMetrics(reg prometheus.Registerer) {
	h.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookflow_webhook_requests_total", Help: "Webhook deliveries by path and HTTP status.",
	}, []string{"path", "code"})
	reg.MustRegister(h.requests)
}

// Register serves the endpoint on e for every method; the trigger decides which
// methods it accepts. Set the fields before; they are read here.
func (h *Webhooks) Register(e *echo.Echo) {
	n := h.MaxMatching
	if n <= 0 {
		n = 2 * runtime.GOMAXPROCS(0)
	}
	h.slots = semaphore.NewWeighted(int64(n) * h.MaxBody)
	if h.SlotWait <= 0 {
		h.SlotWait = 2 * time.Second
	}
	if h.Rate.Enabled() {
		maxClients := h.MaxClients
		if maxClients <= 0 {
			maxClients = defaultMaxClients
		}
		h.clients = newClientLimits(h.Rate, maxClients)
	}
	e.Any("/hooks/*", h.handle)
}

// delivery is one request being handled, for the answer, the metric and
// the refusal record.
type delivery struct {
	c    echo.Context
	path string // the route's path once known, for the metric

	provider string // the route's provider, once known
	// body is the request's body once read, and acceptErr what the intake
	// said of it; the body is kept with a refusal only when the intake
	// verified it (worked out only when a refusal is built).
	body      []byte
	accepted  bool
	acceptErr error
	deliver   string // the provider's delivery id, once parsed
	stored    bool   // the event was stored: not a refusal
	reason    string // why it was refused, when the answer does not say it all
}

func (h *Webhooks) handle(c echo.Context) error {
	d := &delivery{c: c, path: "unknown"}
	code, body := h.serve(c.Request().Context(), d)
	if h.requests != nil {
		h.requests.WithLabelValues(d.path, strconv.Itoa(code)).Inc()
	}
	if h.Refusals != nil && !d.stored && (code >= 400 || d.reason != "") {
		h.Refusals.Refused(func() *workflows.Refusal { return h.refusal(d, code, body) })
	}
	if body == nil {
		return c.NoContent(code)
	}
	return c.JSON(code, body)
}

func errorAnswer(msg string) map[string]string { return map[string]string{"error": msg} }

// serve does the work and returns the status and the JSON body to answer with.
func (h *Webhooks) serve(ctx context.Context, d *delivery) (int, any) {
	c := d.c
	r := c.Request()
	if h.Stopping != nil && h.Stopping() {
		c.Response().Header().Set("Retry-After", "5")
		return http.StatusServiceUnavailable, errorAnswer("server is shutting down")
	}
	path := strings.Trim(c.Param("*"), "/")
	hooks, routeErr := intake.Route(h.Intake.Workflows(), path, r.Method)
	if len(hooks) > 0 {
		d.provider = hooks[0].Provider
	}
	if h.clients != nil {
		if ok, wait := h.clients.allow(c.RealIP(), h.now()); !ok {
			if len(hooks) > 0 {
				d.path = path
			}
			c.Response().Header().Set("Retry-After", retryAfter(wait))
			return http.StatusTooManyRequests, errorAnswer("too many deliveries from this address; retry later")
		}
	}
	if r.ContentLength > h.MaxBody {
		return http.StatusRequestEntityTooLarge, errorAnswer("body too large")
	}
	if len(hooks) > 0 {
		d.path = path
	}
	if routeErr != nil {
		return h.refuse(d, path, routeErr, hooks)
	}

	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, h.MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return http.StatusRequestEntityTooLarge, errorAnswer("body too large")
		}
		return http.StatusBadRequest, errorAnswer("could not read the body")
	}
	share, ok := h.takeSlot(ctx, len(body))
	if !ok {
		c.Response().Header().Set("Retry-After", retryAfter(h.SlotWait))
		return http.StatusTooManyRequests, errorAnswer("too many deliveries in work; retry later")
	}
	held := true // until the event is stored
	defer func() {
		if held {
			h.slots.Release(share)
		}
	}()

	dec, rc, err := h.Intake.Accept(ctx, &intake.Delivery{Path: path, Method: r.Method, Header: r.Header,
		Query: r.URL.Query(), Body: body})
	defer dec.Release()
	held = false
	h.slots.Release(share) // a sync answer waits for its run without one
	d.body, d.accepted, d.acceptErr = body, true, err
	if dec != nil && dec.Event != nil {
		d.deliver = dec.Event.Delivery
	}
	d.stored = rc != nil && !rc.Duplicate
	switch {
	case err != nil:
		return h.refuse(d, path, err, hooks)
	case dec.Challenge != "":
		return http.StatusOK, map[string]string{"challenge": dec.Challenge}
	case rc.Duplicate:
		d.reason = "duplicate delivery: already stored as event " + rc.EventID
		return http.StatusOK, rc
	case len(rc.Runs) == 0:
		return http.StatusOK, rc
	case hasSync(dec.Verdicts, rc):
		return h.answerSync(ctx, dec.Verdicts, rc)
	}
	return http.StatusAccepted, rc
}

// refuse answers a delivery that was not stored, by its error's code (SPEC §3).
func (h *Webhooks) refuse(d *delivery, path string, err error, hooks []*workflows.Webhook) (int, any) {
	c := d.c
	switch workflows.ErrorCode(err) {
	case workflows.ENotFound:
		return http.StatusNotFound, errorAnswer(err.Error())
	case workflows.ENotAllowed:
		c.Response().Header().Set("Allow", strings.Join(intake.AllowedMethods(hooks), ", "))
		return http.StatusMethodNotAllowed, errorAnswer(err.Error())
	case workflows.EUnauthorized:
		why := errors.Unwrap(err)
		h.Logger.Warn("webhook rejected", "path", path, "remote", c.RealIP(), "why", why)
		if why != nil {
			// The cause names the check that failed, never the expected value.
			d.reason = why.Error()
		}
		return http.StatusUnauthorized, errorAnswer("missing or invalid signature")
	case workflows.EInvalid:
		return http.StatusBadRequest, errorAnswer(err.Error())
	case workflows.EOverloaded:
		c.Response().Header().Set("Retry-After", "5")
		return http.StatusTooManyRequests, errorAnswer("queue full; retry later")
	}
	h.Logger.Error("webhook not stored", "path", path, "err", err)
	c.Response().Header().Set("Retry-After", "5")
	return http.StatusServiceUnavailable, errorAnswer("could not store the event; retry later")
}

// takeSlot waits up to SlotWait for room for a body of size bytes and returns
// the share taken, which the caller releases.
func (h *Webhooks) takeSlot(ctx context.Context, size int) (int64, bool) {
	share := min(max(int64(size), h.MaxBody/64, 1), h.MaxBody)
	if h.slots.TryAcquire(share) {
		return share, true
	}
	ctx, cancel := context.WithTimeout(ctx, h.SlotWait)
	defer cancel()
	return share, h.slots.Acquire(ctx, share) == nil
}

func (h *Webhooks) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// hasSync reports whether a run was started by a `respond: sync` trigger.
func hasSync(verdicts []workflows.Verdict, rc *workflows.Receipt) bool {
	return syncRun(verdicts, rc) != nil
}

// syncRun returns the first queued run whose trigger wants a sync answer, with
// that trigger.
func syncRun(verdicts []workflows.Verdict, rc *workflows.Receipt) *syncTarget {
	for _, v := range verdicts {
		if !v.Run || v.Hook == nil || v.Hook.Respond != workflows.RespondSync {
			continue
		}
		for _, r := range rc.Runs {
			if r.Workflow == v.Workflow.Name {
				return &syncTarget{run: r.ID, timeout: time.Duration(v.Hook.SyncTimeout)}
			}
		}
	}
	return nil
}

type syncTarget struct {
	run     string
	timeout time.Duration
}

// answerSync waits for the run (SPEC §3): 200 when it succeeded, 500 when it
// did not, 202 when it is still running after the trigger's sync_timeout. The
// body is the run record.
func (h *Webhooks) answerSync(ctx context.Context, verdicts []workflows.Verdict, rc *workflows.Receipt) (int, any) {
	target := syncRun(verdicts, rc)
	waitCtx, cancel := context.WithTimeout(ctx, target.timeout)
	defer cancel()
	status, record, err := h.WaitRun(waitCtx, target.run)
	switch {
	case err != nil && waitCtx.Err() != nil && record != nil:
		return http.StatusAccepted, record
	case err != nil:
		h.Logger.Error("sync webhook", "run", target.run, "err", err)
		return http.StatusAccepted, rc
	case status == workflows.StatusSucceeded:
		return http.StatusOK, record
	}
	return http.StatusInternalServerError, record
}

// verified reports whether a delivery that Intake.Accept refused with err had
// passed its trigger's verification.
func verified(err error) bool {
	switch workflows.ErrorCode(err) {
	case workflows.EUnauthorized, workflows.ENotFound, workflows.ENotAllowed:
		return false
	}
	return true
}

// refusal is the record of delivery d, answered with code and answer.
func (h *Webhooks) refusal(d *delivery, code int, answer any) *workflows.Refusal {
	r := d.c.Request()
	ref := &workflows.Refusal{Path: strings.Trim(d.c.Param("*"), "/"), Method: r.Method, Status: code,
		Reason: d.reason, Remote: d.c.RealIP(), Provider: d.provider, Delivery: d.deliver,
		Headers: refusedHeaders(r.Header)}
	if ref.Reason == "" {
		if m, ok := answer.(map[string]string); ok {
			ref.Reason = m["error"]
		}
	}
	if d.accepted && (d.acceptErr == nil || verified(d.acceptErr)) {
		ref.Body = string(d.body[:min(len(d.body), refusedBodyMax)])
	}
	return ref
}
