package httpaction

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/mask"
)

// errTooManyRedirects stops the client at the redirect past MaxRedirects.
var errTooManyRedirects = fmt.Errorf("stopped after %d redirects", MaxRedirects)

// Run sends the request, following redirects, and reads the response body up
// to the size limit. Its outputs are `status`, `body`, `headers` (lower-case
// names, repeated values joined with ", ") and, when the response is JSON,
// `json`. A status that Expect does not match is an error, returned together
// with the full outputs; a body over max_response is one returned with only
// `status` and `headers`. One line per request goes to s.Stdout. Neither it nor
// the errors hold a secret of s.Mask or the URL's user information.
//
// Network errors, timeouts, 408, 429 and 5xx are retryable errors; a response
// too large, too many redirects, a bad certificate and other statuses are
// permanent. When ctx ends first, the error wraps ctx.Err().
func (a *Action) Run(ctx context.Context, s *actions.Step) (actions.Result, error) {
	c := a.newCall(s)
	if err := ctx.Err(); err != nil {
		return actions.Result{}, c.fail(ctx, nil, err)
	}
	reqCtx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()

	start := time.Now()
	resp, err := a.send(reqCtx, &c.redirects)
	if err != nil {
		// *url.Error quotes the full URL; fail names the request itself.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return actions.Result{}, c.fail(ctx, reqCtx, err)
	}
	defer resp.Body.Close()

	res := actions.Result{Outputs: map[string]any{
		"status":  resp.StatusCode,
		"headers": flattenHeader(resp.Header),
	}}
	body, err := io.ReadAll(io.LimitReader(resp.Body, a.maxResponse+1))
	if err != nil {
		return res, c.fail(ctx, reqCtx, fmt.Errorf("reading the response: %w", err))
	}
	if int64(len(body)) > a.maxResponse {
		// Closing the body unread drops the connection instead of draining it.
		c.log(fmt.Sprintf("%d (more than %d B, %s)", resp.StatusCode, a.maxResponse, since(start)))
		return res, actions.Permanent(fmt.Errorf("response body larger than max_response %d bytes", a.maxResponse))
	}
	res.Outputs["body"] = string(body)
	if v, ok := decodeJSON(resp.Header.Get("Content-Type"), body); ok {
		res.Outputs["json"] = v
	}
	c.log(fmt.Sprintf("%d (%d B, %s)", resp.StatusCode, len(body), since(start)))

	if !a.expect.Match(resp.StatusCode) {
		err := fmt.Errorf("unexpected status %d (expected %s)", resp.StatusCode, a.expect)
		if retryableStatus(resp.StatusCode) {
			return res, actions.Retryable(err)
		}
		return res, actions.Permanent(err)
	}
	return res, nil
}

// send makes the request with a client of its own, so that the redirect count
// belongs to this call only. Go's client keeps its usual redirect rules:
// 301-303 turn the request into a body-less GET (HEAD stays HEAD), 307 and 308
// resend it as it was, and Authorization is dropped for another host.
func (a *Action) send(ctx context.Context, redirects *int) (*http.Response, error) {
	var body io.Reader
	if a.body != nil {
		body = bytes.NewReader(a.body)
	}
	req, err := http.NewRequestWithContext(ctx, a.method, a.url.String(), body)
	if err != nil {
		return nil, err
	}
	req.Header = a.header.Clone()
	// net/http sends req.Host and ignores a Host header.
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host
		req.Header.Del("Host")
	}
	client := &http.Client{
		Transport: a.transport,
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			// via holds the requests sent so far: the first redirect sees one.
			if len(via) > MaxRedirects {
				return errTooManyRedirects
			}
			*redirects = len(via)
			return nil
		},
	}
	return client.Do(req)
}

// call is what one Run needs to report: where to log, what to hide, and how
// the request is shown.
type call struct {
	out       io.Writer
	mask      *mask.Masker
	method    string
	shown     string // the URL, masked
	timeout   time.Duration
	redirects int
}

func (a *Action) newCall(s *actions.Step) *call {
	c := &call{out: io.Discard, method: a.method, timeout: a.timeout}
	var m *mask.Masker
	if s != nil {
		m = s.Mask
		if s.Stdout != nil {
			c.out = s.Stdout
		}
	}
	// The URL's credential may be written in the workflow rather than come
	// from a secret.
	m = m.WithURL(a.url.String())
	c.mask = m
	c.shown = m.URL(a.url.String())
	return c
}

// log writes "METHOD URL -> outcome" with the redirect count, if any.
func (c *call) log(outcome string) {
	line := fmt.Sprintf("%s %s -> %s", c.method, c.shown, outcome)
	if c.redirects > 0 {
		line += fmt.Sprintf(" after %d redirect(s)", c.redirects)
	}
	fmt.Fprintln(c.out, c.mask.Mask(line))
}

// fail logs and classifies an error from sending the request or reading the
// response. reqCtx is the request's own context (nil before it exists); it is
// told apart from ctx so that the step's `timeout` is reported as such.
func (c *call) fail(ctx, reqCtx context.Context, err error) error {
	reason, retryable := err.Error(), true
	var cause error
	switch {
	case ctx.Err() != nil:
		// The run was cancelled or timed out: keep ctx.Err() in the chain for
		// the runner. Another attempt makes sense after a timeout only.
		cause = ctx.Err()
		reason, retryable = cause.Error(), errors.Is(cause, context.DeadlineExceeded)
	case reqCtx != nil && reqCtx.Err() != nil:
		reason = fmt.Sprintf("timed out after %s", c.timeout)
	case errors.Is(err, errTooManyRedirects):
		retryable = false
	default:
		// A certificate that does not verify will not verify next time either.
		var certErr *tls.CertificateVerificationError
		retryable = !errors.As(err, &certErr)
	}
	reason = c.mask.Mask(reason)
	c.log("failed: " + reason)
	e := &stepError{msg: fmt.Sprintf("%s %s: %s", c.method, c.shown, reason), cause: cause}
	if retryable {
		return actions.Retryable(e)
	}
	return actions.Permanent(e)
}

// retryableStatus reports whether a response with this status may go
// differently later: the server was overloaded, rate-limited or too slow.
func retryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// decodeJSON decodes body when contentType is application/json or a +json
// type. A body that does not decode is not an error: the `body` output has it.
func decodeJSON(contentType string, body []byte) (any, bool) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return nil, false
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, false
	}
	return v, true
}

// flattenHeader turns h into the `headers` output: lower-case names, several
// values of one name joined with ", ".
func flattenHeader(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for name, values := range h {
		out[strings.ToLower(name)] = strings.Join(values, ", ")
	}
	return out
}

// since is the time from start, rounded for a log line.
func since(start time.Time) time.Duration {
	d := time.Since(start)
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(time.Millisecond)
}

// stepError is an error whose message has been masked. It unwraps only to the
// context error that ended the request, if any, never to the original error,
// whose text may quote the full URL.
type stepError struct {
	msg   string
	cause error
}

func (e *stepError) Error() string { return e.msg }
func (e *stepError) Unwrap() error { return e.cause }
