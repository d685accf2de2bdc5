// Package client talks to a hookflow server's management API (SPEC §8):
// runs, their logs, events and dispatch. `hookflow runs`, `hookflow events`
// and `hookflow dispatch` are built on it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultServer is where a server listens unless configured otherwise.
	DefaultServer = "http://127.0.0.1:8080"
	// requestTimeout bounds every request except a followed log.
	requestTimeout = 30 * time.Second
	// maxAnswer bounds a JSON answer; the API pages its lists, so a larger one
	// means the client points at something else.
	maxAnswer = 32 << 20
)

// Client sends requests to one hookflow server. Its methods may be called
// concurrently.
type Client struct {
	// UserAgent is sent with every request; New sets it to "hookflow".
	UserAgent string

	base  string // scheme://host[/prefix], no trailing slash
	token string
	http  *http.Client
	// stream has no timeout: a followed run may take hours; the context
	// ends it.
	stream *http.Client
}

// New returns a client of the server at the URL server (DefaultServer when
// empty) that sends token, when not empty, as its bearer token. hc, when not
// nil, makes the requests; its Timeout does not apply to a followed log.
func New(server, token string, hc *http.Client) (*Client, error) {
	if server == "" {
		server = DefaultServer
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q: write a URL such as %s", server, DefaultServer)
	}
	if hc == nil {
		hc = &http.Client{Timeout: requestTimeout}
	}
	stream := &http.Client{Transport: hc.Transport, CheckRedirect: hc.CheckRedirect, Jar: hc.Jar}
	return &Client{UserAgent: "hookflow", base: strings.TrimRight(server, "/"), token: token, http: hc, stream: stream}, nil
}

// Error is an answer of the server other than a success.
type Error struct {
	// Status is the HTTP status.
	Status int
	// Message is the API's {"error": "..."}, or the status text.
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status) }

// send makes one request and returns the response when its status is 2xx; the
// caller closes its body. body, when not nil, is sent as JSON.
func (c *Client) send(ctx context.Context, hc *http.Client, method, path string, body any, header http.Header) (*http.Response, error) {
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
	req.Header.Set("User-Agent", c.UserAgent)
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

// do makes one request and decodes the JSON answer into out, keeping the
// answer as sent when out holds an Answer. An empty answer leaves out
// unchanged.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
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
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return fmt.Errorf("the answer from %s is not hookflow's JSON (%s): %w", c.redacted(), resp.Header.Get("Content-Type"), err)
		}
		return fmt.Errorf("the answer from %s does not fit: %w", c.redacted(), err)
	}
	if a, ok := out.(interface{ keep(json.RawMessage) }); ok {
		a.keep(data)
	}
	return nil
}

// redacted is the server URL without a password, for messages.
func (c *Client) redacted() string {
	u, err := url.Parse(c.base)
	if err != nil {
		return c.base
	}
	return u.Redacted()
}

// answerError turns a non-2xx answer into an *Error, with the message of the
// API's {"error": "..."} body, or the status text when there is none.
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
	return &Error{Status: resp.StatusCode, Message: msg}
}

// apiPath joins escaped path segments under /api/v1.
func apiPath(segments ...string) string {
	var b strings.Builder
	b.WriteString("/api/v1")
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// Page says which page of a list to fetch. Zero fields leave the choice to
// the server.
type Page struct {
	// Limit is the most items the page holds (the server's default when 0).
	Limit int
	// Before is a cursor, the Next of an earlier page: only older items.
	Before string
}

// pagePath is path with a query of the non-empty values of q and page.
func pagePath(path string, q url.Values, page Page) string {
	q.Set("before", page.Before)
	if page.Limit > 0 {
		q.Set("limit", strconv.Itoa(page.Limit))
	}
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

// call sends a request and returns its answer decoded into a new T.
func call[T any](ctx context.Context, c *Client, method, path string, body any) (*T, error) {
	v := new(T)
	if err := c.do(ctx, method, path, body, v); err != nil {
		return nil, err
	}
	return v, nil
}
