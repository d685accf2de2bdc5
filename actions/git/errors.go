package gitaction

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

	"github.com/hookflow/hookflow/actions"
)

// remoteErr explains an error from talking to the remote, and says whether
// another attempt might succeed: refusals are permanent, trouble on the way
// and on the server's side is not.
func (c *call) remoteErr(err error) error {
	var hostKey *hostKeyError
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	switch {
	case errors.As(err, &hostKey):
		return actions.Permanent(hostKey)
	case errors.Is(err, transport.ErrAuthenticationRequired):
		if c.auth == nil && c.endpoint.User == "" {
			return actions.Permanent(errors.New("authentication required: set token, or username and password"))
		}
		return actions.Permanent(errors.New("authentication failed: the server did not accept the credentials"))
	case errors.Is(err, transport.ErrAuthorizationFailed):
		return actions.Permanent(errors.New("access denied: the credentials may not read this repository"))
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return actions.Permanent(errors.New("repository not found (or the credentials may not read it)"))
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return actions.Permanent(errors.New("the repository is empty: it has no commit to check out"))
	case c.ssh != nil && strings.Contains(err.Error(), "ssh: unable to authenticate"):
		return actions.Permanent(fmt.Errorf("authentication failed: the server did not accept the ssh key (or password) of user %s", c.ssh.user))
	case errors.As(err, &certErr), errors.As(err, &unknownAuthority), errors.As(err, &hostnameErr):
		return actions.Permanent(fmt.Errorf("the server's certificate is not trusted: %w", unwrapURL(err)))
	}
	if code := httpStatus(err); code != 0 {
		err := fmt.Errorf("the server answered %d %s", code, http.StatusText(code))
		if code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500 {
			return actions.Retryable(err)
		}
		return actions.Permanent(err)
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return actions.Retryable(fmt.Errorf("cannot reach the remote: %w", unwrapURL(err)))
	}
	return actions.Retryable(unwrapURL(err))
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

// fail logs err and returns it masked and prefixed with the repository.
// An error that does not say whether it is retryable counts as permanent:
// it comes from this machine (the folder, the settings), not from the way.
func (c *call) fail(ctx context.Context, err error) error {
	retryable := false
	var ae *actions.Error
	if errors.As(err, &ae) {
		retryable = ae.Retryable
	}
	var cause error
	reason := err.Error()
	if ctx.Err() != nil {
		// The run was cancelled or timed out: keep ctx.Err() in the chain
		// for the runner. Another attempt makes sense after a timeout only.
		cause = ctx.Err()
		reason = cause.Error()
		retryable = errors.Is(cause, context.DeadlineExceeded)
	}
	reason = c.mask.Mask(reason)
	c.log("failed: %s", reason)
	e := &stepError{msg: fmt.Sprintf("git %s: %s", c.shown, reason), cause: cause}
	if retryable {
		return actions.Retryable(e)
	}
	return actions.Permanent(e)
}

// stepError is an error whose message has been masked. It unwraps only to
// the context error that ended the step, if any, never to the original error,
// whose text may quote a credential.
type stepError struct {
	msg   string
	cause error
}

func (e *stepError) Error() string { return e.msg }
func (e *stepError) Unwrap() error { return e.cause }
