-- hookflow's initial schema.
--
-- Times are INTEGER unix milliseconds (UTC), NULL when unset: they compare and
-- sort as numbers in SQL (leases, dedup windows, cooldowns, pruning), which
-- RFC 3339 text with a variable-length fraction does not. Durations are
-- INTEGER milliseconds too. JSON values are kept as BLOBs, byte for byte.

CREATE TABLE events (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT, -- arrival order, for listing
	id          TEXT    NOT NULL UNIQUE,
	trigger     TEXT    NOT NULL,
	provider    TEXT    NOT NULL DEFAULT '',
	path        TEXT    NOT NULL DEFAULT '',
	type        TEXT    NOT NULL DEFAULT '',
	delivery    TEXT    NOT NULL DEFAULT '',
	dedup_key   TEXT    NOT NULL DEFAULT '',
	received_at INTEGER NOT NULL,
	data        BLOB,
	verdicts    BLOB
);
CREATE INDEX events_by_path ON events (path, seq);
CREATE INDEX events_by_received ON events (received_at);

CREATE TABLE runs (
	-- AUTOINCREMENT: a seq is never reused, even after the newest run is pruned,
	-- so arrival order and list cursors stay monotonic.
	seq                INTEGER PRIMARY KEY AUTOINCREMENT,
	id                 TEXT    NOT NULL UNIQUE,
	workflow           TEXT    NOT NULL,
	revision           TEXT    NOT NULL DEFAULT '',
	event_id           TEXT    NOT NULL REFERENCES events (id),
	item               BLOB,
	attempt            INTEGER NOT NULL DEFAULT 0,
	rerun_of           TEXT    NOT NULL DEFAULT '',
	grp                TEXT    NOT NULL DEFAULT '',
	cancel_in_progress INTEGER NOT NULL DEFAULT 0,
	pending_latest     INTEGER NOT NULL DEFAULT 0,
	cooldown_key       TEXT    NOT NULL DEFAULT '',
	cooldown_ms        INTEGER NOT NULL DEFAULT 0,
	on_interrupt       TEXT    NOT NULL DEFAULT '',
	status             TEXT    NOT NULL,
	reason             TEXT    NOT NULL DEFAULT '',
	queued_at          INTEGER NOT NULL,
	started_at         INTEGER,
	finished_at        INTEGER,
	node               TEXT    NOT NULL DEFAULT '',
	lease_until        INTEGER,
	cancel_requested   INTEGER NOT NULL DEFAULT 0,
	sandbox            TEXT    NOT NULL DEFAULT '',
	steps              BLOB,
	log_seq            INTEGER NOT NULL DEFAULT 0 -- Seq of the run's last log line
);
-- Claim, QueueDepth, Recover and ListRuns?status= walk runs by status in arrival order.
CREATE INDEX runs_by_status ON runs (status, seq);
-- Group rules: is a run of the group running, or an older one queued?
CREATE INDEX runs_by_group ON runs (grp, status, seq) WHERE grp <> '';
CREATE INDEX runs_by_workflow ON runs (workflow, seq);
CREATE INDEX runs_by_event ON runs (event_id, seq);
CREATE INDEX runs_by_finished ON runs (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE logs (
	run_id TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	seq    INTEGER NOT NULL,
	step   INTEGER NOT NULL,
	stream TEXT    NOT NULL,
	time   INTEGER NOT NULL,
	text   TEXT    NOT NULL,
	PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

CREATE TABLE dedup_keys (
	key        TEXT    PRIMARY KEY,
	event_id   TEXT    NOT NULL REFERENCES events (id) ON DELETE CASCADE,
	expires_at INTEGER NOT NULL
);
CREATE INDEX dedup_keys_by_event ON dedup_keys (event_id);
CREATE INDEX dedup_keys_by_expiry ON dedup_keys (expires_at);

-- last_at is when the last non-skipped run with the key was queued;
-- expires_at is the longest period any such run asked for, for Prune.
CREATE TABLE cooldowns (
	key        TEXT    PRIMARY KEY,
	run_id     TEXT    NOT NULL,
	last_at    INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX cooldowns_by_expiry ON cooldowns (expires_at);
