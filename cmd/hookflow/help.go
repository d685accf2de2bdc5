package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// helpText is what `hookflow help NAME` says about a command or a
// subcommand beyond its synopsis and flags, which its flag set knows.
type helpText struct {
	summary     string // one line, in the list of commands
	description string // one paragraph
	example     string // one or more command lines
}

// helpTexts are the help of every command, keyed by its name ("runs list").
func helpTexts() map[string]helpText {
	return map[string]helpText{
		"serve": {"run the trigger server",
			"Serves the webhook endpoints, the management API and the web UI, fires cron schedules, and runs the workflows of the workflows folder, reloading them when they change.",
			"hookflow serve --config hookflow.yaml"},
		"agent": {"run jobs for the servers on this host",
			"Connects to the server nodes with an agent token, takes the jobs whose runs_on labels it offers, runs them here and reports their results and logs.",
			"hookflow agent --server https://hooks.example.com --token-file /etc/hookflow/agent-token --labels linux,docker"},
		"validate": {"check workflow files",
			"Parses and checks the workflow files in each PATH (a file or a folder; the workflows folder by default) and prints every problem with its file:line:col. Exits 1 when a file is invalid.",
			"hookflow validate workflows/"},
		"run": {"run one workflow locally",
			"Runs WORKFLOW on this machine, without a server: the payload file enters as a delivery to the workflow's first webhook trigger would, or, without --event, as a dispatch with --input values. Exits 1 when the run does not succeed.",
			"hookflow run deploy --event push.json --header X-GitHub-Event=push"},
		"match": {"show which workflows an event would start",
			"Shows, for a delivery of the payload file to the webhook path, which workflows would run and why the others would not, without running anything.",
			"hookflow match --path deploy --event push.json --header X-GitHub-Event=push"},
		"dispatch": {"start a workflow on the server",
			"Asks the server to start WORKFLOW by hand with the given inputs, and prints the run it started; follow it with `hookflow runs watch`.",
			"hookflow dispatch deploy --input env=prod"},
		"runs": {"list, show, follow, cancel and re-run the server's runs",
			"Works with the runs of a server: list them, show one with its steps, print or follow its log, watch its steps live, cancel it or run it again.",
			"hookflow runs list --workflow deploy --status failed"},
		"runs list": {"list runs, newest first",
			"Lists the server's runs, newest first, a page at a time; the filters combine.",
			"hookflow runs list --workflow deploy --status failed --limit 10"},
		"runs show": {"show a run and its steps",
			"Shows run ID: its status and why, what started it, its times, and its steps (or its jobs) with their outcomes, errors and outputs.",
			"hookflow runs show 01JQ8Z5W7Y3K2M4N6P8R0T2V4X"},
		"runs logs": {"print or follow a run's log",
			"Prints the log of run ID so far, or with -f follows it until the run ends. Colour from the steps is kept only when the output is a terminal and NO_COLOR is not set.",
			"hookflow runs logs -f 01JQ8Z5W7Y3K2M4N6P8R0T2V4X"},
		"runs watch": {"watch a run's jobs and steps live",
			"Shows the status of run ID's jobs and steps as they change until the run ends: redrawn in place on a terminal, a line per change otherwise. Exits 0 when the run succeeded, 1 otherwise.",
			"hookflow runs watch 01JQ8Z5W7Y3K2M4N6P8R0T2V4X"},
		"runs cancel": {"cancel a run",
			"Cancels run ID: a queued run is skipped at once, a running one is asked to stop.",
			"hookflow runs cancel 01JQ8Z5W7Y3K2M4N6P8R0T2V4X"},
		"runs rerun": {"run a run again",
			"Starts a new attempt of run ID, for the same event, and prints it.",
			"hookflow runs rerun 01JQ8Z5W7Y3K2M4N6P8R0T2V4X"},
		"events": {"list, show and replay the server's events",
			"Works with the deliveries the server stored: list them, show one with what each workflow made of it, or replay it.",
			"hookflow events list --path deploy"},
		"events list": {"list events, newest first",
			"Lists the stored deliveries, newest first, a page at a time, with the runs each started and the workflows it skipped.",
			"hookflow events list --path deploy --limit 20"},
		"events show": {"show an event and its verdicts",
			"Shows event ID and, for each workflow, whether it ran (and which runs) or why not. Its payload is in -o json.",
			"hookflow events show 01JQ8Z5W7Y3K2M4N6P8R0T2V4X"},
		"events replay": {"deliver an event again",
			"Matches event ID against the workflows as they are now and starts the runs it selects, as a new delivery would.",
			"hookflow events replay 01JQ8Z5W7Y3K2M4N6P8R0T2V4X"},
		"agents": {"list, add and remove the server's agents",
			"Works with the agents a server knows: list them with their state and jobs, register one and get its token, or remove one.",
			"hookflow agents add build-01 --labels linux,docker"},
		"agents list": {"list agents",
			"Lists the registered agents, whether they are online, their labels and the jobs they run.",
			"hookflow agents list"},
		"agents add": {"register an agent",
			"Registers agent NAME with the labels of the jobs it may run and prints its token, shown this once.",
			"hookflow agents add build-01 --labels linux,docker"},
		"agents remove": {"remove an agent",
			"Removes agent NAME; its token stops working.",
			"hookflow agents remove build-01"},
		"doctor": {"check the configuration, the store and the sandbox",
			"Checks the configuration, the workflows folder, the store and the sandbox levels this machine offers, and says what to fix.",
			"hookflow doctor --config hookflow.yaml"},
		"schema": {"print the JSON Schema of workflow files",
			"Prints the JSON Schema of workflow files, for editors that complete and check YAML.",
			"hookflow schema > hookflow.schema.json"},
		"completion": {"print a shell completion script",
			"Prints the completion script of SHELL (bash, zsh or fish): commands, subcommands and flags, and workflow names, run ids and event ids asked of the server (with the same --server and --token as the command being completed).",
			"source <(hookflow completion bash)"},
		"version": {"print the version",
			"Prints the version of hookflow.",
			"hookflow version"},
		"help": {"show the help of a command",
			"Shows the help of COMMAND, or of one of its subcommands.",
			"hookflow help runs list"},
	}
}

// groupSubs returns the subcommands of the command group, or nil when
// group is not a group.
func groupSubs(group string) []clientSub {
	switch group {
	case "runs":
		return runsSubs()
	case "events":
		return eventsSubs()
	case "agents":
		return agentsSubs()
	}
	return nil
}

// printUsage prints the list of commands.
func printUsage(w io.Writer) {
	help := helpTexts()
	fmt.Fprint(w, "hookflow turns webhooks into durable, sandboxed automation runs.\n\nUsage: hookflow COMMAND [flags]\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands() {
		if !c.hidden {
			fmt.Fprintf(tw, "  %s\t%s\n", c.name, help[c.name].summary)
		}
	}
	tw.Flush()
	printGlobalFlags(w)
	fmt.Fprint(w, "\nRun 'hookflow help COMMAND' for a command's flags and an example.\n")
}

// printGlobalFlags explains the flags that may stand anywhere.
func printGlobalFlags(w io.Writer) {
	fmt.Fprint(w, "\nGlobal flags of the server clients, before or after the command:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "  --server URL\tserver URL (default $HOOKFLOW_SERVER or http://127.0.0.1:8080)\n")
	fmt.Fprint(tw, "  --token TOKEN\tAPI token (default $HOOKFLOW_TOKEN)\n")
	fmt.Fprint(tw, "  -o FORMAT\toutput format: text or json\n")
	tw.Flush()
}

// printGroupHelp prints the help of a command group and its subcommands.
func printGroupHelp(w io.Writer, group string, subs []clientSub) {
	help := helpTexts()
	h := help[group]
	fmt.Fprintf(w, "Usage: hookflow %s SUBCOMMAND [flags]\n\n%s\n\nSubcommands:\n", group, h.description)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range subs {
		fmt.Fprintf(tw, "  %s\t%s\n", s.name, help[group+" "+s.name].summary)
	}
	tw.Flush()
	printGlobalFlags(w)
	fmt.Fprintf(w, "\nExample:\n  %s\n\nRun 'hookflow help %s SUBCOMMAND' for a subcommand's flags.\n", h.example, group)
}

// printCommandHelp prints the help of the command name: its synopsis, what
// it does, its flags with their defaults, and an example. No default comes
// from the environment, so no token is ever shown.
func printCommandHelp(w io.Writer, name, synopsis string, fs *flag.FlagSet) {
	h := helpTexts()[name]
	fmt.Fprintf(w, "Usage: hookflow %s\n\n%s\n", strings.TrimSpace(name+" "+synopsis), h.description)
	var flags strings.Builder
	tw := tabwriter.NewWriter(&flags, 0, 0, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(tw, "  %s\t%s%s\n", strings.TrimSpace(flagName(f.Name)+" "+kind), usage, flagDefault(f, kind))
	})
	tw.Flush()
	if flags.Len() > 0 {
		fmt.Fprintf(w, "\nFlags:\n%s", flags.String())
	}
	fmt.Fprintf(w, "\nExample:\n  %s\n", h.example)
}

// flagName is how a flag is written: -o, --server.
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// flagDefault is " (default X)" for a flag whose default is not its type's
// zero value, nor already said in its usage.
func flagDefault(f *flag.Flag, kind string) string {
	switch f.DefValue {
	case "", "0", "false", "[]", "0s":
		return ""
	}
	if strings.Contains(f.Usage, "(default") {
		return ""
	}
	if kind == "string" {
		return fmt.Sprintf(" (default %q)", f.DefValue)
	}
	return " (default " + f.DefValue + ")"
}

// cmdHelp prints the help of the command or subcommand args name, to
// stdout.
func cmdHelp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	globals, args, err := leadingGlobals(args)
	if err != nil || len(globals) > 0 {
		fmt.Fprintln(stderr, "hookflow help: name a command: hookflow help COMMAND [SUBCOMMAND]")
		return exitUsage
	}
	if len(args) == 0 {
		printUsage(stdout)
		return exitOK
	}
	if isHelpFlag(args[0]) || len(args) == 1 && args[0] == "help" {
		printCommandHelp(stdout, "help", "[COMMAND [SUBCOMMAND]]", flag.NewFlagSet("help", flag.ContinueOnError))
		return exitOK
	}
	c, ok := lookupCommand(args[0])
	known := ok && !c.hidden && len(args) <= 2
	if known && len(args) == 2 {
		known = slices.ContainsFunc(groupSubs(args[0]), func(s clientSub) bool { return s.name == args[1] })
	}
	if !known {
		fmt.Fprintf(stderr, "hookflow help: no command %q (run hookflow help)\n", strings.Join(args, " "))
		return exitUsage
	}
	return c.run(ctx, append(args[1:], "--help"), stdout, stdout)
}
