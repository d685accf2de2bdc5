package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookflow/hookflow/internal/mask"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// Reporter sends the reports of the store's outbox (SPEC §13): it plans the
// status changes the store recorded into reports, claims the due ones,
// sends each and settles it. Every node runs one; they share the work
// through the store's leases. Reporting never changes a run: a report that
// cannot be sent is retried with backoff, then given up, and either way it
// is kept on the run.
type Reporter struct {
	Store store.Store
	Node  string
	// BaseURL is public_url, which run links start with.
	BaseURL string
	// Secrets resolves secret names to values; Vars are vars.NAME.
	Secrets func(names []string) map[string]string
	Vars    map[string]string
	// SMTP is notify_smtp; nil: email notices fail.
	SMTP *SMTP
	// Client sends commit statuses, Slack and webhook notices; nil: one
	// with a 30 s timeout.
	Client *http.Client
	Logger *slog.Logger
	// View is the run as the API shows it, for the generic webhook; nil
	// sends the stored run.
	View func(ctx context.Context, run *store.Run) (any, error)
	// Metrics counts reports by kind and result; nil counts nothing.
	Metrics *Metrics
	Now     func() time.Time
	// Interval is how often it looks at the outbox; default 500 ms.
	Interval time.Duration
	// GiveUpAfter is how long after a report was planned it stops
	// retrying it; default 24 h.
	GiveUpAfter time.Duration
}

// Metrics are the reporting metrics.
type Metrics struct{ reports *prometheus.CounterVec }

// NewMetrics registers hookflow_reports_total{kind,result} with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{reports: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookflow_reports_total",
		Help: "Attempts to send commit statuses and notices, by kind and result (sent, retry, failed, skipped).",
	}, []string{"kind", "result"})}
	reg.MustRegister(m.reports)
	return m
}

func (m *Metrics) count(kind, result string) {
	if m != nil {
		m.reports.WithLabelValues(kind, result).Inc()
	}
}

// Results of an attempt, as the metric counts them.
const (
	resultSent    = "sent"
	resultRetry   = "retry"
	resultFailed  = "failed"
	resultSkipped = "skipped"
)

// A claim holds up to batchSize reports for lease, and they are sent at
// once: the slowest attempt (a mail server's minute, an HTTP timeout of
// 30 s) ends well within the lease, so that no other node takes a report
// over while it is being sent.
const (
	lease     = 2 * time.Minute
	batchSize = 8
)

// Run reports until ctx ends.
func (r *Reporter) Run(ctx context.Context) {
	interval := r.Interval
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	if err := r.Store.ReleaseReports(ctx, r.Node); err != nil {
		r.logger().Warn("reporting", "err", err)
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if err := r.Once(ctx); err != nil && ctx.Err() == nil {
			r.logger().Warn("reporting", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Once plans what changed and sends what is due, and returns when done.
func (r *Reporter) Once(ctx context.Context) error {
	for {
		n, err := r.Store.PlanReports(ctx, 100, r.now())
		if err != nil {
			return err
		}
		if n < 100 {
			break
		}
	}
	for {
		claimed, err := r.Store.ClaimReports(ctx, r.Node, batchSize, lease, r.now())
		if err != nil {
			return err
		}
		// A claim holds at most one commit status of a run and job, so the
		// order of statuses does not depend on which attempt ends first.
		var wg sync.WaitGroup
		for _, rep := range claimed {
			wg.Go(func() { r.deliver(ctx, rep) })
		}
		wg.Wait()
		if len(claimed) < batchSize || ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// deliver sends one claimed report and settles it.
func (r *Reporter) deliver(ctx context.Context, rep *store.Report) {
	masker, err := r.send(ctx, rep)
	now := r.now()
	result := resultSent
	switch {
	case err == nil:
		rep.Status, rep.Error = store.ReportSent, ""
	case errors.Is(err, errNothingToReport):
		result, rep.Status, rep.Error = resultSkipped, store.ReportSkipped, masker.Mask(err.Error())
	case IsPermanent(err) || now.Sub(rep.CreatedAt) >= r.giveUpAfter():
		result, rep.Status, rep.Error = resultFailed, store.ReportFailed, masker.Mask(err.Error())
	default:
		result, rep.Status, rep.Error = resultRetry, store.ReportQueued, masker.Mask(err.Error())
		rep.NextAt = now.Add(backoff(rep.Attempts, err))
	}
	r.Metrics.count(rep.Kind, result)
	if err != nil {
		r.logger().Warn("report not sent", "run", rep.RunID, "kind", rep.Kind, "state", rep.State,
			"attempt", rep.Attempts, "result", result, "err", rep.Error)
	}
	if err := r.Store.SettleReport(context.WithoutCancel(ctx), r.Node, rep, now); err != nil {
		r.logger().Warn("settle report", "run", rep.RunID, "report", rep.Seq, "err", err)
	}
}

// backoff is how long to wait before attempt n+1: 10 s doubling up to 10
// minutes, with a tenth of jitter, or what the server asked for.
func backoff(n int, err error) time.Duration {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return min(e.RetryAfter, time.Hour)
	}
	d := 10 * time.Second << min(max(n-1, 0), 6)
	d = min(d, 10*time.Minute)
	return d + rand.N(d/10+1)
}

// errNothingToReport: the report has nowhere to go, such as a commit
// status of a run whose event names no commit (a cron run).
var errNothingToReport = errors.New("nothing to report on")

// send builds report rep's message and sends it. The masker it returns
// hides the secrets the message was built with.
func (r *Reporter) send(ctx context.Context, rep *store.Report) (*mask.Masker, error) {
	plan, err := workflows.ParsePlan(rep.Plan)
	if err != nil {
		return nil, &Error{Permanent: true, Err: err}
	}
	run, err := r.Store.GetRun(ctx, rep.RunID)
	if err != nil {
		return nil, err
	}
	stored, err := r.Store.GetEvent(ctx, run.EventID)
	if err != nil {
		return nil, err
	}
	var ev workflows.Event
	if err := json.Unmarshal(stored.Data, &ev); err != nil {
		return nil, &Error{Permanent: true, Err: fmt.Errorf("event %s: %w", stored.ID, err)}
	}
	m := &Message{State: rep.State, Provider: ev.Provider, Payload: ev.Body, Repo: ev.Repo, Commit: ev.Commit,
		Workflow: run.Workflow, RunID: run.ID, RunStatus: rep.RunStatus, Reason: run.Reason,
		RunURL: r.BaseURL + "/ui/runs/" + run.ID, Run: run}
	jobs, err := r.Store.Jobs(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	m.FailedStep = failedStep(run, jobs)
	if r.View != nil {
		if m.Run, err = r.View(ctx, run); err != nil {
			return nil, err
		}
	}

	var templates []*workflows.Template
	var target any
	switch rep.Kind {
	case store.ReportCommitStatus:
		if plan.Report == nil {
			return nil, &Error{Permanent: true, Err: errors.New("the run's plan has no report")}
		}
		templates = []*workflows.Template{plan.Report.Token, plan.Report.Context}
		target = plan.Report
	default:
		if rep.Target >= len(plan.Notify) {
			return nil, &Error{Permanent: true, Err: fmt.Errorf("the run's plan has no notify entry %d", rep.Target)}
		}
		n := plan.Notify[rep.Target]
		switch {
		case n.Slack != nil:
			templates = append(templates, n.Slack.URL)
		case n.Webhook != nil:
			templates = append(templates, n.Webhook.URL)
			for _, h := range n.Webhook.Headers {
				templates = append(templates, h)
			}
		case n.Email != nil:
			templates = append(templates, n.Email.Subject)
		}
		target = n
	}
	scope := r.scope(&ev, run, templates)
	masker := mask.New(values(scope.Secrets))
	render := func(t *workflows.Template) (string, error) {
		if t == nil {
			return "", nil
		}
		s, err := t.RenderString(scope)
		if err != nil {
			return "", &Error{Permanent: true, Err: err}
		}
		return s, nil
	}

	switch target := target.(type) {
	case *workflows.Report:
		if ev.Commit == "" {
			return masker, fmt.Errorf("%w: the event (%s) names no commit", errNothingToReport, ev.Trigger)
		}
		if m.Token, err = render(target.Token); err != nil {
			return masker, err
		}
		if m.Context, err = render(target.Context); err != nil {
			return masker, err
		}
		if m.Context == "" {
			m.Context = "hookflow/" + run.Workflow
		}
		reason := run.Reason
		if rep.Job != "" {
			m.Context += "/" + rep.Job
			reason = jobReason(jobs, rep.Job)
		}
		m.Description = describe(rep.RunStatus, reason)
		req, err := StatusRequest(ctx, m)
		if err != nil {
			return masker, &Error{Permanent: true, Err: err}
		}
		return masker, Send(r.client(), req)
	case *workflows.Notify:
		switch {
		case target.Slack != nil:
			if m.URL, err = render(target.Slack.URL); err != nil {
				return masker, err
			}
			masker = masker.With(m.URL) // a Slack webhook's URL is its credential
			return masker, r.post(ctx, SlackRequest, m)
		case target.Webhook != nil:
			if m.URL, err = render(target.Webhook.URL); err != nil {
				return masker, err
			}
			m.Headers = map[string]string{}
			for k, t := range target.Webhook.Headers {
				if m.Headers[k], err = render(t); err != nil {
					return masker, err
				}
			}
			return masker, r.post(ctx, WebhookRequest, m)
		default:
			if r.SMTP == nil {
				return masker, &Error{Permanent: true, Err: errors.New("email: notify_smtp is not set in hookflow.yaml")}
			}
			m.To = target.Email.To
			if m.Subject, err = render(target.Email.Subject); err != nil {
				return masker, err
			}
			return masker, SendMail(ctx, *r.SMTP, m)
		}
	}
	return masker, nil
}

// post builds a request with build and sends it.
func (r *Reporter) post(ctx context.Context, build func(context.Context, *Message) (*http.Request, error), m *Message) error {
	req, err := build(ctx, m)
	if err != nil {
		return &Error{Permanent: true, Err: err}
	}
	return Send(r.client(), req)
}

// scope is what the report's templates see: the event, the run, vars and
// the secrets they name.
func (r *Reporter) scope(ev *workflows.Event, run *store.Run, templates []*workflows.Template) *workflows.Scope {
	s := workflows.NewScope(ev)
	s.BindVars(r.Vars)
	var names []string
	for _, t := range templates {
		if t != nil {
			names = append(names, t.SecretNames()...)
		}
	}
	s.Secrets = map[string]string{}
	if len(names) > 0 && r.Secrets != nil {
		s.Secrets = r.Secrets(names)
	}
	s.Run = workflows.RunInfo{ID: run.ID, Attempt: run.Attempt, URL: r.BaseURL + "/ui/runs/" + run.ID, Workflow: run.Workflow}
	s.Workflow = workflows.WorkflowInfo{Name: run.Workflow, Revision: run.Revision}
	return s
}

func values(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// describe is a commit status's one line.
func describe(status, reason string) string {
	var s string
	switch status {
	case workflows.StatusQueued:
		s = "Queued"
	case workflows.StatusRunning:
		s = "Running"
	case workflows.StatusSucceeded:
		s = "Succeeded"
	case workflows.StatusFailed:
		s = "Failed"
	case workflows.StatusTimedOut:
		s = "Timed out"
	case workflows.StatusCancelled:
		s = "Cancelled"
	case workflows.StatusSkipped:
		s = "Skipped"
	default:
		s = status
	}
	if reason != "" && workflows.Finished(status) && status != workflows.StatusSucceeded {
		s += ": " + reason
	}
	return s
}

// stepResult is the part of a stored step result a report reads.
type stepResult struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Outcome string `json:"outcome"`
}

// failedStep names the first step that failed: "step" in a `steps:` run,
// "job / step" in a `jobs:` run.
func failedStep(run *store.Run, jobs []*store.Job) string {
	first := func(steps json.RawMessage) string {
		var list []stepResult
		if json.Unmarshal(steps, &list) != nil {
			return ""
		}
		for _, s := range list {
			if s.Outcome == workflows.OutcomeFailure {
				if s.Name != "" {
					return s.Name
				}
				return s.ID
			}
		}
		return ""
	}
	if len(jobs) == 0 {
		return first(run.Steps)
	}
	for _, j := range jobs {
		if step := first(j.Steps); step != "" {
			return j.Key + " / " + step
		}
	}
	return ""
}

func jobReason(jobs []*store.Job, key string) string {
	for _, j := range jobs {
		if j.Key == key {
			return j.Reason
		}
	}
	return ""
}

func (r *Reporter) client() *http.Client {
	if r.Client != nil {
		return r.Client
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func (r *Reporter) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reporter) giveUpAfter() time.Duration {
	if r.GiveUpAfter > 0 {
		return r.GiveUpAfter
	}
	return 24 * time.Hour
}

func (r *Reporter) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}
