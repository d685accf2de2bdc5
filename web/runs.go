package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// pageSize is how many runs or events a list page shows.
const pageSize = 50

// runsData is the runs list with its filter.
type runsData struct {
	Workflow  string
	Status    string
	Workflows []string
	Statuses  []string
	Runs      []runRow
	// Next is the cursor of the next (older) page; Older is its URL.
	Older string
	// Refresh is the URL the rows are reloaded from, on the first page only.
	Refresh string
}

func (u *UI) runsPage(c echo.Context) error {
	f := store.RunFilter{Workflow: c.QueryParam("workflow"), Status: c.QueryParam("status"),
		Before: c.QueryParam("before"), Limit: pageSize + 1}
	if f.Status != "" && !slices.Contains(statuses, f.Status) {
		return u.fail(c, http.StatusBadRequest, fmt.Sprintf("Unknown status %q.", f.Status))
	}
	runs, err := u.api.Store.ListRuns(c.Request().Context(), f)
	if workflows.ErrorCode(err) == workflows.EInvalid {
		return u.fail(c, http.StatusBadRequest, err.Error())
	}
	if err != nil {
		return u.unavailable(c, err)
	}
	more := len(runs) > pageSize
	if more {
		runs = runs[:pageSize]
	}
	rows, err := u.runRows(c.Request().Context(), runs)
	if err != nil {
		return u.unavailable(c, err)
	}
	data := runsData{Workflow: f.Workflow, Status: f.Status, Statuses: statuses, Runs: rows}
	for _, w := range u.api.Workflows.Set().Workflows() {
		data.Workflows = append(data.Workflows, w.Name)
	}
	if f.Workflow != "" && !slices.Contains(data.Workflows, f.Workflow) {
		// Runs outlive their workflow; keep the filter selectable.
		data.Workflows = append(data.Workflows, f.Workflow)
	}
	q := url.Values{}
	for k, v := range map[string]string{"workflow": f.Workflow, "status": f.Status} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if more {
		older := cloneValues(q)
		older.Set("before", runs[pageSize-1].ID)
		data.Older = "/ui/runs?" + older.Encode()
	}
	if f.Before == "" {
		rows := cloneValues(q)
		rows.Set("part", "rows")
		data.Refresh = "/ui/runs?" + rows.Encode()
	}
	return u.render(c, http.StatusOK, "runs", "Runs", "runs", data)
}

// runRow is a run as the runs lists show it: with what triggered it.
type runRow struct {
	*store.Run
	Trigger *api.TriggerView
}

// runRows gives runs what triggered them, reading their events in one query.
func (u *UI) runRows(ctx context.Context, runs []*store.Run) ([]runRow, error) {
	triggers, err := api.ViewTriggers(ctx, u.api.Store, runs)
	if err != nil {
		return nil, err
	}
	rows := make([]runRow, len(runs))
	for i, r := range runs {
		rows[i] = runRow{Run: r, Trigger: triggers[i]}
	}
	return rows, nil
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// runData is one run's page.
type runData struct {
	Run   *api.RunView
	Final bool
	Steps []stepRow
	Item  string
	// StepNames (a JSON object) name the log's sections by step index.
	StepNames string
	// LogURL follows the log as server-sent events; TextURL is the log as
	// plain text.
	LogURL  string
	TextURL string
	// Refresh reloads the summary while the run goes on.
	Refresh string
	// Reports are the run's commit statuses and notices; ReportsRefresh
	// reloads them until ReportsSettled: the run is over and none is
	// waiting to be sent.
	Reports        []*store.Report
	ReportsSettled bool
	ReportsRefresh string
	// Jobs is a `jobs:` run's jobs; nil for a `steps:` run, whose Steps and
	// StepNames are the page's.
	Jobs *jobsView
	// JobsRefresh reloads the jobs' sections, without their logs.
	JobsRefresh string
}

// stepRow is one step of the run: a result, or a step not yet started.
type stepRow struct {
	runner.StepResult
	Label   string
	Started bool
	Outputs []output
	// Apply is an apply step's objects and diff, whose outputs are then
	// left out of Outputs; nil for other steps.
	Apply *applyView
}

// output is one step output.
type output struct {
	Name  string
	Value string
}

func (u *UI) runPage(c echo.Context) error {
	id := c.Param("id")
	r, err := u.api.Store.GetRun(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return u.fail(c, http.StatusNotFound, fmt.Sprintf("No run %q.", id))
	}
	if err != nil {
		return u.unavailable(c, err)
	}
	v := api.ViewRun(r)
	if v.Trigger, err = api.RunTrigger(c.Request().Context(), u.api.Store, r); err != nil {
		return u.unavailable(c, err)
	}
	data := runData{Run: v, Final: api.Finished(v.Status),
		LogURL:  "/api/v1/runs/" + url.PathEscape(v.ID) + "/logs?follow=1",
		TextURL: "/api/v1/runs/" + url.PathEscape(v.ID) + "/logs",
		Refresh: "/ui/runs/" + url.PathEscape(v.ID) + "?part=summary"}
	if len(v.Item) > 0 {
		data.Item = string(v.Item)
	}
	if err := u.reportsOf(c.Request().Context(), &data); err != nil {
		return u.unavailable(c, err)
	}
	// A part of the page reloaded while the run goes on needs no log lines.
	data.Jobs, err = u.jobsOf(c.Request().Context(), v, c.QueryParam("part") == "")
	if err != nil {
		return u.unavailable(c, err)
	}
	if data.Jobs != nil {
		data.LogURL += "&after=" + strconv.FormatInt(data.Jobs.After, 10)
		data.JobsRefresh = "/ui/runs/" + url.PathEscape(v.ID) + "?part=jobs"
	} else {
		data.Steps = stepRows(v.Steps, u.pendingSteps(v))
		data.StepNames = stepNames(data.Steps)
	}
	return u.render(c, http.StatusOK, "run", "Run "+v.Workflow+" "+short(v.ID), "runs", data)
}

// reportsOf reads the run's reports into data, and says whether more may
// come: while the run goes on, if its workflow reports, or while one waits
// to be sent.
func (u *UI) reportsOf(ctx context.Context, data *runData) error {
	v := data.Run
	var err error
	if data.Reports, err = u.api.Store.RunReports(ctx, v.ID); err != nil {
		return err
	}
	data.ReportsRefresh = "/ui/runs/" + url.PathEscape(v.ID) + "?part=reports"
	data.ReportsSettled = true
	if !data.Final {
		w, ok := u.api.Workflows.Set().Lookup(v.Workflow)
		data.ReportsSettled = !ok || w.Plan() == nil
	}
	for _, r := range data.Reports {
		if r.Status == store.ReportQueued {
			data.ReportsSettled = false
		}
	}
	return nil
}

// pendingSteps are the steps of run v's workflow, for the rows of steps not
// started yet: none once the run finished or when the workflow changed since.
func (u *UI) pendingSteps(v *api.RunView) []*workflows.Step {
	if api.Finished(v.Status) {
		return nil
	}
	w, ok := u.api.Workflows.Set().Lookup(v.Workflow)
	if !ok || w.Revision != v.Revision {
		return nil
	}
	return w.Steps
}

// stepRows lists step results, followed by the steps in pending that have
// not started yet.
func stepRows(results []runner.StepResult, pending []*workflows.Step) []stepRow {
	var rows []stepRow
	started := map[int]bool{}
	for _, s := range results {
		row := stepRow{StepResult: s, Label: stepLabel(s.ID, s.Name), Started: true}
		if row.Apply = applyOf(s.Outputs); row.Apply != nil {
			row.Outputs = outputs(s.Outputs, applyOutputs...)
		} else {
			row.Outputs = outputs(s.Outputs)
		}
		rows = append(rows, row)
		started[s.Index] = true
	}
	for i, s := range pending {
		if started[i] {
			continue
		}
		name := s.DisplayName()
		rows = append(rows, stepRow{StepResult: runner.StepResult{Index: i, ID: s.Key(), Name: name}, Label: stepLabel(s.Key(), name)})
	}
	return rows
}

// stepLabel names a step by its id, which the workflow file and the plain
// log use, and its name.
func stepLabel(id, name string) string {
	if name == "" || name == id {
		return id
	}
	return id + " — " + name
}

// outputs lists m's outputs by name, but for those named in leave.
func outputs(m map[string]any, leave ...string) []output {
	out := make([]output, 0, len(m))
	for k, v := range m {
		if !slices.Contains(leave, k) {
			out = append(out, output{Name: k, Value: value(v)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
