package triggers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"

	"github.com/hookflow/hookflow/triggers/providers"
	"github.com/hookflow/hookflow/workflows"
)

// Dispatcher stores an event with the runs its verdicts start and answers with
// the receipt once that is durable (the runner's Dispatcher).
type Dispatcher interface {
	Dispatch(ctx context.Context, ev *workflows.Event, verdicts []workflows.Verdict, dedupKey string) (*workflows.Receipt, error)
}

// RunWaiter waits until run id has finished or ctx is done, and returns its
// status and the record to answer a `respond: sync` sender with.
type RunWaiter func(ctx context.Context, id string) (status string, record any, err error)

// Webhooks is the endpoint /hooks/{path} (SPEC §3). Its order of work is: rate
// limit, size limit, route, method, read, slot, signature, parse, normalise,
// dedup, match, store, answer; the slot is held until the event is stored.
type Webhooks struct {
	Source     *Source
	Dispatcher Dispatcher
	WaitRun    RunWaiter
	// Secrets returns the values of the named secrets.
	Secrets func(names []string) map[string]string
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

	requests *prometheus.CounterVec
	buffers  sync.Pool           // *[]workflows.Verdict, reused between deliveries
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

// delivery is one request being handled, for the answer and the metric.
type delivery struct {
	c    echo.Context
	path string // the route's path once known, for the metric
}

func (h *Webhooks) handle(c echo.Context) error {
	d := &delivery{c: c, path: "unknown"}
	code, body := h.serve(c.Request().Context(), d)
	if h.requests != nil {
		h.requests.WithLabelValues(d.path, strconv.Itoa(code)).Inc()
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
	set := h.Source.Set()
	hooks := set.Hooks(path)
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

	if len(hooks) == 0 {
		return http.StatusNotFound, errorAnswer("no workflow serves /hooks/" + path)
	}
	d.path = path
	if !methodAllowed(hooks, r.Method) {
		c.Response().Header().Set("Allow", strings.Join(allowedMethods(hooks), ", "))
		return http.StatusMethodNotAllowed, errorAnswer("method " + r.Method + " not allowed")
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

	hook := hooks[0] // every trigger on a path has the same provider and secret
	req := &providers.Request{Method: r.Method, Path: path, Headers: r.Header, Query: r.URL.Query(),
		Body: body, ContentType: r.Header.Get("Content-Type")}
	now := h.now()
	if err := providers.Verify(hook.Provider, req, h.credentials(hook), now); err != nil {
		h.Logger.Warn("webhook rejected", "path", path, "remote", c.RealIP(), "why", err)
		return http.StatusUnauthorized, errorAnswer("missing or invalid signature")
	}

	ev := &workflows.Event{ID: ulid.Make().String(), Trigger: workflows.TriggerWebhook, ReceivedAt: now.UTC()}
	opt := providers.Options{EventHeader: hook.EventHeader, DeliveryHeader: hook.DeliveryHeader}
	if err := providers.Normalize(hook.Provider, req, opt, ev); err != nil {
		return http.StatusBadRequest, errorAnswer(err.Error())
	}
	if challenge, ok := slackChallenge(hook, ev); ok {
		// Slack checks a new Events API URL once by asking for its
		// challenge back; that handshake is not an event.
		return http.StatusOK, map[string]string{"challenge": challenge}
	}
	providers.RedactHeaders(ev.Headers)
	providers.RedactQuery(ev.Query)

	scope := workflows.NewScope(ev)
	key := dedupKey(hooks, scope)
	buf, _ := h.buffers.Get().(*[]workflows.Verdict)
	if buf == nil {
		buf = new([]workflows.Verdict)
	}
	verdicts := set.MatchInto(scope, *buf)
	defer func() {
		clear(verdicts) // keep no workflow or item alive through the pool
		*buf = verdicts[:0]
		h.buffers.Put(buf)
	}()

	rc, err := h.Dispatcher.Dispatch(ctx, ev, verdicts, key)
	held = false
	h.slots.Release(share) // a sync answer waits for its run without one
	if err != nil {
		switch workflows.ErrorCode(err) {
		case workflows.EOverloaded:
			c.Response().Header().Set("Retry-After", "5")
			return http.StatusTooManyRequests, errorAnswer("queue full; retry later")
		default:
			h.Logger.Error("webhook not stored", "path", path, "err", err)
			c.Response().Header().Set("Retry-After", "5")
			return http.StatusServiceUnavailable, errorAnswer("could not store the event; retry later")
		}
	}
	switch {
	case rc.Duplicate || len(rc.Runs) == 0:
		return http.StatusOK, rc
	case hasSync(verdicts, rc):
		return h.answerSync(ctx, verdicts, rc)
	}
	return http.StatusAccepted, rc
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

// credentials renders the trigger's secret and basic-auth settings.
func (h *Webhooks) credentials(hook *workflows.Webhook) providers.Credentials {
	var names []string
	for _, t := range []*workflows.Template{hook.Secret, basicPart(hook, true), basicPart(hook, false)} {
		if t != nil {
			names = append(names, t.SecretNames()...)
		}
	}
	scope := workflows.NewScope(nil)
	scope.Secrets = h.Secrets(names)
	render := func(t *workflows.Template) string {
		if t == nil {
			return ""
		}
		s, err := t.RenderString(scope)
		if err != nil {
			return "" // an unrenderable secret is an empty one: fail closed
		}
		return s
	}
	c := providers.Credentials{Secret: render(hook.Secret), SecretSet: hook.Secret != nil, Signature: hook.Signature}
	if hook.BasicAuth != nil {
		c.BasicSet = true
		c.Username, c.Password = render(hook.BasicAuth.Username), render(hook.BasicAuth.Password)
	}
	return c
}

func basicPart(hook *workflows.Webhook, user bool) *workflows.Template {
	if hook.BasicAuth == nil {
		return nil
	}
	if user {
		return hook.BasicAuth.Username
	}
	return hook.BasicAuth.Password
}

// dedupKey is the key that makes a redelivery a duplicate: the trigger's
// `dedup` expression if one is set, else the provider's delivery id. Keys are
// scoped to the path.
func dedupKey(hooks []*workflows.Webhook, scope *workflows.Scope) string {
	for _, hook := range hooks {
		if hook.Dedup == nil {
			continue
		}
		v, err := hook.Dedup.Eval(scope)
		if err != nil || v == nil || workflows.Stringify(v) == "" {
			return ""
		}
		return "hook/" + hook.Path + "/expr/" + workflows.Stringify(v)
	}
	if scope.Event.Delivery == "" {
		return ""
	}
	return "hook/" + hooks[0].Path + "/delivery/" + scope.Event.Delivery
}

func methodAllowed(hooks []*workflows.Webhook, method string) bool {
	for _, hook := range hooks {
		if slices.Contains(hook.Methods, method) {
			return true
		}
	}
	return false
}

func allowedMethods(hooks []*workflows.Webhook) []string {
	var all []string
	for _, hook := range hooks {
		for _, m := range hook.Methods {
			if !slices.Contains(all, m) {
				all = append(all, m)
			}
		}
	}
	return all
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

// slackChallenge returns the challenge of a verified Slack url_verification
// request.
func slackChallenge(hook *workflows.Webhook, ev *workflows.Event) (string, bool) {
	if hook.Provider != "slack" || ev.Type != "url_verification" {
		return "", false
	}
	body, _ := ev.Body.(map[string]any)
	challenge, ok := body["challenge"].(string)
	return challenge, ok
}
