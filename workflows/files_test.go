package workflows_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hookflow/hookflow/workflows"
)

// quickWorkflow is a valid workflow file that needs no action registry.
const quickWorkflow = "on: {dispatch: {}}\nsteps: [{run: 'true'}]\n"

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// names lists a set's workflow names.
func names(set *workflows.Set) string {
	var list []string
	for _, w := range set.Workflows() {
		list = append(list, w.Name)
	}
	return strings.Join(list, ",")
}

func TestLoaderFileSize(t *testing.T) {
	dir := t.TempDir()
	// Exactly at the limit is fine; a comment pads the file.
	atLimit := quickWorkflow + "#" + strings.Repeat("x", 200-len(quickWorkflow)-2) + "\n"
	writeFile(t, filepath.Join(dir, "at-limit.yaml"), atLimit)
	set, err := workflows.Loader{MaxFileBytes: 200}.Paths(dir)
	if err != nil || names(set) != "at-limit" {
		t.Fatalf("a file of exactly the limit: %v %v", set, err)
	}

	writeFile(t, filepath.Join(dir, "over.yaml"), atLimit+"\n")
	_, err = workflows.Loader{MaxFileBytes: 200}.Paths(dir)
	want := filepath.Join(dir, "over.yaml") + ":1:1: the file has more than 200 bytes, the most a workflow file may have (limits.max_workflow_bytes)"
	if err == nil || err.Error() != want {
		t.Errorf("a file one byte over the limit: %v, want %s", err, want)
	}

	// Without a limit set, the default holds, for a file named directly too.
	big := filepath.Join(t.TempDir(), "big.yaml")
	writeFile(t, big, quickWorkflow+"#"+strings.Repeat("x", workflows.DefaultMaxFileBytes)+"\n")
	if _, err := workflows.LoadPaths(nil, big); err == nil || !strings.Contains(err.Error(), big+":1:1: the file has more than 1048576 bytes") {
		t.Errorf("a file over the default limit: %v", err)
	}
}

func TestLoaderLinks(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "workflows")
	writeFile(t, filepath.Join(root, "secret.yaml"), "token: s3cr3t-value\n")
	writeFile(t, filepath.Join(dir, "good.yaml"), quickWorkflow)
	writeFile(t, filepath.Join(dir, "sub", "nested.yaml"), quickWorkflow)
	symlink(t, "good.yaml", filepath.Join(dir, "alias.yaml"))
	symlink(t, "sub", filepath.Join(dir, "subdir-link"))

	set, err := workflows.LoadPaths(nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	// A link to a file inside the folder is read as that file; a link to a
	// folder is not followed, so nested.yaml is read once.
	if got := names(set); got != "alias,good,nested" {
		t.Errorf("workflows = %q, want alias,good,nested", got)
	}

	symlink(t, "../secret.yaml", filepath.Join(dir, "leak.yaml"))
	symlink(t, filepath.Join(root, "secret.yaml"), filepath.Join(dir, "absolute.yaml"))
	symlink(t, filepath.Join(dir, "good.yaml"), filepath.Join(dir, "absolute-inside.yaml"))
	symlink(t, "..", filepath.Join(dir, "up"))
	symlink(t, "/etc/passwd", filepath.Join(dir, "README"))
	symlink(t, "missing.yaml", filepath.Join(dir, "dangling.yaml"))
	_, err = workflows.LoadPaths(nil, dir)
	if err == nil {
		t.Fatal("links out of the folder were followed")
	}
	for _, link := range []string{"README", "absolute-inside.yaml", "absolute.yaml", "dangling.yaml", "leak.yaml", "up"} {
		want := filepath.Join(dir, link) + ":1:1: a link out of the folder, or to nothing ("
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no error for %s:\n%v", link, err)
		}
	}
	if lines := strings.Count(err.Error(), "\n") + 1; lines != 6 {
		t.Errorf("%d errors, want one per bad link:\n%v", lines, err)
	}
	if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "root:") {
		t.Errorf("the error shows what a link points to:\n%v", err)
	}
}

func TestLoaderRefusesPipes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "good.yaml"), quickWorkflow)
	pipe := filepath.Join(dir, "pipe.yaml")
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Fatal(err)
	}
	// Opening a named pipe blocks until someone writes to it: the load
	// must refuse it without opening it.
	_, err := workflows.LoadPaths(nil, dir)
	if err == nil || err.Error() != pipe+":1:1: not a regular file (p---------)" {
		t.Errorf("load = %v, want the pipe refused", err)
	}
}
