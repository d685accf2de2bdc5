package storetest

import (
	"database/sql"
	"io/fs"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hookflow/hookflow/store"
)

// UpgradeToJobs checks, for a backend's tests, that a database written by a
// hookflow from before jobs (schema version 2) is brought up to date with
// its runs and logs, whose lines belong to no job, and takes jobs from then
// on. It migrates db, a new database, to version 2 with the backend's
// migrations (files, holding them under migrations/), and writes a run with a log line through db: ph is the
// dialect's placeholder for the one argument of each statement, and at
// turns a time into a time column's value. Then open opens the Store on the
// same database, to be closed when t ends.
func UpgradeToJobs(t *testing.T, db *sql.DB, files fs.FS, ph string, at func(time.Time) any, open func() store.Store) {
	t.Helper()
	ctx := t.Context()
	migrateTo(t, db, files, 2)
	for _, q := range []string{
		`INSERT INTO events (id, trigger, received_at) VALUES ('evt-1', 'cron', ` + ph + `)`,
		`INSERT INTO runs (id, workflow, event_id, status, queued_at, log_seq)
			VALUES ('run-1', 'nightly', 'evt-1', 'queued', ` + ph + `, 1)`,
		`INSERT INTO logs (run_id, seq, step, stream, time, text)
			VALUES ('run-1', 1, 0, 'stdout', ` + ph + `, 'before jobs')`,
	} {
		if _, err := db.ExecContext(ctx, q, at(t0)); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	s := open()
	if err := s.AppendLogs(ctx, "run-1", []store.LogLine{{Job: "build", Stream: "stdout", Time: t0, Text: "after"}}); err != nil {
		t.Fatalf("AppendLogs: %v", err)
	}
	lines, err := s.Logs(ctx, "run-1", 0, 0)
	if err != nil || len(lines) != 2 || lines[0].Job != "" || lines[0].Text != "before jobs" || lines[1].Job != "build" {
		t.Fatalf("Logs after the upgrade = %+v, %v", lines, err)
	}
	if err := s.SaveJobs(ctx, "run-1", []*store.Job{newJob("build", 0, 0, "queued")}, nil); err != nil {
		t.Fatalf("SaveJobs: %v", err)
	}
	if jobs, err := s.Jobs(ctx, "run-1"); err != nil || len(jobs) != 1 || jobs[0].Key != "build" {
		t.Fatalf("Jobs = %+v, %v", jobs, err)
	}
}

// UpgradeToAgents checks, for a backend's tests, that a database written by
// a hookflow from before runners on other hosts (schema version 3) is
// brought up to date with its jobs, which no runner claimed yet and which
// may then be offered and claimed. Its arguments are UpgradeToJobs's.
func UpgradeToAgents(t *testing.T, db *sql.DB, files fs.FS, ph string, at func(time.Time) any, open func() store.Store) {
	t.Helper()
	ctx := t.Context()
	migrateTo(t, db, files, 3)
	for _, q := range []struct {
		query string
		arg   any
	}{
		{`INSERT INTO events (id, trigger, received_at) VALUES ('evt-1', 'cron', ` + ph + `)`, at(t0)},
		{`INSERT INTO runs (id, workflow, event_id, status, queued_at) VALUES ('run-1', 'ship', 'evt-1', 'running', ` + ph + `)`, at(t0)},
		{`INSERT INTO jobs (run_id, key, id, job_index, status, runs_on) VALUES ('run-1', 'build', 'build', 0, 'queued', ` + ph + `)`,
			[]byte(`["builder"]`)},
	} {
		if _, err := db.ExecContext(ctx, q.query, q.arg); err != nil {
			t.Fatalf("%s: %v", q.query, err)
		}
	}

	s := open()
	build := &store.Job{Key: "build", ID: "build", Status: "queued", RunsOn: []string{"builder"}}
	h := &harness{t: t, s: s, ctx: ctx}
	h.wantJobs("run-1", build)
	if err := s.OfferJob(ctx, "run-1", "build", offerOf("build"), "", waiting, t0); err != nil {
		t.Fatalf("OfferJob: %v", err)
	}
	if j := h.claimJob("builder-1", []string{"builder"}, t0); j.Attempt != 1 || j.Key != "build" {
		t.Fatalf("ClaimJob = %+v, want attempt 1 of build", j)
	}
}

// migrateTo migrates db, a new database, to version with the backend's
// migrations (files, holding them under migrations/).
func migrateTo(t *testing.T, db *sql.DB, files fs.FS, version int) {
	t.Helper()
	old := fstest.MapFS{}
	migrations, err := fs.Sub(files, "migrations")
	if err != nil {
		t.Fatalf("migrations: %v", err)
	}
	names, err := fs.Glob(migrations, "*.sql")
	if err != nil {
		t.Fatalf("migrations: %v", err)
	}
	for _, name := range names {
		prefix, _, _ := strings.Cut(name, "_")
		if v, err := strconv.Atoi(prefix); err != nil || v > version {
			continue
		}
		body, err := fs.ReadFile(migrations, name)
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		old[name] = &fstest.MapFile{Data: body}
	}
	if applied, err := store.Migrate(t.Context(), db, old); err != nil || len(applied) != version {
		t.Fatalf("Migrate to version %d = %v, %v", version, applied, err)
	}
}
