package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// RunFilter selects runs for ListRuns. Zero fields match every run.
type RunFilter struct {
	Workflow string
	Status   string
	// Event is the id of the event that started the runs.
	Event string
	Page
}

// ListRuns returns a page of the runs f selects.
func (c *Client) ListRuns(ctx context.Context, f RunFilter) (*RunList, error) {
	q := url.Values{"workflow": {f.Workflow}, "status": {f.Status}, "event": {f.Event}}
	return call[RunList](ctx, c, http.MethodGet, pagePath(apiPath("runs"), q, f.Page), nil)
}

// GetRun returns run id.
func (c *Client) GetRun(ctx context.Context, id string) (*Run, error) {
	return call[Run](ctx, c, http.MethodGet, apiPath("runs", id), nil)
}

// Cancel cancels run id: a queued run is skipped at once; a running one is
// asked to stop, and has CancelRequested until it does. A finished run is an
// *Error with status 409.
func (c *Client) Cancel(ctx context.Context, id string) (*Run, error) {
	return call[Run](ctx, c, http.MethodPost, apiPath("runs", id, "cancel"), nil)
}

// Rerun queues a new attempt of run id, for the same event, and returns it.
func (c *Client) Rerun(ctx context.Context, id string) (*Run, error) {
	return call[Run](ctx, c, http.MethodPost, apiPath("runs", id, "rerun"), nil)
}

// Dispatch starts workflow by hand with inputs and returns the run it queued.
func (c *Client) Dispatch(ctx context.Context, workflow string, inputs map[string]any) (*Run, error) {
	if inputs == nil {
		inputs = map[string]any{}
	}
	body := map[string]any{"inputs": inputs}
	return call[Run](ctx, c, http.MethodPost, apiPath("workflows", workflow, "dispatch"), body)
}

// Log copies the log of run id so far to w, as text: a line for each line
// of the log, with its time, step and stream, and in a `jobs:` run its job.
// job, when not "", is the key or the id of the job whose lines to copy.
func (c *Client) Log(ctx context.Context, id, job string, w io.Writer) error {
	resp, err := c.send(ctx, c.http, http.MethodGet, logPath(id, job, false), nil, http.Header{"Accept": {"text/plain"}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("read the log: %w", err)
	}
	return nil
}

// logPath is the path of run id's log, of job's lines when job is not "".
func logPath(id, job string, follow bool) string {
	q := url.Values{}
	if job != "" {
		q.Set("job", job)
	}
	if follow {
		q.Set("follow", "1")
	}
	p := apiPath("runs", id, "logs")
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return p
}
