-- Reporting back (SPEC §13): commit statuses and notices, through an outbox.
--
-- A run whose workflow reports keeps what to report in runs.report (a
-- workflows.ReportPlan as JSON); other runs leave it NULL and cost nothing
-- here. Triggers record every change of such a run's status, and of its
-- jobs', in report_changes, in the transaction that makes the change: no
-- path that changes a status (Dispatch, Claim, Finish, Cancel, Recover,
-- SaveJobs, the remote job rules) can forget it, and a crash cannot lose it.
-- The reporter plans the changes into reports, oldest first, and deletes
-- them; it keeps each notify entry's streak in report_streaks.

ALTER TABLE runs ADD COLUMN report BLOB;

CREATE TABLE report_changes (
	seq    INTEGER PRIMARY KEY AUTOINCREMENT,
	run_id TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	job    TEXT    NOT NULL DEFAULT '', -- the job's key; '' for the run
	status TEXT    NOT NULL,            -- the run's or job's new status
	at     INTEGER NOT NULL
);

CREATE TRIGGER report_run_queued AFTER INSERT ON runs
	WHEN NEW.report IS NOT NULL AND NEW.status = 'queued'
BEGIN
	INSERT INTO report_changes (run_id, status, at) VALUES (NEW.id, NEW.status, NEW.queued_at);
END;

CREATE TRIGGER report_run_changed AFTER UPDATE OF status ON runs
	WHEN NEW.report IS NOT NULL AND NEW.status <> OLD.status
BEGIN
	INSERT INTO report_changes (run_id, status, at)
	VALUES (NEW.id, NEW.status, coalesce(NEW.finished_at, NEW.started_at, NEW.queued_at));
END;

CREATE TRIGGER report_job_added AFTER INSERT ON jobs
	WHEN (SELECT report FROM runs WHERE id = NEW.run_id) IS NOT NULL
BEGIN
	INSERT INTO report_changes (run_id, job, status, at)
	VALUES (NEW.run_id, NEW.key, NEW.status, coalesce(NEW.finished_at, NEW.started_at,
		CAST(unixepoch('subsec') * 1000 AS INTEGER)));
END;

CREATE TRIGGER report_job_changed AFTER UPDATE OF status ON jobs
	WHEN NEW.status <> OLD.status AND (SELECT report FROM runs WHERE id = NEW.run_id) IS NOT NULL
BEGIN
	INSERT INTO report_changes (run_id, job, status, at)
	VALUES (NEW.run_id, NEW.key, NEW.status, coalesce(NEW.finished_at, NEW.started_at,
		CAST(unixepoch('subsec') * 1000 AS INTEGER)));
END;

-- One row per message to send. kind: commit_status, slack, webhook or
-- email; target: the notify entry's index; state: what it says (pending,
-- success, failure, error for a commit status; failure, success, recovered,
-- cancelled for a notice); run_status: the run's or job's status it
-- reports. status: queued until sent, failed (given up) or superseded (a
-- newer commit status of the same run and job came first).
CREATE TABLE reports (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	run_id      TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	job         TEXT    NOT NULL DEFAULT '',
	kind        TEXT    NOT NULL,
	target      INTEGER NOT NULL DEFAULT 0,
	state       TEXT    NOT NULL,
	run_status  TEXT    NOT NULL,
	status      TEXT    NOT NULL DEFAULT 'queued',
	attempts    INTEGER NOT NULL DEFAULT 0,
	error       TEXT    NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL,
	next_at     INTEGER NOT NULL,
	lease_until INTEGER,
	node        TEXT    NOT NULL DEFAULT '',
	sent_at     INTEGER
);
CREATE INDEX reports_queued ON reports (next_at) WHERE status = 'queued';
CREATE INDEX reports_by_run ON reports (run_id, job, kind);

-- A notify entry's memory of its workflow's runs: key is workflow, group
-- and the entry's index.
CREATE TABLE report_streaks (
	key        TEXT    PRIMARY KEY,
	failing    INTEGER NOT NULL,
	noticed_at INTEGER
) WITHOUT ROWID;
