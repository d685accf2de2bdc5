-- Runners on other hosts (SPEC §12): the agents that may claim jobs, and
-- what a job offered to them, claimed and leased needs. Times are INTEGER
-- unix milliseconds and JSON values BLOBs, as in 0001.

CREATE TABLE agents (
	name       TEXT    PRIMARY KEY,
	labels     BLOB,   -- JSON list
	token_id   TEXT    NOT NULL UNIQUE, -- finds the agent from its token
	token_hash BLOB    NOT NULL,        -- SHA-256 of the token's secret part
	created_at INTEGER NOT NULL,
	last_seen  INTEGER,
	version    TEXT    NOT NULL DEFAULT ''
) WITHOUT ROWID;

-- When the job was offered to runners (its queue timeout counts from it),
-- and what a runner is given to execute it.
ALTER TABLE jobs ADD COLUMN offered_at INTEGER;
ALTER TABLE jobs ADD COLUMN offer BLOB;
-- Claims so far; the holder of the latest loses it at lease_until unless it
-- renews.
ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN lease_until INTEGER;
-- Why the node executing the run asked the runner to stop the job.
ALTER TABLE jobs ADD COLUMN cancel_reason TEXT NOT NULL DEFAULT '';
-- The current attempt's log lines stored so far, which makes a batch sent
-- again stored once.
ALTER TABLE jobs ADD COLUMN log_lines INTEGER NOT NULL DEFAULT 0;

-- Claims walk the queued offers oldest first; recovery the running ones
-- (every claimed job was offered) for expired leases, and the queued ones
-- for their queue timeout.
CREATE INDEX jobs_offered ON jobs (status, offered_at) WHERE offered_at IS NOT NULL;
