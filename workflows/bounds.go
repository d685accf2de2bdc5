package workflows

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// What reading a YAML file may cost, and how much of it a message may show.
// A file's size is capped by whoever reads it; these bound what aliases make
// of it. A few hundred bytes of nested aliases ("billion laughs": nine levels
// of nine) stand for hundreds of millions of values, which a decoder that
// follows aliases would build one by one.

// MaxNodes is how many values a workflow file, or the server's configuration
// file, may hold, each alias counting as a copy of the value it names.
const MaxNodes = 100_000

// maxEcho bounds how much of a file a message quotes: a value or key is shown
// up to the end of the line it starts on, and at most this many bytes of it.
const maxEcho = 200

// NodeBudget bounds a parsed YAML tree as a decoder that follows aliases sees
// it, where each alias counts as a copy of the value it names.
type NodeBudget struct {
	// MaxNodes bounds all the values; 0 leaves them unbounded.
	MaxNodes int
	// MaxAliased bounds the values reached through aliases; 0 leaves them
	// unbounded.
	MaxAliased int
}

// Check returns nil when root stays within the budget. Otherwise it returns
// the problem at the node, in document order, where root first goes over, or
// at an alias used inside the value it names (which a decoder would follow
// forever). The error's File is left for the caller to fill in. Check costs
// time in proportion to the nodes written in the file, however far aliases
// would expand them.
func (b NodeBudget) Check(root *yaml.Node) *PosError {
	c := &nodeCount{budget: b, sizes: map[*yaml.Node]int{}, most: math.MaxInt / 2}
	if limit := max(b.MaxNodes, b.MaxAliased); limit > 0 {
		c.most = limit + 1
	}
	return c.walk(root)
}

// nodeCount walks a tree once, counting what aliases stand for without
// expanding them.
type nodeCount struct {
	budget NodeBudget
	// sizes holds, for each value an alias names, how many values it stands
	// for (at most most), or measuring while that is being counted.
	sizes map[*yaml.Node]int
	// most caps every count: past the budget, more makes no difference.
	most           int
	total, aliased int
}

const measuring = -1

func (c *nodeCount) walk(n *yaml.Node) *PosError {
	if n.Kind == yaml.AliasNode {
		size, loop := c.size(n)
		if loop != nil {
			return nodeError(loop, "alias *%s is used inside the value it names", clip(loop.Value, maxEcho))
		}
		c.total, c.aliased = min(c.total+size, c.most), min(c.aliased+size, c.most)
		if over(c.budget.MaxNodes, c.total) {
			return nodeError(n, "alias *%s takes the document past %d values (an alias counts as a copy of the value it names): use fewer aliases, or aliases of smaller values",
				clip(n.Value, maxEcho), c.budget.MaxNodes)
		}
		if over(c.budget.MaxAliased, c.aliased) {
			return nodeError(n, "alias *%s takes what aliases stand for past %d values (an alias counts as a copy of the value it names): use fewer aliases, or aliases of smaller values",
				clip(n.Value, maxEcho), c.budget.MaxAliased)
		}
		return nil
	}
	c.total++
	if over(c.budget.MaxNodes, c.total) {
		return nodeError(n, "more than %d values: split the file", c.budget.MaxNodes)
	}
	for _, child := range n.Content {
		if err := c.walk(child); err != nil {
			return err
		}
	}
	return nil
}

// size is how many values n stands for with its aliases expanded, at most
// c.most; loop is an alias found inside the value it names.
func (c *nodeCount) size(n *yaml.Node) (size int, loop *yaml.Node) {
	if n.Kind == yaml.AliasNode {
		target := n.Alias
		if target == nil {
			return 1, nil
		}
		switch s, ok := c.sizes[target]; {
		case ok && s == measuring:
			return 0, n
		case ok:
			return s, nil
		}
		c.sizes[target] = measuring
		s, loop := c.size(target)
		if loop != nil {
			return 0, loop
		}
		c.sizes[target] = s
		return s, nil
	}
	size = 1
	for _, child := range n.Content {
		s, loop := c.size(child)
		if loop != nil {
			return 0, loop
		}
		if size = min(size+s, c.most); size == c.most {
			break
		}
	}
	return size, nil
}

// checkNodes holds a workflow or configuration file to MaxNodes before it is
// decoded, since decoding follows aliases.
func checkNodes(file string, root *yaml.Node) error {
	if err := (NodeBudget{MaxNodes: MaxNodes}).Check(root); err != nil {
		err.File = file
		return ErrorList{err}
	}
	return nil
}

func over(limit, n int) bool { return limit > 0 && n > limit }

func nodeError(n *yaml.Node, format string, args ...any) *PosError {
	return &PosError{Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)}
}

// clip cuts s at its first line break and to at most limit bytes, marking a
// cut with "…", so that a message shows one line of a file at most, and not
// all of a long one. A lone line break at the end is dropped unmarked.
func clip(s string, limit int) string {
	cut := false
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		cut = strings.TrimRight(s[i:], "\r\n") != ""
		s = s[:i]
	}
	if len(s) > limit {
		i := limit
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s, cut = s[:i], true
	}
	if cut {
		s += "…"
	}
	return s
}

// errText is the message of an error from elsewhere (a library, an action)
// for one of ours: one line, of at most 2*maxEcho bytes, since it may quote
// the file.
func errText(err error) string { return clip(err.Error(), 2*maxEcho) }

// quoteText quotes a value for a message, clipped to one line of maxEcho
// bytes.
func quoteText(s string) string { return strconv.Quote(clip(s, maxEcho)) }

// quote quotes a scalar's value for a message: no more of it than is written
// on the line it starts on, and at most maxEcho bytes. Lines of a plain or
// quoted scalar are folded into one, so that a file that is not YAML at all
// (a password file, a key) reads as one long string.
func (d *decoder) quote(n *yaml.Node) string { return strconv.Quote(d.firstLine(n)) }

// firstLine is the part of n's value written on the line it starts on, clipped
// to maxEcho bytes.
func (d *decoder) firstLine(n *yaml.Node) string {
	limit := maxEcho
	switch line := n.Line; n.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// The value starts on the line below the | or >, after its indent.
		if line < len(d.lines) {
			limit = min(limit, len(strings.TrimLeft(d.lines[line], " \t")))
		}
	default:
		if line >= 1 && line <= len(d.lines) && n.Column >= 1 {
			rest := len(d.lines[line-1]) - (n.Column - 1)
			if n.Style == yaml.DoubleQuotedStyle || n.Style == yaml.SingleQuotedStyle {
				rest-- // the opening quote
			}
			limit = min(limit, max(rest, 0))
		}
	}
	return clip(n.Value, limit)
}
