package report

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is a failed attempt to send a report. Permanent means another
// attempt would fail the same way (a wrong token, a missing repository);
// RetryAfter is how long the server asked to wait, if it did.
type Error struct {
	Permanent  bool
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// IsPermanent reports whether err says another attempt cannot succeed.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

// Send does req and says how it went: nil for a 2xx answer; a retryable
// error for a network failure, 408, 425, 429 and 5xx; a permanent one for
// any other answer. GitLab's 400 for a status already in the state asked
// for ("Cannot transition status") counts as sent. Errors name the host
// and the answer, never the address (a Slack webhook's is its secret) nor
// what was sent.
func Send(client *http.Client, req *http.Request) error {
	host := req.URL.Host
	resp, err := client.Do(req)
	if err != nil {
		// url.Error quotes the whole address: keep only why.
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap()
		}
		return &Error{Err: fmt.Errorf("%s %s: %v", req.Method, host, err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // so the connection is reused
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusBadRequest && strings.Contains(string(body), "Cannot transition status"):
		return nil
	}
	e := &Error{Err: fmt.Errorf("%s %s: %s: %s", req.Method, host, resp.Status, strings.TrimSpace(strings.ToValidUTF8(string(body), "?")))}
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests, code >= 500:
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			e.RetryAfter = time.Duration(s) * time.Second
		}
	default:
		e.Permanent = true
	}
	return e
}
