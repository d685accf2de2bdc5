package runner

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func collect(maxBytes int, secrets ...string) (*runLog, *[]LogLine) {
	var lines []LogLine
	l := newRunLog(func(line LogLine) { lines = append(lines, line) }, time.Now, maxBytes, secrets)
	return l, &lines
}

func texts(lines []LogLine) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Stream + ":" + l.Text
	}
	return out
}

func TestLineWriterSplitsLines(t *testing.T) {
	l, lines := collect(0)
	w := l.Writer(0, Stdout)
	for _, chunk := range []string{"one\ntw", "o\r\nthr", "ee", "\n\nlast"} {
		w.Write([]byte(chunk))
	}
	w.Flush()
	want := []string{"stdout:one", "stdout:two", "stdout:three", "stdout:", "stdout:last"}
	if got := texts(*lines); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines %q, want %q", got, want)
	}
}

func TestLineWriterSplitsEndlessLine(t *testing.T) {
	l, lines := collect(0)
	w := l.Writer(1, Stderr)
	w.Write([]byte(strings.Repeat("x", 3*maxLineBytes+10)))
	w.Flush()
	if len(*lines) != 4 || len((*lines)[0].Text) != maxLineBytes || len((*lines)[3].Text) != 10 {
		t.Errorf("got %d lines", len(*lines))
	}
}

func TestMasking(t *testing.T) {
	secret := "hunter2-long"
	l, lines := collect(0, secret, "ab", "hunter2-long-and-more")
	w := l.Writer(0, Stdout)
	w.Write([]byte("a " + secret + " b " + base64.StdEncoding.EncodeToString([]byte(secret)) + " c hunter2-long-and-more ab\n"))
	if got := (*lines)[0].Text; got != "a *** b *** c *** ab" {
		t.Errorf("masked %q", got)
	}
}

func TestCap(t *testing.T) {
	l, lines := collect(100)
	w := l.Writer(0, Stdout)
	for range 50 {
		w.Write([]byte("0123456789\n"))
	}
	got := texts(*lines)
	if len(got) != 10 || got[9] != System+":"+TruncatedMarker {
		t.Errorf("lines %q", got)
	}
}

func TestInvalidUTF8(t *testing.T) {
	l, lines := collect(0)
	w := l.Writer(0, Stdout)
	w.Write([]byte("ok \xff\xfe end\n"))
	if got := (*lines)[0].Text; got != "ok \uFFFD end" {
		t.Errorf("line %q", got)
	}
}
