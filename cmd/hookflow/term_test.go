package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPty opens a pseudo-terminal: what is written to tty can be read from
// the returned function once tty is closed.
func openPty(t *testing.T) (tty *os.File, output func() string) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptmx.Close() })
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		// Reading ends with EIO once the terminal side is closed.
		io.Copy(&buf, ptmx)
		close(done)
	}()
	return tty, func() string {
		tty.Close()
		<-done
		return buf.String()
	}
}

// runOnto runs the command line with stdout on f, and returns its exit code.
func runOnto(t *testing.T, f *os.File, args ...string) int {
	t.Helper()
	var errOut bytes.Buffer
	code := Main(context.Background(), args, f, &errOut)
	if errOut.Len() > 0 {
		t.Logf("%v stderr: %s", args, errOut.String())
	}
	return code
}

// TestLogColourOnlyOnTerminal runs a step that prints colour on a real
// server and reads its log with `runs logs` and `runs logs -f`: the escapes
// reach a terminal, but not a pipe, and not a terminal with NO_COLOR set or
// TERM=dumb.
func TestLogColourOnlyOnTerminal(t *testing.T) {
	t.Setenv("HOOKFLOW_SERVER", "")
	t.Setenv("HOOKFLOW_TOKEN", "")
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "xterm-256color")
	a := startApp(t, map[string]string{"paint.yaml": `
on: {dispatch: {}}
steps:
  - id: paint
    run: printf '\033[31mred alert\033[0m and \033]8;;http://x\033\\link\033]8;;\033\\\n'
`})
	_, out, errOut := clientMain(t, context.Background(), "dispatch", "paint", "-o", "json", "--server", a.url)
	var run struct{ ID string }
	if err := json.Unmarshal([]byte(out), &run); err != nil {
		t.Fatalf("dispatch: %v\n%s%s", err, out, errOut)
	}
	const coloured = "\x1b[31mred alert\x1b[0m"
	for _, follow := range []bool{true, false} {
		args := []string{"runs", "logs", run.ID, "--server", a.url}
		if follow {
			args = append(args, "-f")
		}
		t.Run(strings.Join(args[:2], " ")+fmt.Sprint(" follow=", follow), func(t *testing.T) {
			t.Run("terminal", func(t *testing.T) {
				tty, output := openPty(t)
				if code := runOnto(t, tty, args...); code != exitOK {
					t.Fatalf("exit %d", code)
				}
				if got := output(); !strings.Contains(got, coloured) {
					t.Errorf("the terminal did not get the colour:\n%q", got)
				}
			})
			t.Run("pipe", func(t *testing.T) {
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				got := make(chan string)
				go func() { b, _ := io.ReadAll(r); got <- string(b) }()
				code := runOnto(t, w, args...)
				w.Close()
				text := <-got
				if code != exitOK || !strings.Contains(text, "red alert and link\n") || strings.Contains(text, "\x1b") {
					t.Errorf("exit %d; want the plain text and no escape in a pipe:\n%q", code, text)
				}
			})
			for _, env := range [][2]string{{"NO_COLOR", "1"}, {"TERM", "dumb"}} {
				t.Run(env[0]+"="+env[1], func(t *testing.T) {
					t.Setenv(env[0], env[1])
					tty, output := openPty(t)
					if code := runOnto(t, tty, args...); code != exitOK {
						t.Fatalf("exit %d", code)
					}
					if got := output(); strings.Contains(got, "\x1b") || !strings.Contains(got, "red alert and link") {
						t.Errorf("escapes on a terminal with %s=%s:\n%q", env[0], env[1], got)
					}
				})
			}
		})
	}
}

func TestStripANSI(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                                    "plain",
		"\x1b[1;31mbold red\x1b[0m":                "bold red",
		"\x1b[2K\x1b[1Gprogress 50%":               "progress 50%",
		"\x1b]0;title\x07text":                     "text",
		"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\": "link",
		"keep \x1b(B this":                         "keep  this",
	} {
		if got := stripANSI(in); got != want {
			t.Errorf("stripANSI(%q) = %q, want %q", in, got, want)
		}
	}
	// A sequence cut between two writes is still removed.
	var b bytes.Buffer
	w := &plainWriter{w: &b}
	io.WriteString(w, "a \x1b[3")
	io.WriteString(w, "1mred\x1b[0m\nlast")
	w.Flush()
	if b.String() != "a red\nlast" {
		t.Errorf("plainWriter wrote %q", b.String())
	}
}

// TestRunPlainWhenPiped runs a step that prints colour with `hookflow run`:
// its output reaches a pipe without the escapes, and a terminal with them.
func TestRunPlainWhenPiped(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "xterm")
	dir := t.TempDir()
	writeFile(t, dir+"/paint.yaml", "on: {dispatch: {}}\nsteps:\n  - id: paint\n    run: printf '\\033[32mgreen\\033[0m\\n'\n")
	code, out, errOut := hookflow(t, "run", "paint", "--workflows", dir)
	if code != exitOK || !strings.Contains(out, "paint | green\n") || strings.Contains(out, "\x1b") {
		t.Errorf("exit %d; want the plain line and no escape:\n%q%s", code, out, errOut)
	}
	tty, output := openPty(t)
	if code := runOnto(t, tty, "run", "paint", "--workflows", dir); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if got := output(); !strings.Contains(got, "\x1b[32mgreen\x1b[0m") {
		t.Errorf("the terminal did not get the colour:\n%q", got)
	}
}
