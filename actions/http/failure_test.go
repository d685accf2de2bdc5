package httpaction

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/actions/actiontest"
)

// slowServer answers after a minute, or gives up when the client goes away,
// so that no test waits for it. arrived gets a value for each request.
func slowServer(t *testing.T) (srv *httptest.Server, arrived <-chan struct{}) {
	t.Helper()
	ch := make(chan struct{}, 1)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case ch <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

func TestConnectionRefused(t *testing.T) {
	_, log, err := run(t, context.Background(), map[string]any{"url": "http://" + closedAddr(t) + "/hook"})
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("error = %v, want connection refused", err)
	}
	actiontest.WantRetryable(t, err, true)
	if !strings.Contains(log, "failed: ") {
		t.Errorf("log = %q, want a failure line", log)
	}
}

func TestTimeout(t *testing.T) {
	srv, _ := slowServer(t)
	_, _, err := run(t, context.Background(), map[string]any{"url": srv.URL, "timeout": "50ms"})
	if err == nil || !strings.Contains(err.Error(), "timed out after 50ms") {
		t.Fatalf("error = %v, want a timeout", err)
	}
	actiontest.WantRetryable(t, err, true)
	// The step's own timeout is not the run's: the runner must not take it
	// for its context ending.
	if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %q wraps context.DeadlineExceeded", err)
	}
}

func TestCancel(t *testing.T) {
	t.Run("during the request", func(t *testing.T) {
		srv, arrived := slowServer(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			<-arrived
			cancel()
		}()
		_, _, err := run(t, ctx, map[string]any{"url": srv.URL})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want one wrapping context.Canceled", err)
		}
		actiontest.WantRetryable(t, err, false)
	})
	t.Run("before the request", func(t *testing.T) {
		srv, got := recordingServer(t, 200, "")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, _, err := run(t, ctx, map[string]any{"url": srv.URL})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want one wrapping context.Canceled", err)
		}
		select {
		case r := <-got:
			t.Errorf("request %s %s sent after cancel", r.method, r.path)
		default:
		}
	})
	t.Run("run deadline", func(t *testing.T) {
		srv, _ := slowServer(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, _, err := run(t, ctx, map[string]any{"url": srv.URL, "timeout": "1h"})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error = %v, want one wrapping context.DeadlineExceeded", err)
		}
		actiontest.WantRetryable(t, err, true)
	})
}

// TestRedaction checks that no secret reaches an error or the log, whichever
// way the request fails or succeeds.
func TestRedaction(t *testing.T) {
	const secret = "s3cr3t/v+l ue"
	escaped := url.QueryEscape(secret)
	live, _ := recordingServer(t, http.StatusBadGateway, "")
	// A secret whose '@' and '/' split a URL it is written into unescaped:
	// the host becomes the closed address, the rest of it the path.
	misSplit := "p@" + closedAddr(t) + "/x-s3cret"
	tests := []struct {
		name    string
		url     string
		secrets []string
		hidden  []string // must appear in neither the error nor the log
		shown   []string // must appear in the log
	}{
		{
			name: "query of an unreachable URL", url: "http://" + closedAddr(t) + "/hook?token=" + escaped,
			secrets: []string{secret}, hidden: []string{secret, escaped},
		},
		{
			name: "path of an unreachable URL", url: "http://" + closedAddr(t) + "/hooks/" + url.PathEscape(secret),
			secrets: []string{secret}, hidden: []string{secret, url.PathEscape(secret)},
		},
		{
			name: "userinfo that is no listed secret", url: "http://bot:hunter2@" + closedAddr(t) + "/",
			hidden: []string{"hunter2", "bot:"},
		},
		{
			// A token written as the user name, as forges take it.
			name: "userinfo that is a bare token", url: "http://ghp_t0kenvalue@" + closedAddr(t) + "/",
			hidden: []string{"ghp_t0kenvalue"},
		},
		{
			name: "query of a server answering 502", url: live.URL + "/?key=" + escaped + "&page=2",
			secrets: []string{secret}, hidden: []string{secret, escaped},
		},
		{
			// Three characters are too few to mask: they would shred the log.
			name: "empty and short secrets are ignored", url: "http://" + closedAddr(t) + "/?token=abcd1234&page=abc",
			secrets: []string{"", "abc", "abcd1234"}, hidden: []string{"abcd1234"}, shown: []string{"page=abc"},
		},
		{
			// The password the URL seems to hold is "p": masking it would
			// hide every letter p of the log, and show the rest of the secret.
			name: "secret that mis-splits the URL", url: "http://user:" + misSplit + "@example.invalid/",
			secrets: []string{misSplit}, hidden: []string{misSplit, "x-s3cret", "user:"},
			shown: []string{"GET http://***@example.invalid/ -> failed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, log, err := run(t, context.Background(), map[string]any{"url": tt.url}, tt.secrets...)
			if err == nil {
				t.Fatal("Run succeeded, want an error")
			}
			if !strings.Contains(log, "***") {
				t.Errorf("log %q does not show *** where the secret was", log)
			}
			for _, h := range tt.hidden {
				if strings.Contains(err.Error(), h) {
					t.Errorf("error %q contains %q", err, h)
				}
				if strings.Contains(log, h) {
					t.Errorf("log %q contains %q", log, h)
				}
			}
			for _, s := range tt.shown {
				if !strings.Contains(log, s) {
					t.Errorf("log %q does not show %q", log, s)
				}
			}
		})
	}
}
