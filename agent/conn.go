package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// maxAnswer bounds an answer of the server: an assignment carries a
// workflow's source and an event, neither of which is that large.
const maxAnswer = 64 << 20

// requestTimeout bounds every request but a claim, which the server may hold
// for as long as it was told to wait, and claimSlack more.
const (
	requestTimeout = 30 * time.Second
	claimSlack     = 15 * time.Second
)

// conn sends the agent protocol's requests to the servers, one at a time
// each, and moves on to the next server when one cannot be reached or says
// it is unavailable: every node of a cluster answers for all of them. Its
// methods may be called concurrently.
type conn struct {
	servers []string
	token   string
	agent   string // User-Agent
	http    *http.Client
	// current is the index of the server that requests go to.
	current atomic.Int64
}

// statusError is an answer other than a success.
type statusError struct {
	Status  int
	Message string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("the server answered %d: %s", e.Status, e.Message)
}

// isStatus reports whether err is the server's answer status.
func isStatus(err error, status ...int) bool {
	var se *statusError
	if !errors.As(err, &se) {
		return false
	}
	for _, s := range status {
		if se.Status == s {
			return true
		}
	}
	return false
}

// refused reports whether err is the server refusing the agent's token.
func refused(err error) bool {
	return isStatus(err, http.StatusUnauthorized, http.StatusForbidden)
}

// conflict reports whether err says that the agent no longer holds the job it
// reported on.
func conflict(err error) bool { return isStatus(err, http.StatusConflict) }

// post sends body as JSON to path of the current server and decodes a 200
// answer into out. It returns the answer's status: 200 or 204 with a nil
// error, any other with a *statusError. A server that cannot be reached or
// answers 5xx makes the next requests go to the next server.
func (c *conn) post(ctx context.Context, path string, body, out any, timeout time.Duration) (int, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	i := c.current.Load()
	server := c.servers[int(i)%len(c.servers)]
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, server+path, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("User-Agent", c.agent)
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			c.next(i)
		}
		return 0, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK && out != nil:
		if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(out); err != nil {
			c.next(i)
			return 0, fmt.Errorf("read the answer of %s: %w", server, err)
		}
		return resp.StatusCode, nil
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
		return resp.StatusCode, nil
	}
	if resp.StatusCode >= 500 {
		c.next(i)
	}
	return resp.StatusCode, &statusError{Status: resp.StatusCode, Message: errorMessage(resp)}
}

// next moves on from the server of index i, unless a request that failed at
// the same time already did.
func (c *conn) next(i int64) {
	if len(c.servers) > 1 {
		c.current.CompareAndSwap(i, i+1)
	}
}

// errorMessage is the API's {"error": "..."} of resp, or its status text.
func errorMessage(resp *http.Response) string {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	var body struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &body) == nil && body.Error != "" {
		return body.Error
	}
	if text := strings.TrimSpace(string(data)); text != "" && len(text) < 200 && !strings.ContainsAny(text, "<\n") {
		return text
	}
	return http.StatusText(resp.StatusCode)
}

// backoff spaces out the attempts of a loop that fails: exponentially from
// min to max, each wait drawn from its upper half so that agents that lost
// the same server do not come back in step.
type backoff struct {
	min, max, cur time.Duration
}

// Backoff bounds, as the agent uses them.
const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// wait sleeps before the next attempt; false when ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	if b.cur < b.min {
		b.cur = b.min
	}
	d := b.cur/2 + rand.N(b.cur/2+1)
	b.cur = min(2*b.cur, b.max)
	return sleep(ctx, d)
}

// reset starts over from min after a success.
func (b *backoff) reset() { b.cur = 0 }
