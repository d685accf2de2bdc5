package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/hookflow/hookflow/intake"
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
	if refused, _ := strconv.ParseBool(c.QueryParam("refused")); refused {
		return s.listRefused(c, limit)
	}
	events, err := s.Store.ListEvents(c.Request().Context(), store.EventFilter{Path: c.QueryParam("path"),
		Before: c.QueryParam("before"), Limit: limit + 1})
	if err != nil {
		return s.fail(c, err)
	}
	events, next := cut(events, limit, func(e *store.Event) string { return e.ID })
	return c.JSON(http.StatusOK, map[string]any{"events": events, "next": next})
}

// cut keeps the first limit of items, asked for one more than limit, and
// returns the cursor of the next page when there is one: the id of the last
// item kept.
func cut[T any](items []T, limit int, id func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	return items[:limit], id(items[limit-1])
}

// listRefused answers the deliveries refused rather than stored, newest
// first, in the list shape of the events they did not become.
func (s *Server) listRefused(c echo.Context, limit int) error {
	if c.QueryParam("path") != "" {
		return badRequest(c, "path does not filter refused deliveries")
	}
	refused, err := s.Store.ListRefusals(c.Request().Context(), store.RefusalFilter{Before: c.QueryParam("before"), Limit: limit + 1})
	if err != nil {
		return s.fail(c, err)
	}
	refused, next := cut(refused, limit, func(r *workflows.Refusal) string { return r.ID })
	return c.JSON(http.StatusOK, map[string]any{"events": refused, "next": next})
}

func (s *Server) getRefused(c echo.Context) error {
	r, err := s.Store.GetRefusal(c.Request().Context(), c.Param("id"))
	if err != nil {
		return s.fail(c, err)
	}
	return c.JSON(http.StatusOK, r)
}

func (s *Server) getEvent(c echo.Context) error {
	ev, err := s.Store.GetEvent(c.Request().Context(), c.Param("id"))
	if err != nil {
		return s.fail(c, err)
	}
	return c.JSON(http.StatusOK, ev)
}

// replay matches a stored event again as a new event (intake.Replay).
func (s *Server) replay(c echo.Context) error {
	ctx := c.Request().Context()
	stored, err := s.Store.GetEvent(ctx, c.Param("id"))
	if err != nil {
		return s.fail(c, err)
	}
	entry := &intake.Replay{Data: stored.Data, Trigger: stored.Trigger}
	for _, v := range stored.Verdicts {
		entry.Workflows = append(entry.Workflows, v.Workflow)
	}
	dec, rc, err := s.Intake.Accept(s.actorContext(c, ""), entry)
	if err != nil {
		return s.fail(c, err)
	}
	dec.Release()
	status := http.StatusOK
	if len(rc.Runs) > 0 {
		status = http.StatusAccepted
	}
	return c.JSON(status, rc)
}

// MatchRequest is the body of POST /api/v1/match: a delivery to try, taken as
// the webhook endpoint would take it but with no signature checked.
type MatchRequest struct {
	// Path is the trigger path, with an optional query string:
	// "github", "/hooks/github" or "alerts?token=x".
	Path    string            `json:"path"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers"`
	// Body is the payload. A JSON string is the body's text as it is, for
	// form and raw payloads; any other JSON value is sent as its JSON text.
	Body json.RawMessage `json:"body"`
}

// Delivery is the delivery the request describes.
func (r *MatchRequest) Delivery() (*intake.Delivery, error) {
	path, query, err := intake.Target(r.Path)
	if err != nil {
		return nil, err
	}
	d := &intake.Delivery{Path: path, Method: r.Method, Query: query, Header: http.Header{}, Body: r.Body}
	for k, v := range r.Headers {
		d.Header.Set(k, v)
	}
	var text string
	if json.Unmarshal(r.Body, &text) == nil {
		d.Body = []byte(text)
	}
	return d, nil
}

// MatchVerdict is one workflow's verdict in a match answer.
type MatchVerdict struct {
	Workflow string `json:"workflow"`
	Run      bool   `json:"run"`
	Runs     int    `json:"runs,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// MatchAnswer is what POST /api/v1/match and `hookflow match -o json` answer.
type MatchAnswer struct {
	Event    *workflows.Event `json:"event"`
	Verdicts []MatchVerdict   `json:"verdicts"`
	// Challenge is what the endpoint answers a Slack url_verification
	// handshake with; such a delivery starts nothing.
	Challenge string `json:"challenge,omitempty"`
}

// Explanation is the answer that describes dec.
func Explanation(dec *intake.Decision) MatchAnswer {
	out := make([]MatchVerdict, 0, len(dec.Verdicts))
	for _, v := range dec.Verdicts {
		mv := MatchVerdict{Workflow: v.Workflow.Name, Run: v.Run, Reason: v.Reason}
		if v.Run {
			mv.Runs = max(1, len(v.Items))
		}
		out = append(out, mv)
	}
	return MatchAnswer{Event: dec.Event, Verdicts: out, Challenge: dec.Challenge}
}

func (s *Server) match(c echo.Context) error {
	var req MatchRequest
	if err := decodeBody(c, &req); err != nil {
		return badRequest(c, err.Error())
	}
	if req.Path == "" {
		return badRequest(c, "path is required")
	}
	d, err := req.Delivery()
	if err != nil {
		return s.fail(c, err)
	}
	dec, err := s.Intake.Explain(c.Request().Context(), d)
	if err != nil {
		return s.fail(c, err)
	}
	defer dec.Release()
	return c.JSON(http.StatusOK, Explanation(dec))
}
