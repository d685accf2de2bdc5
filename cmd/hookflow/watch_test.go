package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// watchOutput is where a watch writes, which the test reads as it goes.
type watchOutput interface {
	io.Writer
	String() string
}

// watchedWorkflow runs a step, then one that sleeps for its input secs,
// then a last one.
const watchedWorkflow = `
on: {dispatch: {inputs: {secs: {default: "0"}}}}
env: {SECS: "${{ inputs.secs }}"}
steps:
  - id: first
    run: echo one
  - id: wait
    run: sleep "$SECS"
  - id: last
    run: echo three
`

// TestRunsWatch watches real runs: piped, a line for each change, ending
// with the run's status and exit 0 when it succeeded, 1 when it was
// cancelled; on a terminal, a drawing in colour redrawn in place.
func TestRunsWatch(t *testing.T) {
	t.Setenv("HOOKFLOW_SERVER", "")
	t.Setenv("HOOKFLOW_TOKEN", "")
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "xterm")
	a := startApp(t, map[string]string{"watched.yaml": watchedWorkflow})
	dispatch := func(t *testing.T, secs string) string {
		t.Helper()
		_, out, errOut := clientMain(t, context.Background(), "dispatch", "watched", "--input", "secs="+secs, "-o", "json", "--server", a.url)
		var run struct{ ID string }
		if err := json.Unmarshal([]byte(out), &run); err != nil {
			t.Fatalf("dispatch: %v\n%s%s", err, out, errOut)
		}
		return run.ID
	}
	// watchCancelled runs `runs watch ID` onto out until the sleeping step
	// runs, cancels the run, and returns the exit code of the watch.
	watchCancelled := func(t *testing.T, id string, out watchOutput) int {
		t.Helper()
		ended := make(chan int, 1)
		go func() {
			ended <- Main(context.Background(), []string{"runs", "watch", id, "--server", a.url}, out, &bytes.Buffer{})
		}()
		deadline := time.Now().Add(25 * time.Second)
		for !regexp.MustCompile(`wait(: |\s+\x1b\[33m)running`).MatchString(out.String()) {
			if time.Now().After(deadline) {
				break // cancel anyway, so that the run ends; the checks below fail
			}
			time.Sleep(50 * time.Millisecond)
		}
		if code, _, errOut := clientMain(t, context.Background(), "runs", "cancel", id, "--server", a.url); code != exitOK {
			t.Errorf("cancel: exit %d %s", code, errOut)
		}
		return <-ended
	}

	t.Run("piped, succeeded", func(t *testing.T) {
		id := dispatch(t, "0")
		var out syncBuffer
		code := Main(context.Background(), []string{"runs", "watch", id, "--server", a.url}, &out, &bytes.Buffer{})
		got := out.String()
		if code != exitOK {
			t.Fatalf("exit %d\n%s", code, got)
		}
		want := regexp.MustCompile(`(?s)^(run ` + id + ` of watched: (queued|running)\n)+(.*\n)?first: success\n(.*\n)?wait: success\n(.*\n)?last: success\n` +
			`run ` + id + ` of watched: succeeded in \S+\n$`)
		if !want.MatchString(got) {
			t.Errorf("watch printed:\n%s", got)
		}
		lines := strings.Split(got, "\n")
		slices.Sort(lines)
		if strings.Contains(got, "\x1b") || len(slices.Compact(lines)) != len(strings.Split(got, "\n")) {
			t.Errorf("a pipe got escapes or a repeated line:\n%q", got)
		}
	})
	t.Run("piped, cancelled", func(t *testing.T) {
		id := dispatch(t, "30")
		var out syncBuffer
		if code := watchCancelled(t, id, &out); code != exitFail {
			t.Fatalf("exit %d, want 1\n%s", code, out.String())
		}
		got := out.String()
		if !strings.Contains(got, "\nwait: running\n") || !regexp.MustCompile(`\nrun `+id+` of watched: cancelled in \S+( \(.*\))?\n$`).MatchString(got) {
			t.Errorf("watch printed:\n%s", got)
		}
	})
	t.Run("terminal", func(t *testing.T) {
		id := dispatch(t, "30")
		tty, output := openPty(t)
		// The test reads its own copy of what goes to the terminal to tell
		// when the step sleeps.
		code := watchCancelled(t, id, &teeFile{File: tty, copy: &syncBuffer{}})
		got := output()
		if code != exitFail {
			t.Fatalf("exit %d, want 1\n%q", code, got)
		}
		for _, want := range []string{"\x1b[33mrunning\x1b[0m", "\x1b[32msuccess\x1b[0m", "run " + id + " of watched: cancelled in "} {
			if !strings.Contains(got, want) {
				t.Errorf("the terminal lacks %q:\n%q", want, got)
			}
		}
		if !regexp.MustCompile(`\x1b\[\d+A\x1b\[J`).MatchString(got) {
			t.Errorf("the drawing was not redrawn in place:\n%q", got)
		}
	})
}

// teeFile is a terminal whose output the test also keeps.
type teeFile struct {
	*os.File
	copy *syncBuffer
}

func (f *teeFile) Write(p []byte) (int, error) {
	f.copy.Write(p)
	return f.File.Write(p)
}

func (f *teeFile) String() string { return f.copy.String() }

// WriteString keeps *os.File's own from going around Write.
func (f *teeFile) WriteString(s string) (int, error) { return f.Write([]byte(s)) }
