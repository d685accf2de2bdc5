package store

import (
	"context"
	"encoding/json"
	"time"
)

// Agent is a runner on another host (SPEC §12), as registered with
// `hookflow agents add`. Its token is kept only as a hash.
type Agent struct {
	Name   string   `json:"name"`
	Labels []string `json:"labels"`
	// TokenID finds the agent from its token, whose secret part hashes to
	// TokenHash (SHA-256); neither is ever shown.
	TokenID   string    `json:"-"`
	TokenHash []byte    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	// LastSeen is when the agent last claimed, renewed or reported, and
	// Version the version it said it runs then.
	LastSeen time.Time `json:"last_seen,omitzero"`
	Version  string    `json:"version,omitempty"`
}

// JobRef names one claim of a job: a job of a run, and its attempt, which
// each claim increments. Reports from a runner carry it, so that a report
// repeated after a lost answer, or one from a claim that was since taken
// back, is told apart.
type JobRef struct {
	Run     string `json:"run"`
	Job     string `json:"job"`
	Attempt int    `json:"attempt"`
}

// JobStop tells a runner to stop a job it holds: Reason says why (a cancel's
// reason); Gone is true when the job is no longer its own (its lease
// expired, the run ended), and nothing it reports will be kept.
type JobStop struct {
	JobRef
	Reason string `json:"reason"`
	Gone   bool   `json:"gone,omitempty"`
}

// Agents keeps the agents that may run jobs (SPEC §12). Every method is safe
// for concurrent use.
type Agents interface {
	// AddAgent registers a; a name already taken is ErrConflict.
	AddAgent(ctx context.Context, a *Agent) error
	// GetAgent returns the agent name; ErrNotFound when there is none.
	GetAgent(ctx context.Context, name string) (*Agent, error)
	// AgentByToken returns the agent whose token has id tokenID;
	// ErrNotFound when there is none (never registered, or removed).
	AgentByToken(ctx context.Context, tokenID string) (*Agent, error)
	// ListAgents returns every agent, by name.
	ListAgents(ctx context.Context) ([]*Agent, error)
	// RemoveAgent deletes agent name; ErrNotFound when there is none. Its
	// token is refused from then on; the jobs it holds are recovered when
	// their leases expire.
	RemoveAgent(ctx context.Context, name string) error
	// SeenAgent records that agent name was heard from at now, running
	// version.
	SeenAgent(ctx context.Context, name, version string, now time.Time) error
}

// RemoteJobs is how jobs reach runners other than the node that executes
// their run (SPEC §12): that node offers a queued job, a runner with the
// job's labels claims it, renews its lease while it runs, reports its log
// lines and steps as they come and its result at the end. Every method is
// safe for concurrent use, and safe to call from several nodes at once.
//
// A claimed job is `running` with its runner's name, an attempt one higher
// than before and a lease. Only the runner that holds a job's current
// attempt may report on it: reports for another attempt, or by another
// runner, are ErrConflict, except that a report repeated after it was
// recorded is accepted again and changes nothing.
type RemoteJobs interface {
	// OfferJob makes queued job key of run runID claimable by a runner whose
	// labels include all of the job's RunsOn, with offer, what that runner
	// is given to execute it (opaque to the store), holding concurrency
	// group group once claimed, and sets its reason. A job offered before
	// keeps the time it was first offered, from which its queue timeout
	// counts. It is ErrNotFound without such a job, and ErrConflict when the
	// job is not queued.
	OfferJob(ctx context.Context, runID, key string, offer json.RawMessage, group, reason string, now time.Time) error
	// ClaimJob gives runner the offered job it may run that was offered
	// first: queued, with RunsOn a subset of labels, of a running run whose
	// cancel was not requested, and whose group no running job holds (as
	// StartJob). The job becomes running on runner from now, with its
	// attempt incremented and a lease until now+lease, and is returned with
	// its Offer; nil when there is none.
	ClaimJob(ctx context.Context, runner string, labels []string, lease time.Duration, now time.Time) (*Job, error)
	// RenewJobs extends to until the leases of the jobs in held that runner
	// holds (a lease is never shortened), and returns those it must stop,
	// ordered by run and job: a job whose cancel was requested (CancelJob, or
	// its run's), with the reason, or whose run has ended; a job it no longer
	// holds, Gone, with why.
	RenewJobs(ctx context.Context, runner string, held []JobRef, until time.Time) ([]JobStop, error)
	// AppendJobLogs stores lines of job ref, held by runner, that follow the
	// first from lines the runner has sent for this attempt: lines already
	// stored (from below the count kept) are skipped, so a batch sent again
	// is stored once. Each line's Job is set to the job's key. It returns the
	// count of the attempt's lines now stored; a batch that would leave a gap
	// stores nothing and returns the count, for the runner to resend from.
	// With steps not nil it also records the job's step results so far (and
	// sandbox, unless empty), as UpdateJobSteps. A batch repeated after the
	// attempt ended, all of whose lines are stored, returns the count. It is
	// ErrNotFound without such a job.
	AppendJobLogs(ctx context.Context, ref JobRef, runner string, from int, lines []LogLine, steps json.RawMessage, sandbox string) (int, error)
	// FinishJob records the end of job ref, held by runner: Status (a final
	// one, EInvalid otherwise), Reason, Outputs, Steps (unless nil), Sandbox
	// (unless empty) and FinishedAt (now when zero) of j; the lease ends.
	// Recording the same attempt's end again is accepted and changes nothing.
	// It is ErrNotFound without such a job.
	FinishJob(ctx context.Context, ref JobRef, runner string, j *Job) error
	// ReleaseJob hands back job ref, held by runner, that it could not
	// finish, because reason (the agent stops, or restarted): as when its
	// lease expires, it becomes queued again ("requeued: " + reason), offered
	// anew at now with no steps, when its run's OnInterrupt is requeue —
	// unless the cancel of the job or of its run was requested, or the run
	// has ended — and `failed` ("interrupted: " + reason) otherwise, its
	// steps that were running failed as interrupted. Releasing it again
	// changes nothing. It is ErrNotFound without such a job.
	ReleaseJob(ctx context.Context, ref JobRef, runner, reason string, now time.Time) error
	// CancelJob stops job key of run runID on behalf of the node executing
	// the run: an offered job that nobody claimed ends with status (and
	// reason) at once; a claimed one has its cancel requested with reason,
	// for its runner to hear on its next renewal, and ends when it reports;
	// the first reason stays. A job neither offered and queued nor running is
	// left as it is. status must be final (EInvalid otherwise). It returns
	// the job as it is then; ErrNotFound without such a job.
	CancelJob(ctx context.Context, runID, key, status, reason string, now time.Time) (*Job, error)
	// RecoverJobs ends what runners left: a claimed job whose lease expired
	// before now is released as by ReleaseJob ("the runner R stopped
	// renewing its lease"), and an offered job nobody claimed for
	// queueTimeout (0: no limit) since it was offered becomes `failed` with
	// its reason, which says what it waited for. It returns the jobs it
	// changed.
	RecoverJobs(ctx context.Context, now time.Time, queueTimeout time.Duration) ([]*Job, error)
	// ExtendJobLeases makes every claimed job's lease last until at least
	// until. A node calls it as it starts, so that runners get one lease's
	// time to reach a server that was down before their jobs are taken back.
	ExtendJobLeases(ctx context.Context, until time.Time) error
	// RemoteQueue returns the jobs offered and not yet claimed, and those
	// claimed and running, of every run, oldest offer first: what the agents
	// page and the waiting-jobs metric show.
	RemoteQueue(ctx context.Context) ([]*Job, error)
}
