package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hookflow/hookflow/client"
)

// The server clients (dispatch, runs, events) talk to the management API of
// SPEC §8 through package client; here are their flags and their output.

// clientCall is one server-client command being run: its name for messages,
// its connection flags, and where it writes.
type clientCall struct {
	name   string
	fs     *flag.FlagSet
	server string
	token  string
	output string
	api    *client.Client
	stdout io.Writer
	stderr io.Writer
}

// newClientCall starts a command named like "runs show" with the flags every
// server client takes; withOutput adds -o.
func newClientCall(name, synopsis string, withOutput bool, stdout, stderr io.Writer) *clientCall {
	c := &clientCall{name: name, output: "text", stdout: stdout, stderr: stderr}
	c.fs = newFlags(name, synopsis, stderr)
	// The defaults come from the environment after parsing, so that -h never
	// prints a token.
	c.fs.StringVar(&c.server, "server", "", "server URL (default $HOOKFLOW_SERVER or "+client.DefaultServer+")")
	c.fs.StringVar(&c.token, "token", "", "API token (default $HOOKFLOW_TOKEN)")
	if withOutput {
		c.fs.StringVar(&c.output, "o", "text", "output format: text or json")
	}
	return c
}

// parse parses args, which must hold exactly len(want) positional arguments,
// named by want in the usage message, and readies the API client. When ok is
// false the command ends with code.
func (c *clientCall) parse(args []string, want ...string) (pos []string, code int, ok bool) {
	pos, err := parseArgs(c.fs, args)
	if err != nil {
		return nil, usageError(c.stderr, c.name, err), false
	}
	if len(pos) != len(want) {
		if len(want) == 0 {
			err = fmt.Errorf("unexpected argument %q", pos[0])
		} else {
			err = fmt.Errorf("name the %s: hookflow %s %s", strings.Join(want, " and "), c.name, strings.Join(want, " "))
		}
		return nil, usageError(c.stderr, c.name, err), false
	}
	for i, p := range pos {
		if p == "" {
			return nil, usageError(c.stderr, c.name, fmt.Errorf("the %s is empty", want[i])), false
		}
	}
	if c.output != "text" && c.output != "json" {
		return nil, usageError(c.stderr, c.name, fmt.Errorf("-o %q: use text or json", c.output)), false
	}
	api, err := connect(&c.server, &c.token)
	if err != nil {
		return nil, usageError(c.stderr, c.name, fmt.Errorf("--server %w", err)), false
	}
	c.api = api
	return pos, exitOK, true
}

// connect returns the API client for server and token, which default to
// $HOOKFLOW_SERVER and $HOOKFLOW_TOKEN (set in place, so that the caller
// knows what was used).
func connect(server, token *string) (*client.Client, error) {
	if *server == "" {
		*server = os.Getenv("HOOKFLOW_SERVER")
	}
	if *token == "" {
		*token = os.Getenv("HOOKFLOW_TOKEN")
	}
	api, err := client.New(*server, *token, nil)
	if err != nil {
		return nil, err
	}
	api.UserAgent = "hookflow/" + version
	return api, nil
}

// pageFlags adds --limit and --before, which page a list of noun, to page.
func (c *clientCall) pageFlags(noun string, page *client.Page) {
	c.fs.IntVar(&page.Limit, "limit", 0, "at most this many "+noun+" (default: the server's)")
	c.fs.StringVar(&page.Before, "before", "", "only "+noun+" older than this cursor (the \"next\" of an earlier page)")
}

// parsePage is parse for a list command, which takes no arguments; it checks
// the page flags.
func (c *clientCall) parsePage(args []string, page *client.Page) (code int, ok bool) {
	if _, code, ok := c.parse(args); !ok {
		return code, false
	}
	if page.Limit < 0 {
		return usageError(c.stderr, c.name, fmt.Errorf("--limit %d: use a positive number", page.Limit)), false
	}
	return exitOK, true
}

// fail prints err as the command's one-line error and returns exitFail.
func (c *clientCall) fail(err error) int {
	if errors.Is(err, context.Canceled) {
		err = errors.New("interrupted")
	}
	msg := err.Error()
	var ae *client.Error
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && c.token == "" {
		msg += "; pass --token or set HOOKFLOW_TOKEN"
	}
	fmt.Fprintf(c.stderr, "hookflow %s: %s\n", c.name, msg)
	return exitFail
}

// answer is an answer of the API, which knows its JSON as sent.
type answer interface{ JSON() json.RawMessage }

// show prints the answer v of a request that ended with err: as the server's
// JSON with -o json, else by text.
func show[T answer](c *clientCall, v T, err error, text func(w io.Writer, v T)) int {
	if err != nil {
		return c.fail(err)
	}
	if c.output == "json" {
		raw := v.JSON()
		if len(raw) == 0 {
			return exitOK
		}
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return c.fail(err)
		}
		buf.WriteByte('\n')
		c.stdout.Write(buf.Bytes())
		return exitOK
	}
	text(c.stdout, v)
	return exitOK
}

// byID runs the command name, which takes a run's or an event's ID, sends
// call's request for it and shows the answer.
func byID[T answer](ctx context.Context, name string, args []string, stdout, stderr io.Writer,
	call func(api *client.Client, ctx context.Context, id string) (T, error), text func(w io.Writer, v T)) int {
	c := newClientCall(name, "ID [-o json]", true, stdout, stderr)
	pos, code, ok := c.parse(args, "ID")
	if !ok {
		return code
	}
	v, err := call(c.api, ctx, pos[0])
	return show(c, v, err, text)
}

// clientSub is a subcommand of a server client, such as `runs show`.
type clientSub struct {
	name string
	run  func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// clientGroup runs the subcommand of group that args name, after any
// global flags, which it hands on to the subcommand.
func clientGroup(ctx context.Context, group string, subs []clientSub, args []string, stdout, stderr io.Writer) int {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.name
	}
	choices := strings.Join(names, "|")
	globals, rest, err := leadingGlobals(args)
	if err != nil {
		return usageError(stderr, group, err)
	}
	if len(rest) == 0 {
		return usageError(stderr, group, fmt.Errorf("name a subcommand: hookflow %s %s", group, choices))
	}
	if isHelpFlag(rest[0]) {
		printGroupHelp(stderr, group, subs)
		return exitOK
	}
	if rest[0] == "help" {
		return cmdHelp(ctx, append([]string{group}, rest[1:]...), stdout, stderr)
	}
	for _, s := range subs {
		if s.name == rest[0] {
			return s.run(ctx, append(globals, rest[1:]...), stdout, stderr)
		}
	}
	return usageError(stderr, group, fmt.Errorf("unknown subcommand %q: use %s", rest[0], choices))
}

// printPage prints a page of a list of noun: a table of header and rows, or
// "no <noun>", then the cursor of the next page.
func printPage(w io.Writer, noun, header string, rows []string, next string) {
	if len(rows) == 0 {
		fmt.Fprintf(w, "no %s\n", noun)
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, header)
		for _, r := range rows {
			fmt.Fprintln(tw, r)
		}
		tw.Flush()
	}
	if next != "" {
		fmt.Fprintf(w, "next: %s\n", next)
	}
}

// printFields prints name: value lines, aligned, leaving out empty values.
func printFields(w io.Writer, fields ...string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", fields[i], fields[i+1])
		}
	}
	tw.Flush()
}

// clientTime shows a time in the local zone; "-" when it has not happened.
func clientTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// clientDuration shows how long from start to end took; "-" until both are known.
func clientDuration(start, end time.Time) string {
	if start.IsZero() || end.IsZero() {
		return "-"
	}
	d := end.Sub(start)
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

// oneLine keeps multi-line text on one line of a table.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", `\n`)
}

// clientReason is " (reason)", or nothing without one.
func clientReason(reason string) string {
	if reason == "" {
		return ""
	}
	return " (" + oneLine(reason) + ")"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
