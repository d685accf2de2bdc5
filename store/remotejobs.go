package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// JobTx is one backend transaction of a RemoteJobs method: the reads and
// writes its rules (Remote) need, in the backend's SQL. Remote calls it from
// one goroutine. Conditions and statements that Remote passes in use the
// dialect's placeholders, and time arguments of the backend's TimeArg.
type JobTx interface {
	// Job returns job key of run runID, locked until the transaction ends
	// (it waits for another transaction holding it), or nil when there is
	// none.
	Job(runID, key string) (*JobState, error)
	// Jobs returns the jobs that cond (a condition on jobs j and their runs
	// r, args its arguments) selects, oldest offer first, each locked until
	// the transaction ends; a job another transaction holds is left out.
	Jobs(cond string, args ...any) ([]*JobState, error)
	// Claimable returns the job that a runner with labels may claim, as
	// RemoteJobs.ClaimJob chooses it, locked, with its concurrency group,
	// until the transaction ends; nil when there is none.
	Claimable(labels []string) (*JobState, error)
	// Exec runs a statement that returns no rows, and returns the count of
	// rows it changed.
	Exec(query string, args ...any) (int64, error)
	// AppendLogs stores lines of run runID as Store.AppendLogs does, stamping
	// lines without a Time, and returns the Seq of the first (line i has
	// first+i); it is ErrNotFound without such a run.
	AppendLogs(runID string, lines []LogLine) (first int64, err error)
}

// JobState is a job as the rules of RemoteJobs read and write it: the row,
// with its Offer, and what the rules need of its run.
type JobState struct {
	Job
	// Group is the concurrency group the job holds while it runs.
	Group string
	// LogLines counts the log lines of the current attempt stored so far.
	LogLines int
	// RunStatus, RunReason, OnInterrupt and CancelRequested are the run's.
	RunStatus, RunReason, OnInterrupt string
	CancelRequested                   bool
}

// JobStateFrom is what a query of JobStateColumns selects from: jobs j with
// their runs r.
const JobStateFrom = `jobs j JOIN runs r ON r.id = j.run_id`

// JobStateColumns are the columns of a JobState, from JobStateFrom, in the
// order ScanJobState reads them.
var JobStateColumns = jobColumnsOfJ + `, j.offer, j.grp, j.log_lines,
	r.status, r.reason, r.on_interrupt, r.cancel_requested`

// jobColumnsOfJ are JobColumns of jobs j.
var jobColumnsOfJ = qualify("j", JobColumns)

// JobStateOrder orders jobs oldest offer first, and then by run and key, so
// that the order is total.
const JobStateOrder = `ORDER BY j.offered_at, j.run_id, j.key`

// ScanJobState reads a row of JobStateColumns.
func ScanJobState(row Row) (*JobState, error) {
	var (
		st    JobState
		offer []byte
	)
	j, err := scanJob(row, &offer, &st.Group, &st.LogLines, &st.RunStatus, &st.RunReason, &st.OnInterrupt, &st.CancelRequested)
	if err != nil {
		return nil, err
	}
	st.Job, st.Offer = *j, offer
	return &st, nil
}

// QueryJobStates runs query with args on q, and returns the JobStates it
// selects.
func QueryJobStates(ctx context.Context, q Querier, query string, args ...any) ([]*JobState, error) {
	return queryAll(ctx, q, ScanJobState, query, args...)
}

// QueryJobState runs query with args on q, and returns the first JobState
// it selects, or nil when there is none.
func QueryJobState(ctx context.Context, q Querier, query string, args ...any) (*JobState, error) {
	states, err := QueryJobStates(ctx, q, query, args...)
	if err != nil || len(states) == 0 {
		return nil, err
	}
	return states[0], nil
}

// JobGroupHeld is a condition true while a running job of a running run
// holds concurrency group group (an SQL expression): what keeps StartJob and
// ClaimJob from starting a job of that group.
func JobGroupHeld(group string) string {
	return `EXISTS (SELECT 1 FROM jobs o JOIN runs ro ON ro.id = o.run_id
		WHERE o.grp = ` + group + ` AND o.status = 'running' AND ro.status = 'running')`
}

// jobStateSet are the columns the rules of RemoteJobs write, in the order of
// jobStateValues.
var jobStateSet = []string{"status", "reason", "runner", "started_at", "finished_at", "outputs", "steps",
	"sandbox", "grp", "offered_at", "offer", "attempt", "lease_until", "cancel_reason", "log_lines"}

// jobStateValues are st's values for jobStateSet, then its run id and key:
// times through at, the zero time and empty JSON as NULL.
func jobStateValues(st *JobState, at TimeArg) []any {
	return []any{st.Status, st.Reason, st.Runner, nullTime(st.StartedAt, at), nullTime(st.FinishedAt, at),
		NullBytes(st.Outputs), NullBytes(st.Steps), st.Sandbox, st.Group, nullTime(st.OfferedAt, at),
		NullBytes(st.Offer), st.Attempt, nullTime(st.LeaseUntil, at), st.CancelReason, st.LogLines,
		st.RunID, st.Key}
}

// Remote is Store's RemoteJobs methods: the rules, once, over a backend's
// JobTx.
type Remote struct {
	begin  func(ctx context.Context, fn func(JobTx) error) error
	read   Querier
	at     TimeArg
	now    func() time.Time
	ph     func(int) string
	update string // writes a JobState (jobStateValues)
}

// NewRemote returns the RemoteJobs methods. begin calls fn in a new
// transaction, which it commits when fn returns nil and rolls back
// otherwise; read answers RemoteQueue; at turns times into column values,
// and now is the clock of a FinishJob without FinishedAt.
func NewRemote(begin func(ctx context.Context, fn func(JobTx) error) error, read Querier, at TimeArg, now func() time.Time) Remote {
	ph := read.Placeholder
	set := make([]string, len(jobStateSet))
	for i, c := range jobStateSet {
		set[i] = c + ` = ` + ph(i+1)
	}
	n := len(set)
	return Remote{begin: begin, read: read, at: at, now: now, ph: ph,
		update: `UPDATE jobs SET ` + strings.Join(set, ", ") + ` WHERE run_id = ` + ph(n+1) + ` AND key = ` + ph(n+2)}
}

// OfferJob makes a queued job claimable by runners on other hosts.
func (m Remote) OfferJob(ctx context.Context, runID, key string, offer json.RawMessage, group, reason string, now time.Time) error {
	err := m.change(ctx, runID, key, func(tx JobTx, st *JobState) error {
		if st.Status != workflows.StatusQueued {
			return fmt.Errorf("job is %s: %w", st.Status, ErrConflict)
		}
		st.Offer, st.Group, st.Reason = offer, group, reason
		if st.OfferedAt.IsZero() {
			st.OfferedAt = Millis(now)
		}
		return m.write(tx, st)
	})
	if err != nil {
		return fmt.Errorf("offer job %s of %s: %w", key, runID, err)
	}
	return nil
}

// ClaimJob gives runner the job it may run that was offered first, if any.
func (m Remote) ClaimJob(ctx context.Context, runner string, labels []string, lease time.Duration, now time.Time) (*Job, error) {
	now = Millis(now)
	var claimed *Job
	err := m.begin(ctx, func(tx JobTx) error {
		st, err := tx.Claimable(labels)
		if err != nil || st == nil {
			return err
		}
		// A new attempt: nothing of an earlier one that was handed back stays.
		st.Status, st.Runner, st.Reason, st.CancelReason = workflows.StatusRunning, runner, "", ""
		st.StartedAt, st.FinishedAt, st.LeaseUntil = now, time.Time{}, Millis(now.Add(lease))
		st.Attempt++
		st.LogLines = 0
		st.Steps, st.Outputs, st.Sandbox = json.RawMessage(`[]`), nil, ""
		if err := m.write(tx, st); err != nil {
			return err
		}
		claimed = &st.Job
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim job for %s: %w", runner, err)
	}
	return claimed, nil
}

// RenewJobs extends the leases of the jobs in held that runner holds, and
// returns those it must stop, ordered by run and job.
func (m Remote) RenewJobs(ctx context.Context, runner string, held []JobRef, until time.Time) ([]JobStop, error) {
	until = Millis(until)
	// One order of locks for every renewal, so that two of them never wait
	// for each other.
	refs := slices.Clone(held)
	slices.SortFunc(refs, func(a, b JobRef) int {
		return cmp.Or(cmp.Compare(a.Run, b.Run), cmp.Compare(a.Job, b.Job), cmp.Compare(a.Attempt, b.Attempt))
	})
	refs = slices.Compact(refs)
	if len(refs) == 0 {
		return nil, nil
	}
	var stops []JobStop
	err := m.begin(ctx, func(tx JobTx) error {
		stops = nil
		for _, ref := range refs {
			st, err := tx.Job(ref.Run, ref.Job)
			if err != nil {
				return err
			}
			if why := notHeld(st, ref, runner); why != "" {
				stops = append(stops, JobStop{JobRef: ref, Reason: why, Gone: true})
				continue
			}
			if st.LeaseUntil.Before(until) {
				st.LeaseUntil = until
				if err := m.write(tx, st); err != nil {
					return err
				}
			}
			if why := stopWhy(st); why != "" {
				stops = append(stops, JobStop{JobRef: ref, Reason: why})
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("renew jobs of %s: %w", runner, err)
	}
	return stops, nil
}

// AppendJobLogs stores the lines of job ref that follow those stored.
func (m Remote) AppendJobLogs(ctx context.Context, ref JobRef, runner string, from int, lines []LogLine, steps json.RawMessage, sandbox string) (int, error) {
	if from < 0 {
		return 0, workflows.Errorf(workflows.EInvalid, "append logs of job %s of %s: from %d", ref.Job, ref.Run, from)
	}
	var (
		stored, skip int
		fresh        []LogLine
		first        int64
	)
	err := m.change(ctx, ref.Run, ref.Job, func(tx JobTx, st *JobState) error {
		stored, fresh = st.LogLines, nil
		if why := notHeld(st, ref, runner); why != "" {
			if reported(st, ref, runner) && from+len(lines) <= st.LogLines {
				return nil // a batch repeated after its answer was lost
			}
			return fmt.Errorf("%s: %w", why, ErrConflict)
		}
		if from > st.LogLines {
			return nil // a gap: the runner sends again from what is stored
		}
		skip = min(st.LogLines-from, len(lines))
		fresh = slices.Clone(lines[skip:])
		for i := range fresh {
			fresh[i].Job = st.Key
		}
		if len(fresh) == 0 && steps == nil {
			return nil
		}
		if len(fresh) > 0 {
			var err error
			if first, err = tx.AppendLogs(st.RunID, fresh); err != nil {
				return err
			}
			st.LogLines += len(fresh)
		}
		if steps != nil {
			st.Steps = steps
			if sandbox != "" {
				st.Sandbox = sandbox
			}
		}
		stored = st.LogLines
		return m.write(tx, st)
	})
	if err != nil {
		return 0, fmt.Errorf("append logs of job %s of %s: %w", ref.Job, ref.Run, err)
	}
	for i := range lines {
		lines[i].Job = ref.Job
	}
	for i := range fresh {
		lines[skip+i].Seq = first + int64(i)
	}
	return stored, nil
}

// FinishJob records the end of job ref.
func (m Remote) FinishJob(ctx context.Context, ref JobRef, runner string, j *Job) error {
	if !finalJobStatus(j.Status) {
		return workflows.Errorf(workflows.EInvalid, "finish job %s of %s: %q is not a final status", ref.Job, ref.Run, j.Status)
	}
	finished := j.FinishedAt
	if finished.IsZero() {
		finished = m.now()
	}
	err := m.change(ctx, ref.Run, ref.Job, func(tx JobTx, st *JobState) error {
		if why := notHeld(st, ref, runner); why != "" {
			if reported(st, ref, runner) {
				return nil
			}
			return fmt.Errorf("%s: %w", why, ErrConflict)
		}
		st.Status, st.Reason, st.Outputs = j.Status, j.Reason, j.Outputs
		if j.Steps != nil {
			st.Steps = j.Steps
		}
		if j.Sandbox != "" {
			st.Sandbox = j.Sandbox
		}
		st.FinishedAt, st.LeaseUntil = Millis(finished), time.Time{}
		return m.write(tx, st)
	})
	if err != nil {
		return fmt.Errorf("finish job %s of %s: %w", ref.Job, ref.Run, err)
	}
	return nil
}

// ReleaseJob hands back job ref, which runner could not finish.
func (m Remote) ReleaseJob(ctx context.Context, ref JobRef, runner, reason string, now time.Time) error {
	err := m.change(ctx, ref.Run, ref.Job, func(tx JobTx, st *JobState) error {
		if why := notHeld(st, ref, runner); why != "" {
			// This attempt ended already: handed back (which forgets the
			// runner), recovered or finished.
			if st.Attempt == ref.Attempt && st.Status != workflows.StatusRunning && (st.Runner == runner || st.Runner == "") {
				return nil
			}
			return fmt.Errorf("%s: %w", why, ErrConflict)
		}
		if err := release(st, reason, Millis(now)); err != nil {
			return err
		}
		return m.write(tx, st)
	})
	if err != nil {
		return fmt.Errorf("release job %s of %s: %w", ref.Job, ref.Run, err)
	}
	return nil
}

// CancelJob ends an offered job nobody claimed, or asks its runner to stop
// a claimed one.
func (m Remote) CancelJob(ctx context.Context, runID, key, status, reason string, now time.Time) (*Job, error) {
	if !finalJobStatus(status) {
		return nil, workflows.Errorf(workflows.EInvalid, "cancel job %s of %s: %q is not a final status", key, runID, status)
	}
	var job *Job
	err := m.change(ctx, runID, key, func(tx JobTx, st *JobState) error {
		job = &st.Job
		switch {
		case st.Status == workflows.StatusQueued && !st.OfferedAt.IsZero():
			st.Status, st.Reason, st.FinishedAt = status, reason, Millis(now)
		case st.Status == workflows.StatusRunning && st.CancelReason == "":
			st.CancelReason = reason // the first reason stays
		default:
			return nil
		}
		return m.write(tx, st)
	})
	if err != nil {
		return nil, fmt.Errorf("cancel job %s of %s: %w", key, runID, err)
	}
	return job, nil
}

// RecoverJobs releases the jobs whose runner stopped renewing their lease,
// and fails the offers nobody claimed within queueTimeout.
func (m Remote) RecoverJobs(ctx context.Context, now time.Time, queueTimeout time.Duration) ([]*Job, error) {
	now = Millis(now)
	var changed []*Job
	err := m.begin(ctx, func(tx JobTx) error {
		changed = nil
		expired, err := tx.Jobs(`j.status = 'running' AND j.offered_at IS NOT NULL AND j.lease_until < `+m.ph(1), m.at(now))
		if err != nil {
			return fmt.Errorf("expired leases: %w", err)
		}
		for _, st := range expired {
			if err := release(st, "the runner "+st.Runner+" stopped renewing its lease", now); err != nil {
				return err
			}
			if err := m.write(tx, st); err != nil {
				return err
			}
			changed = append(changed, &st.Job)
		}
		if queueTimeout <= 0 {
			return nil
		}
		// The reason stays: it says which labels nobody had.
		unclaimed, err := tx.Jobs(`j.status = 'queued' AND j.offered_at <= `+m.ph(1)+` AND r.status = 'running'`, m.at(now.Add(-queueTimeout)))
		if err != nil {
			return fmt.Errorf("unclaimed offers: %w", err)
		}
		for _, st := range unclaimed {
			st.Status, st.FinishedAt = workflows.StatusFailed, now
			if err := m.write(tx, st); err != nil {
				return err
			}
			changed = append(changed, &st.Job)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("recover jobs: %w", err)
	}
	return changed, nil
}

// ExtendJobLeases makes every claimed job's lease last until at least until.
func (m Remote) ExtendJobLeases(ctx context.Context, until time.Time) error {
	until = Millis(until)
	err := m.begin(ctx, func(tx JobTx) error {
		_, err := tx.Exec(`UPDATE jobs SET lease_until = `+m.ph(1)+`
			WHERE status = 'running' AND offered_at IS NOT NULL AND lease_until < `+m.ph(2), m.at(until), m.at(until))
		return err
	})
	if err != nil {
		return fmt.Errorf("extend job leases: %w", err)
	}
	return nil
}

// RemoteQueue returns the offered jobs of running runs that are queued or
// running, oldest offer first.
func (m Remote) RemoteQueue(ctx context.Context) ([]*Job, error) {
	jobs, err := queryAll(ctx, m.read, ScanJob, `SELECT `+jobColumnsOfJ+` FROM `+JobStateFrom+`
		WHERE j.status IN ('queued', 'running') AND j.offered_at IS NOT NULL AND r.status = 'running' `+JobStateOrder)
	if err != nil {
		return nil, fmt.Errorf("remote queue: %w", err)
	}
	if jobs == nil {
		jobs = []*Job{}
	}
	return jobs, nil
}

// change calls fn in a transaction with job key of run runID, locked;
// ErrNotFound without such a job.
func (m Remote) change(ctx context.Context, runID, key string, fn func(tx JobTx, st *JobState) error) error {
	return m.begin(ctx, func(tx JobTx) error {
		st, err := tx.Job(runID, key)
		if err != nil {
			return err
		}
		if st == nil {
			return ErrNotFound
		}
		return fn(tx, st)
	})
}

// write stores st in tx.
func (m Remote) write(tx JobTx, st *JobState) error {
	n, err := tx.Exec(m.update, jobStateValues(st, m.at)...)
	if err == nil && n != 1 {
		err = fmt.Errorf("job %s of %s: %d rows written", st.Key, st.RunID, n)
	}
	return err
}

// notHeld says why job st (nil: there is none) is not held by runner in
// attempt ref.Attempt, or "" when it is.
func notHeld(st *JobState, ref JobRef, runner string) string {
	switch {
	case st == nil:
		return "the job is gone"
	case st.Attempt != ref.Attempt:
		return fmt.Sprintf("attempt %d of the job is not the current one", ref.Attempt)
	case st.Status == workflows.StatusQueued:
		return "the job was handed back"
	case st.Status != workflows.StatusRunning:
		return "the job has ended: " + st.Status
	case st.Runner != runner:
		return "another runner holds the job"
	}
	return ""
}

// reported reports whether runner ended attempt ref.Attempt of job st, so
// that a report of it repeated changes nothing.
func reported(st *JobState, ref JobRef, runner string) bool {
	return st.Attempt == ref.Attempt && st.Runner == runner && finalJobStatus(st.Status)
}

// stopWhy says why the runner holding job st must stop it, or "" when it
// need not.
func stopWhy(st *JobState) string {
	switch {
	case st.CancelReason != "":
		return st.CancelReason
	case st.CancelRequested && st.RunReason != "":
		return st.RunReason
	case st.CancelRequested:
		return "cancelled"
	case workflows.Finished(st.RunStatus):
		return "the run has ended"
	}
	return ""
}

// release hands job st back at now because of reason: queued again and
// offered anew when its run's on_interrupt says requeue, and nobody asked
// to cancel it or its run, which is still to run; failed as interrupted
// otherwise.
func release(st *JobState, reason string, now time.Time) error {
	st.LeaseUntil = time.Time{}
	requeue := st.OnInterrupt == "requeue" && st.CancelReason == "" && !st.CancelRequested &&
		!workflows.Finished(st.RunStatus)
	if requeue {
		st.Status, st.Reason, st.Runner, st.CancelReason = workflows.StatusQueued, "requeued: "+reason, "", ""
		st.StartedAt, st.FinishedAt, st.OfferedAt = time.Time{}, time.Time{}, now
		st.Steps = json.RawMessage(`[]`)
		return nil
	}
	steps, err := InterruptSteps(st.Steps)
	if err != nil {
		return fmt.Errorf("job %s of %s: %w", st.Key, st.RunID, err)
	}
	st.Status, st.Reason, st.FinishedAt, st.Steps = workflows.StatusFailed, "interrupted: "+reason, now, steps
	return nil
}

// InterruptSteps returns steps, a job's step results, with the steps that
// were running failed as "interrupted"; their other fields, and the other
// steps, are kept as they are. Steps that are not a list are kept whole.
func InterruptSteps(steps json.RawMessage) (json.RawMessage, error) {
	var list []map[string]json.RawMessage
	if len(steps) == 0 || json.Unmarshal(steps, &list) != nil {
		return steps, nil
	}
	changed := false
	for _, step := range list {
		var outcome string
		if json.Unmarshal(step["outcome"], &outcome) == nil && outcome == workflows.OutcomeRunning {
			step["outcome"], _ = json.Marshal(workflows.OutcomeFailure)
			step["error"], _ = json.Marshal("interrupted")
			changed = true
		}
	}
	if !changed {
		return steps, nil
	}
	return json.Marshal(list)
}

// finalJobStatus reports whether a job may end with status.
func finalJobStatus(status string) bool {
	switch status {
	case workflows.StatusSucceeded, workflows.StatusFailed, workflows.StatusCancelled,
		workflows.StatusTimedOut, workflows.StatusSkipped:
		return true
	}
	return false
}

// qualify prefixes each column of columns (a comma-separated list) with
// table.
func qualify(table, columns string) string {
	list := strings.Split(columns, ",")
	for i, c := range list {
		list[i] = table + "." + strings.TrimSpace(c)
	}
	return strings.Join(list, ", ")
}
