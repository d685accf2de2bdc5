package gitclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// Error is a failure that says whether another attempt might succeed. Its
// message may still hold a secret: show it only through Remote.Fail.
type Error struct {
	// Retryable is true for trouble on the way or on the server's side,
	// false for refusals and for what is wrong on this side.
	Retryable bool
	Err       error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func permanent(msg string) error { return &Error{Err: errors.New(msg)} }

func permanentf(format string, args ...any) error {
	return &Error{Err: fmt.Errorf(format, args...)}
}

// explain says what err, from talking to the remote, means, and whether
// another attempt might succeed: refusals are permanent, trouble on the way
// and on the server's side is not. auth is the login that was used.
func (r *Remote) explain(err error, auth transport.AuthMethod) error {
	var hostKey *hostKeyError
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	ssh, isSSH := auth.(*sshAuth)
	switch {
	case errors.As(err, &hostKey):
		return &Error{Err: hostKey}
	case errors.Is(err, transport.ErrAuthenticationRequired):
		if auth == nil && !r.urlHasUser() {
			return permanent("authentication required: set " + r.settings.Credentials)
		}
		return permanent("authentication failed: the server did not accept the credentials")
	case errors.Is(err, transport.ErrAuthorizationFailed):
		return permanent("access denied: the credentials may not read this repository")
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return permanent("repository not found (or the credentials may not read it)")
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return permanent("the repository is empty: it has no commit to check out")
	case isSSH && strings.Contains(err.Error(), "ssh: unable to authenticate"):
		return permanentf("authentication failed: the server did not accept the ssh key (or password) of user %s", ssh.user)
	case errors.As(err, &certErr), errors.As(err, &unknownAuthority), errors.As(err, &hostnameErr):
		return permanentf("the server's certificate is not trusted: %w", unwrapURL(err))
	}
	if code := httpStatus(err); code != 0 {
		err := fmt.Errorf("the server answered %d %s", code, http.StatusText(code))
		return &Error{Err: err, Retryable: code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500}
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return &Error{Err: fmt.Errorf("cannot reach the remote: %w", unwrapURL(err)), Retryable: true}
	}
	return &Error{Err: unwrapURL(err), Retryable: true}
}

// urlHasUser reports whether the URL names a user, whose credentials go-git
// then sends.
func (r *Remote) urlHasUser() bool {
	ep, err := r.endpoint()
	return err == nil && ep.User != ""
}

// httpStatus is the status of an unexpected http answer in err, or 0.
// go-git's wrapper of it does not unwrap.
func httpStatus(err error) int {
	var unexpected *plumbing.UnexpectedError
	var status *githttp.Err
	if errors.As(err, &unexpected) && errors.As(unexpected.Err, &status) {
		return status.StatusCode()
	}
	return 0
}

// unwrapURL drops net/http's quoting of the request, which repeats the URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Failure is an error about a remote, safe to show: its message names the
// remote and has every secret masked. It unwraps only to the context error
// that ended the work, if any, never to the error it was made from, whose
// text may quote a credential.
type Failure struct {
	// Reason is the masked message, without the remote's name.
	Reason string
	// Retryable is true when another attempt might succeed.
	Retryable bool
	shown     string
	cause     error
}

func (f *Failure) Error() string { return "git " + f.shown + ": " + f.Reason }
func (f *Failure) Unwrap() error { return f.cause }

// Fail returns err as a Failure. An err that holds no *Error counts as
// permanent: it comes from this machine (a folder, the settings), not from
// the way. When ctx has ended, the reason is ctx.Err(), which the Failure
// wraps, and only a timeout is worth another attempt.
func (r *Remote) Fail(ctx context.Context, err error) *Failure {
	f := &Failure{shown: r.shown, Reason: err.Error()}
	var e *Error
	if errors.As(err, &e) {
		f.Retryable = e.Retryable
	}
	if ctx.Err() != nil {
		f.cause = ctx.Err()
		f.Reason = f.cause.Error()
		f.Retryable = errors.Is(f.cause, context.DeadlineExceeded)
	}
	f.Reason = r.mask.Mask(f.Reason)
	return f
}
