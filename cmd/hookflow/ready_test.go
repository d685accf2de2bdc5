package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/config"
	"github.com/hookflow/hookflow/store/postgres/pgtest"
)

// TestReadyzFollowsStoreWrites makes the store unable to write, on SQLite a
// full disk (a small tmpfs, filled) and on PostgreSQL writes refused by the
// database, and checks that /readyz answers 503 with the reason while
// deliveries are refused with 503, and 200 again once the store can write,
// with no delivery needed to find out.
func TestReadyzFollowsStoreWrites(t *testing.T) {
	files := map[string]string{"quick.yaml": "on: {webhook: {path: quick, provider: generic}}\nsteps: [{run: 'true'}]\n"}
	for _, tt := range []struct {
		name string
		// setup prepares the store and returns what breaks and mends it.
		setup func(t *testing.T, c *config.Config) (breakWrites, mendWrites func())
	}{
		{"sqlite on a full disk", fullDisk},
		{"postgres refusing writes", refusingPostgres},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var breakWrites, mendWrites func()
			a := startApp(t, files, func(c *config.Config) { breakWrites, mendWrites = tt.setup(t, c) })
			deliver := func() int {
				t.Helper()
				code, _ := post(t, a.url+"/hooks/quick", `{"n": 1}`, http.Header{})
				return code
			}
			if code, reason := readyz(t, a.url); code != http.StatusOK {
				t.Fatalf("readyz before: %d %s", code, reason)
			}
			if code := deliver(); code != http.StatusAccepted {
				t.Fatalf("delivery before: %d", code)
			}

			breakWrites()
			refused := false
			for range 500 {
				code := deliver()
				if code == http.StatusServiceUnavailable {
					refused = true
					break
				}
				if code != http.StatusAccepted {
					t.Fatalf("delivery while writes fail: %d, want 202 or 503", code)
				}
			}
			if !refused {
				t.Fatal("no delivery was refused while the store could not write")
			}
			for i := range 3 {
				if code, reason := readyz(t, a.url); code != http.StatusServiceUnavailable || !strings.Contains(reason, "store cannot write") {
					t.Fatalf("readyz #%d while deliveries get 503: %d %q, want 503 saying the store cannot write", i+1, code, reason)
				}
				if code := deliver(); code != http.StatusServiceUnavailable {
					t.Fatalf("delivery #%d after readyz said not ready: %d, want 503", i+1, code)
				}
			}

			mendWrites()
			// No delivery until /readyz says ready: a load balancer that took
			// the server out sends none.
			waitFor(t, time.Minute, "readyz 200 once the store can write", func() bool {
				code, _ := readyz(t, a.url)
				return code == http.StatusOK
			})
			if code := deliver(); code != http.StatusAccepted {
				t.Fatalf("delivery after: %d", code)
			}
			if code, reason := readyz(t, a.url); code != http.StatusOK {
				t.Fatalf("readyz after a delivery: %d %s", code, reason)
			}
		})
	}
}

// readyz returns /readyz's status and body.
func readyz(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// fullDisk puts the data folder on an 8 MiB tmpfs (mounting needs root); it
// breaks writes by filling the tmpfs, and mends them by freeing it.
func fullDisk(t *testing.T, c *config.Config) (breakWrites, mendWrites func()) {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", data).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs for the store (needs root): %v: %s", err, out)
	}
	// Runs after the server has stopped: cleanups run last-registered first.
	t.Cleanup(func() { exec.Command("umount", "-l", data).Run() })
	c.DataDir = data
	filler := filepath.Join(data, "filler")
	return func() {
			f, err := os.Create(filler)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			chunk := make([]byte, 64<<10)
			for {
				if _, err := f.Write(chunk); err != nil {
					if !errors.Is(err, syscall.ENOSPC) {
						t.Fatalf("fill the tmpfs: %v", err)
					}
					return
				}
			}
		}, func() {
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
		}
}

// refusingPostgres puts the store in a database of its own; it breaks writes
// with triggers that refuse every new event and every probe, as a database
// out of space refuses them, and mends them by dropping the triggers.
func refusingPostgres(t *testing.T, c *config.Config) (breakWrites, mendWrites func()) {
	t.Helper()
	dsn := pgtest.Database(t)
	c.Store = dsn
	run := func(sql string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	return func() {
			run(`CREATE FUNCTION refuse_write() RETURNS trigger LANGUAGE plpgsql AS
				$$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$;
				CREATE TRIGGER refuse_events BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_write();
				CREATE TRIGGER refuse_probe BEFORE INSERT OR UPDATE ON write_probe FOR EACH ROW EXECUTE FUNCTION refuse_write();`)
		}, func() {
			run(`DROP TRIGGER refuse_events ON events; DROP TRIGGER refuse_probe ON write_probe;`)
		}
}
