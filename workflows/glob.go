package workflows

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Globs are matched by the code below rather than by a glob library such as
// github.com/bmatcuk/doublestar/v4, for three reasons:
//
//   - Cost on untrusted input. Names (branches, changed paths) come from
//     events, and so may patterns: glob(s, p) takes a pattern computed from
//     event data. Every pattern here is a literal, a prefix or suffix test,
//     or an RE2 regular expression, so matching time is at most the name's
//     length times the pattern's, whatever either holds. doublestar (v4.10.4)
//     tries {a,b} alternatives by recursion, exponential in their number: a
//     120-byte pattern of {a,a} repeated, against a 25-byte name, took close
//     to two seconds.
//   - The semantics of GitHub Actions' filters, which the SPEC follows: `**`
//     matches across segments wherever it stands (`**.js` is every .js file)
//     and `deploy/**` does not match a file named deploy. doublestar treats a
//     `**` that is not a whole segment as `*`, and lets `deploy/**` match
//     deploy itself.
//   - The trigger index (index.go) needs the shape of a pattern (a literal,
//     dir/**) to look it up in a map; a library's matcher does not tell it.
//
// There is no {a,b} alternation and no \ escape: both are literal characters.

// globMatcher matches a path or name against a compiled glob.
type globMatcher interface{ MatchString(string) bool }

// compileGlob turns a glob into a matcher: `*` and `?` stay within a path
// segment, `**` crosses segments (`a/**` matches a/b/c, `**/x` matches x too),
// `[...]` is a character class, negated by a leading ! or ^. An error says
// what is wrong with the pattern and names it.
//
// The shapes filters use most (a literal name, dir/**, *.ext, prefix*) get
// string comparisons instead of a regular expression: matching runs once per
// workflow per event, and a Set may hold thousands of workflows on one path.
// Everything else becomes a regular expression, whose matching time is linear
// whatever the input.
func compileGlob(pattern string) (globMatcher, error) {
	m, err := compileGlobShape(pattern)
	if err != nil {
		return nil, fmt.Errorf("bad glob %s: %s", quoteText(pattern), err)
	}
	return m, nil
}

func compileGlobShape(pattern string) (globMatcher, error) {
	const meta = "*?["
	switch {
	case pattern == "**":
		return anyString{}, nil
	case !strings.ContainsAny(pattern, meta):
		return literalGlob(pattern), nil
	case strings.HasSuffix(pattern, "/**") && !strings.ContainsAny(pattern[:len(pattern)-3], meta):
		return prefixGlob{prefix: pattern[:len(pattern)-2], crossSegments: true}, nil
	case strings.HasSuffix(pattern, "*") && !strings.ContainsAny(pattern[:len(pattern)-1], meta):
		return prefixGlob{prefix: pattern[:len(pattern)-1]}, nil
	case strings.HasPrefix(pattern, "**/*") && !strings.ContainsAny(pattern[4:], meta+"/"):
		return suffixGlob{suffix: pattern[4:], crossSegments: true}, nil
	case strings.HasPrefix(pattern, "*") && !strings.ContainsAny(pattern[1:], meta+"/"):
		return suffixGlob{suffix: pattern[1:]}, nil
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '*' && strings.HasPrefix(pattern[i:], "**/"):
			b.WriteString("(?:.*/)?")
			i += 2
		case c == '*' && strings.HasPrefix(pattern[i:], "**"):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '[':
			end := strings.IndexByte(pattern[i:], ']')
			if end < 0 {
				return nil, errors.New("[ without a closing ]")
			}
			class := pattern[i+1 : i+end]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			if strings.TrimPrefix(class, "^") == "" {
				return nil, fmt.Errorf("empty character class %s", pattern[i:i+end+1])
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += end
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	var bad *syntax.Error
	if errors.As(err, &bad) {
		return nil, fmt.Errorf("%s: %s", bad.Code, bad.Expr)
	}
	return re, err
}

type anyString struct{}

func (anyString) MatchString(string) bool { return true }

type literalGlob string

func (g literalGlob) MatchString(s string) bool { return s == string(g) }

// prefixGlob is "dir/**" (crossSegments) or "name*".
type prefixGlob struct {
	prefix        string
	crossSegments bool
}

func (g prefixGlob) MatchString(s string) bool {
	return strings.HasPrefix(s, g.prefix) && (g.crossSegments || !strings.Contains(s[len(g.prefix):], "/"))
}

// suffixGlob is "**/*.ext" (crossSegments) or "*.ext".
type suffixGlob struct {
	suffix        string
	crossSegments bool
}

func (g suffixGlob) MatchString(s string) bool {
	return strings.HasSuffix(s, g.suffix) && (g.crossSegments || !strings.Contains(s, "/"))
}

// Globs is an ordered list of globs where a leading ! excludes, as in GitHub
// Actions' branches and paths filters: the last pattern that matches decides.
// The globs are compiled when the list is read, and the trigger index uses
// them as they are.
type Globs struct {
	Patterns []string
	matchers []globMatcher
	negated  []bool
}

// Empty reports whether the list has no patterns (and so filters nothing).
func (g *Globs) Empty() bool { return g == nil || len(g.Patterns) == 0 }

func (g *Globs) decodeNode(d *decoder, n *yaml.Node) error {
	var pats []string
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		pats = []string{n.Value}
	} else if !d.decode(n, reflectValue(&pats)) {
		return nil
	}
	for i, p := range pats {
		neg := strings.HasPrefix(p, "!")
		m, err := compileGlob(strings.TrimPrefix(p, "!"))
		if err != nil {
			at := n
			if n.Kind == yaml.SequenceNode {
				at = n.Content[i]
			}
			d.fail(at, "%s", err)
			continue
		}
		g.Patterns = append(g.Patterns, p)
		g.matchers = append(g.matchers, m)
		g.negated = append(g.negated, neg)
	}
	return nil
}
