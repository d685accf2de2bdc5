package store

import (
	"database/sql"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	_ "modernc.org/sqlite"
)

func TestSplitStatements(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		want         []string
	}{
		{"Plain", "CREATE TABLE a (x INT);\nCREATE TABLE b (y INT);\n", []string{"CREATE TABLE a (x INT)", "CREATE TABLE b (y INT)"}},
		{"NoFinalSemicolon", "SELECT 1; SELECT 2", []string{"SELECT 1", "SELECT 2"}},
		{"SemicolonInString", "INSERT INTO t VALUES ('a;b', 'it''s;');", []string{"INSERT INTO t VALUES ('a;b', 'it''s;')"}},
		{"SemicolonInIdentifier", `CREATE TABLE "x;y" (z INT);`, []string{`CREATE TABLE "x;y" (z INT)`}},
		{"LineComment", "-- setup; not a statement\nSELECT 1; -- trailing; comment\n", []string{"-- setup; not a statement\nSELECT 1"}},
		{"BlockComment", "/* a; b */ SELECT 1;", []string{"/* a; b */ SELECT 1"}},
		{"OnlyComments", "-- nothing here;\n/* nor; here */\n", nil},
		{"DollarQuote", "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql; SELECT 2;",
			[]string{"CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql", "SELECT 2"}},
		{"TaggedDollarQuote", "DO $body$ BEGIN PERFORM 1; END $body$; SELECT $1;",
			[]string{"DO $body$ BEGIN PERFORM 1; END $body$", "SELECT $1"}},
		{"Empty", " ;; \n", nil},
		{"SQLiteTrigger", "CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO b VALUES (1); DELETE FROM c; END; SELECT 1;",
			[]string{"CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO b VALUES (1); DELETE FROM c; END", "SELECT 1"}},
		{"PostgresTrigger", "CREATE TRIGGER t AFTER INSERT ON a FOR EACH ROW EXECUTE FUNCTION f(); SELECT 1;",
			[]string{"CREATE TRIGGER t AFTER INSERT ON a FOR EACH ROW EXECUTE FUNCTION f()", "SELECT 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := splitStatements(tc.script); !slices.Equal(got, tc.want) {
				t.Fatalf("splitStatements(%q) = %q, want %q", tc.script, got, tc.want)
			}
		})
	}
}

// openDB opens a new SQLite database in t's temporary directory.
func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// tables lists db's tables other than schema_migrations.
func tables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT name FROM sqlite_master
		WHERE type = 'table' AND name NOT IN ('schema_migrations', 'sqlite_sequence') ORDER BY name`)
	if err != nil {
		t.Fatalf("tables: %v", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatalf("tables: %v", err)
		}
		names = append(names, n)
	}
	return names
}

func TestMigrate(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

	t.Run("AppliesInOrderOnce", func(t *testing.T) {
		db := openDB(t)
		fsys := fstest.MapFS{
			"0002_b.sql": file("CREATE TABLE b (x INT REFERENCES a (x));"),
			"0001_a.sql": file("CREATE TABLE a (x INT PRIMARY KEY);\nINSERT INTO a VALUES (1);"),
			"README.md":  file("not a migration"),
		}
		applied, err := Migrate(t.Context(), db, fsys)
		if err != nil || !slices.Equal(applied, []int{1, 2}) {
			t.Fatalf("Migrate = %v, %v; want [1 2]", applied, err)
		}
		fsys["0010_c.sql"] = file("CREATE TABLE c (y INT);")
		applied, err = Migrate(t.Context(), db, fsys)
		if err != nil || !slices.Equal(applied, []int{10}) {
			t.Fatalf("second Migrate = %v, %v; want [10]", applied, err)
		}
		applied, err = Migrate(t.Context(), db, fsys)
		if err != nil || len(applied) != 0 {
			t.Fatalf("third Migrate = %v, %v; want nothing", applied, err)
		}
		if got := tables(t, db); !slices.Equal(got, []string{"a", "b", "c"}) {
			t.Fatalf("tables = %v", got)
		}
	})
	t.Run("FailureChangesNothing", func(t *testing.T) {
		db := openDB(t)
		_, err := Migrate(t.Context(), db, fstest.MapFS{
			"0001_a.sql": file("CREATE TABLE a (x INT);"),
			"0002_b.sql": file("CREATE TABLE b (x INT);\nCREATE TABLE nonsense ("),
		})
		if err == nil || !strings.Contains(err.Error(), "0002_b.sql statement 2") {
			t.Fatalf("Migrate error = %v, want one naming 0002_b.sql statement 2", err)
		}
		if got := tables(t, db); len(got) != 0 {
			t.Fatalf("tables after a failed migration = %v, want none", got)
		}
	})
	t.Run("BadNames", func(t *testing.T) {
		for _, fsys := range []fstest.MapFS{
			{"init.sql": file("SELECT 1;")},
			{"0000_zero.sql": file("SELECT 1;")},
			{"0001_a.sql": file("SELECT 1;"), "001_b.sql": file("SELECT 1;")},
		} {
			if _, err := Migrate(t.Context(), openDB(t), fsys); err == nil {
				t.Fatalf("Migrate accepted %v", slices.Sorted(maps.Keys(fsys)))
			}
		}
	})
	t.Run("RefusesNewerDatabase", func(t *testing.T) {
		db := openDB(t)
		if _, err := Migrate(t.Context(), db, fstest.MapFS{"0002_b.sql": file("SELECT 1;")}); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		_, err := Migrate(t.Context(), db, fstest.MapFS{"0001_a.sql": file("SELECT 1;")})
		if err == nil || !strings.Contains(err.Error(), "newer") {
			t.Fatalf("Migrate error = %v, want a newer-schema error", err)
		}
	})
}
