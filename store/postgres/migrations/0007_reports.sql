-- Reporting back (SPEC §13): commit statuses and notices, through an
-- outbox. The twin of the SQLite migration, which says why it is built on
-- triggers: every change of a reporting run's or job's status is recorded
-- in report_changes in the transaction that makes it.

ALTER TABLE runs ADD COLUMN report BYTEA;

CREATE TABLE report_changes (
	seq    BIGSERIAL   PRIMARY KEY,
	run_id TEXT        NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	job    TEXT        NOT NULL DEFAULT '',
	status TEXT        NOT NULL,
	at     TIMESTAMPTZ NOT NULL
);

CREATE FUNCTION report_run_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO report_changes (run_id, status, at)
	VALUES (NEW.id, NEW.status, coalesce(NEW.finished_at, NEW.started_at, NEW.queued_at));
	RETURN NULL;
END
$$;

CREATE TRIGGER report_run_queued AFTER INSERT ON runs
	FOR EACH ROW WHEN (NEW.report IS NOT NULL AND NEW.status = 'queued')
	EXECUTE FUNCTION report_run_change();

CREATE TRIGGER report_run_changed AFTER UPDATE OF status ON runs
	FOR EACH ROW WHEN (NEW.report IS NOT NULL AND NEW.status IS DISTINCT FROM OLD.status)
	EXECUTE FUNCTION report_run_change();

CREATE FUNCTION report_job_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status THEN
		RETURN NULL;
	END IF;
	IF EXISTS (SELECT 1 FROM runs WHERE id = NEW.run_id AND report IS NOT NULL) THEN
		INSERT INTO report_changes (run_id, job, status, at)
		VALUES (NEW.run_id, NEW.key, NEW.status, coalesce(NEW.finished_at, NEW.started_at, now()));
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER report_job_changed AFTER INSERT OR UPDATE OF status ON jobs
	FOR EACH ROW EXECUTE FUNCTION report_job_change();

CREATE TABLE reports (
	seq         BIGSERIAL   PRIMARY KEY,
	run_id      TEXT        NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	job         TEXT        NOT NULL DEFAULT '',
	kind        TEXT        NOT NULL,
	target      INTEGER     NOT NULL DEFAULT 0,
	state       TEXT        NOT NULL,
	run_status  TEXT        NOT NULL,
	status      TEXT        NOT NULL DEFAULT 'queued',
	attempts    INTEGER     NOT NULL DEFAULT 0,
	error       TEXT        NOT NULL DEFAULT '',
	created_at  TIMESTAMPTZ NOT NULL,
	next_at     TIMESTAMPTZ NOT NULL,
	lease_until TIMESTAMPTZ,
	node        TEXT        NOT NULL DEFAULT '',
	sent_at     TIMESTAMPTZ
);
CREATE INDEX reports_queued ON reports (next_at) WHERE status = 'queued';
CREATE INDEX reports_by_run ON reports (run_id, job, kind);

CREATE TABLE report_streaks (
	key        TEXT        PRIMARY KEY,
	failing    BOOLEAN     NOT NULL,
	noticed_at TIMESTAMPTZ
);
