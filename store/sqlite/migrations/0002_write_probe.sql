-- write_probe holds one row that ProbeWrite rewrites: a tiny write of its own
-- that tells readiness whether the store can write (a full disk cannot).
CREATE TABLE write_probe (
	id        INTEGER PRIMARY KEY CHECK (id = 1),
	probed_at INTEGER NOT NULL
);
