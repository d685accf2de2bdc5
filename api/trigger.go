package api

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// TriggerView is what started a run, from its stored event (SPEC §4's
// normalised fields) and the run itself. Fields the event does not carry are
// left out.
type TriggerView struct {
	// Label is the trigger in a few words: "github push", "cron",
	// "dispatch", "replay of github push".
	Label string `json:"label"`
	// Trigger is the event's kind: webhook, cron, dispatch or replay.
	Trigger  string `json:"trigger"`
	Provider string `json:"provider,omitempty"`
	// Event is the delivery's event name or type ("push").
	Event  string `json:"event,omitempty"`
	Repo   string `json:"repo,omitempty"`
	Branch string `json:"branch,omitempty"`
	Tag    string `json:"tag,omitempty"`
	Commit string `json:"commit,omitempty"`
	// CommitURL is the commit's page on its forge, when the payload gives
	// the repository's web address (http or https only).
	CommitURL string         `json:"commit_url,omitempty"`
	Sender    string         `json:"sender,omitempty"`
	Inputs    map[string]any `json:"inputs,omitempty"`
	Schedule  string         `json:"schedule,omitempty"`
	// Actor is who started the run by hand (a rerun, a dispatch, a replay):
	// "ui" or "api", the identity the client was let in with and its
	// address; never a token.
	Actor string `json:"actor,omitempty"`
}

// label is the trigger in a few words: "github push", "cron", "dispatch",
// "replay of github push".
func (t *TriggerView) label() string {
	var parts []string
	if t.Provider != "" && t.Provider != "generic" {
		parts = append(parts, t.Provider)
	}
	if t.Event != "" {
		parts = append(parts, t.Event)
	}
	if len(parts) == 0 {
		return t.Trigger
	}
	s := strings.Join(parts, " ")
	if t.Trigger == workflows.TriggerReplay {
		s = "replay of " + s
	}
	return s
}

// triggerEvent is what a trigger is told from: the fields of a stored
// workflows.Event it shows, and of the payload only the repository's web
// address. Decoding just these skips building the whole payload, which a
// page of runs would otherwise do once for each run.
type triggerEvent struct {
	Trigger  string         `json:"trigger"`
	Provider string         `json:"provider"`
	Name     string         `json:"name"`
	Type     string         `json:"type"`
	Repo     string         `json:"repo"`
	Branch   string         `json:"branch"`
	Tag      string         `json:"tag"`
	Commit   string         `json:"commit"`
	Sender   string         `json:"sender"`
	Schedule string         `json:"schedule"`
	Inputs   map[string]any `json:"inputs"`
	Actor    string         `json:"actor"`
	// Body is kept undecoded: a payload need not be an object.
	Body json.RawMessage `json:"body"`
}

// forgeAddresses are the payload fields that name a repository's web page:
// GitHub's and Gitea's repository.html_url, Bitbucket's
// repository.links.html.href, GitLab's project.web_url.
type forgeAddresses struct {
	Repository struct {
		HTMLURL string `json:"html_url"`
		Links   struct {
			HTML struct {
				Href string `json:"href"`
			} `json:"html"`
		} `json:"links"`
	} `json:"repository"`
	Project struct {
		WebURL string `json:"web_url"`
	} `json:"project"`
}

// ViewTrigger describes what started run r, from its event ev; ev may be nil
// (pruned), and then only what the run knows is told.
func ViewTrigger(r *store.Run, ev *store.Event) *TriggerView {
	t := &TriggerView{Actor: r.Actor}
	defer func() { t.Label = t.label() }()
	if ev == nil {
		return t
	}
	var e triggerEvent
	if err := json.Unmarshal(ev.Data, &e); err != nil {
		t.Trigger = ev.Trigger
		return t
	}
	t.Trigger, t.Provider, t.Repo, t.Branch, t.Tag = e.Trigger, e.Provider, e.Repo, e.Branch, e.Tag
	t.Commit, t.Sender, t.Inputs, t.Schedule = e.Commit, e.Sender, e.Inputs, e.Schedule
	if e.Trigger != workflows.TriggerCron && e.Trigger != workflows.TriggerDispatch {
		t.Event = e.Name
		if t.Event == "" {
			t.Event = e.Type
		}
	}
	if t.Actor == "" {
		t.Actor = e.Actor
	}
	t.CommitURL = commitURL(e.Provider, e.Body, e.Commit)
	return t
}

// RunTrigger describes what started run r, reading its event from st; an
// event no longer stored tells nothing.
func RunTrigger(ctx context.Context, st store.Store, r *store.Run) (*TriggerView, error) {
	ev, err := st.GetEvent(ctx, r.EventID)
	if store.IsNotFound(err) {
		return ViewTrigger(r, nil), nil
	}
	if err != nil {
		return nil, err
	}
	return ViewTrigger(r, ev), nil
}

// ViewTriggers describes what started each of runs, reading their events in
// one query; the result is in the order of runs.
func ViewTriggers(ctx context.Context, st store.Store, runs []*store.Run) ([]*TriggerView, error) {
	ids := make([]string, 0, len(runs))
	seen := map[string]bool{}
	for _, r := range runs {
		if !seen[r.EventID] {
			seen[r.EventID] = true
			ids = append(ids, r.EventID)
		}
	}
	events, err := st.GetEvents(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*store.Event, len(events))
	for _, e := range events {
		byID[e.ID] = e
	}
	out := make([]*TriggerView, len(runs))
	for i, r := range runs {
		out[i] = ViewTrigger(r, byID[r.EventID])
	}
	return out, nil
}

// commitURL is the web page of commit sha on the forge that sent body, from
// the repository address the payload carries (forgeAddresses). Only an
// http(s) address and a hexadecimal sha make a link; anything else makes
// none.
func commitURL(provider string, body json.RawMessage, sha string) string {
	if !isHex(sha) {
		return ""
	}
	var a forgeAddresses
	if json.Unmarshal(body, &a) != nil {
		return ""
	}
	var base, path string
	switch provider {
	case "github", "gitea":
		base, path = a.Repository.HTMLURL, "/commit/"
	case "gitlab":
		base, path = a.Project.WebURL, "/-/commit/"
	case "bitbucket":
		base, path = a.Repository.Links.HTML.Href, "/commits/"
	default:
		return ""
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return ""
	}
	return strings.TrimSuffix(u.String(), "/") + path + sha
}

func isHex(s string) bool {
	if len(s) < 7 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
			return false
		}
	}
	return true
}
