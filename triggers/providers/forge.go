package providers

import (
	"strings"

	"github.com/hookflow/hookflow/workflows"
)

// This file holds what all git providers share (refs, changed files) and the
// normaliser for GitHub and the forges that copy its payloads: Gitea and
// Forgejo send the same push, pull_request and release shapes under their own
// header names.

// Ref prefixes of branches and tags.
const (
	branchPrefix = "refs/heads/"
	tagPrefix    = "refs/tags/"
)

// setRef fills ev's ref and, for a branch or tag ref, its branch or tag.
func setRef(ev *workflows.Event, ref string) {
	ev.Ref = ref
	switch {
	case strings.HasPrefix(ref, branchPrefix):
		ev.Branch = strings.TrimPrefix(ref, branchPrefix)
	case strings.HasPrefix(ref, tagPrefix):
		ev.Tag = strings.TrimPrefix(ref, tagPrefix)
	}
}

// pushType is the type of a push to ref: pushing a tag is a tag event, as in
// GitHub Actions' `on: push: tags`, and every other push is a push.
func pushType(ref string) string {
	if strings.HasPrefix(ref, tagPrefix) {
		return TypeTag
	}
	return TypePush
}

// changedFiles lists the paths a push's commits added, modified or removed,
// each once, in the order they first appear. The forges only list a bounded
// number of commits per push (GitHub 2048, GitLab 20), so a very long push may
// not name every file.
func changedFiles(commits []any) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range commits {
		for _, kind := range []string{"added", "modified", "removed"} {
			for _, p := range list(c, kind) {
				if s, ok := p.(string); ok && !seen[s] {
					seen[s] = true
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// forge returns the normaliser of a GitHub-style provider that names its events
// and deliveries in the first present of the given headers (lower-case).
func forge(eventHeaders, deliveryHeaders []string) normalizer {
	return func(ev *workflows.Event, _ Options) {
		b := ev.Body
		ev.Name = header(ev, eventHeaders...)
		ev.Delivery = header(ev, deliveryHeaders...)
		ev.Action = str(b, "action")
		ev.Repo = str(b, "repository", "full_name")
		ev.CloneURL = str(b, "repository", "clone_url")
		// GitHub puts the actor in sender on every event; Gitea and Forgejo
		// payloads, and some of their older versions, only have pusher on pushes.
		ev.Sender = firstNonEmpty(str(b, "sender", "login"), str(b, "pusher", "login"),
			str(b, "pusher", "username"), str(b, "pusher", "name"))
		if pr := object(b, "pull_request"); pr != nil {
			forgePullRequest(ev, b, pr)
		}

		name := strings.ToLower(ev.Name)
		switch name {
		case "push":
			ref := str(b, "ref")
			setRef(ev, ref)
			ev.Type = pushType(ref)
			// A push that deletes a branch (deleted: true) keeps its branch, so
			// a filter on the branch still sees it, but has no commit.
			ev.Commit = commitID(str(b, "after"))
			ev.Before = commitID(str(b, "before"))
			ev.Changed = changedFiles(list(b, "commits"))
		case "pull_request":
			ev.Type = TypePullRequest
		case "release":
			ev.Type = TypeRelease
			ev.Tag = str(b, "release", "tag_name")
		case "ping":
			ev.Type = TypePing
		case "create", "delete":
			// These name a short ref and say what kind it is; filling branch or
			// tag lets `branches:` filters apply to them as well.
			ev.Type = name
			if ref := str(b, "ref"); ref != "" {
				switch str(b, "ref_type") {
				case "branch":
					setRef(ev, branchPrefix+ref)
				case "tag":
					setRef(ev, tagPrefix+ref)
				}
			}
		default:
			ev.Type = name
		}
	}
}

// forgePullRequest fills the pull-request fields from pr, the pull_request
// object of body. Every event that carries one gets them (pull_request, but
// also reviews and review comments). branch is the base branch: GitHub Actions
// matches `on: pull_request: branches:` against the branch a pull request
// targets, so `branches: [main]` means "pull requests into main" here too.
// commit is the head commit, the one a check of the pull request builds.
func forgePullRequest(ev *workflows.Event, body any, pr map[string]any) {
	ev.PullRequest = workflows.PullRequest{
		Number: firstNonZero(integer(pr, "number"), integer(body, "number")),
		Base:   str(pr, "base", "ref"),
		Head:   str(pr, "head", "ref"),
		Merged: boolean(pr, "merged"),
	}
	ev.Branch = ev.PullRequest.Base
	ev.Commit = str(pr, "head", "sha")
}

// firstNonZero returns the first of values that is not 0.
func firstNonZero(values ...int) int {
	for _, n := range values {
		if n != 0 {
			return n
		}
	}
	return 0
}
