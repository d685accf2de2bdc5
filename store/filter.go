package store

import "strings"

// listQuery builds the WHERE, ORDER BY and LIMIT of a list over a table
// ordered by seq, newest first, with its arguments.
type listQuery struct {
	ph    func(n int) string // the dialect's n-th placeholder
	conds []string
	args  []any
}

// arg adds an argument and returns its placeholder.
func (q *listQuery) arg(v any) string {
	q.args = append(q.args, v)
	return q.ph(len(q.args))
}

// equal adds "column = value", unless value is empty (a zero filter field).
func (q *listQuery) equal(column, value string) {
	if value != "" {
		q.conds = append(q.conds, column+" = "+q.arg(value))
	}
}

// tail is the conditions, newest first, and limit (none when limit <= 0).
func (q *listQuery) tail(limit int) string {
	var b strings.Builder
	if len(q.conds) > 0 {
		b.WriteString(" WHERE " + strings.Join(q.conds, " AND "))
	}
	b.WriteString(" ORDER BY seq DESC")
	if limit > 0 {
		b.WriteString(" LIMIT " + q.arg(limit))
	}
	return b.String()
}
