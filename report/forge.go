package report

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// BitbucketAPI is Bitbucket Cloud's API, which its events do not name.
const BitbucketAPI = "https://api.bitbucket.org/2.0"

// Limits of the forges' status fields.
const (
	maxDescription  = 140 // GitHub refuses longer; the others are as long or longer
	maxBitbucketKey = 40
)

// StatusRequest builds the request that sets m's commit status on the forge
// m.Provider names, at its documented endpoint:
//
//   - GitHub: POST /repos/{owner}/{repo}/statuses/{sha}
//     (docs.github.com/rest/commits/statuses#create-a-commit-status), at
//     the payload's repository.statuses_url, which carries the API's base:
//     api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server.
//   - GitLab: POST /api/v4/projects/{id}/statuses/{sha}
//     (docs.gitlab.com/api/commits/#set-the-pipeline-status-of-a-commit),
//     the base being project.web_url less the project's path.
//   - Gitea and Forgejo: POST /api/v1/repos/{owner}/{repo}/statuses/{sha}
//     (the CreateStatusOption of their Swagger), the base being
//     repository.html_url less the repository's full name.
//   - Bitbucket Cloud: POST /2.0/repositories/{workspace}/{slug}/commit/{sha}/statuses/build
//     (developer.atlassian.com/cloud/bitbucket/rest/api-group-commit-statuses).
//
// The addresses come from the event's payload. That is safe to follow: the
// event was accepted only with the provider's signature (or token), so the
// payload is the forge's own, and only http and https addresses without
// credentials are used.
func StatusRequest(ctx context.Context, m *Message) (*http.Request, error) {
	if m.Commit == "" {
		return nil, errors.New("commit status: the event names no commit")
	}
	description := clip(m.Description, maxDescription)
	switch m.Provider {
	case "github":
		target := str(m.Payload, "repository", "statuses_url")
		if target == "" {
			owner, name, err := split(m.Repo)
			if err != nil {
				return nil, err
			}
			target = "https://api.github.com/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(name) + "/statuses/{sha}"
		}
		target = strings.Replace(target, "{sha}", url.PathEscape(m.Commit), 1)
		if err := checkURL(target); err != nil {
			return nil, fmt.Errorf("commit status: repository.statuses_url: %w", err)
		}
		return jsonRequest(ctx, target, map[string]string{
			"Authorization":        "Bearer " + m.Token,
			"Accept":               "application/vnd.github+json",
			"X-GitHub-Api-Version": "2022-11-28",
		}, map[string]any{"state": m.State, "target_url": m.RunURL, "description": description, "context": m.Context})
	case "gitlab":
		web, path := str(m.Payload, "project", "web_url"), str(m.Payload, "project", "path_with_namespace")
		id, ok := lookup(m.Payload, "project", "id").(float64)
		base, found := strings.CutSuffix(strings.TrimSuffix(web, "/"), "/"+path)
		if !ok || path == "" || !found {
			return nil, errors.New("commit status: the GitLab event has no project id, web_url and path_with_namespace")
		}
		target := base + "/api/v4/projects/" + fmt.Sprint(int64(id)) + "/statuses/" + url.PathEscape(m.Commit)
		if err := checkURL(target); err != nil {
			return nil, fmt.Errorf("commit status: project.web_url: %w", err)
		}
		return jsonRequest(ctx, target, map[string]string{"PRIVATE-TOKEN": m.Token},
			map[string]any{"state": gitlabState(m), "name": m.Context, "target_url": m.RunURL, "description": description})
	case "gitea", "forgejo":
		full := str(m.Payload, "repository", "full_name")
		base, found := strings.CutSuffix(strings.TrimSuffix(str(m.Payload, "repository", "html_url"), "/"), "/"+full)
		owner, name, err := split(full)
		if err != nil || !found {
			return nil, errors.New("commit status: the event has no repository.html_url and full_name")
		}
		target := base + "/api/v1/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(name) + "/statuses/" + url.PathEscape(m.Commit)
		if err := checkURL(target); err != nil {
			return nil, fmt.Errorf("commit status: repository.html_url: %w", err)
		}
		return jsonRequest(ctx, target, map[string]string{"Authorization": "token " + m.Token},
			map[string]any{"state": m.State, "target_url": m.RunURL, "description": description, "context": m.Context})
	case "bitbucket":
		full := str(m.Payload, "repository", "full_name")
		if full == "" {
			full = m.Repo
		}
		workspace, slug, err := split(full)
		if err != nil {
			return nil, err
		}
		api := BitbucketAPI
		if m.API != "" {
			api = m.API
		}
		target := strings.TrimSuffix(api, "/") + "/repositories/" + url.PathEscape(workspace) + "/" +
			url.PathEscape(slug) + "/commit/" + url.PathEscape(m.Commit) + "/statuses/build"
		auth := "Bearer " + m.Token
		if user, password, ok := strings.Cut(m.Token, ":"); ok {
			req, _ := http.NewRequest(http.MethodGet, "/", nil)
			req.SetBasicAuth(user, password)
			auth = req.Header.Get("Authorization")
		}
		return jsonRequest(ctx, target, map[string]string{"Authorization": auth}, map[string]any{
			"key": bitbucketKey(m.Context), "state": bitbucketState(m.State), "name": m.Context,
			"url": m.RunURL, "description": description})
	}
	return nil, fmt.Errorf("commit status: provider %q has no status API (github, gitlab, gitea, forgejo or bitbucket)", m.Provider)
}

// gitlabState is m's state in GitLab's words: a pending run that started
// is running; a failure is failed, an error canceled.
func gitlabState(m *Message) string {
	switch m.State {
	case "pending":
		if m.RunStatus == "running" {
			return "running"
		}
		return "pending"
	case "failure":
		return "failed"
	case "error":
		return "canceled"
	}
	return m.State
}

func bitbucketState(state string) string {
	switch state {
	case "pending":
		return "INPROGRESS"
	case "success":
		return "SUCCESSFUL"
	case "failure":
		return "FAILED"
	}
	return "STOPPED"
}

// bitbucketKey is context as a build status key, which Bitbucket limits to
// 40 characters: a longer context keeps its start and gains a hash of the
// whole, so that it stays the same key from one status to the next.
func bitbucketKey(context string) string {
	if len(context) <= maxBitbucketKey {
		return context
	}
	sum := sha256.Sum256([]byte(context))
	return context[:maxBitbucketKey-13] + "-" + hex.EncodeToString(sum[:6])
}

// jsonRequest is a POST of body as JSON to target with headers.
func jsonRequest(ctx context.Context, target string, headers map[string]string, body any) (*http.Request, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(b))
	if err != nil {
		return nil, errors.New("invalid address") // its text would quote the address
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hookflow")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return req, nil
}

// checkURL accepts an absolute http or https address without credentials.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("not an address")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("scheme %q: only http and https", u.Scheme)
	case u.Host == "":
		return errors.New("no host")
	case u.User != nil:
		return errors.New("an address with credentials in it")
	}
	return nil
}

// split cuts "owner/name".
func split(full string) (owner, name string, err error) {
	owner, name, ok := strings.Cut(full, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("commit status: repository %q is not owner/name", clip(full, 100))
	}
	return owner, name, nil
}

// lookup walks keys down a decoded JSON value.
func lookup(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// str is lookup's string, or "".
func str(v any, keys ...string) string {
	s, _ := lookup(v, keys...).(string)
	return s
}

// clip cuts s to at most n runes, marking the cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
