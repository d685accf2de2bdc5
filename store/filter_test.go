package store

import (
	"reflect"
	"strconv"
	"testing"
)

func TestListQuery(t *testing.T) {
	dollar := func(n int) string { return "$" + strconv.Itoa(n) }
	question := func(int) string { return "?" }
	for _, tc := range []struct {
		name  string
		ph    func(int) string
		build func(q *listQuery)
		limit int
		sql   string
		args  []any
	}{
		{"Nothing", dollar, func(*listQuery) {}, 0, " ORDER BY seq DESC", nil},
		{"EmptyValuesMatchAll", dollar, func(q *listQuery) { q.equal("workflow", ""); q.equal("status", "") }, 0,
			" ORDER BY seq DESC", nil},
		{"NumberedInOrder", dollar, func(q *listQuery) {
			q.equal("workflow", "deploy")
			q.equal("status", "")
			q.equal("event_id", "evt-1")
			q.conds = append(q.conds, "seq < "+q.arg(int64(7)))
		}, 10, " WHERE workflow = $1 AND event_id = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4",
			[]any{"deploy", "evt-1", int64(7), 10}},
		{"Positional", question, func(q *listQuery) { q.equal("path", "github") }, 5,
			" WHERE path = ? ORDER BY seq DESC LIMIT ?", []any{"github", 5}},
		{"NoLimit", question, func(q *listQuery) { q.equal("path", "github") }, -1,
			" WHERE path = ? ORDER BY seq DESC", []any{"github"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := listQuery{ph: tc.ph}
			tc.build(&q)
			if sql := q.tail(tc.limit); sql != tc.sql || !reflect.DeepEqual(q.args, tc.args) {
				t.Fatalf("tail = %q %v, want %q %v", sql, q.args, tc.sql, tc.args)
			}
		})
	}
}
