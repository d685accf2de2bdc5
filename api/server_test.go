package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// TestAuthorize checks the access rule (SPEC §8) on an API route and on
// /metrics: with no token, loopback clients that name a loopback host; with
// tokens, a bearer token or the UI's cookie, from anywhere.
func TestAuthorize(t *testing.T) {
	type request struct {
		from, host string
		header     map[string]string
		cookie     string
	}
	loopback := request{from: "127.0.0.1:40000", host: "127.0.0.1:8080"}
	with := func(r request, change func(*request)) request {
		r.header = map[string]string{}
		change(&r)
		return r
	}
	cases := []struct {
		name   string
		tokens []string
		req    request
		want   int
	}{
		{"no token: loopback client", nil, loopback, http.StatusOK},
		{"no token: loopback by name", nil, with(loopback, func(r *request) { r.host = "localhost:8080" }), http.StatusOK},
		{"no token: IPv6 loopback", nil, request{from: "[::1]:40000", host: "[::1]:8080"}, http.StatusOK},
		{"no token: other 127/8 address", nil, request{from: "127.0.0.2:40000", host: "127.0.0.2"}, http.StatusOK},
		{"no token: foreign client", nil, with(loopback, func(r *request) { r.from = "192.0.2.7:40000" }), http.StatusForbidden},
		// A name rebound to 127.0.0.1 lets a page on it reach a loopback
		// server: the Host must be loopback too.
		{"no token: foreign Host from loopback", nil, with(loopback, func(r *request) { r.host = "evil.example:8080" }), http.StatusForbidden},
		{"no token: no Host", nil, with(loopback, func(r *request) { r.host = "" }), http.StatusForbidden},
		{"no token: forwarded-for is not trusted", nil, with(loopback, func(r *request) {
			r.from = "192.0.2.7:40000"
			r.header["X-Forwarded-For"] = "127.0.0.1"
			r.header["X-Real-IP"] = "127.0.0.1"
		}), http.StatusForbidden},

		{"token: none given from loopback", []string{"alpha"}, loopback, http.StatusUnauthorized},
		{"token: bearer", []string{"alpha"}, with(loopback, func(r *request) { r.header["Authorization"] = "Bearer alpha" }), http.StatusOK},
		{"token: bearer from another host", []string{"alpha"}, request{from: "192.0.2.7:40000", host: "hookflow.example",
			header: map[string]string{"Authorization": "Bearer alpha"}}, http.StatusOK},
		{"token: scheme in any case", []string{"alpha"}, with(loopback, func(r *request) { r.header["Authorization"] = "bEaReR alpha" }), http.StatusOK},
		{"token: second of two", []string{"alpha", "beta"}, with(loopback, func(r *request) { r.header["Authorization"] = "Bearer beta" }), http.StatusOK},
		{"token: cookie", []string{"alpha"}, with(loopback, func(r *request) { r.cookie = "alpha" }), http.StatusOK},
		{"token: wrong", []string{"alpha"}, with(loopback, func(r *request) { r.header["Authorization"] = "Bearer alphb" }), http.StatusUnauthorized},
		{"token: prefix", []string{"alpha"}, with(loopback, func(r *request) { r.header["Authorization"] = "Bearer alph" }), http.StatusUnauthorized},
		{"token: longer", []string{"alpha"}, with(loopback, func(r *request) { r.header["Authorization"] = "Bearer alphaa" }), http.StatusUnauthorized},
		{"token: wrong cookie", []string{"alpha"}, with(loopback, func(r *request) { r.cookie = "beta" }), http.StatusUnauthorized},
		{"token: other scheme", []string{"alpha"}, with(loopback, func(r *request) { r.header["Authorization"] = "Basic alpha" }), http.StatusUnauthorized},
		{"token: empty bearer", []string{"alpha"}, with(loopback, func(r *request) { r.header["Authorization"] = "Bearer  " }), http.StatusUnauthorized},
		// A header, when given, is what is checked, not the cookie.
		{"token: wrong bearer beats good cookie", []string{"alpha"}, with(loopback, func(r *request) {
			r.header["Authorization"] = "Bearer beta"
			r.cookie = "alpha"
		}), http.StatusUnauthorized},
		// An empty entry in the list (a blank line in a token file) must not
		// let in a request with no token at all.
		{"token: empty entry configured", []string{"", "alpha"}, loopback, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, map[string]string{"manual.yaml": manualYAML}, func(c *fixtureConfig) { c.server.Tokens = tc.tokens })
			for _, path := range []string{"/api/v1/workflows", "/metrics"} {
				req := httptest.NewRequest("GET", path, nil)
				req.RemoteAddr, req.Host = tc.req.from, tc.req.host
				for k, v := range tc.req.header {
					req.Header.Set(k, v)
				}
				if tc.req.cookie != "" {
					req.AddCookie(&http.Cookie{Name: SessionCookie, Value: tc.req.cookie})
				}
				a := f.serve(req)
				if a.code != tc.want {
					t.Fatalf("GET %s: %d %s, want %d", path, a.code, a.body, tc.want)
				}
				switch a.code {
				case http.StatusUnauthorized:
					if got := a.header.Get("WWW-Authenticate"); got != `Bearer realm="hookflow"` {
						t.Errorf("GET %s: WWW-Authenticate %q", path, got)
					}
					if msg := a.errorMessage(t); msg != "missing or invalid token" {
						t.Errorf("GET %s: error %q", path, msg)
					}
				case http.StatusForbidden:
					if msg := a.errorMessage(t); !strings.Contains(msg, "only loopback clients") {
						t.Errorf("GET %s: error %q", path, msg)
					}
				}
			}
		})
	}
}

// TestTokenIndex checks the token comparison on its own: every configured
// token is accepted, as its place in the list, nothing else is, and an empty
// token never is.
func TestTokenIndex(t *testing.T) {
	s := &Server{Tokens: []string{"first-token", "", "second"}}
	for got, want := range map[string]int{
		"first-token": 1, "second": 3,
		"": 0, "first": 0, "second ": 0, "SECOND": 0, "first-token-second": 0,
	} {
		if i := s.tokenIndex(got); i != want {
			t.Errorf("tokenIndex(%q) = %d, want %d", got, i, want)
		}
	}
}

// TestCrossOrigin checks that a browser page on another site cannot make the
// operator's browser change anything, even with the operator's credentials,
// while reads and clients that are not browsers are unaffected.
func TestCrossOrigin(t *testing.T) {
	cases := []struct {
		name   string
		method string
		header map[string]string
		want   int
	}{
		{"no browser headers", "POST", nil, http.StatusAccepted},
		{"same-origin fetch", "POST", map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusAccepted},
		{"Origin of the API's own host", "POST", map[string]string{"Origin": "http://127.0.0.1:8080"}, http.StatusAccepted},
		{"cross-site fetch", "POST", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"same-site fetch", "POST", map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"foreign Origin", "POST", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"foreign Origin with the token", "POST", map[string]string{"Origin": "https://evil.example", "Authorization": "Bearer alpha"},
			http.StatusForbidden},
		{"cross-site read", "GET", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, tokens := range [][]string{nil, {"alpha"}} {
				f := newFixture(t, map[string]string{"manual.yaml": manualYAML}, func(c *fixtureConfig) { c.server.Tokens = tokens })
				header := map[string]string{"Host": "127.0.0.1:8080"}
				if tokens != nil {
					header["Authorization"] = "Bearer alpha"
				}
				for k, v := range tc.header {
					header[k] = v
				}
				path := "/api/v1/workflows/manual/dispatch"
				if tc.method == "GET" {
					path = "/api/v1/workflows/manual"
				}
				a := f.do(t, tc.method, path, "", header)
				if a.code != tc.want {
					t.Fatalf("tokens %v: %s %s: %d %s, want %d", tokens, tc.method, path, a.code, a.body, tc.want)
				}
				if tc.method != "POST" {
					continue
				}
				runs, err := f.store.ListRuns(context.Background(), store.RunFilter{})
				if err != nil {
					t.Fatal(err)
				}
				if refused := tc.want == http.StatusForbidden; refused != (len(runs) == 0) {
					t.Errorf("tokens %v: %d runs stored after a %d answer", tokens, len(runs), a.code)
				}
			}
		})
	}
}

// TestFail checks how a handler's error becomes an answer: each domain code
// has its status, overload and unavailability say when to retry, and an
// internal error is logged but never shown.
func TestFail(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		want       int
		retryAfter string
		msg        string
	}{
		{"store not found", store.ErrNotFound, http.StatusNotFound, "", "not found"},
		{"wrapped store not found", fmt.Errorf("get run: %w", store.ErrNotFound), http.StatusNotFound, "", "get run: not found"},
		{"invalid", workflows.Errorf(workflows.EInvalid, "input %q is required", "v"), http.StatusUnprocessableEntity, "", `input "v" is required`},
		{"load errors", workflows.ErrorList{&workflows.PosError{File: "a.yaml", Line: 1, Col: 2, Msg: "bad"}},
			http.StatusUnprocessableEntity, "", "a.yaml:1:2: bad"},
		{"not allowed", workflows.Errorf(workflows.ENotAllowed, "method GET not allowed"), http.StatusUnprocessableEntity, "", "method GET not allowed"},
		{"not found", workflows.Errorf(workflows.ENotFound, "no workflow %q", "x"), http.StatusNotFound, "", `no workflow "x"`},
		{"conflict", store.ErrConflict, http.StatusConflict, "", "conflict"},
		{"unauthorized", workflows.Errorf(workflows.EUnauthorized, "missing or invalid signature"), http.StatusUnauthorized, "",
			"missing or invalid signature"},
		{"overloaded", store.ErrQueueFull, http.StatusTooManyRequests, "5", "queue full"},
		{"unavailable", workflows.Errorf(workflows.EUnavailable, "server is shutting down"), http.StatusServiceUnavailable, "5",
			"server is shutting down"},
		{"internal code", &workflows.Error{Code: workflows.EInternal, Message: "secret-bearing detail"},
			http.StatusInternalServerError, "", "internal error"},
		{"plain error", errors.New("open /var/lib/hookflow/secret-bearing detail"), http.StatusInternalServerError, "", "internal error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			s := &Server{Logger: slog.New(slog.NewTextHandler(&log, nil))}
			e := newEcho()
			rec := httptest.NewRecorder()
			c := e.NewContext(httptest.NewRequest("GET", "/api/v1/runs/x", nil), rec)
			c.SetPath("/api/v1/runs/:id")
			if err := s.fail(c, tc.err); err != nil {
				t.Fatal(err)
			}
			a := answer{code: rec.Code, header: rec.Header(), body: rec.Body.String()}
			if a.code != tc.want {
				t.Fatalf("status %d, want %d", a.code, tc.want)
			}
			if got := a.header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			if msg := a.errorMessage(t); msg != tc.msg {
				t.Errorf("error %q, want %q", msg, tc.msg)
			}
			logged := log.String()
			if tc.want == http.StatusInternalServerError {
				if !strings.Contains(logged, "secret-bearing detail") || !strings.Contains(logged, "/api/v1/runs/:id") {
					t.Errorf("internal error not logged with its route: %q", logged)
				}
			} else if logged != "" {
				t.Errorf("a %d was logged: %q", tc.want, logged)
			}
		})
	}
}

// TestStoreDown checks the statuses the API answers when the store is gone:
// a dispatch is not acknowledged and says when to retry; a read is an
// internal error that does not show the driver's message.
func TestStoreDown(t *testing.T) {
	f := newFixture(t, map[string]string{"manual.yaml": manualYAML}, nil)
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	t.Run("dispatch", func(t *testing.T) {
		a := f.do(t, "POST", "/api/v1/workflows/manual/dispatch", "", nil)
		if a.code != http.StatusServiceUnavailable || a.header.Get("Retry-After") != "5" {
			t.Fatalf("%d Retry-After %q: %s", a.code, a.header.Get("Retry-After"), a.body)
		}
		if msg := a.errorMessage(t); !strings.HasPrefix(msg, "store unavailable: ") {
			t.Errorf("error %q", msg)
		}
	})
	t.Run("read", func(t *testing.T) {
		a := f.do(t, "GET", "/api/v1/runs/01J00000000000000000000000", "", nil)
		if a.code != http.StatusInternalServerError {
			t.Fatalf("%d %s", a.code, a.body)
		}
		if msg := a.errorMessage(t); msg != "internal error" {
			t.Errorf("error %q", msg)
		}
	})
}

// TestHealth checks /healthz, and /readyz in both states.
func TestHealth(t *testing.T) {
	cases := []struct {
		name  string
		ready error
		path  string
		want  int
		body  string
	}{
		{"healthz", errors.New("not ready"), "/healthz", http.StatusOK, `{"status":"ok"}`},
		{"ready", nil, "/readyz", http.StatusOK, `{"status":"ready"}`},
		{"not ready", errors.New("store unreachable"), "/readyz", http.StatusServiceUnavailable, `{"error":"store unreachable"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Probes come from anywhere, with no token.
			f := newFixture(t, nil, func(c *fixtureConfig) {
				c.server.Tokens = []string{"alpha"}
				c.server.Ready = func(context.Context) error { return tc.ready }
			})
			req := httptest.NewRequest("GET", tc.path, nil)
			req.RemoteAddr, req.Host = "192.0.2.7:40000", "hookflow.example"
			a := f.serve(req)
			if a.code != tc.want || strings.TrimSpace(a.body) != tc.body {
				t.Fatalf("%d %s, want %d %s", a.code, a.body, tc.want, tc.body)
			}
		})
	}
}

// TestMetrics checks that /metrics serves the registry, behind the API's
// access rule unless it is public.
func TestMetrics(t *testing.T) {
	cases := []struct {
		name   string
		public bool
		tokens []string
		from   string
		bearer string
		want   int
	}{
		{"private, no token, loopback", false, nil, "127.0.0.1:40000", "", http.StatusOK},
		{"private, no token, foreign", false, nil, "192.0.2.7:40000", "", http.StatusForbidden},
		{"private, token given", false, []string{"alpha"}, "192.0.2.7:40000", "alpha", http.StatusOK},
		{"private, token missing", false, []string{"alpha"}, "127.0.0.1:40000", "", http.StatusUnauthorized},
		{"public, token missing", true, []string{"alpha"}, "192.0.2.7:40000", "", http.StatusOK},
		{"public, no token, foreign", true, nil, "192.0.2.7:40000", "", http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil, func(c *fixtureConfig) {
				reg := prometheus.NewRegistry()
				reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "hookflow_test_gauge", Help: "A gauge."}))
				c.server.Gatherer, c.server.PublicMetrics, c.server.Tokens = reg, tc.public, tc.tokens
			})
			req := httptest.NewRequest("GET", "/metrics", nil)
			host := "hookflow.example"
			if strings.HasPrefix(tc.from, "127.") {
				host = "127.0.0.1:8080"
			}
			req.RemoteAddr, req.Host = tc.from, host
			if tc.bearer != "" {
				req.Header.Set("Authorization", "Bearer "+tc.bearer)
			}
			a := f.serve(req)
			if a.code != tc.want {
				t.Fatalf("%d %s, want %d", a.code, a.body, tc.want)
			}
			if got := strings.Contains(a.body, "hookflow_test_gauge 0"); got != (tc.want == http.StatusOK) {
				t.Errorf("registry served: %v\n%s", got, a.body)
			}
		})
	}
}

// TestPprof checks that the profiles are served only when asked for, and
// then only to whom the API answers.
func TestPprof(t *testing.T) {
	cases := []struct {
		name   string
		pprof  bool
		bearer string
		want   int
	}{
		{"off", false, "alpha", http.StatusNotFound},
		{"on, token given", true, "alpha", http.StatusOK},
		{"on, token missing", true, "", http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil, func(c *fixtureConfig) {
				c.server.Pprof, c.server.Tokens = tc.pprof, []string{"alpha"}
			})
			req := httptest.NewRequest("GET", "/debug/pprof/goroutine?debug=1", nil)
			req.RemoteAddr = "192.0.2.7:40000"
			if tc.bearer != "" {
				req.Header.Set("Authorization", "Bearer "+tc.bearer)
			}
			a := f.serve(req)
			if a.code != tc.want {
				t.Fatalf("%d %s, want %d", a.code, a.body, tc.want)
			}
			if got := strings.Contains(a.body, "goroutine profile:"); got != (tc.want == http.StatusOK) {
				t.Errorf("profile served: %v\n%.200s", got, a.body)
			}
		})
	}
}

// TestUnknown checks that every route on one run, event or workflow answers
// a 404 for one that does not exist.
func TestUnknown(t *testing.T) {
	f := newFixture(t, map[string]string{"manual.yaml": manualYAML}, nil)
	id := "01J0000000000000000000NONE"
	cases := []struct {
		method, path string
		header       map[string]string
		msg          string
	}{
		{"GET", "/api/v1/runs/" + id, nil, "not found"},
		{"GET", "/api/v1/runs/" + id + "/logs", nil, "not found"},
		{"GET", "/api/v1/runs/" + id + "/logs?follow=1", map[string]string{"Accept": "text/event-stream"}, "not found"},
		{"POST", "/api/v1/runs/" + id + "/cancel", nil, "not found"},
		{"POST", "/api/v1/runs/" + id + "/rerun", nil, "not found"},
		{"GET", "/api/v1/events/" + id, nil, "not found"},
		{"POST", "/api/v1/events/" + id + "/replay", nil, "not found"},
		{"GET", "/api/v1/workflows/nope", nil, `no workflow "nope"`},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			a := f.do(t, tc.method, tc.path, "", tc.header)
			if a.code != http.StatusNotFound || !strings.HasSuffix(a.errorMessage(t), tc.msg) {
				t.Errorf("%d %s, want 404 %s", a.code, a.body, tc.msg)
			}
		})
	}
}
