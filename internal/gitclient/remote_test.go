package gitclient

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/mask"
)

func TestURLCredentials(t *testing.T) {
	for _, tt := range []struct {
		url, without string
		secrets      []string
	}{
		{"https://u:p4ssword@example.com/r.git", "https://example.com/r.git", []string{"p4ssword"}},
		{"http://ghp_t0ken@example.com/r.git", "http://example.com/r.git", []string{"ghp_t0ken"}},
		{"https://example.com/r.git", "https://example.com/r.git", nil},
		// The user of an ssh URL is a login name, not a credential.
		{"ssh://git@example.com/r.git", "ssh://git@example.com/r.git", nil},
		{"git@example.com:o/r.git", "git@example.com:o/r.git", nil},
	} {
		t.Run(tt.url, func(t *testing.T) {
			var m *mask.Masker
			shown := m.WithURL(tt.url).Mask(tt.url)
			for _, secret := range tt.secrets {
				if strings.Contains(shown, secret) || !strings.Contains(shown, mask.Hidden) {
					t.Errorf("WithURL hides %q as %q", secret, shown)
				}
			}
			if len(tt.secrets) == 0 && shown != tt.url {
				t.Errorf("WithURL hides part of %q: %q", tt.url, shown)
			}
			if got := WithoutCredentials(tt.url); got != tt.without {
				t.Errorf("WithoutCredentials = %q, want %q", got, tt.without)
			}
		})
	}
}

// TestFail checks that a Failure names the remote, hides the run's secrets,
// the caller's and the URL's, says whether to try again, and unwraps to the
// context's error only.
func TestFail(t *testing.T) {
	const (
		runSecret = "run-s3cret"
		token     = "t0ken-of-the-caller"
		password  = "url-passw0rd"
	)
	r := New(Options{
		URL:     "https://user:" + password + "@git.example.com/o/r.git",
		Mask:    mask.New([]string{runSecret}),
		Secrets: []string{token},
	})
	if got, want := r.Shown(), "https://***@git.example.com/o/r.git"; got != want {
		t.Errorf("Shown = %q, want %q", got, want)
	}
	leaky := errors.New("refused " + runSecret + " and " + token + " at https://user:" + password + "@git.example.com")

	for _, tt := range []struct {
		name      string
		ctx       func() context.Context
		err       error
		retryable bool
		cause     error
	}{
		{"unclassified is permanent", context.Background, leaky, false, nil},
		{"classified retryable", context.Background, &Error{Retryable: true, Err: leaky}, true, nil},
		{"wrapped classified", context.Background, fmt.Errorf("fetching: %w", &Error{Retryable: true, Err: leaky}), true, nil},
		{"cancelled", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, &Error{Retryable: true, Err: leaky}, false, context.Canceled},
		{"timed out", func() context.Context {
			ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
			t.Cleanup(cancel)
			return ctx
		}, leaky, true, context.DeadlineExceeded},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := r.Fail(tt.ctx(), tt.err)
			msg := f.Error()
			for _, s := range []string{runSecret, token, password} {
				if strings.Contains(msg, s) {
					t.Errorf("message %q shows %q", msg, s)
				}
			}
			if !strings.HasPrefix(msg, "git https://***@git.example.com/o/r.git: ") {
				t.Errorf("message %q does not name the remote masked", msg)
			}
			if f.Retryable != tt.retryable {
				t.Errorf("Retryable = %v, want %v", f.Retryable, tt.retryable)
			}
			if errors.Is(f, leaky) {
				t.Error("the Failure unwraps to the error that holds the secrets")
			}
			if tt.cause != nil && (!errors.Is(f, tt.cause) || f.Reason != tt.cause.Error()) {
				t.Errorf("Failure %q does not stand for %v", f, tt.cause)
			}
			if tt.cause == nil && !strings.Contains(f.Reason, "refused *** and ***") {
				t.Errorf("Reason = %q, want the error masked", f.Reason)
			}
		})
	}
}
