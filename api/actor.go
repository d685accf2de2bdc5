package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/hookflow/hookflow/runner"
)

// tokenIndexKey is the echo context key under which Authorize leaves the
// place (from 1) in Tokens of the token the client presented.
const tokenIndexKey = "hookflow.token_index"

// uiKey marks a request the web UI makes of the API on its user's behalf.
type uiKey struct{}

// FromUI returns r marked as made by the web UI for its user, so that the
// runs it starts record "ui" rather than "api" as the way they were asked
// for. Only the UI's own in-process calls can carry the mark: it lives in
// the request's context, which no client can set.
func FromUI(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), uiKey{}, true))
}

// actor says who c's client is, for the runs it starts by hand: how it came
// (via, "ui" or "api"; when empty, "ui" for a request FromUI marked, else
// "api"), the identity it was let in with ("token 2", its place in the api
// tokens, or "loopback" when no token is configured) and its address. It
// never holds a token.
func (s *Server) actor(c echo.Context, via string) string {
	if via == "" {
		via = "api"
		if ui, _ := c.Request().Context().Value(uiKey{}).(bool); ui {
			via = "ui"
		}
	}
	who := "loopback"
	if i, ok := c.Get(tokenIndexKey).(int); ok && i > 0 {
		who = "token " + strconv.Itoa(i)
	}
	return via + " " + who + " from " + c.RealIP()
}

// actorContext is c's request context telling the runs it starts who asked
// (runner.WithActor); via is as actor's.
func (s *Server) actorContext(c echo.Context, via string) context.Context {
	return runner.WithActor(c.Request().Context(), s.actor(c, via))
}
