package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// open opens a Store on a new file in t's temporary directory and closes it
// when t ends.
func open(t *testing.T, opt Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hookflow.db")
	return openAt(t, path, opt), path
}

// openAt opens a Store on path and closes it when t ends.
func openAt(t *testing.T, path string, opt Options) *Store {
	t.Helper()
	s, err := Open(t.Context(), path, opt)
	return storetest.Closing(t, s, err)
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := open(t, Options{})
		return s
	})
}

func TestDataSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hookflow.db")
	ctx := t.Context()
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	d := &store.Dispatch{
		Event: &store.Event{ID: "evt-1", Trigger: "cron", ReceivedAt: t0},
		Runs:  []*store.Run{{ID: "run-1", Workflow: "nightly", Attempt: 1, QueuedAt: t0}},
	}
	if err := s.Dispatch(ctx, []*store.Dispatch{d}, 0, t0); err != nil || d.Err != nil {
		t.Fatalf("Dispatch: %v, %v", err, d.Err)
	}
	if err := s.AppendLogs(ctx, "run-1", []store.LogLine{{Stream: "stdout", Time: t0, Text: "hello"}}); err != nil {
		t.Fatalf("AppendLogs: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openAt(t, path, Options{})
	r, err := s.GetRun(ctx, "run-1")
	if err != nil {
		t.Fatalf("GetRun after reopen: %v", err)
	}
	if r.Status != "queued" || r.Workflow != "nightly" || !r.QueuedAt.Equal(t0) {
		t.Fatalf("run after reopen: %+v", r)
	}
	lines, err := s.Logs(ctx, "run-1", 0, 0)
	if err != nil || len(lines) != 1 || lines[0].Text != "hello" {
		t.Fatalf("Logs after reopen = %+v, %v", lines, err)
	}
	if got, err := s.Claim(ctx, "n1", time.Minute, t0); err != nil || got == nil || got.ID != "run-1" {
		t.Fatalf("Claim after reopen = %v, %v", got, err)
	}
}

// durabilities are the settings of Options.Durability, each with the PRAGMA
// synchronous of the write connection it makes: 1 NORMAL, 2 FULL.
var durabilities = []struct {
	durability string
	want       int
}{
	{"", 2},
	{"sync", 2},
	{"normal", 1},
}

func TestDurabilityPragma(t *testing.T) {
	for _, tc := range durabilities {
		t.Run("durability="+tc.durability, func(t *testing.T) {
			s, _ := open(t, Options{Durability: tc.durability})
			var sync int
			var mode string
			if err := s.write.QueryRowContext(t.Context(), `PRAGMA synchronous`).Scan(&sync); err != nil {
				t.Fatalf("PRAGMA synchronous: %v", err)
			}
			if sync != tc.want {
				t.Fatalf("synchronous = %d, want %d", sync, tc.want)
			}
			if err := s.read.QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode); err != nil {
				t.Fatalf("PRAGMA journal_mode: %v", err)
			}
			if mode != "wal" {
				t.Fatalf("journal_mode = %q, want wal", mode)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		if _, err := Open(t.Context(), filepath.Join(t.TempDir(), "x.db"), Options{Durability: "fast"}); err == nil {
			t.Fatal("Open accepted durability \"fast\"")
		}
	})
}

func TestMigrationsIdempotent(t *testing.T) {
	files, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v, %v", files, err)
	}
	path := filepath.Join(t.TempDir(), "hookflow.db")
	for i := range 3 {
		s, err := Open(t.Context(), path, Options{})
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		var n, version int
		err = s.read.QueryRowContext(t.Context(), `SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &version)
		if err != nil {
			t.Fatalf("schema_migrations: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if n != len(files) || version != len(files) {
			t.Fatalf("open #%d: %d migrations recorded, version %d; want %d, %[4]d", i+1, n, version, len(files))
		}
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	s, path := open(t, Options{})
	if _, err := s.write.ExecContext(t.Context(), `INSERT INTO schema_migrations (version, name) VALUES (999, 'future.sql')`); err != nil {
		t.Fatalf("insert: %v", err)
	}
	if _, err := Open(context.Background(), path, Options{}); err == nil {
		t.Fatal("Open accepted a database from a newer schema")
	}
}

// TestUpgradeToJobs: a database from before jobs keeps its runs and logs.
func TestUpgradeToJobs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hookflow.db")
	db, err := sql.Open("sqlite", path+"?_foreign_keys=1")
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	storetest.UpgradeToJobs(t, db, migrationFiles, "?", timeArg, func() store.Store { return openAt(t, path, Options{}) })
}

// TestUpgradeToAgents: a database from before agents keeps its jobs, which
// may then be offered and claimed.
func TestUpgradeToAgents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hookflow.db")
	db, err := sql.Open("sqlite", path+"?_foreign_keys=1")
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	storetest.UpgradeToAgents(t, db, migrationFiles, "?", timeArg, func() store.Store { return openAt(t, path, Options{}) })
}

// TestProgressWrites checks that the writes that record a running run's
// progress, which commit without an fsync, leave the write connection as
// durability asks (a failed one too), and that what they stored is in the
// files as soon as they return: a copy of the files taken then, as a crash
// of the process would leave them, holds the steps (with the trace a
// restarted server reads to end a step's processes) and the log lines.
func TestProgressWrites(t *testing.T) {
	for _, tc := range durabilities {
		t.Run("durability="+tc.durability, func(t *testing.T) {
			ctx := t.Context()
			s, path := open(t, Options{Durability: tc.durability})
			t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			d := &store.Dispatch{
				Event: &store.Event{ID: "evt-1", Trigger: "cron", ReceivedAt: t0},
				Runs:  []*store.Run{{ID: "run-1", Workflow: "nightly", Attempt: 1, QueuedAt: t0}},
			}
			if err := s.Dispatch(ctx, []*store.Dispatch{d}, 0, t0); err != nil || d.Err != nil {
				t.Fatalf("Dispatch: %v, %v", err, d.Err)
			}
			if r, err := s.Claim(ctx, "n1", time.Minute, t0); err != nil || r == nil {
				t.Fatalf("Claim = %v, %v", r, err)
			}
			steps := `[{"index":0,"outcome":"running","process":{"boot":"b","pid":42,"start":7}}]`
			if err := s.UpdateSteps(ctx, "run-1", json.RawMessage(steps), "process"); err != nil {
				t.Fatalf("UpdateSteps: %v", err)
			}
			if err := s.AppendLogs(ctx, "run-1", []store.LogLine{{Stream: "stdout", Time: t0, Text: "hello"}}); err != nil {
				t.Fatalf("AppendLogs: %v", err)
			}
			if err := s.UpdateSteps(ctx, "run-2", json.RawMessage(`[]`), ""); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("UpdateSteps of a missing run = %v, want ErrNotFound", err)
			}
			if err := s.UpdateJobSteps(ctx, "run-1", "build", json.RawMessage(`[]`), ""); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("UpdateJobSteps of a missing job = %v, want ErrNotFound", err)
			}
			var sync int
			if err := s.write.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil {
				t.Fatalf("PRAGMA synchronous: %v", err)
			}
			if sync != tc.want {
				t.Fatalf("synchronous after progress writes = %d, want %d", sync, tc.want)
			}

			crashed := filepath.Join(t.TempDir(), "crashed.db")
			for _, suffix := range []string{"", "-wal"} {
				b, err := os.ReadFile(path + suffix)
				if err != nil {
					t.Fatalf("read %s: %v", path+suffix, err)
				}
				if err := os.WriteFile(crashed+suffix, b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			c := openAt(t, crashed, Options{Durability: tc.durability})
			r, err := c.GetRun(ctx, "run-1")
			if err != nil {
				t.Fatalf("GetRun after the crash: %v", err)
			}
			if r.Status != "running" || string(r.Steps) != steps || r.Sandbox != "process" {
				t.Fatalf("run after the crash: status %s, steps %s, sandbox %q", r.Status, r.Steps, r.Sandbox)
			}
			lines, err := c.Logs(ctx, "run-1", 0, 0)
			if err != nil || len(lines) != 1 || lines[0].Text != "hello" {
				t.Fatalf("Logs after the crash = %+v, %v", lines, err)
			}
		})
	}
}
