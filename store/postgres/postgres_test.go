package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/postgres/pgtest"
	"github.com/hookflow/hookflow/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// open opens a Store on dsn and closes it when t ends.
func open(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, Options{})
	return storetest.Closing(t, s, err)
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, pgtest.Schema(t))
	})
}

// TestTextIsStorable: PostgreSQL refuses NUL bytes and invalid UTF-8 in text,
// which a webhook's headers or a step's output may hold; they are stored as
// U+FFFD rather than failing the dispatch or the log forever.
func TestTextIsStorable(t *testing.T) {
	s := open(t, pgtest.Schema(t))
	ctx := t.Context()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	d := &store.Dispatch{
		Event: &store.Event{ID: "evt-1", Trigger: "webhook", Delivery: "id-\x00-\xff", DedupKey: "k-\xff", ReceivedAt: now},
		Runs:  []*store.Run{{ID: "run-1", Workflow: "deploy", Attempt: 1, Group: "g-\x00", QueuedAt: now}},
	}
	if err := s.Dispatch(ctx, []*store.Dispatch{d}, 0, now); err != nil || d.Err != nil {
		t.Fatalf("Dispatch: %v, %v", err, d.Err)
	}
	e, err := s.GetEvent(ctx, "evt-1")
	if err != nil || e.Delivery != "id-\uFFFD-\uFFFD" || e.DedupKey != "k-\uFFFD" {
		t.Fatalf("GetEvent = %+v, %v", e, err)
	}
	if r, err := s.GetRun(ctx, "run-1"); err != nil || r.Group != "g-\uFFFD" {
		t.Fatalf("GetRun = %+v, %v", r, err)
	}
	if err := s.AppendLogs(ctx, "run-1", []store.LogLine{{Stream: "stdout", Time: now, Text: "a\x00b"}}); err != nil {
		t.Fatalf("AppendLogs: %v", err)
	}
	if lines, err := s.Logs(ctx, "run-1", 0, 0); err != nil || len(lines) != 1 || lines[0].Text != "a\uFFFDb" {
		t.Fatalf("Logs = %+v, %v", lines, err)
	}
}

// TestJobTextIsStorable: a job's key comes from its matrix values, which may
// come from a webhook; a NUL byte or invalid UTF-8 in it is stored as U+FFFD,
// the same way wherever the key is given, so the job is still found by it.
func TestJobTextIsStorable(t *testing.T) {
	s := open(t, pgtest.Schema(t))
	ctx := t.Context()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	d := &store.Dispatch{
		Event: &store.Event{ID: "evt-1", Trigger: "webhook", ReceivedAt: now},
		Runs:  []*store.Run{{ID: "run-1", Workflow: "deploy", Attempt: 1, QueuedAt: now}},
	}
	if err := s.Dispatch(ctx, []*store.Dispatch{d}, 0, now); err != nil || d.Err != nil {
		t.Fatalf("Dispatch: %v, %v", err, d.Err)
	}
	const key = "deploy (web-\x00-\xff)"
	job := &store.Job{Key: key, ID: "deploy", Name: "Deploy \xff", Status: "failed", Reason: "exit \x00", Runner: "r-\xff"}
	if err := s.SaveJobs(ctx, "run-1", []*store.Job{job}, nil); err != nil {
		t.Fatalf("SaveJobs: %v", err)
	}
	if err := s.UpdateJobSteps(ctx, "run-1", key, json.RawMessage(`[]`), "process"); err != nil {
		t.Fatalf("UpdateJobSteps by the same key: %v", err)
	}
	jobs, err := s.Jobs(ctx, "run-1")
	if err != nil || len(jobs) != 1 {
		t.Fatalf("Jobs = %+v, %v", jobs, err)
	}
	if j := jobs[0]; j.Key != "deploy (web-\uFFFD-\uFFFD)" || j.Name != "Deploy \uFFFD" || j.Reason != "exit \uFFFD" ||
		j.Runner != "r-\uFFFD" || j.Sandbox != "process" {
		t.Fatalf("stored job = %+v", j)
	}
	if err := s.AppendLogs(ctx, "run-1", []store.LogLine{{Job: key, Stream: "stdout", Time: now, Text: "x"}}); err != nil {
		t.Fatalf("AppendLogs: %v", err)
	}
	if lines, err := s.Logs(ctx, "run-1", 0, 0); err != nil || len(lines) != 1 || lines[0].Job != jobs[0].Key {
		t.Fatalf("Logs = %+v, %v", lines, err)
	}
	if err := s.SaveJobs(ctx, "run-1", nil, []string{key}); err != nil {
		t.Fatalf("SaveJobs removing by the same key: %v", err)
	}
	if jobs, err := s.Jobs(ctx, "run-1"); err != nil || len(jobs) != 0 {
		t.Fatalf("Jobs after removing = %+v, %v", jobs, err)
	}
}

// TestUpgradeToJobs: a database from before jobs keeps its runs and logs.
func TestUpgradeToJobs(t *testing.T) {
	dsn := pgtest.Schema(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	storetest.UpgradeToJobs(t, db, migrationFiles, "$1", timeArg, func() store.Store { return open(t, dsn) })
}

// TestUpgradeToAgents: a database from before agents keeps its jobs, which
// may then be offered and claimed.
func TestUpgradeToAgents(t *testing.T) {
	dsn := pgtest.Schema(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	storetest.UpgradeToAgents(t, db, migrationFiles, "$1", timeArg, func() store.Store { return open(t, dsn) })
}

// TestMigrations: opening again applies nothing, and a database from a newer
// hookflow is refused rather than used.
func TestMigrations(t *testing.T) {
	dsn := pgtest.Schema(t)
	files, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v, %v", files, err)
	}
	for range 2 {
		s, err := Open(t.Context(), dsn, Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		var n int
		if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(files) {
			t.Fatalf("schema_migrations: %d rows, %v; want %d", n, err, len(files))
		}
		s.Close()
	}
	s := open(t, dsn)
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO schema_migrations (version, name) VALUES (999, 'future.sql')`); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(t.Context(), dsn, Options{}); err == nil {
		s.Close()
		t.Fatal("Open accepted a database from a newer schema")
	}
}

// TestClaimJobPassesOverLabelsJSONBRefuses: a job whose labels hold a NUL
// character (an event's, through a templated runs_on), which jsonb refuses,
// waits for a runner nobody has rather than failing every claim.
func TestClaimJobPassesOverLabelsJSONBRefuses(t *testing.T) {
	s := open(t, pgtest.Schema(t))
	ctx := t.Context()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	d := &store.Dispatch{
		Event: &store.Event{ID: "evt-1", Trigger: "webhook", ReceivedAt: now},
		Runs:  []*store.Run{{ID: "run-1", Workflow: "heal", Attempt: 1, QueuedAt: now}},
	}
	if err := s.Dispatch(ctx, []*store.Dispatch{d}, 0, now); err != nil || d.Err != nil {
		t.Fatalf("Dispatch: %v, %v", err, d.Err)
	}
	if r, err := s.Claim(ctx, "n1", time.Minute, now); err != nil || r == nil {
		t.Fatalf("Claim = %v, %v", r, err)
	}
	jobs := []*store.Job{
		{Key: "odd", ID: "odd", Status: "queued", RunsOn: []string{"web-\x00"}},
		{Key: "remedy", ID: "remedy", JobIndex: 1, Status: "queued", RunsOn: []string{"web-07"}},
	}
	if err := s.SaveJobs(ctx, "run-1", jobs, nil); err != nil {
		t.Fatalf("SaveJobs: %v", err)
	}
	for i, j := range jobs {
		if err := s.OfferJob(ctx, "run-1", j.Key, json.RawMessage(`{}`), "", "waiting", now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatalf("OfferJob(%s): %v", j.Key, err)
		}
	}
	if j, err := s.ClaimJob(ctx, "web-07", []string{"web-07", "web-\x00"}, time.Minute, now); err != nil || j == nil || j.Key != "remedy" {
		t.Fatalf("ClaimJob = %+v, %v; want remedy", j, err)
	}
	if j, err := s.ClaimJob(ctx, "odd", []string{"web-\x00"}, time.Minute, now); err != nil || j != nil {
		t.Fatalf("ClaimJob with the odd label = %+v, %v; want none", j, err)
	}
}
