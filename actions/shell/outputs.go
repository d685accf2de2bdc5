package shell

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/hookflow/hookflow/actions"
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

// MaxSummaryBytes is the longest step summary kept; the rest is cut.
const MaxSummaryBytes = 128 << 10

// readStepFiles reads what a finished step wrote to the files the runner gave
// it: $HOOKFLOW_OUTPUT, $HOOKFLOW_ENV and $HOOKFLOW_STEP_SUMMARY.
func readStepFiles(s *actions.Step) (outputs map[string]any, env map[string]string, summary string, err error) {
	var errs []error
	values, err := readStepFile(inWorkspace(s, s.OutputFile), "output file", "$HOOKFLOW_OUTPUT", ParseOutputs)
	if err != nil {
		errs = append(errs, err)
	} else if values != nil {
		outputs = make(map[string]any, len(values))
		for k, v := range values {
			outputs[k] = v
		}
	}
	env, err = readStepFile(inWorkspace(s, s.EnvFile), "env file", "$HOOKFLOW_ENV", parseEnvFile)
	if err != nil {
		errs = append(errs, err)
	}
	summary, err = readStepFile(inWorkspace(s, s.SummaryFile), "summary file", "$HOOKFLOW_STEP_SUMMARY", readSummary)
	if err != nil {
		errs = append(errs, err)
	}
	return outputs, env, summary, errors.Join(errs...)
}

// readStepFile opens a file the step wrote and parses it; a missing file (or
// none given) parses as nothing. The file is opened without following a
// symbolic link and must be a regular file: the step controls it, and must not
// be able to make the server read (and publish) a file the step itself cannot
// see, nor block it on a FIFO.
func readStepFile[T any](path, what, variable string, parse func(io.Reader) (T, error)) (T, error) {
	var zero T
	if path == "" {
		return zero, nil
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return zero, nil
	case errors.Is(err, syscall.ELOOP):
		return zero, fmt.Errorf("%s: it was replaced by a symbolic link; append to %s instead", what, variable)
	case err != nil:
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return zero, fmt.Errorf("%s: %w", what, err)
	} else if !fi.Mode().IsRegular() {
		return zero, fmt.Errorf("%s: not a regular file; append to %s instead of replacing it", what, variable)
	}
	v, err := parse(f)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

// parseEnvFile reads $HOOKFLOW_ENV, in the format of outputs. A name must be
// an environment variable's, and may be neither one of hookflow's own
// (HOOKFLOW_*) nor one whose value shells run as code.
func parseEnvFile(r io.Reader) (map[string]string, error) {
	values, err := ParseOutputs(r)
	if err != nil {
		return nil, err
	}
	for name := range values {
		switch {
		case strings.Contains(name, "-"):
			return nil, fmt.Errorf("%s: an environment variable's name has letters, digits and _ only", name)
		case strings.HasPrefix(name, "HOOKFLOW_"):
			return nil, fmt.Errorf("%s: hookflow sets its own variables; use another name", name)
		case slices.Contains(shellCodeVars, name):
			return nil, fmt.Errorf("%s: shells run its value as code, so a step may not set it", name)
		}
	}
	return values, nil
}

// readSummary reads $HOOKFLOW_STEP_SUMMARY, cut at MaxSummaryBytes on a
// character boundary, with invalid UTF-8 replaced.
func readSummary(r io.Reader) (string, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSummaryBytes+1))
	if err != nil {
		return "", err
	}
	text := string(data)
	if len(data) > MaxSummaryBytes {
		cut := MaxSummaryBytes
		for cut > 0 && !utf8.RuneStart(data[cut]) {
			cut--
		}
		text = string(data[:cut]) + "\n\n*(summary cut at 128 KiB)*\n"
	}
	return strings.ToValidUTF8(text, "\uFFFD"), nil
}
