package report

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// recorded is one request a forge stand-in received.
type recorded struct {
	Method string
	Path   string
	Header http.Header
	Body   map[string]any
}

// recorder is a real HTTP server that records requests and answers with
// code.
func recorder(t *testing.T, code int, answer string) (*httptest.Server, func() []recorded) {
	t.Helper()
	var mu sync.Mutex
	var got []recorded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("request body is not a JSON object: %s", b)
		}
		mu.Lock()
		got = append(got, recorded{r.Method, r.URL.EscapedPath(), r.Header.Clone(), body})
		mu.Unlock()
		w.WriteHeader(code)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []recorded {
		mu.Lock()
		defer mu.Unlock()
		return append([]recorded(nil), got...)
	}
}

// payload decodes a provider's event body as the event object keeps it.
func payload(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

const sha = "9fceb02d0ae598e95dc970b74767f19372d61af8"

// TestStatusRequests sends a commit status for each forge to a real
// server standing in for it, and checks the request field by field
// against the forge's documented endpoint and schema: method, path,
// headers, and the whole JSON body (an extra or missing key fails).
func TestStatusRequests(t *testing.T) {
	tests := []struct {
		name     string
		provider string
		// payload is the push event's body, %s standing for the server.
		payload   string
		state     string
		runStatus string
		token     string
		wantPath  string
		wantHead  map[string]string
		wantBody  map[string]any
	}{
		{name: "github", provider: "github",
			payload: `{"ref":"refs/heads/main","after":"` + sha + `","repository":{"full_name":"acme/shop",
				"statuses_url":"%s/repos/acme/shop/statuses/{sha}"}}`,
			state: "pending", runStatus: "queued", token: "ghp_token",
			wantPath: "/repos/acme/shop/statuses/" + sha,
			wantHead: map[string]string{"Authorization": "Bearer ghp_token", "Accept": "application/vnd.github+json",
				"X-Github-Api-Version": "2022-11-28", "Content-Type": "application/json"},
			wantBody: map[string]any{"state": "pending", "target_url": "https://hookflow.example.com/ui/runs/R1",
				"description": "Queued", "context": "hookflow/deploy"}},
		{name: "github enterprise", provider: "github",
			payload: `{"repository":{"full_name":"acme/shop","statuses_url":"%s/api/v3/repos/acme/shop/statuses/{sha}"}}`,
			state:   "failure", runStatus: "failed", token: "ghe",
			wantPath: "/api/v3/repos/acme/shop/statuses/" + sha,
			wantHead: map[string]string{"Authorization": "Bearer ghe"},
			wantBody: map[string]any{"state": "failure", "target_url": "https://hookflow.example.com/ui/runs/R1",
				"description": "Queued", "context": "hookflow/deploy"}},
		{name: "gitlab under a sub-path", provider: "gitlab",
			payload: `{"object_kind":"push","checkout_sha":"` + sha + `","project":{"id":42,
				"web_url":"%s/gitlab/group/sub/proj","path_with_namespace":"group/sub/proj"}}`,
			state: "pending", runStatus: "running", token: "glpat-x",
			wantPath: "/gitlab/api/v4/projects/42/statuses/" + sha,
			wantHead: map[string]string{"Private-Token": "glpat-x", "Content-Type": "application/json"},
			wantBody: map[string]any{"state": "running", "name": "hookflow/deploy",
				"target_url": "https://hookflow.example.com/ui/runs/R1", "description": "Queued"}},
		{name: "gitlab failed", provider: "gitlab",
			payload: `{"project":{"id":7,"web_url":"%s/g/p","path_with_namespace":"g/p"}}`,
			state:   "failure", runStatus: "failed", token: "t",
			wantPath: "/api/v4/projects/7/statuses/" + sha,
			wantBody: map[string]any{"state": "failed", "name": "hookflow/deploy",
				"target_url": "https://hookflow.example.com/ui/runs/R1", "description": "Queued"}},
		{name: "gitlab cancelled", provider: "gitlab",
			payload: `{"project":{"id":7,"web_url":"%s/g/p","path_with_namespace":"g/p"}}`,
			state:   "error", runStatus: "cancelled", token: "t",
			wantPath: "/api/v4/projects/7/statuses/" + sha,
			wantBody: map[string]any{"state": "canceled", "name": "hookflow/deploy",
				"target_url": "https://hookflow.example.com/ui/runs/R1", "description": "Queued"}},
		{name: "gitea under a sub-path", provider: "gitea",
			payload: `{"after":"` + sha + `","repository":{"full_name":"ops/site","html_url":"%s/git/ops/site"}}`,
			state:   "success", runStatus: "succeeded", token: "gt",
			wantPath: "/git/api/v1/repos/ops/site/statuses/" + sha,
			wantHead: map[string]string{"Authorization": "token gt"},
			wantBody: map[string]any{"state": "success", "target_url": "https://hookflow.example.com/ui/runs/R1",
				"description": "Queued", "context": "hookflow/deploy"}},
		{name: "forgejo", provider: "forgejo",
			payload: `{"repository":{"full_name":"ops/site","html_url":"%s/ops/site/"}}`,
			state:   "error", runStatus: "cancelled", token: "fj",
			wantPath: "/api/v1/repos/ops/site/statuses/" + sha,
			wantHead: map[string]string{"Authorization": "token fj"},
			wantBody: map[string]any{"state": "error", "target_url": "https://hookflow.example.com/ui/runs/R1",
				"description": "Queued", "context": "hookflow/deploy"}},
		{name: "bitbucket", provider: "bitbucket",
			payload: `{"repository":{"full_name":"team/app"}}`,
			state:   "pending", runStatus: "running", token: "bb-token",
			wantPath: "/2.0/repositories/team/app/commit/" + sha + "/statuses/build",
			wantHead: map[string]string{"Authorization": "Bearer bb-token"},
			wantBody: map[string]any{"key": "hookflow/deploy", "state": "INPROGRESS", "name": "hookflow/deploy",
				"url": "https://hookflow.example.com/ui/runs/R1", "description": "Queued"}},
		{name: "bitbucket app password", provider: "bitbucket",
			payload: `{"repository":{"full_name":"team/app"}}`,
			state:   "failure", runStatus: "failed", token: "me:app-pass",
			wantPath: "/2.0/repositories/team/app/commit/" + sha + "/statuses/build",
			wantHead: map[string]string{"Authorization": "Basic bWU6YXBwLXBhc3M="},
			wantBody: map[string]any{"key": "hookflow/deploy", "state": "FAILED", "name": "hookflow/deploy",
				"url": "https://hookflow.example.com/ui/runs/R1", "description": "Queued"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := recorder(t, http.StatusCreated, `{"id":1}`)
			m := &Message{State: tt.state, RunStatus: tt.runStatus, Provider: tt.provider, Commit: sha, Repo: "ignored/by-payload",
				Payload: payload(t, strings.ReplaceAll(tt.payload, "%s", srv.URL)), Context: "hookflow/deploy",
				Token: tt.token, RunURL: "https://hookflow.example.com/ui/runs/R1", Description: "Queued"}
			if tt.provider == "bitbucket" {
				m.API = srv.URL + "/2.0"
			}
			req, err := StatusRequest(context.Background(), m)
			if err != nil {
				t.Fatal(err)
			}
			if err := Send(srv.Client(), req); err != nil {
				t.Fatal(err)
			}
			reqs := got()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			r := reqs[0]
			if r.Method != http.MethodPost || r.Path != tt.wantPath {
				t.Errorf("%s %s, want POST %s", r.Method, r.Path, tt.wantPath)
			}
			for k, v := range tt.wantHead {
				if got := r.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if !reflect.DeepEqual(r.Body, tt.wantBody) {
				t.Errorf("body %v\nwant %v", r.Body, tt.wantBody)
			}
		})
	}
}

// TestStatusRequestRefuses checks what a status is never sent to, and
// that no error holds the token.
func TestStatusRequestRefuses(t *testing.T) {
	const token = "secret-token-77aa"
	tests := []struct {
		name, provider, payload, commit string
	}{
		{"no commit", "github", `{"repository":{"statuses_url":"https://api.github.com/repos/a/b/statuses/{sha}"}}`, ""},
		{"javascript scheme", "github", `{"repository":{"statuses_url":"javascript:alert(1)//{sha}"}}`, sha},
		{"credentials in the address", "github", `{"repository":{"statuses_url":"https://u:p@evil.example/{sha}"}}`, sha},
		{"gitlab without project", "gitlab", `{"project":{"web_url":"https://gitlab.example.com/g/p"}}`, sha},
		{"gitlab path not in web_url", "gitlab", `{"project":{"id":1,"web_url":"https://gitlab.example.com/x/y","path_with_namespace":"g/p"}}`, sha},
		{"gitea file scheme", "gitea", `{"repository":{"full_name":"a/b","html_url":"file:///etc/a/b"}}`, sha},
		{"gitea without html_url", "gitea", `{"repository":{"full_name":"a/b"}}`, sha},
		{"bitbucket without a repository", "bitbucket", `{}`, sha},
		{"not a forge", "alertmanager", `{}`, sha},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Message{State: "success", Provider: tt.provider, Commit: tt.commit, Payload: payload(t, tt.payload),
				Token: token, Context: "c", RunURL: "https://h/ui/runs/1"}
			_, err := StatusRequest(context.Background(), m)
			if err == nil {
				t.Fatal("built a request")
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("the error holds the token: %v", err)
			}
		})
	}
}

// TestSend classifies a forge's answers.
func TestSend(t *testing.T) {
	tests := []struct {
		code       int
		answer     string
		retryAfter string
		wantErr    bool
		permanent  bool
	}{
		{201, `{}`, "", false, false},
		{200, `{}`, "", false, false},
		{400, `{"message":"Cannot transition status via :run from :running"}`, "", false, false},
		{400, `{"message":"state is invalid"}`, "", true, true},
		{401, `{"message":"Bad credentials"}`, "", true, true},
		{404, `Not Found`, "", true, true},
		{422, `{"message":"Validation Failed"}`, "", true, true},
		{429, `slow down`, "30", true, false},
		{500, `oops`, "", true, false},
		{503, `unavailable`, "", true, false},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.code), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.code)
				io.WriteString(w, tt.answer)
			}))
			defer srv.Close()
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/hooks/T0000/B0000/secretpart?token=q", nil)
			err := Send(srv.Client(), req)
			if (err != nil) != tt.wantErr || IsPermanent(err) != tt.permanent {
				t.Fatalf("Send: %v (permanent %t), want error %t permanent %t", err, IsPermanent(err), tt.wantErr, tt.permanent)
			}
			if err != nil && (strings.Contains(err.Error(), "secretpart") || strings.Contains(err.Error(), "token=q")) {
				t.Errorf("the error holds the address: %v", err)
			}
			var e *Error
			if tt.retryAfter != "" && (!errors.As(err, &e) || e.RetryAfter.Seconds() != 30) {
				t.Errorf("Retry-After not kept: %v", err)
			}
		})
	}
	t.Run("closed server", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		req, _ := http.NewRequest(http.MethodPost, url+"/secretpart", nil)
		err := Send(http.DefaultClient, req)
		if err == nil || IsPermanent(err) || strings.Contains(err.Error(), "secretpart") {
			t.Errorf("Send to a closed server: %v, want a retryable error without the path", err)
		}
	})
}

// TestBitbucketKey keeps a long context's key within Bitbucket's 40
// characters, the same for the same context.
func TestBitbucketKey(t *testing.T) {
	long := "hookflow/a-very-long-workflow-name/and-a-job-name-too"
	k := bitbucketKey(long)
	if len(k) > 40 || k != bitbucketKey(long) || k == bitbucketKey(long+"x") {
		t.Errorf("key %q of %q", k, long)
	}
	if bitbucketKey("hookflow/deploy") != "hookflow/deploy" {
		t.Error("a short context changed")
	}
}
