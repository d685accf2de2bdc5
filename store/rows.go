package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// The SQL backends share one table layout (their DDL differs, not their
// columns), so they share the code that turns rows into values and back.

// RunColumns are the columns of a stored run, in the order ScanRun reads them.
const RunColumns = `seq, id, workflow, revision, event_id, item, attempt, rerun_of,
	grp, cancel_in_progress, pending_latest, cooldown_key, cooldown_ms, on_interrupt,
	status, reason, queued_at, started_at, finished_at, node, lease_until,
	cancel_requested, sandbox, steps, actor`

// RunInsertColumns are the columns a new run is stored with, in the order of
// RunValues; the others are the schema's defaults.
const RunInsertColumns = `id, workflow, revision, event_id, item, attempt, rerun_of,
	grp, cancel_in_progress, pending_latest, cooldown_key, cooldown_ms, on_interrupt,
	status, reason, queued_at, finished_at, steps, actor, report`

// EventColumns are the columns of a stored event, in the order ScanEvent
// reads them and EventValues gives them.
const EventColumns = `id, trigger, provider, path, type, delivery, dedup_key, received_at, data, verdicts`

// JobInsertColumns are the columns SaveJobs writes, in the order JobValues
// gives them; the others are RemoteJobs's.
const JobInsertColumns = `run_id, key, id, job_index, cell, name, needs, matrix, status, reason,
	runs_on, runner, continue_on_error, started_at, finished_at, outputs, steps, sandbox`

// JobColumns are the columns of a stored job, in the order ScanJob reads
// them: JobInsertColumns, then those RemoteJobs sets but the offer.
const JobColumns = JobInsertColumns + `, offered_at, attempt, lease_until, cancel_reason`

// JobUpsert is what SaveJobs's upsert (INSERT (JobInsertColumns) … ON
// CONFLICT (run_id, key) DO UPDATE SET JobUpsert) changes in a stored job,
// the same in both dialects: every column of JobInsertColumns but the key's,
// except that NULL steps and an empty sandbox keep the stored ones. What
// RemoteJobs keeps (offer, attempt, lease, cancel reason, lines stored) it
// leaves alone, for the node executing a run saves its jobs while a runner
// on another host holds one of them.
const JobUpsert = `id = excluded.id, job_index = excluded.job_index, cell = excluded.cell,
	name = excluded.name, needs = excluded.needs, matrix = excluded.matrix, status = excluded.status,
	reason = excluded.reason, runs_on = excluded.runs_on, runner = excluded.runner,
	continue_on_error = excluded.continue_on_error, started_at = excluded.started_at,
	finished_at = excluded.finished_at, outputs = excluded.outputs,
	steps = coalesce(excluded.steps, jobs.steps),
	sandbox = CASE WHEN excluded.sandbox = '' THEN jobs.sandbox ELSE excluded.sandbox END`

// LogColumns are the columns of a stored log line, in the order Logs reads
// them.
const LogColumns = `seq, job, step, stream, time, text`

// Row is one result row, as both database/sql and pgx offer it.
type Row interface {
	Scan(dest ...any) error
}

// Rows is a result set, as both database/sql and pgx offer it. Its owner
// closes it: the two drivers' Close methods differ.
type Rows interface {
	Row
	Next() bool
	Err() error
}

// TimeArg turns a non-zero time into a backend's argument for a time column.
type TimeArg func(time.Time) any

// ScanRun reads a row of RunColumns.
func ScanRun(row Row) (*Run, error) {
	var (
		r                                     Run
		item, steps                           []byte
		cooldown                              int64
		queued, started, finished, leaseUntil timeColumn
	)
	err := row.Scan(&r.Seq, &r.ID, &r.Workflow, &r.Revision, &r.EventID, &item, &r.Attempt, &r.RerunOf,
		&r.Group, &r.CancelInProgress, &r.PendingLatest, &r.CooldownKey, &cooldown, &r.OnInterrupt,
		&r.Status, &r.Reason, &queued, &started, &finished, &r.Node, &leaseUntil,
		&r.CancelRequested, &r.Sandbox, &steps, &r.Actor)
	if err != nil {
		return nil, err
	}
	r.Item, r.Steps = item, steps
	r.CooldownPeriod = time.Duration(cooldown) * time.Millisecond
	r.QueuedAt, r.StartedAt, r.FinishedAt, r.LeaseUntil = queued.t, started.t, finished.t, leaseUntil.t
	return &r, nil
}

// RunValues returns new run r's values for RunInsertColumns: times through
// at, the zero time and empty JSON as NULL.
func RunValues(r *Run, at TimeArg) []any {
	return []any{r.ID, r.Workflow, r.Revision, r.EventID, NullBytes(r.Item), r.Attempt, r.RerunOf,
		r.Group, r.CancelInProgress, r.PendingLatest, r.CooldownKey, r.CooldownPeriod.Milliseconds(), r.OnInterrupt,
		r.Status, r.Reason, at(r.QueuedAt), nullTime(r.FinishedAt, at), NullBytes(r.Steps), r.Actor, NullBytes(r.Report)}
}

// ScanEvent reads a row of EventColumns.
func ScanEvent(row Row) (*Event, error) {
	var (
		e              Event
		received       timeColumn
		data, verdicts []byte
	)
	err := row.Scan(&e.ID, &e.Trigger, &e.Provider, &e.Path, &e.Type, &e.Delivery, &e.DedupKey,
		&received, &data, &verdicts)
	if err != nil {
		return nil, err
	}
	e.ReceivedAt, e.Data = received.t, data
	if len(verdicts) > 0 {
		if err := json.Unmarshal(verdicts, &e.Verdicts); err != nil {
			return nil, fmt.Errorf("event %s: verdicts: %w", e.ID, err)
		}
	}
	return &e, nil
}

// EventValues returns new event e's values for EventColumns: times through
// at, empty JSON as NULL.
func EventValues(e *Event, at TimeArg) ([]any, error) {
	verdicts, err := json.Marshal(e.Verdicts)
	if err != nil {
		return nil, fmt.Errorf("verdicts: %w", err)
	}
	return []any{e.ID, e.Trigger, e.Provider, e.Path, e.Type, e.Delivery, e.DedupKey,
		at(e.ReceivedAt), NullBytes(e.Data), verdicts}, nil
}

// ScanJob reads a row of JobColumns.
func ScanJob(row Row) (*Job, error) { return scanJob(row) }

// scanJob reads a row of JobColumns followed by the columns of more.
func scanJob(row Row, more ...any) (*Job, error) {
	var (
		j                                      Job
		needs, runsOn, matrix, outputs         []byte
		steps                                  []byte
		started, finished, offered, leaseUntil timeColumn
	)
	err := row.Scan(append([]any{&j.RunID, &j.Key, &j.ID, &j.JobIndex, &j.Cell, &j.Name, &needs, &matrix, &j.Status, &j.Reason,
		&runsOn, &j.Runner, &j.ContinueOnError, &started, &finished, &outputs, &steps, &j.Sandbox,
		&offered, &j.Attempt, &leaseUntil, &j.CancelReason}, more...)...)
	if err != nil {
		return nil, err
	}
	if j.Needs, err = scanList(needs); err != nil {
		return nil, fmt.Errorf("job %s of run %s: needs: %w", j.Key, j.RunID, err)
	}
	if j.RunsOn, err = scanList(runsOn); err != nil {
		return nil, fmt.Errorf("job %s of run %s: runs_on: %w", j.Key, j.RunID, err)
	}
	j.Matrix, j.Outputs, j.Steps = matrix, outputs, steps
	j.StartedAt, j.FinishedAt, j.OfferedAt, j.LeaseUntil = started.t, finished.t, offered.t, leaseUntil.t
	return &j, nil
}

// JobValues returns job j's values for JobInsertColumns, as run runID's: times
// through at, the zero time, empty lists and empty JSON as NULL.
func JobValues(runID string, j *Job, at TimeArg) ([]any, error) {
	needs, err := listValue(j.Needs)
	if err != nil {
		return nil, fmt.Errorf("job %s: needs: %w", j.Key, err)
	}
	runsOn, err := listValue(j.RunsOn)
	if err != nil {
		return nil, fmt.Errorf("job %s: runs_on: %w", j.Key, err)
	}
	return []any{runID, j.Key, j.ID, j.JobIndex, j.Cell, j.Name, needs, NullBytes(j.Matrix), j.Status, j.Reason,
		runsOn, j.Runner, j.ContinueOnError, nullTime(j.StartedAt, at), nullTime(j.FinishedAt, at),
		NullBytes(j.Outputs), NullBytes(j.Steps), j.Sandbox}, nil
}

// listValue is list as a JSON column: NULL when it is empty, so that it
// reads back as nil.
func listValue(list []string) (any, error) {
	if len(list) == 0 {
		return nil, nil
	}
	return json.Marshal(list)
}

// scanList reads a JSON list column that listValue wrote.
func scanList(b []byte) ([]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var list []string
	err := json.Unmarshal(b, &list)
	return list, err
}

// scanLogLine reads a row of LogColumns.
func scanLogLine(row Row) (LogLine, error) {
	var (
		l LogLine
		t timeColumn
	)
	err := row.Scan(&l.Seq, &l.Job, &l.Step, &l.Stream, &t, &l.Text)
	l.Time = t.t
	return l, err
}

// CollectRuns reads every row of rows with ScanRun.
func CollectRuns(rows Rows) ([]*Run, error) { return collect(rows, ScanRun) }

// CollectIDs reads every row of rows as one id.
func CollectIDs(rows Rows) ([]string, error) {
	return collect(rows, func(row Row) (string, error) {
		var id string
		err := row.Scan(&id)
		return id, err
	})
}

// CancelRequested returns a reader (for Querier.Query) of rows of (id,
// cancel_requested) that adds to ids the ids whose cancel was requested.
func CancelRequested(ids *[]string) func(Rows) error {
	return func(rows Rows) error {
		for rows.Next() {
			var id string
			var requested bool
			if err := rows.Scan(&id, &requested); err != nil {
				return err
			}
			if requested {
				*ids = append(*ids, id)
			}
		}
		return rows.Err()
	}
}

// collect reads every row of rows with scan.
func collect[T any](rows Rows, scan func(Row) (T, error)) ([]T, error) {
	var all []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		all = append(all, v)
	}
	return all, rows.Err()
}

// timeColumn receives a nullable time column as either driver delivers it:
// unix milliseconds (the SQLite schema's INTEGER) or a time (PostgreSQL's
// TIMESTAMPTZ). NULL is the zero time; any other time is UTC.
type timeColumn struct{ t time.Time }

// Scan implements sql.Scanner, which pgx honours too.
func (c *timeColumn) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		c.t = time.Time{}
	case int64:
		c.t = time.UnixMilli(v).UTC()
	case time.Time:
		c.t = v.UTC()
	default:
		return fmt.Errorf("time column: unexpected %T", v)
	}
	return nil
}

// Millis drops t's precision below a millisecond, and its location: t as a
// store keeps it, so that a time computed in Go equals the same time read
// back.
func Millis(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

// nullTime is at(t), or NULL for the zero time.
func nullTime(t time.Time, at TimeArg) any {
	if t.IsZero() {
		return nil
	}
	return at(t)
}

// NullBytes is b for a BLOB or BYTEA column: NULL when it is empty, so that
// "no value" reads back as nil.
func NullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
