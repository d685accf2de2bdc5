package web

import (
	"bytes"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// The badge is public, since READMEs embed it where no token can be sent. It
// tells the status of the workflow's latest run and nothing else: a workflow
// that does not exist and one that never ran both show "unknown".

// badgeColours are the right half's background per status; white text on each
// has a contrast ratio of at least 4.5:1.
var badgeColours = map[string]string{
	workflows.StatusSucceeded: "#1a7f37",
	workflows.StatusFailed:    "#b42318",
	workflows.StatusTimedOut:  "#b42318",
	workflows.StatusRunning:   "#0b5cad",
	workflows.StatusQueued:    "#0b5cad",
	workflows.StatusCancelled: "#57606a",
	workflows.StatusSkipped:   "#57606a",
}

// badgeData is the badge template's data.
type badgeData struct {
	Label, Status, Colour   string
	LabelWidth, StatusWidth int
	Width, LabelX, StatusX  int
}

// maxBadgeLabel bounds the label taken from the URL.
const maxBadgeLabel = 60

func (u *UI) serveBadge(c echo.Context) error {
	name, ok := strings.CutSuffix(c.Param("file"), ".svg")
	if !ok || name == "" || len(name) > 200 {
		return c.String(http.StatusNotFound, "not found: use /ui/badge/WORKFLOW.svg")
	}
	status := "unknown"
	runs, err := u.api.Store.ListRuns(c.Request().Context(), store.RunFilter{Workflow: name, Limit: 1})
	if err != nil {
		u.log.Warn("ui: badge", "workflow", name, "err", err)
	} else if len(runs) > 0 && badgeColours[runs[0].Status] != "" {
		status = runs[0].Status
	}
	label := name
	if utf8.RuneCountInString(label) > maxBadgeLabel {
		label = string([]rune(label)[:maxBadgeLabel-1]) + "…"
	}
	d := badgeData{Label: label, Status: strings.ReplaceAll(status, "_", " "), Colour: badgeColours[status]}
	if d.Colour == "" {
		d.Colour = "#57606a"
	}
	d.LabelWidth, d.StatusWidth = textWidth(d.Label)+12, textWidth(d.Status)+12
	d.Width = d.LabelWidth + d.StatusWidth
	d.LabelX, d.StatusX = d.LabelWidth/2, d.LabelWidth+d.StatusWidth/2
	var buf bytes.Buffer
	if err := u.badge.Execute(&buf, d); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-cache, max-age=0")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	h.Set("X-Content-Type-Options", "nosniff")
	return c.Blob(http.StatusOK, "image/svg+xml; charset=utf-8", buf.Bytes())
}

// textWidth estimates the width of s in 11px Verdana, the badge font: about
// 7px a character, a little less for narrow ones.
func textWidth(s string) int {
	w := 0
	for _, r := range s {
		switch {
		case strings.ContainsRune("iljt.,:;|!' ", r):
			w += 4
		case strings.ContainsRune("mwMW", r):
			w += 10
		default:
			w += 7
		}
	}
	return w
}
