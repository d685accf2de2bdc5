package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// eventsData is the events list, or with Refused the list of deliveries
// refused rather than stored.
type eventsData struct {
	Path     string
	Events   []*store.Event
	Refused  bool
	Refusals []*workflows.Refusal
	Older    string
	Refresh  string
}

func (u *UI) eventsPage(c echo.Context) error {
	if refused, _ := strconv.ParseBool(c.QueryParam("refused")); refused {
		return u.refusedPage(c)
	}
	f := store.EventFilter{Path: c.QueryParam("path"), Before: c.QueryParam("before"), Limit: pageSize + 1}
	events, err := u.api.Store.ListEvents(c.Request().Context(), f)
	if workflows.ErrorCode(err) == workflows.EInvalid {
		return u.fail(c, http.StatusBadRequest, err.Error())
	}
	if err != nil {
		return u.unavailable(c, err)
	}
	data := eventsData{Path: f.Path, Events: events}
	q := url.Values{}
	if f.Path != "" {
		q.Set("path", f.Path)
	}
	if len(events) > pageSize {
		data.Events = events[:pageSize]
		older := cloneValues(q)
		older.Set("before", events[pageSize-1].ID)
		data.Older = "/ui/events?" + older.Encode()
	}
	if f.Before == "" {
		rows := cloneValues(q)
		rows.Set("part", "rows")
		data.Refresh = "/ui/events?" + rows.Encode()
	}
	return u.render(c, http.StatusOK, "events", "Events", "events", data)
}

// refusedPage lists the deliveries refused rather than stored, newest
// first, each with its reason, and its redacted headers on demand.
func (u *UI) refusedPage(c echo.Context) error {
	f := store.RefusalFilter{Before: c.QueryParam("before"), Limit: pageSize + 1}
	refused, err := u.api.Store.ListRefusals(c.Request().Context(), f)
	if err != nil {
		return u.unavailable(c, err)
	}
	data := eventsData{Refused: true, Refusals: refused}
	if len(refused) > pageSize {
		data.Refusals = refused[:pageSize]
		data.Older = "/ui/events?" + url.Values{"refused": {"1"}, "before": {refused[pageSize-1].ID}}.Encode()
	}
	if f.Before == "" {
		data.Refresh = "/ui/events?" + url.Values{"refused": {"1"}, "part": {"rows"}}.Encode()
	}
	return u.render(c, http.StatusOK, "events", "Refused deliveries", "events", data)
}

// eventData is one event's page.
type eventData struct {
	Event    *store.Event
	Fields   []field
	Verdicts []verdictRow
	Headers  []field
	Query    []field
	Inputs   []field
	// Payload is the body, pretty-printed when it is JSON; PayloadKind says
	// which it is.
	Payload     string
	PayloadKind string
	// Full is the event as workflows see it, pretty-printed.
	Full string
}

// field is a name and a value to show.
type field struct {
	Name  string
	Value string
}

// verdictRow is what one workflow made of the event.
type verdictRow struct {
	Workflow string
	// Ran: runs were queued (some may since have been skipped, by a cooldown
	// or a newer run of their group; their reasons say so).
	Ran    bool
	Reason string
	Runs   []*store.Run
	// Count, when set, is how many more workflows were skipped for Reason
	// (the stored event counts skips past the first few).
	Count int
}

func (u *UI) eventPage(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	ev, err := u.api.Store.GetEvent(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return u.fail(c, http.StatusNotFound, fmt.Sprintf("No event %q.", id))
	}
	if err != nil {
		return u.unavailable(c, err)
	}
	runs, err := u.api.Store.ListRuns(ctx, store.RunFilter{EventID: ev.ID})
	if err != nil {
		return u.unavailable(c, err)
	}
	byID := make(map[string]*store.Run, len(runs))
	for _, r := range runs {
		byID[r.ID] = r
	}
	data := eventData{Event: ev}
	for _, v := range ev.Verdicts {
		row := verdictRow{Workflow: v.Workflow, Ran: len(v.Runs) > 0, Reason: v.Reason, Count: v.Count}
		for _, id := range v.Runs {
			if r, ok := byID[id]; ok {
				row.Runs = append(row.Runs, r)
			} else {
				row.Runs = append(row.Runs, &store.Run{ID: id, Workflow: v.Workflow, Status: "unknown", Reason: "no longer stored"})
			}
		}
		data.Verdicts = append(data.Verdicts, row)
	}

	var we workflows.Event
	if err := json.Unmarshal(ev.Data, &we); err != nil {
		u.log.Warn("ui: event data", "event", ev.ID, "err", err)
	}
	data.Fields = eventFields(&we)
	data.Headers, data.Query, data.Inputs = sortedFields(we.Headers), sortedFields(we.Query), sortedFields(we.Inputs)
	data.Payload, data.PayloadKind = payload(ev.Data)
	data.Full = indent(ev.Data)
	return u.render(c, http.StatusOK, "event", "Event "+short(ev.ID), "events", data)
}

// eventFields are the event's normalised fields that are set.
func eventFields(e *workflows.Event) []field {
	var out []field
	add := func(name, v string) {
		if v != "" {
			out = append(out, field{name, v})
		}
	}
	add("method", e.Method)
	add("name", e.Name)
	add("action", e.Action)
	add("repo", e.Repo)
	add("ref", e.Ref)
	add("branch", e.Branch)
	add("tag", e.Tag)
	add("commit", e.Commit)
	add("sender", e.Sender)
	add("status", e.Status)
	add("group_key", e.GroupKey)
	add("schedule", e.Schedule)
	add("actor", e.Actor)
	if len(e.Changed) > 0 {
		add("changed", value(e.Changed))
	}
	return out
}

func sortedFields[V any](m map[string]V) []field {
	out := make([]field, 0, len(m))
	for k, v := range m {
		out = append(out, field{k, value(v)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// payload is the event's body for the viewer: JSON pretty-printed in its own
// key order, a string as it came, else the raw body.
func payload(data json.RawMessage) (text, kind string) {
	var p struct {
		Body json.RawMessage `json:"body"`
		Raw  string          `json:"raw"`
	}
	if json.Unmarshal(data, &p) != nil {
		return "", ""
	}
	if len(p.Body) > 0 && p.Body[0] == '"' {
		var s string
		if json.Unmarshal(p.Body, &s) == nil {
			return s, "text"
		}
	}
	if len(p.Body) > 0 {
		return indent(p.Body), "JSON"
	}
	if p.Raw != "" {
		return p.Raw, "text"
	}
	return "", ""
}

// indent pretty-prints JSON without the \u003c escapes of <, > and & that
// encoding/json stores: the page escapes them itself, and a viewer should show
// a payload's characters as they are.
func indent(b json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return string(b)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if enc.Encode(v) != nil {
		return string(b)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}
