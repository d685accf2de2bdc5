-- Webhook deliveries refused rather than stored as events, the PostgreSQL
-- twin of the SQLite migration. Times are TIMESTAMPTZ and JSON values BYTEA,
-- as in 0001. ids are ULIDs: they sort by time.

CREATE TABLE refused (
	id          TEXT        PRIMARY KEY,
	received_at TIMESTAMPTZ NOT NULL,
	path        TEXT        NOT NULL,
	method      TEXT        NOT NULL,
	status      INTEGER     NOT NULL,
	reason      TEXT        NOT NULL,
	remote      TEXT        NOT NULL,
	provider    TEXT        NOT NULL,
	delivery    TEXT        NOT NULL,
	headers     BYTEA,      -- JSON object, credentials redacted
	body        TEXT        NOT NULL -- empty unless the delivery was authenticated
);

-- The age bound deletes by time.
CREATE INDEX refused_received ON refused (received_at);
