package workflows

import "regexp"

// varPath is a sandbox path given as one configuration variable,
// ${{ vars.NAME }}: the only template a path may be, so that a host's folder
// can follow the variable that names it without anything of the event in it.
var varPath = regexp.MustCompile(`^\$\{\{\s*vars\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$`)

// ResolvePaths returns paths with each ${{ vars.NAME }} replaced by the
// variable's value; one that is unset or empty is left out.
func ResolvePaths(paths []string, vars map[string]string) []string {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		if m := varPath.FindStringSubmatch(p); m != nil {
			p = vars[m[1]]
		}
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}
