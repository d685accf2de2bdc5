package runner

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/mask"
)

func collect(maxBytes int, secrets ...string) (*runLog, *[]LogLine) {
	var lines []LogLine
	l := newRunLog(func(line LogLine) { lines = append(lines, line) }, time.Now, newLogBudget(maxBytes), mask.New(secrets))
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

// TestMaskingAcrossWrites checks that a secret is masked however the step's
// writes cut it: within a line, across the lines of a secret of several
// lines, and where a line too long to keep is split.
func TestMaskingAcrossWrites(t *testing.T) {
	const secret = "s3cr3t-v@lue/with+chars"
	const key = "-----BEGIN KEY-----\nMIIEowIBAAKCAQEA1b/c+d\nq83Fv9sWx7Lp0Zk3Yt==\n-----END KEY-----"
	long := strings.Repeat("x", maxLineBytes-10)
	tests := []struct {
		name   string
		writes []string
	}{
		{"one line, two writes", []string{"a " + secret[:5], secret[5:] + " b\n"}},
		{"one line, a write a byte", strings.Split("a "+secret+" b\n", "")},
		{"a key of several lines, cut inside lines", []string{"key: " + key[:30], key[30:70], key[70:] + "\n"}},
		{"split of a long line through the secret", []string{long + secret + " and more text after it\n"}},
		{"split of a long line, the secret still being written", []string{long, secret[:4], secret[4:12], secret[12:], " after\n"}},
		{"split of a long line in small writes", chunks(long+secret+strings.Repeat("y", maxLineBytes), 1000)},
		{"split of a long line ending in a secret", []string{long + secret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, lines := collect(0, secret, key)
			w := l.Writer(0, Stdout)
			for _, p := range tt.writes {
				w.Write([]byte(p))
			}
			w.Flush()
			var all strings.Builder
			for _, line := range *lines {
				if len(line.Text) > maxLineBytes {
					t.Errorf("a line of %d bytes, more than %d", len(line.Text), maxLineBytes)
				}
				all.WriteString(line.Text + "\n")
			}
			got := all.String()
			if !strings.Contains(got, "***") {
				t.Errorf("nothing masked in %q", tail(got))
			}
			for _, part := range append([]string{secret}, strings.Split(key, "\n")...) {
				for i := 0; i+6 <= len(part); i++ {
					if strings.Contains(got, part[i:i+6]) {
						t.Fatalf("%q of a secret shows in %q", part[i:i+6], tail(got))
					}
				}
			}
			if want := strings.Join(tt.writes, ""); len(got) < len(want)-len(secret)-len(key) {
				t.Errorf("%d bytes of log for %d written", len(got), len(want))
			}
		})
	}
}

// chunks cuts s into pieces of n bytes.
func chunks(s string, n int) []string {
	var out []string
	for len(s) > n {
		out, s = append(out, s[:n]), s[n:]
	}
	return append(out, s)
}

// tail is the end of a long log, for messages.
func tail(s string) string {
	s = strings.ReplaceAll(s, strings.Repeat("x", 64), "")
	return s[max(0, len(s)-300):]
}

func TestCap(t *testing.T) {
	l, lines := collect(9*(10+lineCost) + 5)
	w := l.Writer(0, Stdout)
	for range 50 {
		w.Write([]byte("0123456789\n"))
	}
	got := texts(*lines)
	if len(got) != 10 || got[9] != System+":"+TruncatedMarker {
		t.Errorf("lines %q", got)
	}
}

// TestCapCountsEachLine checks that a log of one-byte lines is held to the
// cap as served, each line with its timestamp, step and stream, not to the
// cap in bytes printed, and that once full, output is drained and dropped.
func TestCapCountsEachLine(t *testing.T) {
	const maxBytes = 64 << 10
	l, lines := collect(maxBytes)
	w := l.Writer(0, Stdout)
	for range 4 << 10 {
		if n, err := w.Write([]byte(strings.Repeat("x\n", 64))); n != 128 || err != nil {
			t.Fatalf("write: %d %v", n, err)
		}
	}
	w.Flush()
	served := 0
	for _, line := range *lines {
		// As GET /api/v1/runs/{id}/logs writes it.
		served += len(fmt.Sprintf("%s %s %s | %s\n", line.Time.UTC().Format("2006-01-02T15:04:05.000Z"), "step-1", line.Stream, line.Text))
	}
	last := (*lines)[len(*lines)-1]
	if last.Text != TruncatedMarker {
		t.Fatalf("last line %q, want the marker", last.Text)
	}
	if served > maxBytes+len(TruncatedMarker)+64 {
		t.Errorf("served %d bytes for a cap of %d", served, maxBytes)
	}
	if len(*lines) < maxBytes/(1+lineCost) {
		t.Errorf("only %d lines kept", len(*lines))
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
