// Package pgtest gives tests a fresh PostgreSQL schema or database of their
// own, on the server named by $HOOKFLOW_TEST_POSTGRES (scripts/setup-postgres.sh
// starts one and prints its DSN; make test does both).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env is the environment variable that holds the test server's DSN.
const Env = "HOOKFLOW_TEST_POSTGRES"

// DSN returns the test server's DSN. A test that needs PostgreSQL fails, not
// skips, without one: a missing server must not pass for a green run.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(Env)
	if dsn == "" {
		t.Fatalf("%s is not set: run scripts/setup-postgres.sh and set %s to the DSN it prints "+
			"(make test and make bench do both)", Env, Env)
	}
	return dsn
}

// Schema creates an empty schema and returns a DSN whose search_path is that
// schema; the schema is dropped when t ends. It is much quicker than a
// database (dropping one takes a checkpoint), but shares advisory locks and
// notifications with the other schemas of its database: the database of this
// test process, which Main drops at its end, so that test processes (another
// package, another make test) never share one.
func Schema(t testing.TB) string {
	t.Helper()
	base := DSN(t)
	shared.once.Do(func() {
		name := newName()
		shared.err = exec(base, "CREATE DATABASE "+name)
		shared.dsn, shared.name = with(t, base, "dbname", name), name
	})
	if shared.err != nil {
		t.Fatalf("the test process's database: %v", shared.err)
	}
	name := newName()
	admin(t, shared.dsn, "CREATE SCHEMA "+name)
	t.Cleanup(func() { admin(t, shared.dsn, "DROP SCHEMA "+name+" CASCADE") })
	return with(t, shared.dsn, "search_path", name)
}

// shared is the database of this test process that Schema makes schemas in.
var shared struct {
	once sync.Once
	dsn  string
	name string
	err  error
}

// Main runs the tests of a package that uses Schema (call it from TestMain),
// then drops the database that Schema made, and returns the exit code.
func Main(m *testing.M) int {
	code := m.Run()
	if shared.name != "" && shared.err == nil {
		if err := exec(os.Getenv(Env), "DROP DATABASE "+shared.name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
	return code
}

// Database creates an empty database and returns its DSN; the database is
// dropped when t ends, with whatever connections are left in it.
func Database(t testing.TB) string {
	t.Helper()
	base := DSN(t)
	name := newName()
	admin(t, base, "CREATE DATABASE "+name)
	t.Cleanup(func() { admin(t, base, "DROP DATABASE "+name+" WITH (FORCE)") })
	return with(t, base, "dbname", name)
}

// newName is a fresh lower-case identifier.
func newName() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "hookflow_test_" + hex.EncodeToString(b)
}

// admin runs one statement on the database of dsn, and fails t if it fails.
func admin(t testing.TB, dsn, stmt string) {
	t.Helper()
	if err := exec(dsn, stmt); err != nil {
		t.Fatal(err)
	}
}

// exec runs one statement on the database of dsn.
func exec(dsn, stmt string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect to the test server (%s): %w", Env, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	return nil
}

// with returns dsn with the connection setting key set to value, for both
// DSN forms: a postgres:// URL and key=value pairs (where the last one wins).
func with(t testing.TB, dsn, key, value string) string {
	t.Helper()
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return fmt.Sprintf("%s %s=%s", dsn, key, value)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	if key == "dbname" {
		u.Path = "/" + value
		return u.String()
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}
