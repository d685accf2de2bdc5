package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/hookflow/hookflow/api"
)

// agentsData is the agents page (SPEC §12).
type agentsData struct {
	Agents  []api.AgentView
	Refresh string
}

func (u *UI) agentsPage(c echo.Context) error {
	agents, err := u.api.AgentViews(c.Request().Context(), u.now())
	if err != nil {
		return u.unavailable(c, err)
	}
	return u.render(c, http.StatusOK, "agents", "Agents", "agents", agentsData{Agents: agents, Refresh: "/ui/agents?part=rows"})
}
