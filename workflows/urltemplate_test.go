package workflows_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/actions"
	gitaction "github.com/hookflow/hookflow/actions/git"
	httpaction "github.com/hookflow/hookflow/actions/http"
	"github.com/hookflow/hookflow/workflows"
)

// hostile is a value that would rewrite a URL's path and query if it were
// spliced in as it is.
const hostile = "../../admin?x=1#"

// renderURL loads a workflow whose one step is `uses: kind` with url as its
// `with: url`, and renders that url for ev and secrets as the runner would.
func renderURL(t *testing.T, kind, rawURL string, ev *workflows.Event, secrets map[string]string) (string, error) {
	t.Helper()
	reg, err := actions.NewRegistry(httpaction.Kind(), gitaction.Kind())
	if err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf("on: {dispatch: {}}\nsteps:\n  - uses: %s\n    with: {url: %q}\n", kind, rawURL)
	w, err := workflows.Parse("url.yaml", []byte(src), reg)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	scope := workflows.NewScope(ev)
	scope.Secrets = secrets
	with, err := w.Steps[0].With.Render(scope)
	if err != nil {
		return "", err
	}
	return with.(map[string]any)["url"].(string), nil
}

func TestURLTemplateEscapes(t *testing.T) {
	const token = `p@ss/w:rd+=&" x#%`
	for _, tt := range []struct {
		name, kind, url string
		event           workflows.Event
		want            string
	}{
		{
			name: "path segment", kind: "http",
			url:   "https://api.example.com/repos/${{ event.repo }}/hooks",
			event: workflows.Event{Repo: hostile},
			want:  "https://api.example.com/repos/..%2F..%2Fadmin%3Fx=1%23/hooks",
		},
		{
			name: "query value", kind: "http",
			url:   "https://api.example.com/hooks?ref=${{ event.ref }}&page=1",
			event: workflows.Event{Ref: hostile},
			want:  "https://api.example.com/hooks?ref=..%2F..%2Fadmin%3Fx%3D1%23&page=1",
		},
		{
			name: "query name", kind: "http",
			url:   "https://api.example.com/hooks?${{ event.ref }}=1",
			event: workflows.Event{Ref: "a=b&c"},
			want:  "https://api.example.com/hooks?a%3Db%26c=1",
		},
		{
			name: "fragment", kind: "http",
			url:   "https://example.com/docs#${{ event.ref }}",
			event: workflows.Event{Ref: "a#b c"},
			want:  "https://example.com/docs#a%23b%20c",
		},
		{
			name: "owner/name keeps its slash", kind: "http",
			url:   "https://api.example.com/repos/${{ event.repo }}/statuses/abc",
			event: workflows.Event{Repo: "octo cat/hello?world"},
			want:  "https://api.example.com/repos/octo%20cat/hello%3Fworld/statuses/abc",
		},
		{
			name: "a slash beside a dot segment is escaped", kind: "http",
			url:   "https://api.example.com/repos/${{ event.repo }}/hooks",
			event: workflows.Event{Repo: "a/../../b"},
			want:  "https://api.example.com/repos/a%2F..%2F..%2Fb/hooks",
		},
		{
			name: "a trailing slash is escaped", kind: "http",
			url:   "https://api.example.com/repos/${{ event.repo }}hooks",
			event: workflows.Event{Repo: "a/"},
			want:  "https://api.example.com/repos/a%2Fhooks",
		},
		{
			name: "dot-dot segment", kind: "http",
			url:   "https://example.com/a/${{ event.repo }}/b",
			event: workflows.Event{Repo: ".."},
			want:  "https://example.com/a/%2E%2E/b",
		},
		{
			name: "dot segment", kind: "http",
			url:   "https://example.com/a/${{ event.repo }}",
			event: workflows.Event{Repo: "."},
			want:  "https://example.com/a/%2E",
		},
		{
			name: "dot beside a literal dot", kind: "http",
			url:   "https://example.com/a/.${{ event.repo }}/b",
			event: workflows.Event{Repo: "."},
			want:  "https://example.com/a/.%2E/b",
		},
		{
			name: "dots inside a name", kind: "http",
			url:   "https://example.com/files/${{ event.repo }}",
			event: workflows.Event{Repo: "v1..2.tar.gz"},
			want:  "https://example.com/files/v1..2.tar.gz",
		},
		{
			name: "number", kind: "http",
			url:   "https://api.example.com/issues/${{ event.pull_request.number }}/comments",
			event: workflows.Event{PullRequest: workflows.PullRequest{Number: 42}},
			want:  "https://api.example.com/issues/42/comments",
		},
		{
			name: "password and path of a git URL", kind: "git",
			url:   "https://x:${{ secrets.TOKEN }}@git.example.com/${{ event.repo }}.git",
			event: workflows.Event{Repo: "owner/name"},
			want:  "https://x:p%40ss%2Fw%3Ard+=&%22%20x%23%25@git.example.com/owner/name.git",
		},
		{
			name: "user name and password", kind: "git",
			url:  "https://${{ secrets.TOKEN }}:${{ secrets.TOKEN }}@git.example.com/repo.git",
			want: "https://p%40ss%2Fw%3Ard+=&%22%20x%23%25:p%40ss%2Fw%3Ard+=&%22%20x%23%25@git.example.com/repo.git",
		},
		{
			name: "ssh URL", kind: "git",
			url:   "ssh://git@git.example.com/srv/${{ event.repo }}.git",
			event: workflows.Event{Repo: hostile},
			want:  "ssh://git@git.example.com/srv/..%2F..%2Fadmin%3Fx=1%23.git",
		},
		{
			name: "host", kind: "http",
			url:   "https://${{ event.body.host }}/hooks",
			event: workflows.Event{Body: map[string]any{"host": "api.example.com:8443"}},
			want:  "https://api.example.com:8443/hooks",
		},
		{
			name: "part of the host", kind: "http",
			url:   "https://${{ event.body.env }}.example.com/hooks",
			event: workflows.Event{Body: map[string]any{"env": "staging"}},
			want:  "https://staging.example.com/hooks",
		},
		{
			name: "port", kind: "http",
			url:   "http://127.0.0.1:${{ event.body.port }}/hooks",
			event: workflows.Event{Body: map[string]any{"port": 8080}},
			want:  "http://127.0.0.1:8080/hooks",
		},
		{
			name: "IPv6 host", kind: "http",
			url:   "http://${{ event.body.host }}/hooks",
			event: workflows.Event{Body: map[string]any{"host": "[::1]:8080"}},
			want:  "http://[::1]:8080/hooks",
		},
		{
			name: "scheme", kind: "http",
			url:   "${{ event.body.scheme }}://example.com/${{ event.repo }}",
			event: workflows.Event{Repo: "a b", Body: map[string]any{"scheme": "https"}},
			want:  "https://example.com/a%20b",
		},
		{
			name: "whole value is taken as it is", kind: "git",
			url:   "${{ event.clone_url }}",
			event: workflows.Event{CloneURL: "https://git.example.com/owner/name.git?x=1#top"},
			want:  "https://git.example.com/owner/name.git?x=1#top",
		},
		{
			name: "literal", kind: "http",
			url:  "https://example.com/a%2Fb?c=d",
			want: "https://example.com/a%2Fb?c=d",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := renderURL(t, tt.kind, tt.url, &tt.event, map[string]string{"TOKEN": token})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("rendered\n%s\nwant\n%s", got, tt.want)
			}
			if _, err := url.Parse(got); err != nil {
				t.Errorf("not a URL: %v", err)
			}
		})
	}

	t.Run("credentials read back whole", func(t *testing.T) {
		got, err := renderURL(t, "git", "https://hookflow:${{ secrets.TOKEN }}@git.example.com/r.git", nil, map[string]string{"TOKEN": token})
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatal(err)
		}
		if pw, _ := u.User.Password(); u.User.Username() != "hookflow" || pw != token || u.Host != "git.example.com" || u.Path != "/r.git" {
			t.Errorf("read back user %q, password %q, host %q, path %q", u.User.Username(), pw, u.Host, u.Path)
		}
	})
}

func TestURLTemplateRefusesValues(t *testing.T) {
	for _, tt := range []struct {
		name, url, value, want string
	}{
		{"path in the host", "https://${{ event.body.v }}/hooks", "evil.example/x?", "url: the value of ${{ event.body.v }} is not a host name or host:port"},
		{"user in the host", "https://${{ event.body.v }}/hooks", "api.example.com@evil.example", "is not a host name or host:port"},
		{"escape in the host", "https://${{ event.body.v }}/hooks", "evil%2Eexample", "is not a host name or host:port"},
		{"empty host", "https://${{ event.body.v }}/hooks", "", "is not a host name or host:port"},
		{"port before literal host", "https://${{ event.body.v }}.example.com/", "evil.example:1", "url: the values templated into it do not make a URL"},
		{"bad port", "https://example.com:${{ event.body.v }}/", "80x", "url: the values templated into it do not make a URL"},
		{"dots for a host", "https://${{ event.body.v }}/hooks", "..", "url: the values templated into its host do not make a host name"},
		{"no host before the port", "https://${{ event.body.v }}/hooks", ":8080", "do not make a host name"},
		{"empty label", "https://${{ event.body.v }}.example.com/", "a.", "do not make a host name"},
		{"URL in the scheme", "${{ event.body.v }}://example.com/", "https://evil.example/#", "url: the value of ${{ event.body.v }} is not a URL scheme"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ev := &workflows.Event{Body: map[string]any{"v": tt.value}}
			got, err := renderURL(t, "http", tt.url, ev, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("rendered %q, error %v; want an error with %q", got, err, tt.want)
			}
			if tt.value != "" && strings.Contains(err.Error(), tt.value) {
				t.Errorf("the error quotes the value: %v", err)
			}
		})
	}
}
