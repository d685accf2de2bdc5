-- Webhook deliveries refused rather than stored as events (bad signature,
-- unknown path, duplicate, …), kept a while to answer "why didn't my hook
-- fire?". Bounded by count and age; times are INTEGER unix milliseconds and
-- JSON values BLOBs, as in 0001. ids are ULIDs: they sort by time.

CREATE TABLE refused (
	id          TEXT    PRIMARY KEY,
	received_at INTEGER NOT NULL,
	path        TEXT    NOT NULL,
	method      TEXT    NOT NULL,
	status      INTEGER NOT NULL,
	reason      TEXT    NOT NULL,
	remote      TEXT    NOT NULL,
	provider    TEXT    NOT NULL,
	delivery    TEXT    NOT NULL,
	headers     BLOB,   -- JSON object, credentials redacted
	body        TEXT    NOT NULL -- empty unless the delivery was authenticated
) WITHOUT ROWID;

-- The age bound deletes by time.
CREATE INDEX refused_received ON refused (received_at);
