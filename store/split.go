package store

import "strings"

// splitStatements splits a SQL script into its statements at the semicolons
// that are outside string literals, quoted identifiers, comments and
// PostgreSQL dollar quotes, and drops statements that are only comments.
// Bodies with bare semicolons (SQLite triggers) are not supported; migrations
// don't need them.
func splitStatements(script string) []string {
	var stmts []string
	start := 0
	flush := func(end int) {
		if stmt := strings.TrimSpace(script[start:end]); hasCode(stmt) {
			stmts = append(stmts, stmt)
		}
		start = end + 1
	}
	for i := 0; i < len(script); i++ {
		switch c := script[i]; {
		case c == ';':
			flush(i)
		case c == '\'' || c == '"':
			// A doubled quote inside ends this literal and starts the next, which
			// scans the same as one literal.
			i = skipPast(script, i+1, string(c))
		case strings.HasPrefix(script[i:], "--"):
			i = skipPast(script, i+2, "\n")
		case strings.HasPrefix(script[i:], "/*"):
			i = skipPast(script, i+2, "*/")
		case c == '$':
			if tag, ok := dollarTag(script[i:]); ok {
				i = skipPast(script, i+len(tag), tag)
			}
		}
	}
	flush(len(script))
	return stmts
}

// skipPast returns the index of the last byte of the first end at or after
// from, or the last index of s when there is none.
func skipPast(s string, from int, end string) int {
	j := strings.Index(s[from:], end)
	if j < 0 {
		return len(s) - 1
	}
	return from + j + len(end) - 1
}

// dollarTag returns the PostgreSQL dollar-quote opener ($$ or $tag$) that s
// starts with.
func dollarTag(s string) (string, bool) {
	for j := 1; j < len(s); j++ {
		c := s[j]
		switch {
		case c == '$':
			return s[:j+1], true
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 1 && c >= '0' && c <= '9':
		default:
			return "", false
		}
	}
	return "", false
}

// hasCode reports whether stmt holds anything besides comments and space.
func hasCode(stmt string) bool {
	for stmt != "" {
		switch {
		case strings.HasPrefix(stmt, "--"):
			_, stmt, _ = strings.Cut(stmt, "\n")
		case strings.HasPrefix(stmt, "/*"):
			_, stmt, _ = strings.Cut(stmt, "*/")
		default:
			return true
		}
		stmt = strings.TrimSpace(stmt)
	}
	return false
}
