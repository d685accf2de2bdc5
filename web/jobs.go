package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/workflows"
)

// jobsView is a `jobs:` run on its page (SPEC §11): the graph of its jobs,
// then a section for each job (each matrix cell) with its steps and its log.
type jobsView struct {
	Graph    jobGraph
	Sections []*jobSection
	// After is the Seq of the last log line the page holds; the script
	// follows the log from there.
	After int64
	// Lines counts the log lines the page holds.
	Lines int
}

// jobSection is one job, or one matrix cell, of the run.
type jobSection struct {
	runner.JobResult
	// Anchor is the section's element id, the same for a key on every load.
	Anchor   string
	Label    string
	Duration string
	Matrix   []output
	Outputs  []output
	Steps    []stepRow
	// StepNames (a JSON object) name the log's sections by step index.
	StepNames string
	Log       []logBlock
}

// logBlock is a stretch of a job's log written by one step; step -1 is the
// job's own lines.
type logBlock struct {
	Step  int
	Title string
	// Continued is set on a step's block after the first.
	Continued bool
	Lines     []logLine
}

// logLine is a stored log line as the page shows it; the script colours its
// ANSI escapes as it does those of lines that arrive live.
type logLine struct {
	Stream string
	Source string
	Time   time.Time
	Text   string
}

// maxPageLines bounds the log lines a run page is rendered with; the script
// reads the rest as text pages. They are few, so that a big log's page
// arrives small and its first lines show at once.
const maxPageLines = 2000

// logSources are the short labels of log streams, as the script shows them.
var logSources = map[string]string{"stdout": "out", "stderr": "err", "system": "sys"}

// jobsOf is run v's jobs view, nil for a `steps:` run. Jobs not yet stored
// are shown as queued, from the workflow, while the run goes on. With logs,
// the log lines stored so far are read into their jobs' sections.
func (u *UI) jobsOf(ctx context.Context, v *api.RunView, logs bool) (*jobsView, error) {
	rows, err := u.api.Store.Jobs(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	var specs workflows.Jobs
	if w, ok := u.api.Workflows.Set().Lookup(v.Workflow); ok && w.Revision == v.Revision && !api.Finished(v.Status) {
		specs = w.Jobs
	}
	if len(specs) > 0 && specs[0].Implicit {
		specs = nil
	}
	if len(rows) == 0 && len(specs) == 0 {
		return nil, nil
	}
	for _, spec := range specs {
		if !slices.ContainsFunc(rows, func(j *store.Job) bool { return j.ID == spec.ID }) {
			rows = append(rows, &store.Job{Key: spec.ID, ID: spec.ID, JobIndex: spec.Index, Name: spec.ID,
				Needs: spec.Needs, Status: workflows.StatusQueued})
		}
	}
	slices.SortStableFunc(rows, func(a, b *store.Job) int {
		if a.JobIndex != b.JobIndex {
			return a.JobIndex - b.JobIndex
		}
		return a.Cell - b.Cell
	})

	jv := &jobsView{}
	byKey := map[string]*jobSection{}
	for _, row := range rows {
		j := runner.ViewJob(row)
		s := &jobSection{JobResult: j, Anchor: jobAnchor(j.Key), Label: j.Name,
			Duration: span(u.now(), j.StartedAt, j.FinishedAt), Matrix: outputs(j.Matrix), Outputs: outputs(j.Outputs)}
		if s.Label == "" {
			s.Label = j.Key
		}
		var pending []*workflows.Step
		if i := slices.IndexFunc(specs, func(spec *workflows.Job) bool { return spec.ID == j.ID }); i >= 0 && !api.Finished(j.Status) {
			pending = specs[i].Steps
		}
		s.Steps = stepRows(j.Steps, pending)
		s.StepNames = stepNames(s.Steps)
		jv.Sections = append(jv.Sections, s)
		byKey[j.Key] = s
	}
	jv.Graph = layoutJobs(jv.Sections, u.now())
	if logs {
		if err := u.readJobLogs(ctx, v.ID, jv, byKey); err != nil {
			return nil, err
		}
	}
	return jv, nil
}

// readJobLogs puts the run's stored log lines, up to maxPageLines, into the
// sections of their jobs. A line of a job the run does not list (or of none)
// gets a section of its own, as the script gives it one.
func (u *UI) readJobLogs(ctx context.Context, runID string, jv *jobsView, byKey map[string]*jobSection) error {
	for jv.Lines < maxPageLines {
		lines, err := u.api.Store.Logs(ctx, runID, jv.After, min(1000, maxPageLines-jv.Lines))
		if err != nil {
			return err
		}
		for _, l := range lines {
			s := byKey[l.Job]
			if s == nil {
				s = &jobSection{JobResult: runner.JobResult{Key: l.Job}, Anchor: jobAnchor(l.Job), Label: l.Job, StepNames: "{}"}
				if l.Job == "" {
					s.Label = "Run"
				}
				jv.Sections = append(jv.Sections, s)
				byKey[l.Job] = s
			}
			s.appendLine(l)
			jv.After = l.Seq
			jv.Lines++
		}
		if len(lines) < 1000 {
			return nil
		}
	}
	return nil
}

// appendLine adds l to the section's log, in a new block when its step
// differs from the previous line's, titled as the script titles them.
func (s *jobSection) appendLine(l store.LogLine) {
	if n := len(s.Log); n == 0 || s.Log[n-1].Step != l.Step {
		title := "Job"
		if l.Step >= 0 {
			name := fmt.Sprintf("step-%d", l.Step+1)
			if i := slices.IndexFunc(s.Steps, func(r stepRow) bool { return r.Index == l.Step }); i >= 0 {
				name = s.Steps[i].Label
			}
			title = fmt.Sprintf("%d. %s", l.Step+1, name)
		}
		continued := slices.ContainsFunc(s.Log, func(b logBlock) bool { return b.Step == l.Step })
		if continued {
			title += " (continued)"
		}
		s.Log = append(s.Log, logBlock{Step: l.Step, Title: title, Continued: continued})
	}
	stream := l.Stream
	if logSources[stream] == "" {
		stream = "stdout"
	}
	b := &s.Log[len(s.Log)-1]
	b.Lines = append(b.Lines, logLine{Stream: stream, Source: logSources[stream], Time: l.Time, Text: l.Text})
}

// jobAnchor is the element id of a job's section: the key where it is a
// plain job id, else a readable part of it and a hash, since matrix keys hold
// spaces and punctuation.
func jobAnchor(key string) string {
	if key != "" && strings.Trim(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == "" {
		return "job-" + key
	}
	var b strings.Builder
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	sum := sha256.Sum256([]byte(key))
	return "job-" + strings.TrimSuffix(b.String(), "-") + "-" + hex.EncodeToString(sum[:4])
}

func stepNames(rows []stepRow) string {
	names := make(map[int]string, len(rows))
	for _, s := range rows {
		names[s.Index] = s.Label
	}
	b, _ := json.Marshal(names)
	return string(b)
}

// Graph geometry, in pixels of the SVG.
const (
	graphPad    = 8
	nodeWidth   = 236
	columnGap   = 56
	nodeGap     = 16
	cellHeight  = 46
	matrixTitle = 30
	labelRunes  = 27
)

// jobGraph is the jobs drawn as a graph: a node per job in columns by depth
// in the needs, its matrix cells stacked in it, and an edge per need.
type jobGraph struct {
	Width, Height int
	NodeWidth     int
	Nodes         []graphNode
	// Edges are SVG path data, from a needed job's node to the node of the
	// job that needs it.
	Edges []string
}

// graphNode is one job; X and Y place its top left corner.
type graphNode struct {
	ID     string
	Title  string
	Tip    string
	Matrix bool
	X, Y   int
	Height int
	Cells  []graphCell
}

// graphCell is a job's one row or a matrix cell: a link to its section. Y is
// its top within the node.
type graphCell struct {
	Key    string
	Anchor string
	Status string
	Icon   string
	Label  string
	Detail string
	Tip    string
	Y      int
}

// statusIcons are drawn in a node's status dot; the status is also written
// out beside it.
var statusIcons = map[string]string{
	workflows.StatusQueued: "…", workflows.StatusRunning: "▸", workflows.StatusSucceeded: "✓",
	workflows.StatusFailed: "✗", workflows.StatusTimedOut: "!", workflows.StatusCancelled: "×",
	workflows.StatusSkipped: "–",
}

// layoutJobs draws the sections' jobs: a job's column is one past the
// furthest column of the jobs it needs, and the jobs of a column are stacked
// in the workflow's order.
func layoutJobs(sections []*jobSection, now time.Time) jobGraph {
	var nodes []*graphNode
	byID := map[string]*graphNode{}
	needs := map[string][]string{}
	for _, s := range sections {
		n := byID[s.ID]
		if n == nil {
			n = &graphNode{ID: s.ID}
			nodes = append(nodes, n)
			byID[s.ID] = n
			needs[s.ID] = s.Needs
		}
		status := s.Status
		if statusIcons[status] == "" {
			status = "unknown"
		}
		c := graphCell{Key: s.Key, Anchor: s.Anchor, Status: status, Icon: statusIcons[status], Label: s.Label}
		if c.Icon == "" {
			c.Icon = "?"
		}
		c.Detail = strings.ReplaceAll(status, "_", " ")
		if !s.StartedAt.IsZero() {
			c.Detail += " · " + span(now, s.StartedAt, s.FinishedAt)
		}
		c.Tip = s.Label + ": " + c.Detail
		if s.Reason != "" {
			c.Tip += " (" + s.Reason + ")"
		}
		if s.Key != s.ID {
			// A cell: the node says the job, the cell its values.
			n.Matrix = true
			cell := strings.TrimSpace(strings.TrimPrefix(s.Key, s.ID))
			if strings.HasPrefix(cell, "(") && strings.HasSuffix(cell, ")") {
				cell = cell[1 : len(cell)-1]
			}
			if n.Title == "" {
				n.Title = strings.TrimSuffix(s.Name, strings.TrimPrefix(s.Key, s.ID))
			}
			c.Label = cell
		}
		c.Label = clip(c.Label)
		n.Cells = append(n.Cells, c)
	}

	column := map[string]int{}
	var depth func(id string, seen map[string]bool) int
	depth = func(id string, seen map[string]bool) int {
		if c, ok := column[id]; ok {
			return c
		}
		if seen[id] { // a cycle cannot load; draw it rather than loop
			return 0
		}
		seen[id] = true
		c := 0
		for _, need := range needs[id] {
			if byID[need] != nil {
				c = max(c, depth(need, seen)+1)
			}
		}
		column[id] = c
		return c
	}
	g := jobGraph{NodeWidth: nodeWidth}
	bottom := map[int]int{}
	columns := 0
	for _, n := range nodes {
		if n.Title == "" {
			n.Title = n.ID
		}
		n.Tip = n.Title
		n.Title = clip(n.Title)
		top := 0
		if n.Matrix {
			top = matrixTitle
		}
		for i := range n.Cells {
			n.Cells[i].Y = top + i*cellHeight
		}
		n.Height = top + len(n.Cells)*cellHeight
		col := depth(n.ID, map[string]bool{})
		columns = max(columns, col+1)
		n.X = graphPad + col*(nodeWidth+columnGap)
		if y, ok := bottom[col]; ok {
			n.Y = y + nodeGap
		} else {
			n.Y = graphPad
		}
		bottom[col] = n.Y + n.Height
		g.Height = max(g.Height, bottom[col]+graphPad)
	}
	g.Width = 2*graphPad + columns*nodeWidth + max(columns-1, 0)*columnGap
	for _, n := range nodes {
		for _, need := range needs[n.ID] {
			from := byID[need]
			if from == nil {
				continue
			}
			x1, y1 := from.X+nodeWidth, from.Y+from.Height/2
			x2, y2 := n.X, n.Y+n.Height/2
			bend := columnGap / 2
			g.Edges = append(g.Edges, fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, x1+bend, y1, x2-bend, y2, x2, y2))
		}
		g.Nodes = append(g.Nodes, *n)
	}
	return g
}

// clip shortens a label to what a node has room for; the full text is the
// node's tooltip.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= labelRunes {
		return s
	}
	r := []rune(s)
	return string(r[:labelRunes-1]) + "…"
}
