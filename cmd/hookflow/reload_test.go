package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/api"
)

// aliasBomb is a workflow whose http step's body is nine levels of nine
// aliases: about 390 million values once expanded.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("on: {dispatch: {}}\nsteps:\n  - uses: http\n    with:\n      url: https://example.com\n      body:\n")
	b.WriteString("        a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "        a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 9), ", "))
	}
	return b.String()
}

// writeHuge writes a 60 MB workflow file (a valid one, were it not so large)
// without holding it in memory.
func writeHuge(t *testing.T, name string) {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	n, _ := w.WriteString("on: {dispatch: {}}\nsteps:\n  - run: 'true'\n    env:\n")
	for i := 0; n < 60<<20; i++ {
		k, _ := fmt.Fprintf(w, "      VAR_%d: \"some value that takes room\"\n", i)
		n += k
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// memory reads a field of /proc/self/status, such as VmRSS or VmHWM, in bytes.
func memory(t *testing.T, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// TestReloadRefusesHostileFiles drops files into a running server's workflows
// folder that once took it down or leaked what they pointed at: each must fail
// the reload with an error naming file:line:col, leave the last good set
// active, and cost the server (this process) less than 200 MB at its peak.
func TestReloadRefusesHostileFiles(t *testing.T) {
	a := startApp(t, map[string]string{"greet.yaml": dispatchWorkflow})
	wfs := a.Config.Workflows.Folder
	private := writeFile(t, filepath.Join(t.TempDir(), "private"), "root:x:0:0:root:/root:/bin/bash\nprivate-second-line\n")

	tests := []struct {
		name, file string
		write      func(path string)
		want       *regexp.Regexp
	}{
		{"alias bomb", "bomb.yaml", func(p string) { writeFile(t, p, aliasBomb()) },
			regexp.MustCompile(`bomb\.yaml:\d+:\d+: alias \*a\d takes the document past 100000 values`)},
		{"60 MB file", "huge.yaml", func(p string) { writeHuge(t, p) },
			regexp.MustCompile(`huge\.yaml:1:1: the file has more than 1048576 bytes, the most a workflow file may have \(limits\.max_workflow_bytes\)`)},
		{"link out of the folder", "passwd.yaml", func(p string) {
			if err := os.Symlink(private, p); err != nil {
				t.Fatal(err)
			}
		}, regexp.MustCompile(`passwd\.yaml:1:1: a link out of the folder, or to nothing \(path escapes from parent\)`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(wfs, tt.file)
			t.Cleanup(func() { os.Remove(path) })
			// The peak is measured from here: VmHWM restarts at the
			// current RSS once freed memory is handed back.
			debug.FreeOSMemory()
			if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
				t.Fatalf("reset the peak RSS: %v", err)
			}
			before := memory(t, "VmRSS")

			tt.write(path)
			var body map[string]any
			if code := a.call(t, "POST", "/api/v1/workflows/reload", nil, &body); code != http.StatusUnprocessableEntity {
				t.Fatalf("reload: %d %v, want 422", code, body)
			}
			if msg, _ := body["error"].(string); !tt.want.MatchString(msg) {
				t.Errorf("reload error:\n%s\nwant it to match %s", msg, tt.want)
			}
			var list struct {
				Workflows   []api.WorkflowView `json:"workflows"`
				ReloadError string             `json:"reload_error"`
			}
			if code := a.call(t, "GET", "/api/v1/workflows", nil, &list); code != http.StatusOK {
				t.Fatalf("list workflows: %d", code)
			}
			if len(list.Workflows) != 1 || list.Workflows[0].Name != "greet" || !tt.want.MatchString(list.ReloadError) {
				t.Errorf("after the failed reload: %+v, want greet still active and the error shown", list)
			}
			growth := memory(t, "VmHWM") - before
			t.Logf("the server's RSS grew by %d MB at its peak", growth>>20)
			if growth >= 200<<20 {
				t.Errorf("the server's RSS grew by %d MB at its peak, want under 200 MB", growth>>20)
			}

			resp, err := http.Get(a.url + "/ui/")
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(page), "The last reload failed") || !strings.Contains(string(page), tt.file) {
				t.Errorf("the workflows page does not show the reload error:\n%s", page)
			}
			for _, shown := range []string{string(page), list.ReloadError} {
				if strings.Contains(shown, "root:x") || strings.Contains(shown, "private-second-line") {
					t.Errorf("the contents of the file a link points to are shown:\n%s", shown)
				}
			}
		})
	}

	var run api.RunView
	if code := a.call(t, "POST", "/api/v1/workflows/greet/dispatch", map[string]any{"inputs": map[string]any{"who": "still here"}}, &run); code != http.StatusAccepted {
		t.Fatalf("dispatch after the failed reloads: %d", code)
	}
	if r := a.waitRun(t, run.ID); r.Status != "succeeded" {
		t.Errorf("run after the failed reloads: %+v", r)
	}
}
