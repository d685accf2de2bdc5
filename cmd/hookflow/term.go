package main

import (
	"bytes"
	"io"
	"os"
	"regexp"
	"strings"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// colourOn reports whether w may be sent colour and cursor movements: it is
// a terminal, NO_COLOR (https://no-color.org) is unset or empty, and TERM is
// not "dumb".
func colourOn(w io.Writer) bool {
	return os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb" && isTerminal(w)
}

// ansiSequence matches the escape sequences a program may print (ECMA-48):
// CSI (colour, cursor), OSC (titles, links) ended by BEL or ST, those with
// intermediate bytes (character sets), and the two-byte ones.
var ansiSequence = regexp.MustCompile(`\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[ -/]+[0-~]|[0-~])`)

// stripANSI returns s without escape sequences.
func stripANSI(s string) string {
	if strings.IndexByte(s, 0x1b) < 0 {
		return s
	}
	return ansiSequence.ReplaceAllString(s, "")
}

// plainWriter passes text on to w a line at a time without escape
// sequences, so that one cut between two writes is still removed. Flush
// writes what is left of the last line.
type plainWriter struct {
	w    io.Writer
	line []byte
}

func (p *plainWriter) Write(b []byte) (int, error) {
	p.line = append(p.line, b...)
	end := bytes.LastIndexByte(p.line, '\n')
	if end < 0 {
		return len(b), nil
	}
	if _, err := io.WriteString(p.w, stripANSI(string(p.line[:end+1]))); err != nil {
		return 0, err
	}
	p.line = append(p.line[:0], p.line[end+1:]...)
	return len(b), nil
}

// Flush writes the rest of an unended last line.
func (p *plainWriter) Flush() error {
	if len(p.line) == 0 {
		return nil
	}
	_, err := io.WriteString(p.w, stripANSI(string(p.line)))
	p.line = p.line[:0]
	return err
}
