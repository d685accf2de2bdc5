package store

import (
	"slices"
	"strings"
)

// splitStatements splits a SQL script into its statements at the semicolons
// that are outside string literals, quoted identifiers, comments and
// PostgreSQL dollar quotes, and drops statements that are only comments.
// A SQLite trigger's body, BEGIN … END, stays in its CREATE TRIGGER
// statement: a semicolon there ends the statement only after END.
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
			if inTriggerBody(script[start:i]) {
				continue
			}
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
func hasCode(stmt string) bool { return code(stmt) != "" }

// code is stmt from its first byte that is not comment or space.
func code(stmt string) string {
	stmt = strings.TrimSpace(stmt)
	for stmt != "" {
		switch {
		case strings.HasPrefix(stmt, "--"):
			_, stmt, _ = strings.Cut(stmt, "\n")
		case strings.HasPrefix(stmt, "/*"):
			_, stmt, _ = strings.Cut(stmt, "*/")
		default:
			return stmt
		}
		stmt = strings.TrimSpace(stmt)
	}
	return ""
}

// inTriggerBody reports whether stmt, the text up to a semicolon, is a
// SQLite CREATE TRIGGER whose BEGIN has not reached its END. (A PostgreSQL
// trigger has no body of its own: it executes a function.)
func inTriggerBody(stmt string) bool {
	words := strings.Fields(code(stmt))
	if len(words) > 2 && strings.EqualFold(words[1], "TEMP") {
		words = words[1:]
	}
	if len(words) < 2 || !strings.EqualFold(words[0], "CREATE") || !strings.EqualFold(words[1], "TRIGGER") {
		return false
	}
	return slices.ContainsFunc(words, func(w string) bool { return strings.EqualFold(w, "BEGIN") }) &&
		!strings.EqualFold(words[len(words)-1], "END")
}
