package web_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/sqlite"
	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/web"
	"github.com/hookflow/hookflow/workflows"
)

// fixture is the UI over a real SQLite store and a workflow set loaded from
// files, without the runner: pages are read, nothing runs.
type fixture struct {
	store  *sqlite.Store
	source *triggers.Source
	echo   *echo.Echo
	now    time.Time
	// events counts the events stored, for their ids.
	events int
}

// noActions accepts no `uses:` step; the fixtures' workflows have only `run:`.
type noActions struct{}

func (noActions) CheckAction(kind string, _ []string, _ map[string]any) error {
	if kind == workflows.RunAction {
		return nil
	}
	return fmt.Errorf("no action %q in the web tests", kind)
}

func (noActions) URLKeys(string) []string { return nil }

// newFixture serves the UI on the workflow files; with tokens, behind a login.
func newFixture(tb testing.TB, files map[string]string, tokens ...string) *fixture {
	tb.Helper()
	dir := tb.TempDir()
	wfs := filepath.Join(dir, "workflows")
	if err := os.MkdirAll(wfs, 0o755); err != nil {
		tb.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(wfs, name), []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	ctx := context.Background()
	source, err := triggers.NewSource(ctx, func(context.Context) (*workflows.Set, error) {
		return workflows.LoadPaths(noActions{}, wfs)
	}, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "hookflow.db"), sqlite.Options{Durability: "normal"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	f := &fixture{store: st, source: source, echo: echo.New(), now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	f.echo.IPExtractor = echo.ExtractIPDirect()
	// Without a runner: the API's routes that need none (cancel of a queued
	// run) answer, for the UI's forms.
	srv := &api.Server{Store: st, Workflows: source, Tokens: tokens, Gatherer: prometheus.NewRegistry(),
		Logger: slog.New(slog.DiscardHandler)}
	srv.Register(f.echo)
	web.New(srv, func() time.Time { return f.now }).Register(f.echo)
	return f
}

// get answers path for a loopback client, as the browser on the server's
// machine asks it.
func (f *fixture) get(tb testing.TB, path string) (int, string) {
	tb.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.RemoteAddr, req.Host = "127.0.0.1:40000", "127.0.0.1:8080"
	rec := httptest.NewRecorder()
	f.echo.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

// dispatch stores events with one queued run per workflow named.
func (f *fixture) dispatch(tb testing.TB, n int, body any, names ...string) []*store.Dispatch {
	tb.Helper()
	data, _ := json.Marshal(map[string]any{"trigger": "webhook", "provider": "github", "path": "gh",
		"headers": map[string]string{"x-github-event": "push", "x-test": "<img src=x onerror=alert(1)>"}, "body": body})
	var all []*store.Dispatch
	batch := make([]*store.Dispatch, 0, 256)
	flush := func() {
		if err := f.store.Dispatch(context.Background(), batch, 0, f.now); err != nil {
			tb.Fatal(err)
		}
		for _, d := range batch {
			if d.Err != nil || d.Duplicate != nil {
				tb.Fatalf("dispatch %s: %v (duplicate %v)", d.Event.ID, d.Err, d.Duplicate != nil)
			}
		}
		all = append(all, batch...)
		batch = make([]*store.Dispatch, 0, 256)
	}
	for i := range n {
		at := f.now.Add(time.Duration(i-n) * time.Second)
		f.events++
		id := fmt.Sprintf("01EV%022d", f.events)
		ev := &store.Event{ID: id, Trigger: "webhook", Provider: "github", Path: "gh", Type: "push",
			Delivery: fmt.Sprintf("d-%d", i), ReceivedAt: at, Data: data}
		d := &store.Dispatch{Event: ev}
		for j, name := range names {
			run := &store.Run{ID: fmt.Sprintf("01RU%018d%04d", f.events, j), Workflow: name, EventID: id, QueuedAt: at}
			if w, ok := f.source.Set().Lookup(name); ok {
				run.Revision = w.Revision
			}
			d.Runs = append(d.Runs, run)
			ev.Verdicts = append(ev.Verdicts, store.Verdict{Workflow: name, Runs: []string{run.ID}})
		}
		ev.Verdicts = append(ev.Verdicts, store.Verdict{Workflow: "docs", Reason: "paths: no changed file matches docs/**"})
		if batch = append(batch, d); len(batch) == cap(batch) {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	return all
}

// finish claims the oldest queued run and ends it with status and reason.
func (f *fixture) finish(tb testing.TB, status, reason string, steps []map[string]any) *store.Run {
	tb.Helper()
	ctx := context.Background()
	r, err := f.store.Claim(ctx, "n1", time.Minute, f.now)
	if err != nil || r == nil {
		tb.Fatalf("claim: %v %v", r, err)
	}
	b, _ := json.Marshal(steps)
	r.Status, r.Reason, r.FinishedAt, r.Steps, r.Sandbox = status, reason, f.now, b, "process"
	if err := f.store.Finish(ctx, "n1", r); err != nil {
		tb.Fatal(err)
	}
	return r
}

const hostile = `<script>alert(1)</script><img src=x onerror=alert(2)>`

func TestPagesEscapeEverything(t *testing.T) {
	f := newFixture(t, map[string]string{
		"deploy.yaml": "description: '" + hostile + "'\non: {webhook: {path: gh, provider: github}, dispatch: {inputs: {who: {description: '" + hostile + "', default: '\"><b>x</b>'}}}}\nsteps:\n  - {id: build, name: '<b>bold</b>', run: 'true'}\n",
	})
	events := f.dispatch(t, 1, map[string]any{"note": hostile}, "deploy")
	run := f.finish(t, "failed", hostile, []map[string]any{{"index": 0, "id": "build", "name": "<b>bold</b>",
		"outcome": "failure", "exit_code": 3, "outputs": map[string]any{"out": hostile}, "error": hostile}})

	for _, path := range []string{"/ui/", "/ui/runs", "/ui/runs?part=rows", "/ui/runs/" + run.ID, "/ui/runs/" + run.ID + "?part=summary",
		"/ui/events", "/ui/events/" + events[0].Event.ID} {
		t.Run(path, func(t *testing.T) {
			code, body := f.get(t, path)
			if code != http.StatusOK {
				t.Fatalf("%d\n%s", code, body)
			}
			// The page's own script tag is the only one.
			want := 1
			if strings.Contains(path, "part=") {
				want = 0
			}
			if n := strings.Count(body, "<script"); n != want {
				t.Errorf("%d <script> tags, want %d:\n%s", n, want, body)
			}
			for _, tag := range []string{"<img", "<b>"} {
				if strings.Contains(body, tag) {
					t.Errorf("the page holds %s:\n%s", tag, body)
				}
			}
			if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") && path != "/ui/events" {
				t.Errorf("the hostile text is not shown escaped:\n%s", body)
			}
		})
	}
	t.Run("badge label", func(t *testing.T) {
		code, body := f.get(t, "/ui/badge/%3Cscript%3E.svg")
		if code != http.StatusOK || strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;: unknown") {
			t.Errorf("%d %s", code, body)
		}
	})
}

func TestRunPage(t *testing.T) {
	f := newFixture(t, map[string]string{"deploy.yaml": "on: {dispatch: {}}\nsteps:\n  - {id: build, run: 'true'}\n  - {id: ship, run: 'true'}\n"})
	f.dispatch(t, 2, map[string]any{}, "deploy")
	done := f.finish(t, "succeeded", "", []map[string]any{
		{"index": 0, "id": "build", "outcome": "success", "exit_code": 0, "outputs": map[string]any{"artifact": "app.tar", "n": 3},
			"started_at": f.now.Add(-1500 * time.Millisecond), "finished_at": f.now},
		{"index": 1, "id": "ship", "outcome": "failure", "exit_code": 7, "started_at": f.now, "finished_at": f.now.Add(time.Minute)}})
	_, body := f.get(t, "/ui/runs/"+done.ID)
	for _, want := range []string{"artifact", "app.tar", ">3<", "1.5s", "1m0s", ">7<", "Rerun", "process", `data-final="true"`,
		`data-src="/api/v1/runs/` + done.ID + `/logs?follow=1"`, `data-steps="{&#34;0&#34;:&#34;build&#34;,&#34;1&#34;:&#34;ship&#34;}"`} {
		if !strings.Contains(body, want) {
			t.Errorf("finished run page lacks %q", want)
		}
	}

	// The other run is still queued: its steps are pending and it can be
	// cancelled; the page reloads its summary while it goes on.
	list, _ := f.store.ListRuns(context.Background(), store.RunFilter{Status: "queued"})
	_, body = f.get(t, "/ui/runs/"+list[0].ID)
	for _, want := range []string{"Cancel run", "pending", `data-final="false"`, `data-refresh="/ui/runs/` + list[0].ID + `?part=summary"`} {
		if !strings.Contains(body, want) {
			t.Errorf("queued run page lacks %q", want)
		}
	}
	if code, _ := f.get(t, "/ui/runs/nope"); code != http.StatusNotFound {
		t.Errorf("unknown run: %d", code)
	}
	if code, _ := f.get(t, "/ui/runs/"+done.ID+"?part=nope"); code != http.StatusNotFound {
		t.Errorf("unknown part: %d", code)
	}
}

func TestRunsListFiltersAndPages(t *testing.T) {
	f := newFixture(t, map[string]string{
		"a.yaml": "on: {dispatch: {}}\nsteps: [{run: 'true'}]\n",
		"b.yaml": "on: {dispatch: {}}\nsteps: [{run: 'true'}]\n",
	})
	f.dispatch(t, 60, map[string]any{}, "a", "b")
	f.finish(t, "failed", "exit status 1", nil)
	for _, tt := range []struct {
		query      string
		rows       int
		older      bool
		notContain string
	}{
		{"", 50, true, ""},
		{"?workflow=a", 50, true, ">b<"},
		{"?status=failed", 1, false, ">queued<"},
		{"?workflow=a&status=failed", 1, false, ""},
		{"?workflow=gone", 0, false, ""},
	} {
		t.Run(tt.query, func(t *testing.T) {
			code, body := f.get(t, "/ui/runs"+tt.query)
			if code != http.StatusOK {
				t.Fatalf("%d %s", code, body)
			}
			_, rows := f.get(t, "/ui/runs?part=rows&"+strings.TrimPrefix(tt.query, "?"))
			if n := strings.Count(rows, `data-label="Status"`); n != tt.rows {
				t.Errorf("%d rows, want %d", n, tt.rows)
			}
			if got := strings.Contains(body, "Older runs"); got != tt.older {
				t.Errorf("older link: %v", got)
			}
			if tt.notContain != "" && strings.Contains(rows, tt.notContain) {
				t.Errorf("rows hold %q", tt.notContain)
			}
		})
	}
	_, body := f.get(t, "/ui/runs")
	_, after, _ := strings.Cut(body, `<a href="/ui/runs?before=`)
	cursor, _, _ := strings.Cut(after, `"`)
	code, page2 := f.get(t, "/ui/runs?before="+cursor)
	if n := strings.Count(page2, `data-label="Status"`); code != http.StatusOK || n != 50 || strings.Contains(page2, "data-refresh") {
		t.Errorf("second page: %d, %d rows", code, n)
	}
	if code, _ := f.get(t, "/ui/runs?before=nope"); code != http.StatusBadRequest {
		t.Errorf("unknown cursor: %d", code)
	}
}

func TestBadge(t *testing.T) {
	f := newFixture(t, map[string]string{"a.yaml": "on: {dispatch: {}}\nsteps: [{run: 'true'}]\n"})
	for _, tt := range []struct {
		name, path, want, colour string
	}{
		{"never ran", "/ui/badge/a.svg", ">unknown<", "#57606a"},
		{"no such workflow", "/ui/badge/nope.svg", ">unknown<", "#57606a"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, body := f.get(t, tt.path)
			if !strings.Contains(body, tt.want) || !strings.Contains(body, tt.colour) {
				t.Errorf("%s", body)
			}
		})
	}
	f.dispatch(t, 2, map[string]any{}, "a")
	f.finish(t, "timed_out", "", nil)
	req := httptest.NewRequest("GET", "/ui/badge/a.svg", nil)
	req.RemoteAddr, req.Host = "192.0.2.7:1", "hookflow.example" // the badge is public
	rec := httptest.NewRecorder()
	f.echo.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); rec.Code != 200 || ct != "image/svg+xml; charset=utf-8" {
		t.Fatalf("%d %s", rec.Code, ct)
	}
	if body := rec.Body.String(); !strings.Contains(body, ">queued<") {
		t.Errorf("the newest run is queued: %s", body)
	}
	if code, _ := f.get(t, "/ui/badge/a.png"); code != http.StatusNotFound {
		t.Errorf("badge without .svg: %d", code)
	}
}

func TestEventPageShowsVerdictsAndPayload(t *testing.T) {
	f := newFixture(t, map[string]string{"deploy.yaml": "on: {dispatch: {}}\nsteps: [{run: 'true'}]\n"})
	evs := f.dispatch(t, 1, map[string]any{"ref": "refs/heads/main", "n": json.Number("12345678901234567890")}, "deploy")
	f.finish(t, "failed", "exit status 3", nil)
	_, body := f.get(t, "/ui/events/"+evs[0].Event.ID)
	for _, want := range []string{"deploy", "ran", "failed", "exit status 3", "docs", "skipped",
		"paths: no changed file matches docs/**", `&#34;ref&#34;: &#34;refs/heads/main&#34;`, "12345678901234567890", "x-github-event", "Replay"} {
		if !strings.Contains(body, want) {
			t.Errorf("event page lacks %q", want)
		}
	}
	if code, _ := f.get(t, "/ui/events/nope"); code != http.StatusNotFound {
		t.Errorf("unknown event: %d", code)
	}
}

func TestLoopbackOnlyWithoutTokens(t *testing.T) {
	f := newFixture(t, map[string]string{"a.yaml": "on: {dispatch: {}}\nsteps: [{run: 'true'}]\n"})
	for _, tt := range []struct {
		remote, host string
		want         int
	}{
		{"127.0.0.1:1", "127.0.0.1:8080", http.StatusOK},
		{"[::1]:1", "[::1]:8080", http.StatusOK},
		{"127.0.0.1:1", "localhost:8080", http.StatusOK},
		{"192.0.2.1:1", "127.0.0.1:8080", http.StatusForbidden},
		{"127.0.0.1:1", "rebound.example:8080", http.StatusForbidden},
	} {
		req := httptest.NewRequest("GET", "/ui/", nil)
		req.RemoteAddr, req.Host = tt.remote, tt.host
		rec := httptest.NewRecorder()
		f.echo.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("from %s as %s: %d, want %d", tt.remote, tt.host, rec.Code, tt.want)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("CSP %q", csp)
		}
	}
}

func TestStaticFiles(t *testing.T) {
	f := newFixture(t, nil)
	_, page := f.get(t, "/ui/")
	_, after, ok := strings.Cut(page, `/ui/static/ui.js?v=`)
	version, _, _ := strings.Cut(after, `"`)
	if !ok || version == "" {
		t.Fatalf("no versioned script in the page")
	}
	for _, tt := range []struct{ path, cache string }{
		{"/ui/static/ui.js?v=" + version, "immutable"},
		{"/ui/static/ui.css", "no-cache"},
	} {
		req := httptest.NewRequest("GET", tt.path, nil)
		rec := httptest.NewRecorder()
		f.echo.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Cache-Control"), tt.cache) {
			t.Errorf("%s: %d %q", tt.path, rec.Code, rec.Header().Get("Cache-Control"))
		}
	}
}

func TestLogin(t *testing.T) {
	const token = "web-test-token-0123456789"
	f := newFixture(t, map[string]string{"a.yaml": "on: {dispatch: {}}\nsteps: [{run: 'true'}]\n"}, token)
	send := func(t *testing.T, req *http.Request, cookies ...*http.Cookie) *httptest.ResponseRecorder {
		t.Helper()
		req.RemoteAddr, req.Host = "192.0.2.7:1", "hookflow.example"
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		f.echo.ServeHTTP(rec, req)
		return rec
	}
	rec := send(t, httptest.NewRequest("GET", "/ui/runs?status=failed", nil))
	if loc := rec.Header().Get("Location"); rec.Code != http.StatusSeeOther || loc != "/ui/login?next=%2Fui%2Fruns%3Fstatus%3Dfailed" {
		t.Fatalf("without a session: %d %q", rec.Code, loc)
	}
	rec = send(t, httptest.NewRequest("GET", "/ui/login?next=/ui/runs", nil))
	var csrf *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "hookflow_csrf" {
			csrf = c
		}
	}
	_, after, _ := strings.Cut(rec.Body.String(), `name="csrf" value="`)
	formToken, _, _ := strings.Cut(after, `"`)
	if csrf == nil || formToken == "" {
		t.Fatalf("login page without CSRF cookie or token:\n%s", rec.Body)
	}
	login := func(t *testing.T, overTLS bool, form url.Values) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest("POST", "/ui/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if overTLS {
			req.TLS = &tls.ConnectionState{}
		}
		return send(t, req, csrf)
	}
	for _, tt := range []struct {
		name  string
		tls   bool
		form  url.Values
		code  int
		where string
	}{
		{"wrong token", false, url.Values{"csrf": {formToken}, "token": {token + "x"}, "next": {"/ui/runs"}}, http.StatusUnauthorized, ""},
		{"no CSRF token", false, url.Values{"token": {token}}, http.StatusForbidden, ""},
		{"right token", false, url.Values{"csrf": {formToken}, "token": {token}, "next": {"/ui/runs"}}, http.StatusSeeOther, "/ui/runs"},
		{"over TLS", true, url.Values{"csrf": {formToken}, "token": {token}, "next": {"/ui/runs"}}, http.StatusSeeOther, "/ui/runs"},
		{"next off site", false, url.Values{"csrf": {formToken}, "token": {token}, "next": {"//evil.example/ui/"}}, http.StatusSeeOther, "/ui/"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := login(t, tt.tls, tt.form)
			if rec.Code != tt.code || rec.Header().Get("Location") != tt.where {
				t.Fatalf("%d %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
			}
			var session *http.Cookie
			for _, c := range rec.Result().Cookies() {
				if c.Name == api.SessionCookie {
					session = c
				}
			}
			if tt.code != http.StatusSeeOther {
				if session != nil {
					t.Errorf("a refused login set %s", session)
				}
				return
			}
			if session == nil || session.Value != token || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode ||
				session.Path != "/" || session.Secure != tt.tls {
				t.Fatalf("session cookie %v", session)
			}
			if rec := send(t, httptest.NewRequest("GET", "/ui/runs", nil), session); rec.Code != http.StatusOK {
				t.Errorf("with the session: %d", rec.Code)
			}
		})
	}
}

func TestFormsRefuseCrossSiteRequests(t *testing.T) {
	f := newFixture(t, map[string]string{"a.yaml": "on: {dispatch: {}}\nsteps: [{run: 'true'}]\n"})
	f.dispatch(t, 6, map[string]any{}, "a")
	queued, _ := f.store.ListRuns(context.Background(), store.RunFilter{Status: "queued"})

	// A page gives the browser its CSRF cookie and the page's forms its token.
	req := httptest.NewRequest("GET", "/ui/runs/"+queued[0].ID, nil)
	req.RemoteAddr, req.Host = "127.0.0.1:40000", "127.0.0.1:8080"
	rec := httptest.NewRecorder()
	f.echo.ServeHTTP(rec, req)
	var cookie *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "hookflow_csrf" {
			cookie = c
		}
	}
	_, after, _ := strings.Cut(rec.Body.String(), `name="csrf" value="`)
	token, _, _ := strings.Cut(after, `"`)
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || token == "" {
		t.Fatalf("CSRF cookie %v, token %q", cookie, token)
	}
	other := &http.Cookie{Name: "hookflow_csrf", Value: "0123456789abcdef0123456789abcdef"}
	for i, tt := range []struct {
		name   string
		header map[string]string
		cookie *http.Cookie
		token  string
		want   int
	}{
		{"a form on another site", map[string]string{"Sec-Fetch-Site": "cross-site"}, cookie, token, http.StatusForbidden},
		{"another origin", map[string]string{"Origin": "http://evil.example"}, cookie, token, http.StatusForbidden},
		{"no token", map[string]string{"Sec-Fetch-Site": "same-origin"}, cookie, "", http.StatusForbidden},
		{"no cookie", map[string]string{"Sec-Fetch-Site": "same-origin"}, nil, token, http.StatusForbidden},
		{"the token of another browser", map[string]string{"Sec-Fetch-Site": "same-origin"}, other, token, http.StatusForbidden},
		{"the page's own form", map[string]string{"Sec-Fetch-Site": "same-origin"}, cookie, token, http.StatusSeeOther},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id := queued[i].ID
			req := httptest.NewRequest("POST", "/ui/runs/"+id+"/cancel", strings.NewReader(url.Values{"csrf": {tt.token}}.Encode()))
			req.RemoteAddr, req.Host = "127.0.0.1:40000", "127.0.0.1:8080"
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			if tt.cookie != nil {
				req.AddCookie(tt.cookie)
			}
			rec := httptest.NewRecorder()
			f.echo.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("%d, want %d\n%s", rec.Code, tt.want, rec.Body)
			}
			run, _ := f.store.GetRun(context.Background(), id)
			if cancelled := run.Status == "skipped"; cancelled != (tt.want == http.StatusSeeOther) {
				t.Errorf("run is %s after the answer %d", run.Status, rec.Code)
			}
		})
	}
	t.Run("the API's refusal shows as a page", func(t *testing.T) {
		req := httptest.NewRequest("POST", "/ui/runs/"+queued[5].ID+"/cancel", strings.NewReader(url.Values{"csrf": {token}}.Encode()))
		req.RemoteAddr, req.Host = "127.0.0.1:40000", "127.0.0.1:8080"
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(cookie)
		rec := httptest.NewRecorder()
		f.echo.ServeHTTP(rec, req)
		if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "has already finished") {
			t.Errorf("%d\n%s", rec.Code, rec.Body)
		}
	})
	if code, _ := f.get(t, "/ui/runs?status=bogus"); code != http.StatusBadRequest {
		t.Errorf("status=bogus: %d", code)
	}
}
