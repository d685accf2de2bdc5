package workflows_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/actions"
	httpaction "github.com/hookflow/hookflow/actions/http"
	"github.com/hookflow/hookflow/workflows"
)

var update = flag.Bool("update", false, "rewrite golden files")

// registry is the real action registry the binary ships with the kinds that
// this package's tests name.
func registry(t testing.TB) *actions.Registry {
	t.Helper()
	r, err := actions.NewRegistry(httpaction.Kind())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestInvalidGolden parses every file in testdata/invalid and compares the
// errors with the .golden file beside it.
func TestInvalidGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, err = workflows.Parse(file, data, registry(t))
			if err == nil {
				t.Fatal("parsed without error")
			}
			got := err.Error() + "\n"
			for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
				if !strings.HasPrefix(line, file+":") {
					t.Errorf("error line does not start with file:line:col: %q", line)
				}
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./workflows -run Golden -update)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}
