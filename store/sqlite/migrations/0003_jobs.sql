-- Jobs (SPEC §11): one row per job of a `jobs:` run, or per matrix cell.
-- A `steps:` run has none. Times are INTEGER unix milliseconds and JSON
-- values BLOBs, as in 0001. A job goes with its run: Prune deletes runs, and
-- the foreign key deletes their jobs.

CREATE TABLE jobs (
	run_id            TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	key               TEXT    NOT NULL, -- unique in the run: the job id, with a cell's values
	id                TEXT    NOT NULL, -- the job's id in the workflow
	job_index         INTEGER NOT NULL,
	cell              INTEGER NOT NULL DEFAULT 0,
	name              TEXT    NOT NULL DEFAULT '',
	needs             BLOB,   -- JSON list of job ids
	matrix            BLOB,   -- JSON object: the cell's values
	status            TEXT    NOT NULL,
	reason            TEXT    NOT NULL DEFAULT '',
	runs_on           BLOB,   -- JSON list of labels
	runner            TEXT    NOT NULL DEFAULT '',
	continue_on_error INTEGER NOT NULL DEFAULT 0,
	started_at        INTEGER,
	finished_at       INTEGER,
	outputs           BLOB,
	steps             BLOB,
	sandbox           TEXT    NOT NULL DEFAULT '',
	grp               TEXT        NOT NULL DEFAULT '', -- the concurrency group it holds while running
	PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

CREATE INDEX jobs_group ON jobs (grp, status) WHERE grp <> '';

-- The key of the job that wrote a line; '' in a `steps:` run.
ALTER TABLE logs ADD COLUMN job TEXT NOT NULL DEFAULT '';
