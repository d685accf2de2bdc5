package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/hookflow/hookflow/intake"
	"github.com/hookflow/hookflow/workflows"
)

// WorkflowView is a workflow as the API shows it.
type WorkflowView struct {
	Name        string        `json:"name"`
	Description string        `json:"description,omitempty"`
	File        string        `json:"file"`
	Revision    string        `json:"revision"`
	Disabled    bool          `json:"disabled,omitempty"`
	Webhooks    []WebhookView `json:"webhooks,omitempty"`
	Cron        []CronView    `json:"cron,omitempty"`
	Dispatch    *DispatchView `json:"dispatch,omitempty"`
	Steps       []StepView    `json:"steps"`
}

// WebhookView is one webhook trigger; the secret is never shown.
type WebhookView struct {
	Path     string   `json:"path"`
	Provider string   `json:"provider"`
	Events   []string `json:"events,omitempty"`
	Branches []string `json:"branches,omitempty"`
	Paths    []string `json:"paths,omitempty"`
	Methods  []string `json:"methods"`
	Respond  string   `json:"respond"`
}

// CronView is one schedule.
type CronView struct {
	Schedule string `json:"schedule"`
	Timezone string `json:"timezone,omitempty"`
}

// DispatchView lists a workflow's dispatch inputs.
type DispatchView struct {
	Inputs []InputView `json:"inputs"`
}

// InputView is one dispatch input.
type InputView struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Required    bool     `json:"required,omitempty"`
	Default     any      `json:"default,omitempty"`
	Description string   `json:"description,omitempty"`
	Options     []string `json:"options,omitempty"`
}

// StepView is one step. Name is the step's name, or for a step without
// one, what it runs (workflows.Step.DisplayName).
type StepView struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Uses string `json:"uses,omitempty"`
}

// ViewWorkflow describes w for the API and the UI.
func ViewWorkflow(w *workflows.Workflow) WorkflowView {
	v := WorkflowView{Name: w.Name, Description: w.Description, File: w.File, Revision: w.Revision, Disabled: w.Disabled, Steps: []StepView{}}
	for _, h := range w.On.Webhook {
		wv := WebhookView{Path: h.Path, Provider: h.Provider, Events: h.Events, Methods: h.Methods, Respond: h.Respond}
		if !h.Branches.Empty() {
			wv.Branches = h.Branches.Patterns
		}
		if !h.Paths.Empty() {
			wv.Paths = h.Paths.Patterns
		}
		v.Webhooks = append(v.Webhooks, wv)
	}
	for _, c := range w.On.Cron {
		v.Cron = append(v.Cron, CronView{Schedule: c.Schedule, Timezone: c.Timezone})
	}
	if d := w.On.Dispatch; d != nil {
		v.Dispatch = &DispatchView{Inputs: []InputView{}}
		for _, in := range d.Inputs {
			v.Dispatch.Inputs = append(v.Dispatch.Inputs, InputView{Name: in.Name, Type: in.Type, Required: in.Required,
				Default: in.Default, Description: in.Description, Options: in.Options})
		}
	}
	for _, s := range w.Steps {
		v.Steps = append(v.Steps, StepView{ID: s.Key(), Name: s.DisplayName(), Uses: s.Uses})
	}
	return v
}

func (s *Server) listWorkflows(c echo.Context) error {
	set := s.Workflows.Set()
	list := make([]WorkflowView, 0, len(set.Workflows()))
	for _, w := range set.Workflows() {
		list = append(list, ViewWorkflow(w))
	}
	st := s.Workflows.Status()
	return c.JSON(http.StatusOK, map[string]any{"workflows": list, "next": "", "revision": st.Revision,
		"loaded_at": st.LoadedAt, "reload_error": st.Error})
}

func (s *Server) getWorkflow(c echo.Context) error {
	w, ok := s.Workflows.Set().Lookup(c.Param("name"))
	if !ok {
		return s.fail(c, workflows.Errorf(workflows.ENotFound, "no workflow %q", c.Param("name")))
	}
	return c.JSON(http.StatusOK, ViewWorkflow(w))
}

func (s *Server) reload(c echo.Context) error {
	if err := s.Workflows.Reload(c.Request().Context()); err != nil {
		return c.JSON(http.StatusUnprocessableEntity, map[string]any{"error": err.Error(), "status": s.Workflows.Status()})
	}
	return c.JSON(http.StatusOK, s.Workflows.Status())
}

// dispatchRequest is the body of POST /workflows/{name}/dispatch.
type dispatchRequest struct {
	Inputs map[string]any `json:"inputs"`
}

func (s *Server) dispatch(c echo.Context) error {
	var req dispatchRequest
	if err := decodeBody(c, &req); err != nil {
		return badRequest(c, err.Error())
	}
	run, err := s.DispatchWorkflow(c, c.Param("name"), req.Inputs, "api")
	if err != nil {
		return s.fail(c, err)
	}
	return c.JSON(http.StatusAccepted, run)
}

// DispatchWorkflow starts workflow name by hand with inputs, and returns the
// (first) queued run. The UI's dispatch form uses it too.
func (s *Server) DispatchWorkflow(c echo.Context, name string, inputs map[string]any, actor string) (*RunView, error) {
	ctx := c.Request().Context()
	dec, rc, err := s.Intake.Accept(s.actorContext(c, actor), &intake.Manual{Workflow: name, Inputs: inputs, Actor: actor})
	if err != nil {
		return nil, err
	}
	defer dec.Release()
	if len(rc.Runs) == 0 {
		reason := "skipped"
		if len(rc.Skipped) > 0 {
			reason = rc.Skipped[0].Reason
		}
		return nil, workflows.Errorf(workflows.EConflict, "workflow %s did not start: %s", name, reason)
	}
	run, err := s.Store.GetRun(ctx, rc.Runs[0].ID)
	if err != nil {
		return nil, err
	}
	return ViewRun(run), nil
}

// maxAPIBody bounds API request bodies.
const maxAPIBody = 1 << 20

// decodeBody reads an optional JSON body strictly: an unknown key (a typo
// such as "input") is an error rather than silently ignored.
func decodeBody(c echo.Context, v any) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxAPIBody+1))
	if err != nil {
		return err
	}
	if len(body) > maxAPIBody {
		return errTooLarge
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errInvalidJSON(err)
	}
	if dec.More() {
		return errInvalidJSON(errors.New("more than one value"))
	}
	return nil
}
