package providers

import (
	"strings"

	"github.com/hookflow/hookflow/workflows"
)

// gitlabHookTypes maps the X-Gitlab-Event values that have a normalised type.
var gitlabHookTypes = map[string]string{
	"Push Hook":          TypePush,
	"Tag Push Hook":      TypeTag,
	"Merge Request Hook": TypePullRequest,
	"Release Hook":       TypeRelease,
}

// gitlabKindTypes maps the body's object_kind (or a system hook's event_name)
// to a normalised type, for deliveries whose header does not say enough.
var gitlabKindTypes = map[string]string{
	"push":          TypePush,
	"tag_push":      TypeTag,
	"merge_request": TypePullRequest,
	"release":       TypeRelease,
}

// gitlab normalises a GitLab delivery. Pushes, tag pushes and merge requests
// fill the git fields; a merge request is a pull_request, with the same
// meaning of branch (the target) and commit (the source's last commit) as on
// GitHub.
func gitlab(ev *workflows.Event, _ Options) {
	b := ev.Body
	ev.Name = firstNonEmpty(header(ev, "x-gitlab-event"), str(b, "object_kind"))
	// Idempotency-Key is the same on every retry of one event, which is what
	// dedup needs; the UUID headers are the fallbacks of older GitLab versions.
	ev.Delivery = header(ev, "idempotency-key", "x-gitlab-webhook-uuid", "x-gitlab-event-uuid")
	ev.Type = gitlabType(ev.Name, b)
	ev.Action = firstNonEmpty(str(b, "object_attributes", "action"), str(b, "action"))
	ev.Repo = str(b, "project", "path_with_namespace")
	ev.CloneURL = firstNonEmpty(str(b, "project", "git_http_url"), str(b, "repository", "git_http_url"))
	// Push payloads flatten the user into user_username; the others nest it.
	ev.Sender = firstNonEmpty(str(b, "user_username"), str(b, "user", "username"))

	switch ev.Type {
	case TypePush, TypeTag:
		if ref := str(b, "ref"); ref != "" {
			setRef(ev, ref)
			ev.Type = pushType(ref)
		}
		// checkout_sha is the commit to build and is null when the push deleted
		// the ref; after is all zeros then, so commit stays empty either way.
		ev.Commit = commitID(firstNonEmpty(str(b, "checkout_sha"), str(b, "after")))
		ev.Before = commitID(str(b, "before"))
		ev.Changed = changedFiles(list(b, "commits"))
	case TypePullRequest:
		mr := object(b, "object_attributes")
		ev.PullRequest = workflows.PullRequest{
			Number: integer(mr, "iid"),
			Base:   str(mr, "target_branch"),
			Head:   str(mr, "source_branch"),
			Merged: str(mr, "state") == "merged",
		}
		ev.Branch = ev.PullRequest.Base
		ev.Commit = str(mr, "last_commit", "id")
	case TypeRelease:
		ev.Tag = str(b, "tag")
	}
}

// gitlabType returns the normalised type of a GitLab event named name. GitLab's
// names are phrases ("Pipeline Hook", "Confidential Issue Hook"); the ones
// without a shared type become the phrase without " Hook", lower-cased and
// joined with underscores ("pipeline", "confidential_issue"), so that a
// workflow can write `events: [pipeline]`. A system hook says what happened
// only in its body.
func gitlabType(name string, body any) string {
	if t, ok := gitlabHookTypes[name]; ok {
		return t
	}
	if name == "System Hook" {
		if kind := firstNonEmpty(str(body, "object_kind"), str(body, "event_name")); kind != "" {
			name = kind
		}
	}
	if t, ok := gitlabKindTypes[name]; ok {
		return t
	}
	name = strings.TrimSuffix(name, " Hook")
	return strings.ReplaceAll(strings.ToLower(name), " ", "_")
}
