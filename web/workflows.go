package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// recentRuns is how many runs the workflows page lists, and how many results
// each workflow's strip shows.
const recentRuns = 20

// workflowsData is the workflows page: the active set, how it was loaded, and
// the latest runs.
type workflowsData struct {
	Revision    string
	LoadedAt    time.Time
	ReloadError string
	// Reloaded is the outcome of the reload just asked for from this page:
	// "ok", "failed" or "" when none was.
	Reloaded  string
	Workflows []workflowCard
	Recent    []runRow
}

// workflowCard is one workflow with its last run and dispatch form.
type workflowCard struct {
	api.WorkflowView
	// Index makes the form's element ids unique; names may hold anything.
	Index    int
	Triggers []string
	Last     *store.Run
	// Strip is the workflow's latest results, oldest first, at most
	// recentRuns of them.
	Strip []*store.Run
	// NextCron is when a cron trigger fires next; zero when none will.
	NextCron time.Time
	Fields   []inputField
	// Error is why the dispatch just tried from this form failed.
	Error string
}

// inputField is one dispatch input as a form field.
type inputField struct {
	ID          string
	Name        string // the form field's name
	Label       string
	Type        string
	Description string
	Required    bool
	// Options are a select's values (choice and boolean inputs); Blank adds
	// an empty first option when there is no default to preselect.
	Options []string
	Blank   bool
	Value   string
}

// inputPrefix prefixes the dispatch form's input fields, so that an input may
// be called anything, "csrf" included.
const inputPrefix = "input."

func (u *UI) workflowsPage(c echo.Context) error {
	return u.showWorkflows(c, http.StatusOK, "", "", nil)
}

// showWorkflows renders the workflows page; after a failed dispatch, with the
// error and the values given next to that workflow's form.
func (u *UI) showWorkflows(c echo.Context, status int, failed, msg string, given url.Values) error {
	ctx := c.Request().Context()
	set := u.api.Workflows.Set()
	st := u.api.Workflows.Status()
	data := workflowsData{Revision: st.Revision, LoadedAt: st.LoadedAt, ReloadError: st.Error}
	if r := c.QueryParam("reloaded"); r == "ok" || r == "failed" {
		data.Reloaded = r
	}
	latest, err := u.api.Store.LatestRuns(ctx, recentRuns)
	if err != nil {
		return u.unavailable(c, err)
	}
	byWorkflow := map[string][]*store.Run{}
	for _, r := range latest {
		byWorkflow[r.Workflow] = append(byWorkflow[r.Workflow], r)
	}
	now := u.now()
	for i, w := range set.Workflows() {
		view := api.ViewWorkflow(w)
		card := workflowCard{WorkflowView: view, Index: i, Triggers: triggerLines(view), NextCron: w.NextCron(now)}
		if runs := byWorkflow[w.Name]; len(runs) > 0 {
			card.Last = runs[0]
			card.Strip = slices.Clone(runs)
			slices.Reverse(card.Strip)
		}
		values := given
		if w.Name != failed {
			values = nil
		} else {
			card.Error = msg
		}
		card.Fields = inputFields(i, card.Dispatch, values)
		data.Workflows = append(data.Workflows, card)
	}
	recent, err := u.api.Store.ListRuns(ctx, store.RunFilter{Limit: recentRuns})
	if err != nil {
		return u.unavailable(c, err)
	}
	if data.Recent, err = u.runRows(ctx, recent); err != nil {
		return u.unavailable(c, err)
	}
	return u.render(c, status, "workflows", "Workflows", "workflows", data)
}

// triggerLines says in words what starts a workflow.
func triggerLines(v api.WorkflowView) []string {
	var out []string
	for _, h := range v.Webhooks {
		s := fmt.Sprintf("webhook %s /hooks/%s (%s)", strings.Join(h.Methods, ","), h.Path, h.Provider)
		if len(h.Events) > 0 {
			s += " events: " + strings.Join(h.Events, ", ")
		}
		if len(h.Branches) > 0 {
			s += " branches: " + strings.Join(h.Branches, ", ")
		}
		if len(h.Paths) > 0 {
			s += " paths: " + strings.Join(h.Paths, ", ")
		}
		out = append(out, s)
	}
	for _, cr := range v.Cron {
		s := "cron " + cr.Schedule
		if cr.Timezone != "" {
			s += " (" + cr.Timezone + ")"
		}
		out = append(out, s)
	}
	if v.Dispatch != nil {
		out = append(out, "dispatch")
	}
	return out
}

// inputFields builds the dispatch form of workflow number i, filled with the
// values given, else the defaults.
func inputFields(i int, d *api.DispatchView, given url.Values) []inputField {
	if d == nil {
		return nil
	}
	fields := make([]inputField, 0, len(d.Inputs))
	for j, in := range d.Inputs {
		f := inputField{ID: fmt.Sprintf("wf%d-in%d", i, j), Name: inputPrefix + in.Name, Label: in.Name, Type: in.Type,
			Description: in.Description, Required: in.Required}
		if in.Default != nil {
			f.Value = value(in.Default)
		}
		if given != nil {
			f.Value = given.Get(f.Name)
		}
		switch in.Type {
		case workflows.InputChoice:
			f.Options, f.Blank = in.Options, in.Default == nil
		case workflows.InputBoolean:
			f.Options, f.Blank = []string{"true", "false"}, in.Default == nil
		}
		fields = append(fields, f)
	}
	return fields
}

// dispatch starts a workflow from its form, through the API's own dispatch.
// Empty fields are left out, so that defaults apply.
func (u *UI) dispatch(c echo.Context) error {
	name := c.Param("name")
	w, ok := u.api.Workflows.Set().Lookup(name)
	if !ok || w.On.Dispatch == nil {
		return u.fail(c, http.StatusNotFound, fmt.Sprintf("No workflow %q with a dispatch trigger is loaded.", name))
	}
	form, err := c.FormParams()
	if err != nil {
		return u.fail(c, http.StatusBadRequest, "The form could not be read.")
	}
	inputs := map[string]any{}
	for _, in := range w.On.Dispatch.Inputs {
		if v := form.Get(inputPrefix + in.Name); v != "" {
			inputs[in.Name] = v
		}
	}
	run, err := u.api.DispatchWorkflow(c, name, inputs, "ui")
	if err != nil {
		status := errorStatus(err)
		msg := err.Error()
		if status == http.StatusInternalServerError {
			u.log.Error("ui: dispatch", "workflow", name, "err", err)
			msg = "internal error; see the server log"
		}
		return u.showWorkflows(c, status, name, msg, form)
	}
	return c.Redirect(http.StatusSeeOther, "/ui/runs/"+url.PathEscape(run.ID))
}

// errorStatus is the HTTP status for a domain error, as the API answers it.
func errorStatus(err error) int {
	switch workflows.ErrorCode(err) {
	case workflows.EInvalid:
		return http.StatusUnprocessableEntity
	case workflows.ENotFound:
		return http.StatusNotFound
	case workflows.EConflict:
		return http.StatusConflict
	case workflows.EOverloaded:
		return http.StatusTooManyRequests
	case workflows.EUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// reload reloads the workflows through the API's own reload, and shows the
// workflows page with the outcome; a failed reload's error is the page's.
func (u *UI) reload(c echo.Context) error {
	var status struct{ Revision string }
	code, msg := u.postAPI(c, "/api/v1/workflows/reload", &status)
	switch {
	case code == http.StatusUnprocessableEntity:
		return c.Redirect(http.StatusSeeOther, "/ui/?reloaded=failed")
	case msg != "":
		return u.fail(c, code, msg)
	}
	return c.Redirect(http.StatusSeeOther, "/ui/?reloaded=ok")
}
