package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// Refusals keeps the webhook deliveries that were refused rather than stored
// as events, so that an operator can see why a hook did not fire. The table
// is bounded by its owner, who calls TrimRefusals after adding. Every method
// is safe for concurrent use.
type Refusals interface {
	// AddRefusals stores rs in one statement: all or none. Each needs an ID,
	// unique and in the order the refusals happened.
	AddRefusals(ctx context.Context, rs []*workflows.Refusal) error
	// ListRefusals returns the refusals f selects, newest first.
	ListRefusals(ctx context.Context, f RefusalFilter) ([]*workflows.Refusal, error)
	// GetRefusal returns refusal id; ErrNotFound when there is none.
	GetRefusal(ctx context.Context, id string) (*workflows.Refusal, error)
	// TrimRefusals deletes the refusals older than before, and all but the
	// keep newest (keep <= 0: no count bound).
	TrimRefusals(ctx context.Context, keep int, before time.Time) error
}

// RefusalFilter selects refusals for ListRefusals.
type RefusalFilter struct {
	// Before is a cursor: only refusals older than the one with this id.
	Before string
	Limit  int
}

// refusalColumns are the columns of a stored refusal, in the order
// scanRefusal reads them and refusalValues gives them.
const refusalColumns = `id, received_at, path, method, status, reason, remote, provider, delivery, headers, body`

// RefusalTable is Store's Refusals methods. Their SQL is the same in both
// dialects but for the placeholders, so a backend embeds a RefusalTable.
type RefusalTable struct {
	read, write Querier
	at          TimeArg
}

// NewRefusalTable returns the Refusals methods that read through read and
// write through write, turning times into column values with at.
func NewRefusalTable(read, write Querier, at TimeArg) RefusalTable {
	return RefusalTable{read: read, write: write, at: at}
}

// AddRefusals stores rs.
func (t RefusalTable) AddRefusals(ctx context.Context, rs []*workflows.Refusal) error {
	if len(rs) == 0 {
		return nil
	}
	var args []any
	rows := make([]string, len(rs))
	for i, r := range rs {
		if r.ID == "" {
			return workflows.Errorf(workflows.EInvalid, "add refusal: an id is required")
		}
		values, err := refusalValues(r, t.at)
		if err != nil {
			return fmt.Errorf("add refusal %s: %w", r.ID, err)
		}
		rows[i] = "(" + placeholders(t.write.Placeholder, len(args)+1, len(values)) + ")"
		args = append(args, values...)
	}
	query := `INSERT INTO refused (` + refusalColumns + `) VALUES ` + strings.Join(rows, ", ")
	if err := t.write.Query(ctx, query, args, func(Rows) error { return nil }); err != nil {
		return fmt.Errorf("add refusals: %w", err)
	}
	return nil
}

// ListRefusals returns the refusals f selects, newest first.
func (t RefusalTable) ListRefusals(ctx context.Context, f RefusalFilter) ([]*workflows.Refusal, error) {
	q := listQuery{ph: t.read.Placeholder}
	if f.Before != "" {
		q.conds = append(q.conds, "id < "+q.arg(f.Before))
	}
	query := `SELECT ` + refusalColumns + ` FROM refused`
	if len(q.conds) > 0 {
		query += ` WHERE ` + strings.Join(q.conds, " AND ")
	}
	query += ` ORDER BY id DESC`
	if f.Limit > 0 {
		query += ` LIMIT ` + q.arg(f.Limit)
	}
	rs, err := queryAll(ctx, t.read, scanRefusal, query, q.args...)
	if err != nil {
		return nil, fmt.Errorf("list refusals: %w", err)
	}
	if rs == nil {
		rs = []*workflows.Refusal{}
	}
	return rs, nil
}

// GetRefusal returns refusal id.
func (t RefusalTable) GetRefusal(ctx context.Context, id string) (*workflows.Refusal, error) {
	rs, err := queryAll(ctx, t.read, scanRefusal,
		`SELECT `+refusalColumns+` FROM refused WHERE id = `+t.read.Placeholder(1), id)
	if err == nil && len(rs) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get refusal %s: %w", id, err)
	}
	return rs[0], nil
}

// TrimRefusals deletes the refusals older than before and beyond the keep
// newest. Both conditions walk an index (received_at, and the primary key
// for the keep+1-th newest id), so a trim after every batch stays cheap.
func (t RefusalTable) TrimRefusals(ctx context.Context, keep int, before time.Time) error {
	ph := t.write.Placeholder
	query := `DELETE FROM refused WHERE received_at < ` + ph(1)
	args := []any{t.at(before)}
	if keep > 0 {
		query += ` OR id <= (SELECT id FROM refused ORDER BY id DESC LIMIT 1 OFFSET ` + ph(2) + `)`
		args = append(args, keep)
	}
	if err := t.write.Query(ctx, query, args, func(Rows) error { return nil }); err != nil {
		return fmt.Errorf("trim refusals: %w", err)
	}
	return nil
}

// refusalValues returns r's values for refusalColumns.
func refusalValues(r *workflows.Refusal, at TimeArg) ([]any, error) {
	var headers []byte
	if len(r.Headers) > 0 {
		var err error
		if headers, err = json.Marshal(r.Headers); err != nil {
			return nil, fmt.Errorf("headers: %w", err)
		}
	}
	return []any{r.ID, at(r.Time), ValidText(r.Path), ValidText(r.Method), r.Status, ValidText(r.Reason),
		ValidText(r.Remote), ValidText(r.Provider), ValidText(r.Delivery), NullBytes(headers), ValidText(r.Body)}, nil
}

// scanRefusal reads a row of refusalColumns.
func scanRefusal(row Row) (*workflows.Refusal, error) {
	var (
		r       workflows.Refusal
		t       timeColumn
		headers []byte
	)
	if err := row.Scan(&r.ID, &t, &r.Path, &r.Method, &r.Status, &r.Reason, &r.Remote, &r.Provider,
		&r.Delivery, &headers, &r.Body); err != nil {
		return nil, err
	}
	r.Time = t.t
	if len(headers) > 0 {
		if err := json.Unmarshal(headers, &r.Headers); err != nil {
			return nil, fmt.Errorf("refusal %s: headers: %w", r.ID, err)
		}
	}
	return &r, nil
}
