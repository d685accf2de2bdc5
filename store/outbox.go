package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// OutboxTx is a backend's transaction for Outbox.
type OutboxTx interface {
	Querier
	// Exec runs a statement and returns how many rows it changed.
	Exec(query string, args ...any) (int64, error)
}

// Outbox implements Reports for both backends with the SQL they share;
// a backend gives it transactions and a reader.
type Outbox struct {
	// begin calls fn in a write transaction, committed when fn returns nil;
	// with plan, it first takes the planners' lock (one planner at a time
	// across nodes).
	begin func(ctx context.Context, plan bool, fn func(OutboxTx) error) error
	read  Querier
	at    TimeArg
}

// NewOutbox returns the Reports of a backend.
func NewOutbox(begin func(ctx context.Context, plan bool, fn func(OutboxTx) error) error, read Querier, at TimeArg) Outbox {
	return Outbox{begin: begin, read: read, at: at}
}

// reportColumns are a report's columns, in scanReport's order.
const reportColumns = `seq, run_id, job, kind, target, state, run_status, status, attempts, error,
	created_at, next_at, sent_at`

func scanReport(row Row) (*Report, error) {
	var r Report
	var created, next, sent timeColumn
	err := row.Scan(&r.Seq, &r.RunID, &r.Job, &r.Kind, &r.Target, &r.State, &r.RunStatus, &r.Status,
		&r.Attempts, &r.Error, &created, &next, &sent)
	if err != nil {
		return nil, err
	}
	r.CreatedAt, r.NextAt, r.SentAt = created.t, next.t, sent.t
	return &r, nil
}

// numbered writes each ? of query as q's placeholder.
func numbered(q Querier, query string) string {
	var b strings.Builder
	n := 0
	for _, part := range strings.Split(query, "?") {
		if n > 0 {
			b.WriteString(q.Placeholder(n))
		}
		b.WriteString(part)
		n++
	}
	return b.String()
}

// exists reports whether query, run on the reader, finds a row. The
// reporter asks often; an idle outbox so costs a read, not a write
// transaction.
func (o Outbox) exists(ctx context.Context, query string, args ...any) (bool, error) {
	var found bool
	err := o.read.Query(ctx, numbered(o.read, query), args, func(rows Rows) error {
		found = rows.Next()
		return rows.Err()
	})
	return found, err
}

// PlanReports implements Reports.
func (o Outbox) PlanReports(ctx context.Context, limit int, now time.Time) (int, error) {
	if found, err := o.exists(ctx, `SELECT 1 FROM report_changes LIMIT 1`); err != nil || !found {
		if err != nil {
			err = fmt.Errorf("plan reports: %w", err)
		}
		return 0, err
	}
	var n int
	err := o.begin(ctx, true, func(tx OutboxTx) error {
		var err error
		n, err = Plan(&planTx{ctx: ctx, tx: tx, at: o.at}, limit, now)
		return err
	})
	return n, err
}

// planTx is Plan's PlanTx over an OutboxTx.
type planTx struct {
	ctx context.Context
	tx  OutboxTx
	at  TimeArg
}

func (p *planTx) Changes(limit int) ([]*Change, error) {
	return queryAll(p.ctx, p.tx, func(row Row) (*Change, error) {
		var c Change
		var at timeColumn
		var plan []byte
		if err := row.Scan(&c.Seq, &c.RunID, &c.Job, &c.Status, &at, &c.Workflow, &c.Group, &plan); err != nil {
			return nil, err
		}
		c.At, c.Plan = at.t, plan
		return &c, nil
	}, numbered(p.tx, `SELECT c.seq, c.run_id, c.job, c.status, c.at, r.workflow, r.grp, r.report
		FROM report_changes c JOIN runs r ON r.id = c.run_id
		ORDER BY c.seq LIMIT ?`), limit)
}

func (p *planTx) Streak(key string) (workflows.Streak, error) {
	var s workflows.Streak
	err := p.tx.Query(p.ctx, numbered(p.tx, `SELECT failing, noticed_at FROM report_streaks WHERE key = ?`),
		[]any{ValidText(key)}, func(rows Rows) error {
			if !rows.Next() {
				return rows.Err()
			}
			var noticed timeColumn
			if err := rows.Scan(&s.Failing, &noticed); err != nil {
				return err
			}
			s.NoticedAt = noticed.t
			return nil
		})
	return s, err
}

func (p *planTx) PutStreak(key string, s workflows.Streak) error {
	_, err := p.tx.Exec(numbered(p.tx, `INSERT INTO report_streaks (key, failing, noticed_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET failing = excluded.failing, noticed_at = excluded.noticed_at`),
		ValidText(key), s.Failing, nullTime(s.NoticedAt, p.at))
	return err
}

func (p *planTx) Queue(r *Report) error {
	if r.Kind == ReportCommitStatus {
		_, err := p.tx.Exec(numbered(p.tx, `UPDATE reports SET status = 'superseded'
			WHERE run_id = ? AND job = ? AND kind = ? AND status = 'queued' AND lease_until IS NULL`),
			r.RunID, ValidText(r.Job), r.Kind)
		if err != nil {
			return fmt.Errorf("supersede: %w", err)
		}
	}
	_, err := p.tx.Exec(numbered(p.tx, `INSERT INTO reports
		(run_id, job, kind, target, state, run_status, status, created_at, next_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		r.RunID, ValidText(r.Job), r.Kind, r.Target, r.State, r.RunStatus, r.Status, p.at(r.CreatedAt), p.at(r.NextAt))
	return err
}

func (p *planTx) Done(seq int64) error {
	_, err := p.tx.Exec(numbered(p.tx, `DELETE FROM report_changes WHERE seq <= ?`), seq)
	return err
}

// claimable picks due reports that no node holds, oldest first; a commit
// status waits for the older ones of its run and job.
const claimable = `SELECT r.seq FROM reports r
	WHERE r.status = 'queued' AND r.next_at <= ? AND (r.lease_until IS NULL OR r.lease_until < ?)
		AND (r.kind <> 'commit_status' OR NOT EXISTS (SELECT 1 FROM reports o
			WHERE o.run_id = r.run_id AND o.job = r.job AND o.kind = r.kind
				AND o.status = 'queued' AND o.seq < r.seq))
	ORDER BY r.next_at, r.seq LIMIT ?`

// ClaimReports implements Reports.
func (o Outbox) ClaimReports(ctx context.Context, node string, limit int, lease time.Duration, now time.Time) ([]*Report, error) {
	found, err := o.exists(ctx, `SELECT 1 FROM reports WHERE status = 'queued' AND next_at <= ? LIMIT 1`, o.at(now))
	if err != nil {
		return nil, fmt.Errorf("claim reports: %w", err)
	}
	if !found {
		return nil, nil
	}
	var claimed []*Report
	err = o.begin(ctx, false, func(tx OutboxTx) error {
		seqs, err := queryAll(ctx, tx, func(row Row) (int64, error) {
			var seq int64
			err := row.Scan(&seq)
			return seq, err
		}, numbered(tx, claimable), o.at(now), o.at(now), limit)
		if err != nil || len(seqs) == 0 {
			return err
		}
		list := make([]string, len(seqs))
		for i, s := range seqs {
			list[i] = strconv.FormatInt(s, 10)
		}
		in := strings.Join(list, ", ")
		if _, err := tx.Exec(numbered(tx, `UPDATE reports SET lease_until = ?, node = ?, attempts = attempts + 1
			WHERE seq IN (`+in+`)`), o.at(now.Add(lease)), ValidText(node)); err != nil {
			return err
		}
		claimed, err = queryAll(ctx, tx, func(row Row) (*Report, error) {
			var r Report
			var created, next, sent timeColumn
			var plan []byte
			err := row.Scan(&r.Seq, &r.RunID, &r.Job, &r.Kind, &r.Target, &r.State, &r.RunStatus, &r.Status,
				&r.Attempts, &r.Error, &created, &next, &sent, &r.EventID, &r.Workflow, &plan)
			r.CreatedAt, r.NextAt, r.SentAt, r.Plan = created.t, next.t, sent.t, plan
			return &r, err
		}, `SELECT `+prefixed("p.", reportColumns)+`, r.event_id, r.workflow, r.report
			FROM reports p JOIN runs r ON r.id = p.run_id
			WHERE p.seq IN (`+in+`) ORDER BY p.seq`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim reports: %w", err)
	}
	return claimed, nil
}

// prefixed qualifies each of a list of columns with prefix.
func prefixed(prefix, columns string) string {
	list := strings.Split(columns, ",")
	for i, c := range list {
		list[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(list, ", ")
}

// SettleReport implements Reports.
func (o Outbox) SettleReport(ctx context.Context, node string, r *Report, now time.Time) error {
	if r.Status != ReportSent && r.Status != ReportFailed && r.Status != ReportSkipped && r.Status != ReportQueued {
		return &workflows.Error{Code: workflows.EInvalid, Message: "settle report: status " + r.Status}
	}
	var n int64
	err := o.begin(ctx, false, func(tx OutboxTx) error {
		var sent any
		if r.Status == ReportSent {
			sent = o.at(now)
		}
		next := r.NextAt
		if next.IsZero() {
			next = now
		}
		var err error
		n, err = tx.Exec(numbered(tx, `UPDATE reports SET
				status = CASE WHEN ? = 'queued' AND kind = 'commit_status' AND EXISTS (SELECT 1 FROM reports o
					WHERE o.run_id = reports.run_id AND o.job = reports.job AND o.kind = reports.kind
						AND o.seq > reports.seq AND o.status = 'queued') THEN 'superseded' ELSE ? END,
				error = ?, next_at = ?, sent_at = ?, lease_until = NULL
			WHERE seq = ? AND node = ? AND status = 'queued' AND lease_until IS NOT NULL`),
			r.Status, r.Status, ValidText(r.Error), o.at(next), sent, r.Seq, ValidText(node))
		return err
	})
	if err != nil {
		return fmt.Errorf("settle report %d: %w", r.Seq, err)
	}
	if n == 0 {
		return fmt.Errorf("settle report %d: %w", r.Seq, ErrConflict)
	}
	return nil
}

// ReleaseReports implements Reports.
func (o Outbox) ReleaseReports(ctx context.Context, node string) error {
	err := o.begin(ctx, false, func(tx OutboxTx) error {
		_, err := tx.Exec(numbered(tx, `UPDATE reports SET lease_until = NULL
			WHERE node = ? AND status = 'queued' AND lease_until IS NOT NULL`), ValidText(node))
		return err
	})
	if err != nil {
		return fmt.Errorf("release reports of %s: %w", node, err)
	}
	return nil
}

// RunReports implements Reports.
func (o Outbox) RunReports(ctx context.Context, id string) ([]*Report, error) {
	reports, err := queryAll(ctx, o.read, scanReport,
		numbered(o.read, `SELECT `+reportColumns+` FROM reports WHERE run_id = ? ORDER BY seq`), id)
	if err != nil {
		return nil, fmt.Errorf("reports of %s: %w", id, err)
	}
	for _, r := range reports {
		r.RunID = id
	}
	return reports, nil
}

var _ Reports = Outbox{}
