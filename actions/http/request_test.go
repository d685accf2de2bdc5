package httpaction

import (
	"context"
	"encoding/base64"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/actions/actiontest"
)

// TestRequest checks what arrives at the server for each way of setting the
// method, headers and body.
func TestRequest(t *testing.T) {
	tests := []struct {
		name   string
		with   map[string]any // without url
		method string
		header map[string]string // "" means absent
		body   string
		host   string // "" means the server's own
	}{
		{
			name: "default GET", with: map[string]any{},
			method: "GET", header: map[string]string{"User-Agent": "hookflow", "Content-Type": ""},
		},
		{
			name:   "method and headers",
			with:   map[string]any{"method": "delete", "headers": map[string]any{"x-token": "abc", "User-Agent": "bot/2"}},
			method: "DELETE", header: map[string]string{"X-Token": "abc", "User-Agent": "bot/2"},
		},
		{
			name:   "json body",
			with:   map[string]any{"method": "POST", "json": map[string]any{"text": "a <b> & c", "n": int64(12345678901234567)}},
			method: "POST", header: map[string]string{"Content-Type": "application/json"},
			body: `{"n":12345678901234567,"text":"a <b> & c"}`,
		},
		{
			name: "json body with the user's content type",
			with: map[string]any{"method": "POST", "json": []any{"x"},
				"headers": map[string]any{"content-type": "application/vnd.api+json"}},
			method: "POST", header: map[string]string{"Content-Type": "application/vnd.api+json"}, body: `["x"]`,
		},
		{
			name:   "form body",
			with:   map[string]any{"method": "POST", "form": map[string]any{"b": "2 & 3", "a": "1"}},
			method: "POST", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			body: "a=1&b=2+%26+3",
		},
		{
			name:   "raw body",
			with:   map[string]any{"method": "PUT", "body": "line 1\nline 2"},
			method: "PUT", header: map[string]string{"Content-Type": ""}, body: "line 1\nline 2",
		},
		{
			name:   "basic auth",
			with:   map[string]any{"basic_auth": map[string]any{"username": "ann", "password": "pa:ss"}},
			method: "GET",
			header: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("ann:pa:ss"))},
		},
		{
			name:   "host header",
			with:   map[string]any{"headers": map[string]any{"Host": "api.example.com"}},
			method: "GET", host: "api.example.com",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := recordingServer(t, http.StatusOK, "ok")
			tt.with["url"] = srv.URL + "/hook?x=1"
			if _, _, err := run(t, context.Background(), tt.with); err != nil {
				t.Fatalf("Run: %v", err)
			}
			r := <-got
			if r.method != tt.method || r.path != "/hook" || r.query != "x=1" {
				t.Errorf("request %s %s?%s, want %s /hook?x=1", r.method, r.path, r.query, tt.method)
			}
			for name, want := range tt.header {
				if v := r.header.Get(name); v != want {
					t.Errorf("header %s = %q, want %q", name, v, want)
				}
			}
			if r.body != tt.body {
				t.Errorf("body = %q, want %q", r.body, tt.body)
			}
			if tt.host != "" && r.host != tt.host {
				t.Errorf("Host = %q, want %q", r.host, tt.host)
			}
		})
	}
}

// TestRedirects follows a chain of redirects that ends in a 200.
func TestRedirects(t *testing.T) {
	// /hop/N redirects with status ?code= (302 by default) to /hop/N-1 until
	// /hop/0, which answers with the method and body it got.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hop/"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if n == 0 {
			b, _ := io.ReadAll(r.Body)
			io.WriteString(w, r.Method+" "+string(b))
			return
		}
		code := http.StatusFound
		if c := r.URL.Query().Get("code"); c == "307" {
			code = http.StatusTemporaryRedirect
		} else if c == "303" {
			code = http.StatusSeeOther
		}
		http.Redirect(w, r, "/hop/"+strconv.Itoa(n-1)+"?"+r.URL.RawQuery, code)
	}))
	t.Cleanup(srv.Close)

	tests := []struct {
		name   string
		path   string
		method string
		want   string // final body, or "" when the step must fail
	}{
		{"three hops", "/hop/3", "GET", "GET "},
		{"five hops, the limit", "/hop/5", "GET", "GET "},
		{"six hops", "/hop/6", "GET", ""},
		{"303 turns POST into GET", "/hop/2?code=303", "POST", "GET "},
		{"307 keeps POST and its body", "/hop/2?code=307", "POST", "POST payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, log, err := run(t, context.Background(),
				map[string]any{"url": srv.URL + tt.path, "method": tt.method, "body": "payload"})
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), "stopped after 5 redirects") {
					t.Fatalf("error = %v, want one about too many redirects", err)
				}
				actiontest.WantRetryable(t, err, false)
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Outputs["status"] != 200 || res.Outputs["body"] != tt.want {
				t.Errorf("status, body = %v, %q; want 200, %q", res.Outputs["status"], res.Outputs["body"], tt.want)
			}
			if !strings.Contains(log, "redirect(s)") {
				t.Errorf("log %q does not mention the redirects", log)
			}
		})
	}
}

// countingTransport counts the requests that pass through it.
type countingTransport struct {
	n    atomic.Int32
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

func TestKindWithTransport(t *testing.T) {
	// A TLS server whose certificate only its own client trusts tells the
	// injected transport apart from the default one.
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the default client's handshake fails on purpose
	srv.StartTLS()
	t.Cleanup(srv.Close)
	with := map[string]any{"url": srv.URL}
	step := &actions.Step{}

	tr := &countingTransport{next: srv.Client().Transport}
	a, err := KindWith(tr).New(with)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Run(context.Background(), step); err != nil {
		t.Fatalf("Run with the server's transport: %v", err)
	}
	if tr.n.Load() != 1 {
		t.Errorf("transport used %d times, want 1", tr.n.Load())
	}

	_, err = build(t, with).Run(context.Background(), step)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Run with the default transport: error = %v, want a certificate error", err)
	}
	actiontest.WantRetryable(t, err, false)
}
