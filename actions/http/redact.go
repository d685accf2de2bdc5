package httpaction

import (
	"cmp"
	"net/url"
	"slices"
	"strings"
)

// newRedactor returns a replacer of every secret with ***: each value of
// secrets and the password of u, as written and in the escaped forms they take
// inside a URL, since that is where errors and log lines quote them.
func newRedactor(secrets []string, u *url.URL) *strings.Replacer {
	var values []string
	add := func(v string) {
		if v != "" {
			values = append(values, v, url.QueryEscape(v), url.PathEscape(v))
		}
	}
	for _, s := range secrets {
		add(s)
	}
	if pw, ok := u.User.Password(); ok {
		add(pw)
	}
	// Longest first, so that a secret containing another is hidden whole rather
	// than leaving its other parts behind; then by text, for Compact.
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

// displayURL is u for log lines and errors: its user information, often a
// token, is shown as *** whether or not it is among the run's secrets.
func displayURL(u *url.URL) string {
	if u.User == nil {
		return u.String()
	}
	c := *u
	c.User = nil
	// Set by hand: url.User("***") would be written percent-encoded.
	return c.Scheme + "://***@" + strings.TrimPrefix(c.String(), c.Scheme+"://")
}

// stepError is an error whose message has been redacted. It unwraps only to
// the context error that ended the request, if any, never to the original
// error, whose text may quote the full URL.
type stepError struct {
	msg   string
	cause error
}

func (e *stepError) Error() string { return e.msg }
func (e *stepError) Unwrap() error { return e.cause }
