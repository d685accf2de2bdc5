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
	"net/url"
	"os"
	"strings"
	"time"
)

// The server clients (dispatch, runs, events) talk to the management API of
// SPEC §8.

const (
	defaultServer = "http://127.0.0.1:8080"
	// clientTimeout bounds every request except a followed log.
	clientTimeout = 30 * time.Second
	// maxAnswer bounds a JSON answer; the API pages its lists, so a larger one
	// means --server points at something else.
	maxAnswer = 32 << 20
)

// apiClient sends requests to one hookflow server.
type apiClient struct {
	base  string // scheme://host[/prefix], no trailing slash
	token string
	http  *http.Client
}

// apiError is an error the server answered.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status) }

// send makes one request and returns the response when its status is 2xx; the
// caller closes its body. body, when not nil, is sent as JSON.
func (c *apiClient) send(ctx context.Context, hc *http.Client, method, path string, body any, header http.Header) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("User-Agent", "hookflow/"+version)
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("cannot reach the server at %s: %w", c.redacted(), err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, answerError(resp)
	}
	return resp, nil
}

// do makes one request and decodes the JSON answer into out, which may be a
// *json.RawMessage to keep it as sent. An empty answer leaves out unchanged.
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, c.http, method, path, body, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return fmt.Errorf("read answer from %s: %w", c.redacted(), err)
	}
	if len(data) > maxAnswer {
		return fmt.Errorf("answer from %s is larger than %d MiB", c.redacted(), maxAnswer>>20)
	}
	if len(bytes.TrimSpace(data)) == 0 || out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("the answer from %s is not hookflow's JSON (%s): %w", c.redacted(), resp.Header.Get("Content-Type"), err)
	}
	return nil
}

// redacted is the server URL without a password, for messages.
func (c *apiClient) redacted() string {
	u, err := url.Parse(c.base)
	if err != nil {
		return c.base
	}
	return u.Redacted()
}

// answerError turns a non-2xx answer into an *apiError, with the message of
// the API's {"error": "..."} body, or the status text when there is none.
func answerError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body struct {
		Error string `json:"error"`
	}
	msg := http.StatusText(resp.StatusCode)
	if json.Unmarshal(data, &body) == nil && body.Error != "" {
		msg = body.Error
	}
	if msg == "" {
		msg = "unexpected answer"
	}
	return &apiError{Status: resp.StatusCode, Message: msg}
}

// clientCall is one server-client command being run: its name for messages,
// its connection flags, and where it writes.
type clientCall struct {
	name   string
	fs     *flag.FlagSet
	server string
	token  string
	output string
	api    *apiClient
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
	c.fs.StringVar(&c.server, "server", "", "server URL (default $HOOKFLOW_SERVER or "+defaultServer+")")
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
	api, err := newAPIClient(c.server, c.token)
	if err != nil {
		return nil, usageError(c.stderr, c.name, err), false
	}
	c.api = api
	return pos, exitOK, true
}

// newAPIClient checks the server URL; empty server and token fall back to
// HOOKFLOW_SERVER and HOOKFLOW_TOKEN.
func newAPIClient(server, token string) (*apiClient, error) {
	if server == "" {
		server = os.Getenv("HOOKFLOW_SERVER")
	}
	if server == "" {
		server = defaultServer
	}
	if token == "" {
		token = os.Getenv("HOOKFLOW_TOKEN")
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--server %q: write a URL such as %s", server, defaultServer)
	}
	return &apiClient{base: strings.TrimRight(server, "/"), token: token, http: &http.Client{Timeout: clientTimeout}}, nil
}

// fail prints err as the command's one-line error and returns exitFail.
func (c *clientCall) fail(err error) int {
	if errors.Is(err, context.Canceled) {
		err = errors.New("interrupted")
	}
	msg := err.Error()
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && c.api.token == "" {
		msg += "; pass --token or set HOOKFLOW_TOKEN"
	}
	fmt.Fprintf(c.stderr, "hookflow %s: %s\n", c.name, msg)
	return exitFail
}

// clientShow sends one request and prints its answer: as the server's JSON
// with -o json, else decoded into a T and printed by text.
func clientShow[T any](ctx context.Context, c *clientCall, method, path string, body any, text func(w io.Writer, v *T)) int {
	var raw json.RawMessage
	if err := c.api.do(ctx, method, path, body, &raw); err != nil {
		return c.fail(err)
	}
	if c.output == "json" {
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
	v := new(T)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, v); err != nil {
			return c.fail(fmt.Errorf("the answer from %s does not fit: %w", c.api.redacted(), err))
		}
	}
	text(c.stdout, v)
	return exitOK
}

// clientSub is a subcommand of a server client, such as `runs show`.
type clientSub struct {
	name string
	run  func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// clientGroup runs the subcommand args[0] of group.
func clientGroup(ctx context.Context, group string, subs []clientSub, args []string, stdout, stderr io.Writer) int {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.name
	}
	choices := strings.Join(names, "|")
	if len(args) == 0 {
		return usageError(stderr, group, fmt.Errorf("name a subcommand: hookflow %s %s", group, choices))
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stderr, "Usage: hookflow %s %s (each takes -h)\n", group, choices)
		return exitOK
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(ctx, args[1:], stdout, stderr)
		}
	}
	return usageError(stderr, group, fmt.Errorf("unknown subcommand %q: use %s", args[0], choices))
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

// clientPath joins escaped path segments under /api/v1.
func clientPath(segments ...string) string {
	var b strings.Builder
	b.WriteString("/api/v1")
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// clientQuery appends the non-empty values of q to path.
func clientQuery(path string, q url.Values) string {
	for k, v := range q {
		if len(v) == 0 || v[0] == "" {
			delete(q, k)
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}
