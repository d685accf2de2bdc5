package client

import (
	"context"
	"net/http"
)

// Workflow is a loaded workflow as the API lists it; the fields that only
// the UI reads are left out.
type Workflow struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Disabled    bool   `json:"disabled,omitempty"`
}

// WorkflowList is the server's loaded workflows, by name.
type WorkflowList struct {
	Answer `json:"-"`

	Workflows []Workflow `json:"workflows"`
}

// ListWorkflows returns the workflows the server has loaded.
func (c *Client) ListWorkflows(ctx context.Context) (*WorkflowList, error) {
	return call[WorkflowList](ctx, c, http.MethodGet, apiPath("workflows"), nil)
}
