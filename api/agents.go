package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// The agents' management (SPEC §12): register an agent, which is shown its
// token once, list them with what they run, remove one.

// AgentOnlineWithin is how recently an agent must have been heard from to
// count as online.
const AgentOnlineWithin = time.Minute

// AgentView is an agent as the API shows it.
type AgentView struct {
	Name      string    `json:"name"`
	Labels    []string  `json:"labels"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	Version   string    `json:"version,omitempty"`
	// Online is true when the agent was heard from within AgentOnlineWithin.
	Online bool `json:"online"`
	// Jobs are the jobs it holds.
	Jobs []AgentJob `json:"jobs"`
}

// AgentJob is a job an agent holds.
type AgentJob struct {
	Run    string `json:"run"`
	Job    string `json:"job"`
	Status string `json:"status"`
}

// AgentViews returns every agent, by name, with the jobs it holds, online as
// of now.
func (s *Server) AgentViews(ctx context.Context, now time.Time) ([]AgentView, error) {
	agents, err := s.Store.ListAgents(ctx)
	if err != nil {
		return nil, err
	}
	queue, err := s.Store.RemoteQueue(ctx)
	if err != nil {
		return nil, err
	}
	views := make([]AgentView, len(agents))
	for i, a := range agents {
		v := AgentView{Name: a.Name, Labels: a.Labels, CreatedAt: a.CreatedAt, LastSeen: a.LastSeen, Version: a.Version,
			Online: online(a, now), Jobs: []AgentJob{}}
		for _, j := range queue {
			if j.Runner == a.Name {
				v.Jobs = append(v.Jobs, AgentJob{Run: j.RunID, Job: j.Key, Status: j.Status})
			}
		}
		views[i] = v
	}
	return views, nil
}

func online(a *store.Agent, now time.Time) bool {
	return !a.LastSeen.IsZero() && now.Sub(a.LastSeen) < AgentOnlineWithin
}

func (s *Server) listAgents(c echo.Context) error {
	views, err := s.AgentViews(c.Request().Context(), time.Now())
	if err != nil {
		return s.fail(c, err)
	}
	return c.JSON(http.StatusOK, map[string]any{"agents": views})
}

// addAgentRequest is the body of POST /agents.
type addAgentRequest struct {
	Name   string   `json:"name"`
	Labels []string `json:"labels"`
}

// addedAgent answers POST /agents: the only time the token is shown.
type addedAgent struct {
	Name   string   `json:"name"`
	Labels []string `json:"labels"`
	Token  string   `json:"token"`
}

// agentName is what an agent may be called: as a workflow.
var agentName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

const (
	maxAgentName  = 64
	maxAgentLabel = 100
)

// checkAgent says what is wrong with an agent's name or labels, if anything.
func checkAgent(name string, labels []string) error {
	switch {
	case name == "":
		return errors.New("name the agent")
	case len(name) > maxAgentName:
		return fmt.Errorf("agent name %q is longer than %d characters", name, maxAgentName)
	case !agentName.MatchString(name):
		return fmt.Errorf("agent name %q: use letters, digits, '_', '.' and '-'", name)
	case len(labels) == 0:
		return errors.New("give the agent at least one label")
	}
	for i, l := range labels {
		switch {
		case l == "":
			return errors.New("a label is empty")
		case len(l) > maxAgentLabel:
			return fmt.Errorf("label %q is longer than %d characters", l, maxAgentLabel)
		case strings.ContainsFunc(l, func(r rune) bool { return unicode.IsSpace(r) || r == ',' }):
			return fmt.Errorf("label %q: a label has no spaces or commas", l)
		case slices.Contains(labels[:i], l):
			return fmt.Errorf("label %q is listed twice", l)
		}
	}
	return nil
}

func (s *Server) addAgent(c echo.Context) error {
	var req addAgentRequest
	if err := decodeBody(c, &req); err != nil {
		return badRequest(c, err.Error())
	}
	if err := checkAgent(req.Name, req.Labels); err != nil {
		return c.JSON(http.StatusUnprocessableEntity, errorBody(err.Error()))
	}
	token, id, hash := NewAgentToken()
	a := &store.Agent{Name: req.Name, Labels: req.Labels, TokenID: id, TokenHash: hash, CreatedAt: time.Now().UTC()}
	err := s.Store.AddAgent(c.Request().Context(), a)
	if errors.Is(err, store.ErrConflict) {
		return c.JSON(http.StatusConflict, errorBody(fmt.Sprintf("an agent named %s is registered already", req.Name)))
	}
	if err != nil {
		return s.fail(c, err)
	}
	s.Logger.Info("agent registered", "agent", a.Name, "labels", a.Labels)
	return c.JSON(http.StatusCreated, addedAgent{Name: a.Name, Labels: a.Labels, Token: token})
}

func (s *Server) removeAgent(c echo.Context) error {
	name := c.Param("name")
	err := s.Store.RemoveAgent(c.Request().Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return s.fail(c, workflows.Errorf(workflows.ENotFound, "no agent %s", name))
	}
	if err != nil {
		return s.fail(c, err)
	}
	st := s.agents()
	st.mu.Lock()
	delete(st.seen, name)
	st.mu.Unlock()
	s.Logger.Info("agent removed", "agent", name)
	return c.NoContent(http.StatusNoContent)
}
