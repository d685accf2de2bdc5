package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/oklog/ulid/v2"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

var errTooLarge = errors.New("request body larger than 1 MiB")

func errInvalidJSON(err error) error { return fmt.Errorf("invalid JSON: %w", err) }

func (s *Server) listEvents(c echo.Context) error {
	limit, err := limitParam(c)
	if err != nil {
		return badRequest(c, err.Error())
	}
	events, err := s.Store.ListEvents(c.Request().Context(), store.EventFilter{Path: c.QueryParam("path"),
		Before: c.QueryParam("before"), Limit: limit + 1})
	if err != nil {
		return s.fail(c, err)
	}
	next := ""
	if len(events) > limit {
		events, next = events[:limit], events[limit-1].ID
	}
	return c.JSON(http.StatusOK, map[string]any{"events": events, "next": next})
}

func (s *Server) getEvent(c echo.Context) error {
	ev, err := s.Store.GetEvent(c.Request().Context(), c.Param("id"))
	if err != nil {
		return s.fail(c, err)
	}
	return c.JSON(http.StatusOK, ev)
}

// replay matches a stored event again, as a new event with trigger `replay`,
// against the active workflows: those on its path for a webhook delivery, else
// those that had a verdict on it.
func (s *Server) replay(c echo.Context) error {
	ctx := c.Request().Context()
	stored, err := s.Store.GetEvent(ctx, c.Param("id"))
	if err != nil {
		return s.fail(c, err)
	}
	ev := &workflows.Event{}
	if err := json.Unmarshal(stored.Data, ev); err != nil {
		return s.fail(c, fmt.Errorf("event %s: %w", stored.ID, err))
	}
	ev.ID, ev.Trigger, ev.ReceivedAt = ulid.Make().String(), workflows.TriggerReplay, time.Now().UTC()
	scope := workflows.NewScope(ev)
	scope.Inputs = ev.Inputs
	set := s.Source.Set()
	var verdicts []workflows.Verdict
	if stored.Trigger == workflows.TriggerWebhook || ev.Path != "" {
		verdicts = set.Match(scope)
	} else {
		for _, v := range stored.Verdicts {
			if w, ok := set.Lookup(v.Workflow); ok {
				verdicts = append(verdicts, w.Decide(scope))
			}
		}
	}
	rc, err := s.Dispatcher.Dispatch(ctx, ev, verdicts, "")
	if err != nil {
		return s.fail(c, err)
	}
	status := http.StatusOK
	if len(rc.Runs) > 0 {
		status = http.StatusAccepted
	}
	return c.JSON(status, rc)
}

// MatchRequest is the body of POST /api/v1/match: a delivery to try.
type MatchRequest struct {
	Path    string            `json:"path"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers"`
	// Body is the payload: a JSON value, sent as JSON.
	Body json.RawMessage `json:"body"`
}

// MatchVerdict is one workflow's verdict in a match answer.
type MatchVerdict struct {
	Workflow string `json:"workflow"`
	Run      bool   `json:"run"`
	Runs     int    `json:"runs,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

func (s *Server) match(c echo.Context) error {
	var req MatchRequest
	if err := decodeBody(c, &req); err != nil {
		return badRequest(c, err.Error())
	}
	if req.Path == "" {
		return badRequest(c, "path is required")
	}
	ev, verdicts, err := s.Match(c.Request().Context(), req)
	if err != nil {
		return s.fail(c, err)
	}
	out := make([]MatchVerdict, 0, len(verdicts))
	for _, v := range verdicts {
		mv := MatchVerdict{Workflow: v.Workflow.Name, Run: v.Run, Reason: v.Reason}
		if v.Run {
			mv.Runs = max(1, len(v.Items))
		}
		out = append(out, mv)
	}
	return c.JSON(http.StatusOK, map[string]any{"event": ev, "verdicts": out})
}
