package shell

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// MaxOutputBytes is the largest output file a step may write.
const MaxOutputBytes = 1 << 20

// ParseOutputs reads step outputs in the format of GitHub Actions'
// $GITHUB_OUTPUT: `name=value` lines, and for multi-line values a `name<<DELIM`
// line, the value's lines, and a line holding only DELIM. The value of a
// heredoc is its lines joined by "\n", without a trailing newline. Blank lines
// are skipped; a later value for a name replaces an earlier one. Names match
// [A-Za-z_][A-Za-z0-9_-]*. Errors name the line they are about.
func ParseOutputs(r io.Reader) (map[string]string, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxOutputBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxOutputBytes {
		return nil, errors.New("larger than 1 MiB: write big values to a file and output its path")
	}
	lines := strings.Split(string(data), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1] // the newline ending the last line
	}
	// Lines may end in \r\n when written by tools that do so.
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}

	out := map[string]string{}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.TrimSpace(line) == "" {
			continue
		}
		eq := strings.IndexByte(line, '=')
		heredoc := strings.Index(line, "<<")
		switch {
		case eq >= 0 && (heredoc < 0 || eq < heredoc):
			name, value := line[:eq], line[eq+1:]
			if err := checkName(name); err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			out[name] = value
		case heredoc >= 0:
			name, delim := line[:heredoc], line[heredoc+2:]
			if err := checkName(name); err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			if strings.TrimSpace(delim) == "" {
				return nil, fmt.Errorf("line %d: %s<< has no delimiter: write %s<<EOF, the value's lines, then EOF", i+1, name, name)
			}
			end := -1
			for j := i + 1; j < len(lines); j++ {
				if lines[j] == delim {
					end = j
					break
				}
			}
			if end < 0 {
				return nil, fmt.Errorf("line %d: %s<<%s is not closed: end the value with a line holding only %s", i+1, name, delim, delim)
			}
			out[name] = strings.Join(lines[i+1:end], "\n")
			i = end
		default:
			return nil, fmt.Errorf("line %d: not an output: write name=value, or name<<EOF, the value's lines, then EOF", i+1)
		}
	}
	return out, nil
}

// checkName reports whether name may name an output: [A-Za-z_][A-Za-z0-9_-]*.
func checkName(name string) error {
	valid := name != ""
	for i, c := range name {
		letter := c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || c != '-' && (c < '0' || c > '9')) {
			valid = false
			break
		}
	}
	if !valid {
		return fmt.Errorf("invalid output name %q: use letters, digits, _ and -, starting with a letter or _", name)
	}
	return nil
}

// readOutputs parses the step's output file into Result outputs. A missing
// file holds none. The file is opened without following a symbolic link and
// must be a regular file: the step controls it, and must not be able to make
// the server read (and publish as outputs) a file the step itself cannot see,
// nor block it on a FIFO.
func readOutputs(path string) (map[string]any, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case errors.Is(err, syscall.ELOOP):
		return nil, errors.New("output file: it was replaced by a symbolic link; append to $HOOKFLOW_OUTPUT instead")
	case err != nil:
		return nil, fmt.Errorf("output file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("output file: %w", err)
	} else if !fi.Mode().IsRegular() {
		return nil, errors.New("output file: not a regular file; append to $HOOKFLOW_OUTPUT instead of replacing it")
	}
	values, err := ParseOutputs(f)
	if err != nil {
		return nil, fmt.Errorf("output file: %w", err)
	}
	outputs := make(map[string]any, len(values))
	for k, v := range values {
		outputs[k] = v
	}
	return outputs, nil
}
