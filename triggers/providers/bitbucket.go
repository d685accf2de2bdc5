package providers

import (
	"strings"

	"github.com/hookflow/hookflow/workflows"
)

// bitbucket normalises a delivery from Bitbucket Cloud or from Bitbucket
// Server / Data Center. Both name the event in X-Event-Key but use different
// keys and payloads (Cloud: "repo:push", "pullrequest:created"; Server:
// "repo:refs_changed", "pr:opened"), so each field is read from whichever
// shape the body has.
//
// Bitbucket payloads do not list the files a push changed, so changed stays
// empty and `paths:` filters never match Bitbucket pushes.
func bitbucket(ev *workflows.Event, _ Options) {
	b := ev.Body
	ev.Name = firstNonEmpty(header(ev, "x-event-key"), str(b, "eventKey"))
	// Cloud sends X-Request-UUID; Server sends X-Request-Id.
	ev.Delivery = header(ev, "x-request-uuid", "x-request-id")
	// Cloud accounts have a nickname and a display_name (usernames were removed
	// from its API); Server users have a name (the login) and a displayName.
	ev.Sender = firstNonEmpty(str(b, "actor", "nickname"), str(b, "actor", "name"),
		str(b, "actor", "display_name"), str(b, "actor", "displayName"))
	repo := object(b, "repository")
	if repo == nil {
		// Server's pull-request events carry the repository only inside the refs.
		repo = object(b, "pullRequest", "toRef", "repository")
	}
	bitbucketRepo(ev, repo)

	name := strings.ToLower(ev.Name)
	category, action, _ := strings.Cut(name, ":")
	switch {
	case name == "repo:push" || name == "repo:refs_changed":
		bitbucketPush(ev, b)
	case category == "pullrequest" || category == "pr":
		ev.Type = TypePullRequest
		ev.Action = action
		bitbucketPullRequest(ev, b)
	case name == "diagnostics:ping":
		ev.Type = TypePing
	default:
		ev.Type = name
	}
}

// bitbucketRepo fills repo and clone_url from a Cloud or Server repository.
func bitbucketRepo(ev *workflows.Event, repo map[string]any) {
	// Cloud repositories have a full_name ("workspace/slug") and no clone
	// links in webhooks; the HTTPS clone URL is the web URL plus ".git".
	if full := str(repo, "full_name"); full != "" {
		ev.Repo = full
		if html := str(repo, "links", "html", "href"); html != "" {
			ev.CloneURL = html + ".git"
		}
		return
	}
	// Server repositories are addressed as PROJECT/slug and list clone links.
	if key, slug := str(repo, "project", "key"), str(repo, "slug"); key != "" && slug != "" {
		ev.Repo = key + "/" + slug
	}
	for _, link := range list(repo, "links", "clone") {
		if str(link, "name") == "http" {
			ev.CloneURL = str(link, "href")
		}
	}
}

// bitbucketPush fills the ref and commits of a push. A push can update several
// refs at once; the event describes the first of them, like the single ref of a
// GitHub push.
func bitbucketPush(ev *workflows.Event, b any) {
	if changes := list(b, "push", "changes"); len(changes) > 0 {
		// Cloud: new is null when the push deleted the ref, so its name and
		// kind come from old then.
		c := changes[0]
		side := object(c, "new")
		if side == nil {
			side = object(c, "old")
		}
		if name := str(side, "name"); name != "" {
			switch str(side, "type") {
			case "branch":
				setRef(ev, branchPrefix+name)
			case "tag", "annotated_tag":
				setRef(ev, tagPrefix+name)
			}
		}
		ev.Commit = commitID(str(c, "new", "target", "hash"))
		ev.Before = commitID(str(c, "old", "target", "hash"))
	} else if changes := list(b, "changes"); len(changes) > 0 {
		// Server: the full ref is in refId (and ref.id); hashes are all zeros
		// on the missing side of a created or deleted ref.
		c := changes[0]
		setRef(ev, firstNonEmpty(str(c, "refId"), str(c, "ref", "id")))
		ev.Commit = commitID(str(c, "toHash"))
		ev.Before = commitID(str(c, "fromHash"))
	}
	ev.Type = pushType(ev.Ref)
}

// bitbucketPullRequest fills the pull-request fields from a Cloud pullrequest
// or a Server pullRequest. As for GitHub, branch is the target branch and
// commit the source's latest commit.
func bitbucketPullRequest(ev *workflows.Event, b any) {
	if pr := object(b, "pullrequest"); pr != nil {
		ev.PullRequest = workflows.PullRequest{
			Number: integer(pr, "id"),
			Base:   str(pr, "destination", "branch", "name"),
			Head:   str(pr, "source", "branch", "name"),
			Merged: str(pr, "state") == "MERGED",
		}
		ev.Commit = str(pr, "source", "commit", "hash")
	} else if pr := object(b, "pullRequest"); pr != nil {
		ev.PullRequest = workflows.PullRequest{
			Number: integer(pr, "id"),
			Base:   str(pr, "toRef", "displayId"),
			Head:   str(pr, "fromRef", "displayId"),
			Merged: str(pr, "state") == "MERGED",
		}
		ev.Commit = str(pr, "fromRef", "latestCommit")
	}
	ev.Branch = ev.PullRequest.Base
}
