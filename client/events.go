package client

import (
	"context"
	"net/http"
	"net/url"
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
