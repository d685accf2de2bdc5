package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and the answer is no: invalid files, a failed run
	exitUsage = 2 // the command could not run as asked
)

// version is set at build time with -ldflags "-X main.version=…", or else
// from the build's VCS stamp (version.go).
var version = "dev"

// command is one subcommand. Its description and example are in help.go.
type command struct {
	name string
	run  func(ctx context.Context, args []string, stdout, stderr io.Writer) int
	// hidden commands are left out of help and completion.
	hidden bool
}

func commands() []command {
	return []command{
		{name: "serve", run: cmdServe},
		{name: "agent", run: cmdAgent},
		{name: "validate", run: cmdValidate},
		{name: "run", run: cmdRun},
		{name: "match", run: cmdMatch},
		{name: "dispatch", run: cmdDispatch},
		{name: "runs", run: cmdRuns},
		{name: "events", run: cmdEvents},
		{name: "agents", run: cmdAgents},
		{name: "doctor", run: cmdDoctor},
		{name: "schema", run: cmdSchema},
		{name: "completion", run: cmdCompletion},
		{name: "version", run: cmdVersion},
		{name: "help", run: cmdHelp},
		{name: completeCommand, run: cmdComplete, hidden: true},
	}
}

// lookupCommand returns the command called name.
func lookupCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// Main runs the command line args and returns the exit code. The global
// flags (--server, --token, -o) may come before the command; they are handed
// on to it, and a command that does not take one says so.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	globals, rest, err := leadingGlobals(args)
	if err != nil {
		fmt.Fprintf(stderr, "hookflow: %s\n", err)
		return exitUsage
	}
	if len(rest) == 0 {
		printUsage(stderr)
		return exitUsage
	}
	if isHelpFlag(rest[0]) {
		printUsage(stdout)
		return exitOK
	}
	c, ok := lookupCommand(rest[0])
	if !ok {
		fmt.Fprintf(stderr, "hookflow: unknown command %q (run hookflow help)\n", rest[0])
		return exitUsage
	}
	if helpAsked(rest[1:]) {
		// Help that was asked for is the answer, so it goes to stdout.
		stderr = stdout
	}
	return c.run(ctx, append(globals, rest[1:]...), stdout, stderr)
}

// globalFlags are the flags every server client takes, which may stand
// before the command as well as after it; each takes a value.
var globalFlags = []string{"server", "token", "o"}

// leadingGlobals splits the global flags at the start of args, in either
// form (--server URL or --server=URL), from the rest, which starts at the
// first word that is not one.
func leadingGlobals(args []string) (globals, rest []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" || isHelpFlag(a) {
			return globals, args[i:], nil
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !slices.Contains(globalFlags, name) {
			return nil, nil, fmt.Errorf("unknown flag %s before the command: the flags before it are --server, --token and -o", a)
		}
		if hasValue {
			globals = append(globals, a)
			continue
		}
		if i+1 == len(args) {
			return nil, nil, fmt.Errorf("flag %s needs a value", a)
		}
		globals = append(globals, a, args[i+1])
		i++
	}
	return globals, nil, nil
}

// isHelpFlag reports whether a asks for help.
func isHelpFlag(a string) bool { return a == "-h" || a == "--help" || a == "-help" }

// helpAsked reports whether args ask for help, before any "--".
func helpAsked(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if isHelpFlag(a) {
			return true
		}
	}
	return false
}

func cmdVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", "", stderr)
	if pos, err := parseArgs(fs, args); err != nil || len(pos) > 0 {
		if err == nil {
			err = fmt.Errorf("unexpected argument %q", pos[0])
		}
		return usageError(stderr, "version", err)
	}
	fmt.Fprintf(stdout, "hookflow %s\n", version)
	return exitOK
}

// newFlags returns a flag set for the command name that reports its own
// errors: on -h it prints the command's help to stderr (which Main points
// at stdout when help was asked for), on a bad flag the error and the
// synopsis.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package writes the message of a bad flag here just before
	// it calls Usage, which prints it in hookflow's words.
	msg := &strings.Builder{}
	fs.SetOutput(msg)
	fs.Usage = func() {
		if msg.Len() == 0 {
			printCommandHelp(stderr, name, synopsis, fs)
			return
		}
		problem := strings.TrimSpace(msg.String())
		if unknown, ok := strings.CutPrefix(problem, "flag provided but not defined: -"); ok {
			problem = fmt.Sprintf("%s takes no flag %s", name, flagName(unknown))
		}
		fmt.Fprintf(stderr, "hookflow %s: %s\nUsage: hookflow %s %s\nRun 'hookflow help %s' for the flags.\n",
			name, problem, name, synopsis, name)
		msg.Reset()
	}
	return fs
}

// parseArgs parses flags wherever they stand among the positional arguments,
// so that both `run NAME --event F` and `run --event F NAME` work. A bad
// flag has been reported when it returns.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, reportedError{err}
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// reportedError is a usage error already printed.
type reportedError struct{ error }

// usageError prints a one-line usage error and returns exitUsage.
func usageError(stderr io.Writer, name string, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	var reported reportedError
	if errors.As(err, &reported) {
		return exitUsage
	}
	fmt.Fprintf(stderr, "hookflow %s: %s\n", name, err)
	return exitUsage
}

// pairs is a repeatable K=V flag.
type pairs []string

func (p *pairs) String() string { return strings.Join(*p, ",") }

func (p *pairs) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("%q: write KEY=VALUE", v)
	}
	*p = append(*p, v)
	return nil
}

// Map returns the pairs as a map; a later key wins.
func (p pairs) Map() map[string]string {
	m := make(map[string]string, len(p))
	for _, kv := range p {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}
