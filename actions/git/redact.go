package gitaction

import (
	"cmp"
	"net/url"
	"slices"
	"strings"
)

// newRedactor returns a replacer of every secret with ***, as written and in
// the escaped forms they take inside a URL, since that is where errors from
// the transports quote them.
func newRedactor(secrets ...[]string) *strings.Replacer {
	var values []string
	for _, list := range secrets {
		for _, v := range list {
			if v != "" {
				values = append(values, v, url.QueryEscape(v), url.PathEscape(v))
			}
		}
	}
	// Longest first, so that a secret containing another is hidden whole;
	// then by text, for Compact.
	slices.SortFunc(values, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b))
	})
	values = slices.Compact(values)
	pairs := make([]string, 0, 2*len(values))
	for _, v := range values {
		pairs = append(pairs, v, "***")
	}
	return strings.NewReplacer(pairs...)
}

// displayURL is the repository URL for log lines and errors: the user
// information of an http(s) URL, often a token, is shown as ***.
func displayURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || (u.Scheme != "http" && u.Scheme != "https") {
		return raw
	}
	u.User = nil
	// Set by hand: url.User("***") would be written percent-encoded.
	return u.Scheme + "://***@" + strings.TrimPrefix(u.String(), u.Scheme+"://")
}

// storedURL is the URL written to the checkout's configuration as origin:
// without the user information of an http(s) URL, so that no credential is
// left on disk.
func storedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || (u.Scheme != "http" && u.Scheme != "https") {
		return raw
	}
	u.User = nil
	return u.String()
}

// stepError is an error whose message has been redacted. It unwraps only to
// the context error that ended the step, if any, never to the original error,
// whose text may quote a credential.
type stepError struct {
	msg   string
	cause error
}

func (e *stepError) Error() string { return e.msg }
func (e *stepError) Unwrap() error { return e.cause }
