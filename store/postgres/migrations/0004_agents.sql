-- Runners on other hosts (SPEC §12), the PostgreSQL twin of the SQLite
-- migration: the agents that may claim jobs, and what a job offered to them,
-- claimed and leased needs. Times are TIMESTAMPTZ and JSON values BYTEA, as
-- in 0001.

CREATE TABLE agents (
	name       TEXT        PRIMARY KEY,
	labels     BYTEA,      -- JSON list
	token_id   TEXT        NOT NULL UNIQUE, -- finds the agent from its token
	token_hash BYTEA       NOT NULL,        -- SHA-256 of the token's secret part
	created_at TIMESTAMPTZ NOT NULL,
	last_seen  TIMESTAMPTZ,
	version    TEXT        NOT NULL DEFAULT ''
);

-- When the job was offered to runners (its queue timeout counts from it),
-- and what a runner is given to execute it.
ALTER TABLE jobs ADD COLUMN offered_at TIMESTAMPTZ;
ALTER TABLE jobs ADD COLUMN offer BYTEA;
-- Claims so far; the holder of the latest loses it at lease_until unless it
-- renews.
ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN lease_until TIMESTAMPTZ;
-- Why the node executing the run asked the runner to stop the job.
ALTER TABLE jobs ADD COLUMN cancel_reason TEXT NOT NULL DEFAULT '';
-- The current attempt's log lines stored so far, which makes a batch sent
-- again stored once.
ALTER TABLE jobs ADD COLUMN log_lines INTEGER NOT NULL DEFAULT 0;

-- Claims walk the queued offers oldest first; recovery the running ones
-- (every claimed job was offered) for expired leases, and the queued ones
-- for their queue timeout.
CREATE INDEX jobs_offered ON jobs (status, offered_at) WHERE offered_at IS NOT NULL;
