package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "run the trigger server", cmdServe},
		{"agent", "run jobs for the servers on this host: hookflow agent --server URL --token-file F [--labels a,b]", cmdAgent},
		{"validate", "check workflow files: hookflow validate [PATH...]", cmdValidate},
		{"run", "run one workflow locally: hookflow run WORKFLOW --event FILE", cmdRun},
		{"match", "show which workflows an event would start: hookflow match --path P --event FILE", cmdMatch},
		{"dispatch", "start a workflow on the server: hookflow dispatch WORKFLOW [--input K=V]...", cmdDispatch},
		{"runs", "server runs: hookflow runs list|show ID|logs ID [-f]|cancel ID|rerun ID", cmdRuns},
		{"events", "server events: hookflow events list|show ID|replay ID", cmdEvents},
		{"agents", "server agents: hookflow agents list|add NAME --labels a,b|remove NAME", cmdAgents},
		{"doctor", "check the configuration, the store and the sandbox levels this machine offers", cmdDoctor},
		{"schema", "print the JSON Schema of workflow files", cmdSchema},
		{"version", "print the version", cmdVersion},
	}
}

// Main runs the command line args and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "hookflow: unknown command %q (run hookflow help)\n", args[0])
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "hookflow turns webhooks into durable, sandboxed automation runs.")
	fmt.Fprintln(w, "\nUsage: hookflow COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
}

func cmdVersion(_ context.Context, _ []string, stdout, _ io.Writer) int {
	fmt.Fprintf(stdout, "hookflow %s\n", version)
	return exitOK
}

// newFlags returns a flag set that reports errors itself and prints its usage
// to stderr.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: hookflow %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags wherever they stand among the positional arguments,
// so that both `run NAME --event F` and `run --event F NAME` work.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// usageError prints a one-line usage error and returns exitUsage.
func usageError(stderr io.Writer, name string, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
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
