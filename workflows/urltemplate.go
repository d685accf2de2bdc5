package workflows

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// urlPart is the part of a URL an expression of a URL template stands in. It
// decides how the expression's value is escaped, so that no value can change
// the structure the template's literal text gives the URL.
type urlPart int

const (
	notURL urlPart = iota // not a URL template: the value is spliced as it is
	urlScheme
	urlUserinfo
	urlHost
	urlPath
	urlQuery
	urlFragment
)

// urlHole stands for an expression while the literal text of a URL template is
// read. The template is refused if its text holds the character itself, which
// no URL may hold.
const urlHole = '\x00'

// compileURL makes t a URL template for the `with:` key key: it decides from
// t's literal text which part of the URL each expression stands in. A literal
// t and a t that is one expression as a whole are left as they are; the latter
// is taken as a URL as it renders. The error says what is wrong with the text.
func (t *Template) compileURL(key string) error {
	if t.IsLiteral() || (len(t.parts) == 1 && t.parts[0].expr != nil) {
		return nil
	}
	var skeleton strings.Builder
	for _, p := range t.parts {
		if p.expr != nil {
			skeleton.WriteByte(urlHole)
			continue
		}
		if strings.ContainsFunc(p.text, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return errors.New("a URL cannot hold control characters")
		}
		skeleton.WriteString(p.text)
	}
	parts, err := urlParts(skeleton.String())
	if err != nil {
		return err
	}
	// The text must be a URL whatever the values turn out to be: check it with
	// a stand-in that fits each part.
	var probe strings.Builder
	i := 0
	for _, p := range t.parts {
		switch {
		case p.expr == nil:
			probe.WriteString(p.text)
		case parts[i] == urlHost:
			probe.WriteString("0") // also a port
			i++
		default:
			probe.WriteString("x")
			i++
		}
	}
	if _, err := url.Parse(probe.String()); err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("the text around the ${{ }} is not a URL: %v", err)
	}
	i = 0
	for j := range t.parts {
		if t.parts[j].expr != nil {
			t.parts[j].in = parts[i]
			i++
		}
	}
	t.urlKey = key
	return nil
}

// urlParts reads the literal text of a URL template, with urlHole for each
// expression, and returns the part of the URL each hole is in, in order.
func urlParts(s string) ([]urlPart, error) {
	var parts []urlPart
	mark := func(text string, p urlPart) {
		for range strings.Count(text, string(urlHole)) {
			parts = append(parts, p)
		}
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || scheme == "" || strings.ContainsFunc(scheme, func(r rune) bool { return !isSchemeChar(r) && r != urlHole }) {
		return nil, errors.New("a URL with ${{ }} in it must begin with its scheme and host written out " +
			"(https://host/…, ssh://git@host/…), or be one ${{ }} as a whole, like ${{ event.clone_url }}")
	}
	mark(scheme, urlScheme)

	authority := rest
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		authority, rest = rest[:end], rest[end:]
	} else {
		rest = ""
	}
	// The last @ ends the user information, as url.Parse reads it.
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		mark(authority[:at], urlUserinfo)
		mark(authority[at+1:], urlHost)
	} else {
		mark(authority, urlHost)
	}

	path, query, fragment := rest, "", ""
	if i := strings.IndexByte(path, '#'); i >= 0 {
		path, fragment = path[:i], path[i:]
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path, query = path[:i], path[i:]
	}
	mark(path, urlPath)
	mark(query, urlQuery)
	mark(fragment, urlFragment)
	return parts, nil
}

// splice returns v as it is written into t at part p: as it is in a plain
// template, escaped for the part of the URL it stands in in a URL template. A
// value that cannot be escaped there, in the scheme or the host, is an error
// naming the key and the expression, never the value.
func (t *Template) splice(p templatePart, v string) (string, error) {
	if t.urlKey == "" {
		return v, nil
	}
	escaped, err := escapeURLValue(v, p.in)
	if err != nil {
		return "", fmt.Errorf("%s: the value of ${{ %s }} %w", t.urlKey, p.expr.Source, err)
	}
	return escaped, nil
}

// checkURL checks a rendered URL template: a value allowed in the host may
// still make a bad port of the literal text after it (a host "x:1" before
// ".example.com"), or no host name.
func (t *Template) checkURL(rendered string) error {
	u, err := url.Parse(rendered)
	if err != nil {
		return fmt.Errorf("%s: the values templated into it do not make a URL", t.urlKey)
	}
	if t.templatesHost() && !isHostName(u.Hostname()) {
		return fmt.Errorf("%s: the values templated into its host do not make a host name", t.urlKey)
	}
	return nil
}

// templatesHost reports whether an expression of t stands in the host.
func (t *Template) templatesHost() bool {
	for _, p := range t.parts {
		if p.in == urlHost {
			return true
		}
	}
	return false
}

// isHostName reports whether h is an IP address or a host name: dot-separated
// labels of letters, digits, '-' and '_', none empty or longer than 63.
func isHostName(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || strings.ContainsFunc(label, func(r rune) bool { return !isHostChar(r) || r == ':' || r == '[' || r == ']' }) {
			return false
		}
	}
	return true
}

// escapeURLValue escapes v for part p of a URL, or says why it cannot stand
// there.
func escapeURLValue(v string, p urlPart) (string, error) {
	switch p {
	case urlScheme:
		if v == "" || strings.ContainsFunc(v, func(r rune) bool { return !isSchemeChar(r) }) {
			return "", errors.New("is not a URL scheme: a value in the scheme may hold letters, digits, '+', '-' and '.' only")
		}
		return v, nil
	case urlHost:
		if v == "" || strings.ContainsFunc(v, func(r rune) bool { return !isHostChar(r) }) {
			return "", errors.New("is not a host name or host:port, which a value in the URL's host must be")
		}
		return v, nil
	case urlUserinfo:
		// As url.UserPassword writes a user name or password: @ / : ? # escaped.
		return url.User(v).String(), nil
	case urlPath:
		return escapePathValue(v), nil
	case urlQuery:
		return url.QueryEscape(v), nil
	case urlFragment:
		return (&url.URL{Fragment: v}).EscapedFragment(), nil
	}
	return v, nil
}

// escapePathValue escapes v for a URL's path. A value such as owner/name keeps
// its slashes, so that it names the nested resource a user means, as in
// /repos/${{ event.repo }}/statuses; but a value with an empty or dot-only
// segment, which could climb out of its place, is escaped whole into one
// segment, and a value of dots only is escaped so that it is no dot segment.
// `?`, `#` and `%` are always escaped: no value reaches the query or fragment.
func escapePathValue(v string) string {
	if v != "" && strings.Trim(v, ".") == "" {
		return strings.Repeat("%2E", len(v))
	}
	segments := strings.Split(v, "/")
	for _, s := range segments {
		if strings.Trim(s, ".") == "" && len(segments) > 1 {
			return url.PathEscape(v)
		}
	}
	for i, s := range segments {
		segments[i] = url.PathEscape(s)
	}
	return strings.Join(segments, "/")
}

// isSchemeChar reports whether r may appear in a URL scheme (RFC 3986 §3.1).
func isSchemeChar(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '+' || r == '-' || r == '.'
}

// isHostChar reports whether r may appear in a host name, an IP address
// (IPv6 in brackets) or a port.
func isHostChar(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' ||
		r == '.' || r == '-' || r == '_' || r == ':' || r == '[' || r == ']'
}
