// Package web is hookflow's web UI (SPEC §8): server-rendered pages for the
// workflows, the runs with their live logs, and the events with their verdicts,
// plus a status badge for READMEs.
//
// Pages are html/template, embedded with their stylesheet and one small script,
// so nothing is fetched at run time. Every page sits behind the API's own
// access rule (api.Server.Authorize), and every action a page offers is carried
// out by the API's own handler, so that the UI can do nothing the API would
// refuse the same client.
package web

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/yuin/goldmark"

	"github.com/hookflow/hookflow/api"
)

//go:embed templates static
var assets embed.FS

// pageNames are the templates in templates/ that are whole pages; each is
// parsed together with layout.html.
var pageNames = []string{"workflows", "runs", "run", "events", "event", "agents", "login", "error"}

// UI serves the web interface. Build it with New, then Register it on the echo
// instance the API is registered on.
type UI struct {
	api *api.Server
	// echo is the instance the UI and the API are registered on; actions are
	// handed to the API's routes on it.
	echo *echo.Echo
	// csrfKey signs the per-browser CSRF tokens; it lives as long as the
	// process, so a form older than the server asks to be reloaded.
	csrfKey      []byte
	pages        map[string]*template.Template
	badge        *template.Template
	static       http.Handler
	assetVersion string
	crossOrigin  *http.CrossOriginProtection
	md           goldmark.Markdown
	now          func() time.Time
	log          *slog.Logger
}

// New returns the UI for the API server srv, whose Store, Source, Tokens,
// Dispatcher and Authorize it uses. now is the clock for relative times; nil
// means time.Now.
func New(srv *api.Server, now func() time.Time) *UI {
	if now == nil {
		now = time.Now
	}
	u := &UI{api: srv, csrfKey: make([]byte, 32), now: now, crossOrigin: http.NewCrossOriginProtection(),
		md: newMarkdown(), log: srv.Logger}
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	rand.Read(u.csrfKey)
	funcs := u.funcs()
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html"))
	u.pages = make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		u.pages[name] = template.Must(template.Must(base.Clone()).ParseFS(assets, "templates/"+name+".html"))
	}
	u.badge = template.Must(template.New("badge.svg").ParseFS(assets, "templates/badge.svg"))
	static, _ := fs.Sub(assets, "static")
	u.static = http.StripPrefix("/ui/static/", http.FileServerFS(static))
	u.assetVersion = versionOf(static)
	return u
}

// versionOf is a short hash of the static files, so that their URLs change
// when they do and browsers may cache them for long.
func versionOf(static fs.FS) string {
	h := sha256.New()
	fs.WalkDir(static, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(static, path)
			h.Write([]byte(path))
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Register adds the UI routes to e, which must be the instance the API server
// is registered on. The badge, the static files and the login page are public;
// everything else is behind the API's access rule.
func (u *UI) Register(e *echo.Echo) {
	u.echo = e
	e.GET("/ui", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/ui/") })
	e.GET("/ui/static/*", u.serveStatic)
	e.GET("/ui/badge/:file", u.serveBadge)
	e.GET("/ui/login", u.loginPage, u.secureHeaders)
	e.POST("/ui/login", u.login, u.secureHeaders)
	e.POST("/ui/logout", u.logout, u.secureHeaders)

	g := e.Group("/ui", u.secureHeaders, u.guard)
	g.GET("/", u.workflowsPage)
	g.POST("/workflows/:name/dispatch", u.dispatch)
	g.POST("/reload", u.reload)
	g.GET("/runs", u.runsPage)
	g.GET("/runs/:id", u.runPage)
	g.POST("/runs/:id/cancel", u.cancelRun)
	g.POST("/runs/:id/rerun", u.rerunRun)
	g.GET("/events", u.eventsPage)
	g.GET("/events/:id", u.eventPage)
	g.POST("/events/:id/replay", u.replayEvent)
	g.GET("/agents", u.agentsPage)
}

func (u *UI) serveStatic(c echo.Context) error {
	h := c.Response().Header()
	if c.QueryParam("v") == u.assetVersion {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	u.static.ServeHTTP(c.Response(), c.Request())
	return nil
}

// contentSecurityPolicy allows only the UI's own script, stylesheet and
// connections: even markup that slipped through escaping could not run.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// secureHeaders sets the headers every UI page carries.
func (u *UI) secureHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		return next(c)
	}
}

// layout is what the layout template needs besides the page's own data.
type layout struct {
	Title        string
	Nav          string
	CSRF         string
	LoggedIn     bool
	AssetVersion string
	Data         any
}

// render answers a page, or with ?part=NAME, the fragment "part-NAME" of it
// (for the script's live updates).
func (u *UI) render(c echo.Context, status int, page, title, nav string, data any) error {
	name := "layout"
	if part := c.QueryParam("part"); part != "" {
		name = "part-" + part
		if u.pages[page].Lookup(name) == nil {
			return u.fail(c, http.StatusNotFound, "This page has no part "+part+".")
		}
	}
	return u.execute(c, status, page, name, layout{Title: title, Nav: nav, Data: data})
}

func (u *UI) execute(c echo.Context, status int, page, name string, v layout) error {
	v.CSRF, v.LoggedIn, v.AssetVersion = u.csrfToken(c), u.loggedIn(c), u.assetVersion
	var buf bytes.Buffer
	if err := u.pages[page].ExecuteTemplate(&buf, name, v); err != nil {
		u.log.Error("ui: render", "page", page, "err", err)
		return c.String(http.StatusInternalServerError, "internal error")
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// errorPage is the data of the error page.
type errorPage struct {
	Status  int
	Message string
}

// fail answers an HTML error page, whole even where a part was asked for.
func (u *UI) fail(c echo.Context, status int, msg string) error {
	return u.execute(c, status, "error", "layout", layout{Title: http.StatusText(status), Nav: "none",
		Data: errorPage{Status: status, Message: msg}})
}

// unavailable answers a store failure without its details, which go to the log.
func (u *UI) unavailable(c echo.Context, err error) error {
	u.log.Error("ui", "path", c.Path(), "err", err)
	return u.fail(c, http.StatusInternalServerError, "The store could not answer; see the server log.")
}

// nextPath is a redirect target taken from a form or query: only a path within
// the UI, never another site.
func nextPath(s string) string {
	if !strings.HasPrefix(s, "/ui/") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\r\n") {
		return "/ui/"
	}
	return s
}
