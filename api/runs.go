package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// RunView is a run as the API shows it (SPEC §8): every field is present, times
// not yet reached are null.
type RunView struct {
	ID              string              `json:"id"`
	Workflow        string              `json:"workflow"`
	Revision        string              `json:"revision"`
	Status          string              `json:"status"`
	Reason          string              `json:"reason"`
	EventID         string              `json:"event_id"`
	Attempt         int                 `json:"attempt"`
	RerunOf         string              `json:"rerun_of,omitempty"`
	Item            json.RawMessage     `json:"item,omitempty"`
	Group           string              `json:"group,omitempty"`
	Node            string              `json:"node"`
	Sandbox         string              `json:"sandbox"`
	QueuedAt        time.Time           `json:"queued_at"`
	StartedAt       *time.Time          `json:"started_at"`
	FinishedAt      *time.Time          `json:"finished_at"`
	CancelRequested bool                `json:"cancel_requested,omitempty"`
	Steps           []runner.StepResult `json:"steps"`
	// Trigger is what started the run; absent where the answer does not
	// read the run's event (the end of a followed log).
	Trigger *TriggerView `json:"trigger,omitempty"`
	// Jobs are a `jobs:` run's jobs (SPEC §11), each matrix cell one; absent
	// for a `steps:` run, and in lists of runs (read the run for them).
	Jobs []runner.JobResult `json:"jobs,omitempty"`
	// Reports are the commit statuses and notices of the run (SPEC §13),
	// sent or not, oldest first; absent when it has none, and in lists.
	Reports []*store.Report `json:"reports,omitempty"`
}

// ViewRun describes r for the API and the UI.
func ViewRun(r *store.Run) *RunView {
	v := &RunView{ID: r.ID, Workflow: r.Workflow, Revision: r.Revision, Status: r.Status, Reason: r.Reason,
		EventID: r.EventID, Attempt: r.Attempt, RerunOf: r.RerunOf, Item: r.Item, Group: r.Group, Node: r.Node,
		Sandbox: r.Sandbox, QueuedAt: r.QueuedAt, CancelRequested: r.CancelRequested, Steps: []runner.StepResult{}}
	if !r.StartedAt.IsZero() {
		v.StartedAt = &r.StartedAt
	}
	if !r.FinishedAt.IsZero() {
		v.FinishedAt = &r.FinishedAt
	}
	if len(r.Steps) > 0 {
		_ = json.Unmarshal(r.Steps, &v.Steps)
		if v.Steps == nil {
			v.Steps = []runner.StepResult{}
		}
	}
	return v
}

// ViewRunJobs describes r with its jobs and reports, read from st.
func ViewRunJobs(ctx context.Context, st store.Store, r *store.Run) (*RunView, error) {
	v := ViewRun(r)
	jobs, err := st.Jobs(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		v.Jobs = append(v.Jobs, runner.ViewJob(j))
	}
	if v.Reports, err = st.RunReports(ctx, r.ID); err != nil {
		return nil, err
	}
	return v, nil
}

// Finished reports whether a run status is final.
func Finished(status string) bool { return workflows.Finished(status) }

const (
	defaultLimit = 50
	maxLimit     = 500
)

func limitParam(c echo.Context) (int, error) {
	s := c.QueryParam("limit")
	if s == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("limit %q: use a whole number from 1 to %d", s, maxLimit)
	}
	return min(n, maxLimit), nil
}

func (s *Server) listRuns(c echo.Context) error {
	limit, err := limitParam(c)
	if err != nil {
		return badRequest(c, err.Error())
	}
	runs, err := s.Store.ListRuns(c.Request().Context(), store.RunFilter{Workflow: c.QueryParam("workflow"),
		Status: c.QueryParam("status"), EventID: c.QueryParam("event"), Before: c.QueryParam("before"), Limit: limit + 1})
	if err != nil {
		return s.fail(c, err)
	}
	next := ""
	if len(runs) > limit {
		runs, next = runs[:limit], runs[limit-1].ID
	}
	triggers, err := ViewTriggers(c.Request().Context(), s.Store, runs)
	if err != nil {
		return s.fail(c, err)
	}
	views := make([]*RunView, len(runs))
	for i, r := range runs {
		views[i] = ViewRun(r)
		views[i].Trigger = triggers[i]
	}
	return c.JSON(http.StatusOK, map[string]any{"runs": views, "next": next})
}

func (s *Server) getRun(c echo.Context) error {
	r, err := s.Store.GetRun(c.Request().Context(), c.Param("id"))
	if err != nil {
		return s.fail(c, err)
	}
	v, err := ViewRunJobs(c.Request().Context(), s.Store, r)
	if err != nil {
		return s.fail(c, err)
	}
	if v.Trigger, err = RunTrigger(c.Request().Context(), s.Store, r); err != nil {
		return s.fail(c, err)
	}
	return c.JSON(http.StatusOK, v)
}

// cancelReason is the reason recorded on a run cancelled through the API
// (and so through the CLI and the UI, which call it).
const cancelReason = "cancelled through the API"

func (s *Server) cancelRun(c echo.Context) error {
	r, err := s.Store.Cancel(c.Request().Context(), c.Param("id"), cancelReason)
	if errors.Is(err, store.ErrConflict) {
		return s.fail(c, workflows.Errorf(workflows.EConflict, "run %s has already finished", c.Param("id")))
	}
	if err != nil {
		return s.fail(c, err)
	}
	if r.Status == workflows.StatusRunning {
		// Stop it at once if it runs here, for the reason recorded (an
		// earlier request's, if there was one). Another node hears of it
		// through the store.
		s.Runs.Cancel(r.ID, errors.New(r.Reason))
	}
	v, err := ViewRunJobs(c.Request().Context(), s.Store, r)
	if err != nil {
		return s.fail(c, err)
	}
	return c.JSON(http.StatusOK, v)
}

func (s *Server) rerun(c echo.Context) error {
	ctx := c.Request().Context()
	old, err := s.Store.GetRun(ctx, c.Param("id"))
	if err != nil {
		return s.fail(c, err)
	}
	w, ok := s.Workflows.Set().Lookup(old.Workflow)
	if !ok {
		return s.fail(c, workflows.Errorf(workflows.EConflict, "workflow %s is no longer loaded", old.Workflow))
	}
	run, err := s.Runs.Rerun(s.actorContext(c, ""), old, w)
	if err != nil {
		return s.fail(c, err)
	}
	v := ViewRun(run)
	if v.Trigger, err = RunTrigger(ctx, s.Store, run); err != nil {
		return s.fail(c, err)
	}
	return c.JSON(http.StatusAccepted, v)
}

// runLogs answers the log as text, or follows it as server-sent events.
// Text may be asked for in pages (?after=SEQ&limit=N) and as a download
// (?download=1); without those it is the whole log, as it always was.
func (s *Server) runLogs(c echo.Context) error {
	ctx := c.Request().Context()
	run, err := s.Store.GetRun(ctx, c.Param("id"))
	if err != nil {
		return s.fail(c, err)
	}
	view, err := ViewRunJobs(ctx, s.Store, run)
	if err != nil {
		return s.fail(c, err)
	}
	sel, err := s.selectJobs(view, c.QueryParam("job"))
	if err != nil {
		return s.fail(c, err)
	}
	if c.QueryParam("follow") != "" && strings.Contains(c.Request().Header.Get("Accept"), "text/event-stream") {
		return s.followLogs(c, run, sel)
	}
	page, err := logPageParams(c)
	if err != nil {
		return badRequest(c, err.Error())
	}
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/plain; charset=utf-8")
	if c.QueryParam("download") != "" {
		w.Header().Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": "hookflow-run-" + run.ID + ".log"}))
	}
	if page.limit == 0 {
		w.WriteHeader(http.StatusOK)
		_, err := writeLogText(ctx, s.Store, w, view, sel, page)
		return err
	}
	// A page says where the next one starts, which only its end knows.
	var buf bytes.Buffer
	last, err := writeLogText(ctx, s.Store, &buf, view, sel, page)
	if err != nil {
		return s.fail(c, err)
	}
	w.Header().Set(LogAfterHeader, strconv.FormatInt(last, 10))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(buf.Bytes())
	return err
}

// LogAfterHeader, on a page of a log (?limit=), is the Seq to ask the next
// page after: the last line the page read. A page with fewer lines than its
// limit is the log's end, so far.
const LogAfterHeader = "Hookflow-Log-After"

// maxLogPage bounds the lines of one page of a log.
const maxLogPage = 20000

// logPage is the part of a log a text answer holds: the lines after the Seq
// after, at most limit of them (0: every one).
type logPage struct {
	after int64
	limit int
}

func logPageParams(c echo.Context) (logPage, error) {
	var p logPage
	if a := c.QueryParam("after"); a != "" {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || n < 0 {
			return p, fmt.Errorf("after %q: use the Seq of a log line, a whole number from 0", a)
		}
		p.after = n
	}
	if l := c.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return p, fmt.Errorf("limit %q: use a whole number of lines from 1 to %d", l, maxLogPage)
		}
		p.limit = min(n, maxLogPage)
	}
	return p, nil
}

// writeLogText writes the selected lines of page to w, one a line, and
// returns the Seq of the last line it read.
func writeLogText(ctx context.Context, st store.Store, w io.Writer, view *RunView, sel jobSelection, page logPage) (int64, error) {
	after, n := page.after, 0
	for {
		lines, err := st.Logs(ctx, view.ID, after, 1000)
		if err != nil {
			return after, err
		}
		for _, l := range lines {
			after = l.Seq
			if !sel.has(l.Job) {
				continue
			}
			prefix := ""
			if l.Job != "" && sel.prefixed() {
				prefix = "[" + l.Job + "] "
			}
			if _, err := fmt.Fprintf(w, "%s%s %s %s | %s\n", prefix, l.Time.UTC().Format("2006-01-02T15:04:05.000Z"),
				stepKey(sel.steps(view, l.Job), l.Step), l.Stream, l.Text); err != nil {
				return after, err
			}
			if n++; n == page.limit {
				return after, nil
			}
		}
		if len(lines) < 1000 {
			return after, nil
		}
	}
}

// jobSelection is the jobs whose lines a log answer holds: every one, or
// one job's (a job's key), or a matrix job's (its id): every cell of it,
// also those that appear while the log is followed.
type jobSelection struct {
	all    bool
	key    string
	matrix bool // key is a matrix job's id
}

// selectJobs selects the lines of job, a job's key or its id, or with ""
// every line. A job that neither the run's jobs nor its workflow know is
// ENotFound.
func (s *Server) selectJobs(v *RunView, job string) (jobSelection, error) {
	if job == "" {
		return jobSelection{all: true}, nil
	}
	sel, known := jobSelection{key: job}, false
	for _, j := range v.Jobs {
		known = known || j.Key == job || j.ID == job
		sel.matrix = sel.matrix || j.ID == job && j.Key != job
	}
	if w, ok := s.Workflows.Set().Lookup(v.Workflow); ok && !known && len(v.Jobs) == 0 {
		// The run has not stored its jobs yet.
		if spec, ok := w.Job(job); ok && !spec.Implicit {
			known, sel.matrix = true, spec.Strategy != nil && spec.Strategy.Matrix != nil
		}
	}
	if !known {
		return jobSelection{}, workflows.Errorf(workflows.ENotFound, "run %s has no job %q", v.ID, job)
	}
	return sel, nil
}

// has reports whether the line of job (a key) is selected.
func (s jobSelection) has(job string) bool {
	return s.all || job == s.key || s.matrix && strings.HasPrefix(job, s.key+" (")
}

// prefixed reports whether lines are shown after their job's key: when they
// may come from several jobs.
func (s jobSelection) prefixed() bool { return s.all || s.matrix }

// steps are the steps whose indexes the lines of job (a key; "" in a
// `steps:` run) name.
func (s jobSelection) steps(v *RunView, job string) []runner.StepResult {
	for _, j := range v.Jobs {
		if j.Key == job {
			return j.Steps
		}
	}
	return v.Steps
}

func stepKey(steps []runner.StepResult, i int) string {
	if i >= 0 && i < len(steps) && steps[i].ID != "" {
		return steps[i].ID
	}
	if i < 0 {
		return "run"
	}
	return "step-" + strconv.Itoa(i+1)
}

// keepAlive is how often a quiet stream is sent a comment, and the store asked
// whether the run ended (it may run on another node).
const keepAlive = 2 * time.Second

// followLogs streams stored lines, then live ones, then an `end` event with the
// finished run. Last-Event-ID (or ?after=) resumes after a line's Seq.
func (s *Server) followLogs(c echo.Context, run *store.Run, sel jobSelection) error {
	ctx := c.Request().Context()
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	last, _ := strconv.ParseInt(c.Request().Header.Get("Last-Event-ID"), 10, 64)
	if a, err := strconv.ParseInt(c.QueryParam("after"), 10, 64); err == nil {
		last = a
	}
	sub := s.Logs.Subscribe(run.ID)
	defer sub.Close()

	send := func(lines []store.LogLine) error {
		for _, l := range lines {
			if l.Seq <= last {
				continue
			}
			last = l.Seq
			if !sel.has(l.Job) {
				continue
			}
			b, _ := json.Marshal(l)
			if _, err := fmt.Fprintf(w, "id: %d\nevent: log\ndata: %s\n\n", l.Seq, b); err != nil {
				return err
			}
		}
		w.Flush()
		return nil
	}
	catchUp := func() error {
		for {
			lines, err := s.Store.Logs(ctx, run.ID, last, 1000)
			if err != nil {
				return err
			}
			if err := send(lines); err != nil || len(lines) < 1000 {
				return err
			}
		}
	}
	end := func() error {
		if err := catchUp(); err != nil {
			return err
		}
		final, err := s.Store.GetRun(ctx, run.ID)
		if err != nil {
			return err
		}
		v, err := ViewRunJobs(ctx, s.Store, final)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "event: end\ndata: %s\n\n", b)
		w.Flush()
		return nil
	}

	if err := catchUp(); err != nil {
		return nil
	}
	if Finished(run.Status) {
		return end()
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case lines, ok := <-sub.C:
			if !ok {
				return end()
			}
			// A follower that fell behind had batches dropped, and a later
			// batch would move it past them for good: read them from the store.
			var err error
			if sub.Lagged() {
				err = catchUp()
			} else {
				err = send(lines)
			}
			if err != nil {
				return nil
			}
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
			w.Flush()
			// The run may be on another node, whose lines reach this node's
			// broker never: read what the store has.
			if done, err := s.finished(ctx, run.ID); err == nil && done {
				return end()
			}
			if catchUp() != nil {
				return nil
			}
		}
	}
}

func (s *Server) finished(ctx context.Context, id string) (bool, error) {
	r, err := s.Store.GetRun(ctx, id)
	if err != nil {
		return false, err
	}
	return Finished(r.Status), nil
}
