package workflows

import (
	"net/url"
	"strings"
)

// displayNameMax is how many characters a name derived from what a step runs
// keeps before it is cut with "…".
const displayNameMax = 60

// DisplayName is how the API, the UI, the CLI and the logs name the step
// when it has no name: of what it runs. A `run:` step is the script's first
// line ("make test"); a `uses:` step is its action with the setting that
// tells what it does ("git clone URL", "POST URL", "apply PATH"). A named
// step is its name as written. Templates are shown as written, never
// rendered, so that no secret reaches a name; a URL loses its user
// information for the same reason.
func (s *Step) DisplayName() string {
	if s.Name != nil && strings.TrimSpace(s.Name.Source) != "" {
		return s.Name.Source
	}
	if s.Uses == "" {
		return cutName(s.Run)
	}
	switch s.Uses {
	case "git":
		if u := withSource(s.With, "url"); u != "" {
			return cutName("git clone " + withoutUser(u))
		}
	case "http":
		if u := withSource(s.With, "url"); u != "" {
			method := strings.ToUpper(withSource(s.With, "method"))
			if method == "" {
				method = "GET"
			}
			return cutName(method + " " + withoutUser(u))
		}
	case "apply":
		if p := withSource(s.With, "path"); p != "" {
			return cutName("apply " + p)
		}
		if withSource(s.With, "manifests") != "" {
			return "apply manifests"
		}
	}
	return s.Uses
}

// withSource is the text of with's string setting key as written, or "".
func withSource(with *Value, key string) string {
	if with == nil {
		return ""
	}
	v := with.field(key)
	if v == nil || v.template == nil {
		return ""
	}
	return strings.TrimSpace(v.template.Source)
}

// withoutUser drops the user information (user:password@) of a URL.
func withoutUser(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}

// cutName is the first non-blank line of s, trimmed, cut at displayNameMax
// characters; "…" says something was left out.
func cutName(s string) string {
	s = strings.TrimSpace(s)
	first, rest, _ := strings.Cut(s, "\n")
	first = strings.TrimSpace(first)
	cut := strings.TrimSpace(rest) != ""
	if r := []rune(first); len(r) > displayNameMax {
		first, cut = strings.TrimSpace(string(r[:displayNameMax])), true
	}
	if cut {
		first += "…"
	}
	return first
}
