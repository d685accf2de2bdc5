-- Jobs (SPEC §11), the PostgreSQL twin of the SQLite migration: one row per
-- job of a `jobs:` run, or per matrix cell. Times are TIMESTAMPTZ and JSON
-- values BYTEA, as in 0001. The foreign key deletes a run's jobs with it.

CREATE TABLE jobs (
	run_id            TEXT        NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	key               TEXT        NOT NULL, -- unique in the run: the job id, with a cell's values
	id                TEXT        NOT NULL, -- the job's id in the workflow
	job_index         INTEGER     NOT NULL,
	cell              INTEGER     NOT NULL DEFAULT 0,
	name              TEXT        NOT NULL DEFAULT '',
	needs             BYTEA,      -- JSON list of job ids
	matrix            BYTEA,      -- JSON object: the cell's values
	status            TEXT        NOT NULL,
	reason            TEXT        NOT NULL DEFAULT '',
	runs_on           BYTEA,      -- JSON list of labels
	runner            TEXT        NOT NULL DEFAULT '',
	continue_on_error BOOLEAN     NOT NULL DEFAULT false,
	started_at        TIMESTAMPTZ,
	finished_at       TIMESTAMPTZ,
	outputs           BYTEA,
	steps             BYTEA,
	sandbox           TEXT        NOT NULL DEFAULT '',
	grp               TEXT        NOT NULL DEFAULT '', -- the concurrency group it holds while running
	PRIMARY KEY (run_id, key)
);

CREATE INDEX jobs_group ON jobs (grp, status) WHERE grp <> '';

-- The key of the job that wrote a line; '' in a `steps:` run.
ALTER TABLE logs ADD COLUMN job TEXT NOT NULL DEFAULT '';
