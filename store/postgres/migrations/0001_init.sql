-- hookflow's initial schema, the PostgreSQL twin of the SQLite one.
--
-- Times are TIMESTAMPTZ, written in whole milliseconds (the contract's
-- precision, and SQLite's), NULL when unset. Durations are BIGINT
-- milliseconds. JSON values are BYTEA, kept byte for byte as SQLite keeps its
-- BLOBs: jsonb would reorder keys and refuses \u0000, which a webhook payload
-- may hold.

CREATE TABLE events (
	-- IDENTITY: a seq is never reused, so arrival order and list cursors stay
	-- monotonic after pruning.
	seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id          TEXT        NOT NULL UNIQUE,
	trigger     TEXT        NOT NULL,
	provider    TEXT        NOT NULL DEFAULT '',
	path        TEXT        NOT NULL DEFAULT '',
	type        TEXT        NOT NULL DEFAULT '',
	delivery    TEXT        NOT NULL DEFAULT '',
	dedup_key   TEXT        NOT NULL DEFAULT '',
	received_at TIMESTAMPTZ NOT NULL,
	data        BYTEA,
	verdicts    BYTEA
);
CREATE INDEX events_by_path ON events (path, seq);
CREATE INDEX events_by_received ON events (received_at);

CREATE TABLE runs (
	seq                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id                 TEXT        NOT NULL UNIQUE,
	workflow           TEXT        NOT NULL,
	revision           TEXT        NOT NULL DEFAULT '',
	event_id           TEXT        NOT NULL REFERENCES events (id),
	item               BYTEA,
	attempt            INTEGER     NOT NULL DEFAULT 0,
	rerun_of           TEXT        NOT NULL DEFAULT '',
	grp                TEXT        NOT NULL DEFAULT '',
	cancel_in_progress BOOLEAN     NOT NULL DEFAULT false,
	pending_latest     BOOLEAN     NOT NULL DEFAULT false,
	cooldown_key       TEXT        NOT NULL DEFAULT '',
	cooldown_ms        BIGINT      NOT NULL DEFAULT 0,
	on_interrupt       TEXT        NOT NULL DEFAULT '',
	status             TEXT        NOT NULL,
	reason             TEXT        NOT NULL DEFAULT '',
	queued_at          TIMESTAMPTZ NOT NULL,
	started_at         TIMESTAMPTZ,
	finished_at        TIMESTAMPTZ,
	node               TEXT        NOT NULL DEFAULT '',
	lease_until        TIMESTAMPTZ,
	cancel_requested   BOOLEAN     NOT NULL DEFAULT false,
	sandbox            TEXT        NOT NULL DEFAULT '',
	steps              BYTEA,
	log_seq            BIGINT      NOT NULL DEFAULT 0 -- Seq of the run's last log line
);
-- Claim, QueueDepth, Recover and ListRuns?status= walk runs by status in arrival order.
CREATE INDEX runs_by_status ON runs (status, seq);
-- Group rules: is a run of the group running, or an older one queued?
CREATE INDEX runs_by_group ON runs (grp, status, seq) WHERE grp <> '';
CREATE INDEX runs_by_workflow ON runs (workflow, seq);
CREATE INDEX runs_by_event ON runs (event_id, seq);
CREATE INDEX runs_by_finished ON runs (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE logs (
	run_id TEXT        NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	seq    BIGINT      NOT NULL,
	step   INTEGER     NOT NULL,
	stream TEXT        NOT NULL,
	time   TIMESTAMPTZ NOT NULL,
	text   TEXT        NOT NULL,
	PRIMARY KEY (run_id, seq)
);

-- The primary key is what makes dedup cluster-wide; Dispatch also locks the
-- key (an advisory lock) so that a concurrent duplicate waits and finds the
-- first event instead of failing on the key.
CREATE TABLE dedup_keys (
	key        TEXT        PRIMARY KEY,
	event_id   TEXT        NOT NULL REFERENCES events (id) ON DELETE CASCADE,
	expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX dedup_keys_by_event ON dedup_keys (event_id);
CREATE INDEX dedup_keys_by_expiry ON dedup_keys (expires_at);

-- last_at is when the last non-skipped run with the key was queued;
-- expires_at is the longest period any such run asked for, for Prune.
CREATE TABLE cooldowns (
	key        TEXT        PRIMARY KEY,
	run_id     TEXT        NOT NULL,
	last_at    TIMESTAMPTZ NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX cooldowns_by_expiry ON cooldowns (expires_at);
