package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/hookflow/hookflow/workflows"
)

// EventFilter selects events for ListEvents. Zero fields match every event.
type EventFilter struct {
	// Path is the webhook path the events were delivered to.
	Path string
	Page
}

// ListEvents returns a page of the events f selects.
func (c *Client) ListEvents(ctx context.Context, f EventFilter) (*EventList, error) {
	return call[EventList](ctx, c, http.MethodGet, pagePath(apiPath("events"), url.Values{"path": {f.Path}}, f.Page), nil)
}

// GetEvent returns event id with its verdicts.
func (c *Client) GetEvent(ctx context.Context, id string) (*Event, error) {
	return call[Event](ctx, c, http.MethodGet, apiPath("events", id), nil)
}

// Replay matches event id again, as a new event, against the workflows
// loaded now, and returns what the server made of it.
func (c *Client) Replay(ctx context.Context, id string) (*Receipt, error) {
	return call[Receipt](ctx, c, http.MethodPost, apiPath("events", id, "replay"), nil)
}

// Refusal is a delivery the webhook endpoint refused rather than stored.
type Refusal struct {
	Answer `json:"-"`
	workflows.Refusal
}

// RefusalList is a page of refused deliveries, newest first.
type RefusalList struct {
	Answer `json:"-"`

	Refused []*workflows.Refusal `json:"events"`
	// Next is the Page.Before of the next page; empty on the last.
	Next string `json:"next"`
}

// ListRefused returns a page of the deliveries refused rather than stored,
// so that one can see why a hook did not fire.
func (c *Client) ListRefused(ctx context.Context, p Page) (*RefusalList, error) {
	return call[RefusalList](ctx, c, http.MethodGet, pagePath(apiPath("events"), url.Values{"refused": {"1"}}, p), nil)
}

// GetRefused returns refused delivery id, with its redacted headers.
func (c *Client) GetRefused(ctx context.Context, id string) (*Refusal, error) {
	return call[Refusal](ctx, c, http.MethodGet, apiPath("events", "refused", id), nil)
}
