package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// statuses are the run statuses (SPEC §5), in the order the filter lists them.
var statuses = []string{workflows.StatusQueued, workflows.StatusRunning, workflows.StatusSucceeded,
	workflows.StatusFailed, workflows.StatusCancelled, workflows.StatusTimedOut, workflows.StatusSkipped}

// funcs are the templates' helpers; relative times use the UI's clock.
func (u *UI) funcs() template.FuncMap {
	return template.FuncMap{
		"ago":         func(t time.Time) string { return ago(u.now(), t) },
		"duration":    func(from, to time.Time) string { return span(u.now(), from, to) },
		"utc":         utc,
		"iso":         func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
		"short":       short,
		"status":      statusClass,
		"outcome":     outcomeClass,
		"reportClass": reportClass,
		"value":       value,
		"deref":       derefTime,
		"inc":         func(i int) int { return i + 1 },
		"markdown":    u.markdown,
		"sub":         func(a, b int) int { return a - b },
		"clock":       func(t time.Time) string { return t.UTC().Format("15:04:05.000") },
		"commit":      shortCommit,
		"inputs":      inputList,
		"until":       func(t time.Time) string { return until(u.now(), t) },
	}
}

// shortCommit is the first 7 characters of a commit id, as forges show it.
func shortCommit(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// inputList shows dispatch inputs on one line: "env=prod, dry_run=true".
func inputList(m map[string]any) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+value(m[k]))
	}
	return strings.Join(parts, ", ")
}

// until is t relative to now, for times to come: "in 4m".
func until(now, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := t.Sub(now)
	switch {
	case d < time.Minute:
		return "in less than a minute"
	case d < time.Hour:
		return fmt.Sprintf("in %dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("in %dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("in %dd", int(d.Hours()/24))
}

// ago is t relative to now, for lists: "12s ago".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// span is the time from from to to; to zero means still going.
func span(now, from, to time.Time) string {
	if from.IsZero() {
		return "—"
	}
	if to.IsZero() {
		to = now
	}
	return roundDuration(to.Sub(from))
}

// roundDuration keeps two significant units: 850ms, 4.2s, 3m12s, 2h5m.
func roundDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
}

func utc(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// short is the tail of an id, enough to tell runs apart in a list: ULIDs
// begin with their time, so their ends differ.
func short(id string) string {
	if len(id) > 8 {
		return id[len(id)-8:]
	}
	return id
}

// statusClass is the CSS class of a run status; anything else is "unknown".
func statusClass(s string) string {
	if slices.Contains(statuses, s) {
		return "st-" + s
	}
	return "st-unknown"
}

// reportClass colours a report's status as the run statuses it is like.
func reportClass(s string) string {
	switch s {
	case store.ReportSent:
		return "st-succeeded"
	case store.ReportFailed:
		return "st-failed"
	case store.ReportQueued:
		return "st-queued"
	}
	return "st-skipped"
}

func outcomeClass(s string) string {
	switch s {
	case workflows.OutcomeRunning:
		return "st-running"
	case workflows.OutcomeSuccess, workflows.OutcomeFailure, workflows.OutcomeSkipped, workflows.OutcomeCancelled:
		return "oc-" + s
	}
	return "oc-unknown"
}

// value shows an output or input value: strings as they are, anything else as
// JSON.
func value(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the page escapes; show the characters as they are
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}
