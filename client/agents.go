package client

import (
	"context"
	"net/http"
	"time"
)

// Agent is a runner on another host (SPEC §12), as the server lists it.
type Agent struct {
	Name      string    `json:"name"`
	Labels    []string  `json:"labels"`
	CreatedAt time.Time `json:"created_at"`
	// LastSeen is when the agent was last heard from; zero if never.
	LastSeen time.Time `json:"last_seen"`
	Version  string    `json:"version"`
	Online   bool      `json:"online"`
	// Jobs are the jobs it holds.
	Jobs []AgentJob `json:"jobs"`
}

// AgentJob is a job an agent holds.
type AgentJob struct {
	Run    string `json:"run"`
	Job    string `json:"job"`
	Status string `json:"status"`
}

// AgentList is every agent, by name.
type AgentList struct {
	Answer `json:"-"`

	Agents []*Agent `json:"agents"`
}

// AddedAgent is a newly registered agent with its token, which the server
// shows this once.
type AddedAgent struct {
	Answer `json:"-"`

	Name   string   `json:"name"`
	Labels []string `json:"labels"`
	Token  string   `json:"token"`
}

// ListAgents returns every registered agent.
func (c *Client) ListAgents(ctx context.Context) (*AgentList, error) {
	return call[AgentList](ctx, c, http.MethodGet, apiPath("agents"), nil)
}

// AddAgent registers agent name, which may claim jobs whose labels are among
// labels, and returns it with its token.
func (c *Client) AddAgent(ctx context.Context, name string, labels []string) (*AddedAgent, error) {
	body := map[string]any{"name": name, "labels": labels}
	return call[AddedAgent](ctx, c, http.MethodPost, apiPath("agents"), body)
}

// RemoveAgent removes agent name: its token is refused from then on.
func (c *Client) RemoveAgent(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, apiPath("agents", name), nil, &struct{}{})
}
