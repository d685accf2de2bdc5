package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migrate brings db's schema up to date with the migrations in fsys, and
// returns the versions it applied, oldest first.
//
// A migration is a file named NNNN_description.sql at the root of fsys;
// NNNN is its version, and versions apply in numeric order. Applied versions
// are recorded in a schema_migrations table. All pending migrations and
// their records run in one transaction, so a failing migration leaves the
// schema as it was. A database whose schema is newer than fsys (it was
// written by a newer hookflow) is refused rather than run against.
//
// Migrate is dialect-neutral: it binds no placeholders (whose syntax differs
// between SQLite and PostgreSQL) and splits files into statements itself,
// since not every driver executes several statements in one Exec. It does
// not serialise concurrent migrators: SQLite's write lock does that; a
// PostgreSQL caller should hold an advisory lock around it.
//
// It is a small runner on purpose: a migration library brings a driver for
// every database it supports, its own CLI and versioning conventions, for
// what here is "run these files in order, once".
func Migrate(ctx context.Context, db *sql.DB, fsys fs.FS) (applied []int, err error) {
	migrations, err := readMigrations(fsys)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback() // a no-op once committed

	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version BIGINT PRIMARY KEY,
		name TEXT NOT NULL
	)`
	if _, err := tx.ExecContext(ctx, create); err != nil {
		return nil, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return nil, fmt.Errorf("migrate: read version: %w", err)
	}
	if n := len(migrations); current > 0 && (n == 0 || current > migrations[n-1].version) {
		return nil, fmt.Errorf("migrate: database schema version %d is newer than this binary knows", current)
	}
	for _, m := range migrations {
		if m.version <= current {
			continue
		}
		for i, stmt := range splitStatements(m.sql) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return nil, fmt.Errorf("migrate: %s statement %d: %w", m.name, i+1, err)
			}
		}
		record := fmt.Sprintf(`INSERT INTO schema_migrations (version, name) VALUES (%d, '%s')`,
			m.version, strings.ReplaceAll(m.name, "'", "''"))
		if _, err := tx.ExecContext(ctx, record); err != nil {
			return nil, fmt.Errorf("migrate: record %s: %w", m.name, err)
		}
		applied = append(applied, m.version)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("migrate: commit: %w", err)
	}
	return applied, nil
}

// migration is one versioned SQL file.
type migration struct {
	version int
	name    string
	sql     string
}

// readMigrations returns fsys's migrations in version order.
func readMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		prefix, _, ok := strings.Cut(name, "_")
		version, err := strconv.Atoi(prefix)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("%s: name must be NNNN_description.sql with NNNN > 0", name)
		}
		if i := slices.IndexFunc(ms, func(m migration) bool { return m.version == version }); i >= 0 {
			return nil, fmt.Errorf("%s and %s have the same version %d", ms[i].name, name, version)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: version, name: path.Base(name), sql: string(body)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	return ms, nil
}
