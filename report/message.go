// Package report tells forges and people how runs went (SPEC §13): commit
// statuses through each forge's status API, and notices to Slack, to any
// webhook and by email. The Reporter takes them from the store's outbox.
package report

// Message is one report ready to send: what happened to a run (or one of
// its jobs), and where to tell it. Every template in the workflow is
// rendered and every secret resolved before a Message is built.
type Message struct {
	// State is what a commit status says: pending, success, failure or
	// error; or what a notice is about: failure, success, recovered or
	// cancelled.
	State string
	// Provider is the provider the event came from: github, gitlab, gitea,
	// forgejo or bitbucket (commit statuses only).
	Provider string
	// Payload is the event's decoded body, from which the forge's API
	// address and the repository are taken.
	Payload any
	Repo    string // owner/name, as the event gives it
	Commit  string // the commit's sha
	Context string // the commit status's context (GitLab: name; Bitbucket: key and name)
	// Token is the forge's token; for Bitbucket, "user:app-password" is sent
	// as basic authentication.
	Token string
	// API overrides the API address for a forge whose events do not carry
	// it (Bitbucket Cloud): a server of one's own, or a test's.
	API string

	Workflow    string
	RunID       string
	RunStatus   string // the run's (or job's) status: queued, running, succeeded, …
	Reason      string // why the run ended as it did
	FailedStep  string // the first step that failed ("job / step" in a jobs run)
	RunURL      string // the run page
	Description string // one line for the commit status, cut to the forge's limit
	Run         any    // the run object as the API shows it (the generic webhook)

	URL     string            // slack, webhook: where to POST
	Headers map[string]string // webhook: headers to add
	To      []string          // email
	Subject string            // email; empty: a default
}
