package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/hookflow/hookflow/api"
)

// Cancel, rerun and replay are the API's: the UI hands each to the API route
// that does it, so that their rules (a finished run cannot be cancelled, which
// workflows a replay is matched against) live in one place.

func (u *UI) cancelRun(c echo.Context) error {
	id := c.Param("id")
	var run struct{ ID string }
	if status, msg := u.callAPI(c, "/api/v1/runs/"+id+"/cancel", &run); msg != "" {
		return u.fail(c, status, msg)
	}
	return c.Redirect(http.StatusSeeOther, "/ui/runs/"+url.PathEscape(id))
}

func (u *UI) rerunRun(c echo.Context) error {
	var run struct{ ID string }
	if status, msg := u.callAPI(c, "/api/v1/runs/"+c.Param("id")+"/rerun", &run); msg != "" {
		return u.fail(c, status, msg)
	}
	return c.Redirect(http.StatusSeeOther, "/ui/runs/"+url.PathEscape(run.ID))
}

func (u *UI) replayEvent(c echo.Context) error {
	var receipt struct {
		EventID string `json:"event_id"`
	}
	if status, msg := u.callAPI(c, "/api/v1/events/"+c.Param("id")+"/replay", &receipt); msg != "" {
		return u.fail(c, status, msg)
	}
	return c.Redirect(http.StatusSeeOther, "/ui/events/"+url.PathEscape(receipt.EventID))
}

// callAPI sends a body-less POST to the API path as the client of c: the
// request keeps its cookies, headers and address, so that Authorize judges it
// as it judged the page. It decodes a successful answer into out, and returns
// the status with the API's error message, empty on success.
func (u *UI) callAPI(c echo.Context, path string, out any) (int, string) {
	if !validID(c.Param("id")) {
		return http.StatusNotFound, "No such run or event."
	}
	return u.postAPI(c, path, out)
}

// postAPI is callAPI for a path that names no run or event.
func (u *UI) postAPI(c echo.Context, path string, out any) (int, string) {
	r := c.Request()
	req := api.FromUI(r.Clone(r.Context()))
	req.Method = http.MethodPost
	req.URL = &url.URL{Path: path}
	req.RequestURI = path
	req.Body, req.ContentLength = http.NoBody, 0
	req.Header.Del("Content-Type")
	req.Header.Del("Content-Length")
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	u.echo.ServeHTTP(rec, req)
	if rec.status >= 400 {
		var e struct{ Error string }
		if json.Unmarshal(rec.body.Bytes(), &e) != nil || e.Error == "" {
			e.Error = http.StatusText(rec.status)
		}
		return rec.status, e.Error
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		u.log.Error("ui: api answer", "path", path, "err", err)
		return http.StatusInternalServerError, "internal error; see the server log"
	}
	return rec.status, ""
}

// validID accepts the ids hookflow makes (ULIDs), so that a path built from
// one stays the route it names.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !('0' <= r && r <= '9' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// recorder keeps an in-process answer of the API.
type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}
