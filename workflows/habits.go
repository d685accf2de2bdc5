package workflows

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/file"
	"go.yaml.in/yaml/v3"
)

// GitHub Actions habits: what people used to GitHub Actions write out of
// habit, recognised while a file loads so that its error says what to write
// here instead (SPEC §11). The hooks — the decoder's unknown keys, on:, the
// expression compiler's unknown names, a step's uses: and its run: script —
// all ask the one table, habits.

// habitPlace is where a habit is written.
type habitPlace int

const (
	habitKey     habitPlace = iota // an unknown key of any block
	habitTrigger                   // a key under on:
	habitOnNames                   // on: given as a name or a list of names (on: push)
	habitName                      // a name in an expression (github.ref)
	habitUses                      // a step's uses:
	habitScript                    // a variable in a run: script
)

// habit is one thing GitHub Actions users write, with what to write instead.
type habit struct {
	place habitPlace
	// github is what is written: a key, a trigger, a uses: value's start, a
	// script variable, or a name, which also matches with more of the name
	// after a "." (github.event matches github.event.pull_request). "" matches
	// anything, for hint to judge.
	github string
	// hint says what to write instead, or returns "" when it does not apply.
	hint func(s habitSite) string
}

// habitSite is what a hook found.
type habitSite struct {
	written string     // the key, trigger, name, uses: value or variable
	rest    string     // habitName: what follows the habit's name (".pull_request")
	value   *yaml.Node // habitKey, habitTrigger: the key's value; habitOnNames: on:'s
	block   *yaml.Node // habitKey, habitTrigger: the mapping the key is in
	known   []string   // habitKey: the keys the block accepts
}

var habits = []habit{
	{habitOnNames, "", onNamesHint},
	{habitTrigger, "workflow_dispatch", dispatchHint},
	{habitTrigger, "schedule", scheduleHint},
	{habitTrigger, "", webhookEventsHint},

	{habitKey, "timeout-minutes", timeoutMinutesHint},
	{habitKey, "paths-ignore", ignoreHint("paths")},
	{habitKey, "branches-ignore", ignoreHint("branches")},
	{habitKey, "run", defaultsRunHint},
	{habitKey, "", underscoreHint}, // runs-on, continue-on-error, working-directory, max-parallel, …

	{habitName, "github.ref_name", rename("event.branch", "event.tag for a tag")},
	{habitName, "github.ref", rename("event.ref", "")},
	{habitName, "github.sha", rename("event.commit", "")},
	{habitName, "github.actor", rename("event.sender", "")},
	{habitName, "github.repository", rename("event.repo", "")},
	{habitName, "github.event_name", rename("event.type", "")},
	{habitName, "github.event", rename("event.body", "")},
	{habitName, "github.head_ref", rename("event.pull_request.head", "")},
	{habitName, "github.base_ref", rename("event.pull_request.base", "")},
	{habitName, "github.run_id", rename("run.id", "")},
	{habitName, "github.run_attempt", rename("run.attempt", "")},
	{habitName, "github.workflow", rename("workflow.name", "")},
	{habitName, "github", githubContextHint},

	{habitUses, "actions/checkout@", checkoutHint},
	{habitUses, "", marketplaceHint},

	{habitScript, "GITHUB_OUTPUT", fileHint("write outputs to \"$HOOKFLOW_OUTPUT\"")},
	{habitScript, "GITHUB_ENV", fileHint("write variables for later steps to \"$HOOKFLOW_ENV\"")},
	{habitScript, "GITHUB_STEP_SUMMARY", fileHint("write the summary to \"$HOOKFLOW_STEP_SUMMARY\"")},
	{habitScript, "GITHUB_PATH", fileHint("set PATH through \"$HOOKFLOW_ENV\" (echo \"PATH=$HOME/bin:$PATH\" >> \"$HOOKFLOW_ENV\")")},
}

// findHabit returns what to write instead of what site holds at place, or ""
// when it is no habit.
func findHabit(place habitPlace, site habitSite) string {
	for _, h := range habits {
		if h.place != place {
			continue
		}
		s := site
		switch {
		case h.github == "":
		case place == habitName && strings.HasPrefix(s.written, h.github+"."):
			s.rest = strings.TrimPrefix(s.written, h.github)
		case place == habitUses && strings.HasPrefix(s.written, h.github):
		case s.written != h.github:
			continue
		}
		if hint := h.hint(s); hint != "" {
			return hint
		}
	}
	return ""
}

// keyHint is what the error of an unknown key k (with value v) in block says
// after the key: what to write instead for a GitHub Actions habit, else the
// closest of the known keys.
func keyHint(k, v, block *yaml.Node, known []string) string {
	if hint := findHabit(habitKey, habitSite{written: k.Value, value: v, block: block, known: known}); hint != "" {
		return ": " + hint
	}
	return suggest(k.Value, known)
}

// triggerHabits reports GitHub Actions' triggers in on: (n) and returns the
// rest of n for the ordinary decoding, or nil when nothing is left of it. The
// event triggers, such as push and pull_request, share one hint, given once.
func (d *decoder) triggerHabits(n *yaml.Node) *yaml.Node {
	switch n.Kind {
	case yaml.ScalarNode, yaml.SequenceNode:
		if hint := findHabit(habitOnNames, habitSite{value: n}); hint != "" {
			d.fail(n, "%s", hint)
			return nil
		}
	case yaml.MappingNode:
		rest := *n
		rest.Content = nil
		given := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			hint := findHabit(habitTrigger, habitSite{written: k.Value, value: v, block: n})
			if hint == "" {
				rest.Content = append(rest.Content, k, v)
				continue
			}
			if !given[hint] {
				given[hint] = true
				d.fail(k, "unknown key %s: %s", d.quote(k), hint)
			}
		}
		return &rest
	}
	return n
}

// exprHabit returns what to write instead of a GitHub Actions context name
// that fe, a compile error of src, reports as unknown; "" for any other error.
func exprHabit(src string, fe *file.Error) string {
	if fe.Message != "unknown name github" {
		return ""
	}
	name := githubName.FindString(src[byteOffset(src, fe.From):])
	if name == "" {
		return ""
	}
	return findHabit(habitName, habitSite{written: name})
}

var githubName = regexp.MustCompile(`^github(\.[A-Za-z_][A-Za-z0-9_]*)*`)

// scriptHabits reports the GitHub Actions files a run: script writes to, such
// as $GITHUB_OUTPUT, each at its first place in the script.
func (d *decoder) scriptHabits(s *Step) {
	seen := map[string]bool{}
	for _, m := range scriptVariable.FindAllStringSubmatchIndex(s.Run, -1) {
		name := s.Run[m[2]:m[3]]
		if seen[name] {
			continue
		}
		seen[name] = true
		if hint := findHabit(habitScript, habitSite{written: name}); hint != "" {
			d.errs = append(d.errs, errorAt(d.scriptPos(s.runNode, s.Run[:m[0]]), "$%s inside run: is GitHub Actions' file: %s", name, hint))
		}
	}
}

var scriptVariable = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

// The hints.

// githubEvents are GitHub's webhook events as GitHub Actions' on: names them,
// each with the event name a github webhook trigger matches it by.
var githubEvents = map[string]string{
	"push": "push", "pull_request": "pull_request", "pull_request_target": "pull_request",
	"pull_request_review": "pull_request_review", "pull_request_review_comment": "pull_request_review_comment",
	"release": "release", "create": "create", "delete": "delete", "issues": "issues",
	"issue_comment": "issue_comment", "deployment": "deployment", "deployment_status": "deployment_status",
	"workflow_run": "workflow_run", "check_run": "check_run", "check_suite": "check_suite",
	"status": "status", "fork": "fork", "watch": "watch", "label": "label", "milestone": "milestone",
	"discussion": "discussion", "discussion_comment": "discussion_comment", "merge_group": "merge_group",
	"registry_package": "registry_package", "repository_dispatch": "repository_dispatch",
	"page_build": "page_build", "public": "public", "gollum": "gollum",
}

// onNamesHint: on: push, or on: [push, pull_request, workflow_dispatch].
func onNamesHint(s habitSite) string {
	names := []*yaml.Node{s.value}
	if s.value.Kind == yaml.SequenceNode {
		names = s.value.Content
	}
	var events, written []string
	dispatch := false
	for _, n := range names {
		written = append(written, n.Value)
		event, ok := githubEvents[n.Value]
		switch {
		case n.Kind != yaml.ScalarNode:
			return ""
		case n.Value == "workflow_dispatch":
			dispatch = true
		case !ok:
			return ""
		default:
			events = appendNew(events, event)
		}
	}
	var triggers []string
	if len(events) > 0 {
		triggers = append(triggers, "webhook: "+githubWebhook(events, ""))
	}
	if dispatch {
		triggers = append(triggers, "dispatch: {}")
	}
	on := flowScalar(s.value.Value)
	if s.value.Kind == yaml.SequenceNode {
		on = flowList(written)
	}
	why := ""
	if len(events) > 0 {
		why = "GitHub events arrive through a webhook here: "
	}
	return fmt.Sprintf("on: %s: %swrite on: {%s}", on, why, strings.Join(triggers, ", "))
}

// webhookEventsHint: push:, pull_request: and the other events under on:,
// with their filters. The hint covers all of them, so each gets the same.
func webhookEventsHint(s habitSite) string {
	if _, ok := githubEvents[s.written]; !ok {
		return ""
	}
	var keys []string
	var groups []webhookGroup
	var tagTest string
	for i := 0; i+1 < len(s.block.Content); i += 2 {
		k, v := s.block.Content[i], s.block.Content[i+1]
		if _, ok := githubEvents[k.Value]; ok {
			keys = append(keys, k.Value)
			groups = eventGroups(groups, k.Value, v, &tagTest)
		}
	}
	hooks := make([]string, len(groups))
	onlyTags := true
	for i, g := range groups {
		hooks[i] = githubWebhook(g.events, g.filters)
		onlyTags = onlyTags && len(g.events) == 1 && g.events[0] == "tag"
	}
	webhook := hooks[0]
	if len(hooks) > 1 {
		webhook = "[" + strings.Join(hooks, ", ") + "]"
	}
	hint := "GitHub events arrive through a webhook here: write webhook: " + webhook
	if len(keys) > 1 {
		last := len(keys) - 1
		hint = fmt.Sprintf("GitHub events arrive through a webhook here: replace %s and %s with webhook: %s", strings.Join(keys[:last], ", "), keys[last], webhook)
	}
	switch {
	case tagTest == "":
	case onlyTags:
		hint += "; select the tags with if: " + tagTest
	default:
		hint += `; select the tags with if: event.type != "tag" || ` + tagTest
	}
	return hint
}

// webhookGroup is one suggested webhook trigger: events that share filters.
type webhookGroup struct {
	events  []string
	filters string // ", branches: […], paths: […]"
}

// eventGroups adds the event triggered by key, with the filters under it
// (v), to groups, joining the group with the same filters. Tag filters have
// no webhook equivalent: they set tagTest, the condition that selects the
// tags.
func eventGroups(groups []webhookGroup, key string, v *yaml.Node, tagTest *string) []webhookGroup {
	event := githubEvents[key]
	add := func(g webhookGroup) {
		for i := range groups {
			if groups[i].filters == g.filters {
				for _, e := range g.events {
					groups[i].events = appendNew(groups[i].events, e)
				}
				return
			}
		}
		groups = append(groups, g)
	}
	events := []string{event}
	if types := scalars(mappingValue(v, "types")); len(types) > 0 {
		events = events[:0]
		for _, t := range types {
			events = append(events, event+"."+t)
		}
	}
	var filters string
	if b := globList(scalars(mappingValue(v, "branches")), scalars(mappingValue(v, "branches-ignore"))); b != nil {
		filters += ", branches: " + flowList(b)
	}
	if p := globList(scalars(mappingValue(v, "paths")), scalars(mappingValue(v, "paths-ignore"))); p != nil {
		filters += ", paths: " + flowList(p)
	}
	tags, tagsIgnore := scalars(mappingValue(v, "tags")), scalars(mappingValue(v, "tags-ignore"))
	if key != "push" || tags == nil && tagsIgnore == nil {
		add(webhookGroup{events: events, filters: filters})
		return groups
	}
	// Pushed tags are events of type tag, which have no branch.
	if mappingValue(v, "branches") != nil || mappingValue(v, "branches-ignore") != nil {
		add(webhookGroup{events: events, filters: filters})
	}
	test := make([]string, 0, len(tags)+len(tagsIgnore))
	for _, t := range tags {
		test = append(test, fmt.Sprintf("glob(event.tag, %s)", strconv.Quote(clip(t, maxEcho))))
	}
	for _, t := range tagsIgnore {
		test = append(test, fmt.Sprintf("!glob(event.tag, %s)", strconv.Quote(clip(t, maxEcho))))
	}
	sep := " || "
	if len(tags) == 0 {
		sep = " && "
	}
	*tagTest = strings.Join(test, sep)
	if len(test) > 1 {
		*tagTest = "(" + *tagTest + ")"
	}
	add(webhookGroup{events: []string{"tag"}})
	return groups
}

// githubWebhook is a github webhook trigger for events, in flow style.
func githubWebhook(events []string, filters string) string {
	return fmt.Sprintf("{path: github, provider: github, events: %s%s}", flowList(events), filters)
}

// dispatchHint: workflow_dispatch, with or without inputs.
func dispatchHint(s habitSite) string {
	if mappingValue(s.value, "inputs") != nil {
		return "write dispatch: and keep its inputs: as they are (type, required, default, description, options)"
	}
	return "write dispatch: {}"
}

// scheduleHint: schedule: [{cron: …}].
func scheduleHint(s habitSite) string {
	var schedules []string
	if s.value.Kind == yaml.SequenceNode {
		for _, item := range s.value.Content {
			if c := mappingValue(item, "cron"); c != nil && c.Kind == yaml.ScalarNode {
				schedules = append(schedules, strconv.Quote(clip(c.Value, maxEcho)))
			}
		}
	}
	if len(schedules) == 0 {
		return `write cron: with the schedules, e.g. cron: ["0 3 * * *"]`
	}
	return "write cron: [" + strings.Join(schedules, ", ") + "]"
}

// timeoutMinutesHint: timeout-minutes: 5, in any block that has a timeout.
func timeoutMinutesHint(s habitSite) string {
	if !contains(s.known, "timeout") {
		return ""
	}
	v := s.value
	if v.Kind == yaml.ScalarNode && v.Tag == "!!int" {
		if n, err := strconv.ParseUint(v.Value, 10, 32); err == nil {
			return fmt.Sprintf("write timeout: %dm", n)
		}
	}
	if v.Kind == yaml.ScalarNode && v.Tag == "!!float" {
		if f, err := strconv.ParseFloat(v.Value, 64); err == nil && f > 0 && f < 1e6 {
			d := time.Duration(f * float64(time.Minute)).Round(time.Second).String()
			d = strings.TrimSuffix(strings.Replace(d, "m0s", "m", 1), "h0m")
			return "write timeout: " + d
		}
	}
	return "write timeout: with a duration, such as 5m"
}

// ignoreHint: paths-ignore and branches-ignore, as key's patterns with a
// leading !, after those key selects.
func ignoreHint(key string) func(habitSite) string {
	return func(s habitSite) string {
		if !contains(s.known, key) {
			return ""
		}
		ignored := scalars(s.value)
		if len(ignored) == 0 {
			return fmt.Sprintf(`write %s: with the patterns to leave out after a !, e.g. %s: ["**", "!docs/**"]`, key, key)
		}
		selected := scalars(mappingValue(s.block, key))
		if selected == nil {
			return fmt.Sprintf("write %s: %s", key, flowList(globList(nil, ignored)))
		}
		return fmt.Sprintf("add its patterns to %s: after a !: %s: %s", key, key, flowList(globList(selected, ignored)))
	}
}

// defaultsRunHint: GitHub Actions' defaults: {run: {shell, working-directory}}.
func defaultsRunHint(s habitSite) string {
	if !contains(s.known, "shell") || !contains(s.known, "working_directory") {
		return ""
	}
	return "write shell: and working_directory: directly under defaults:"
}

// underscoreHint: a dashed key whose twin with _ the block accepts.
func underscoreHint(s habitSite) string {
	twin := strings.ReplaceAll(s.written, "-", "_")
	if twin == s.written || !contains(s.known, twin) {
		return ""
	}
	return "write " + twin
}

// rename says to write to in place of a name of GitHub Actions' context, and
// adds note when the name is used on its own.
func rename(to, note string) func(habitSite) string {
	return func(s habitSite) string {
		hint := fmt.Sprintf("unknown name %s: write %s%s", clip(s.written, maxEcho), to, clip(s.rest, maxEcho))
		if note != "" && s.rest == "" {
			hint += " (" + note + ")"
		}
		return hint
	}
}

// githubContextHint: any other part of GitHub Actions' context.
func githubContextHint(s habitSite) string {
	return fmt.Sprintf("unknown name %s: GitHub Actions' context is not here; read the event from event (event.ref, event.commit, event.body, …) and the run from run", clip(s.written, maxEcho))
}

// checkoutHint: uses: actions/checkout@….
func checkoutHint(habitSite) string {
	return `GitHub Actions' actions are not run here; check out the pushed commit with uses: git and with: {url: "${{ event.clone_url }}", ref: "${{ event.commit }}"}`
}

// marketplaceAction is how GitHub Actions names an action to run: a
// repository at a ref, a folder, or a container image.
var marketplaceAction = regexp.MustCompile(`^([\w.-]+/[\w./-]+@.+|\./.*|docker://.+)$`)

// marketplaceHint: any other uses: owner/repo@ref.
func marketplaceHint(s habitSite) string {
	if !marketplaceAction.MatchString(s.written) {
		return ""
	}
	return "GitHub Actions' marketplace actions are not run here; do the work in a run: script, or with a built-in kind such as git or http"
}

// fileHint: one of GitHub Actions' files in a run: script.
func fileHint(instead string) func(habitSite) string {
	return func(habitSite) string { return instead }
}

// Helpers for the hints.

// mappingValue is the value under key in mapping n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// scalars are the values of a scalar or a list of scalars; nil for anything
// else.
func scalars(n *yaml.Node) []string {
	switch {
	case n == nil || isNull(n):
		return nil
	case n.Kind == yaml.ScalarNode:
		return []string{n.Value}
	case n.Kind != yaml.SequenceNode:
		return nil
	}
	var values []string
	for _, item := range n.Content {
		if item.Kind == yaml.ScalarNode {
			values = append(values, item.Value)
		}
	}
	return values
}

// globList is a branches: or paths: list that selects selected (everything
// when empty) but not ignored; nil when both are empty. A list of exclusions
// alone selects nothing, hence the "**".
func globList(selected, ignored []string) []string {
	if len(selected) == 0 && len(ignored) == 0 {
		return nil
	}
	if len(selected) == 0 {
		selected = []string{"**"}
	}
	list := append([]string(nil), selected...)
	for _, p := range ignored {
		list = append(list, "!"+p)
	}
	return list
}

// flowList writes values as a YAML flow list.
func flowList(values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = flowScalar(v)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// flowScalar writes s as a YAML scalar in a flow list or mapping: plain when
// that reads back as the same string, else quoted.
func flowScalar(s string) string {
	if plainScalar.MatchString(s) {
		switch strings.ToLower(s) {
		case "true", "false", "null", "yes", "no", "on", "off":
		default:
			return s
		}
	}
	return strconv.Quote(clip(s, maxEcho))
}

var plainScalar = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_./-]*$`)

func appendNew(list []string, v string) []string {
	if contains(list, v) {
		return list
	}
	return append(list, v)
}
