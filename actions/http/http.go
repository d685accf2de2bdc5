// Package httpaction is the `uses: http` step (SPEC §6): one HTTP request with
// an optional JSON, form or raw body, redirects followed up to five times, the
// response read up to a size limit and checked against the expected statuses.
// Its outputs are the status, body, headers and, for a JSON response, the
// decoded body.
package httpaction

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/hookflow/hookflow/actions"
)

const (
	// DefaultTimeout bounds a whole request, redirects and body included, when
	// `timeout` is not set.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxResponse is the largest response body read when `max_response`
	// is not set: 1 MiB.
	DefaultMaxResponse = 1 << 20
	// MaxRedirects is how many redirects one request follows; one more fails it.
	MaxRedirects = 5
	// maxMaxResponse bounds `max_response`: the body is held in memory and kept
	// with the run's outputs.
	maxMaxResponse = 1 << 30
)

// Params are the `with:` settings of an http step.
type Params struct {
	// URL is the http or https address to call. The loader escapes the values
	// templated into it for the part of the URL they stand in.
	URL string `json:"url" template:"url"`
	// Method is the request method, GET by default; it is upper-cased.
	Method string `json:"method"`
	// Headers are sent as given; they win over the ones the action would set.
	Headers map[string]string `json:"headers"`
	// Body is sent as it is, with no Content-Type unless Headers has one.
	Body string `json:"body"`
	// JSON is encoded and sent as application/json.
	JSON any `json:"json"`
	// Form is encoded and sent as application/x-www-form-urlencoded.
	Form map[string]string `json:"form"`
	// BasicAuth sets an Authorization: Basic header.
	BasicAuth *BasicAuth `json:"basic_auth"`
	// Timeout bounds the whole request, DefaultTimeout when unset.
	Timeout actions.Duration `json:"timeout"`
	// Expect lists the statuses that count as success, 2xx when unset.
	Expect Expect `json:"expect"`
	// MaxResponse is the largest response body accepted, DefaultMaxResponse
	// when unset.
	MaxResponse actions.ByteSize `json:"max_response"`
}

// BasicAuth are the credentials of `basic_auth:`.
type BasicAuth struct {
	// Username may not contain a colon (RFC 7617).
	Username string `json:"username"`
	// Password may be empty.
	Password string `json:"password"`
}

// Kind returns the http action kind, which sends its requests through a
// transport of its own with bounded dial and TLS handshake times.
func Kind() actions.Kind { return KindWith(nil) }

// KindWith returns the http action kind sending its requests through transport,
// e.g. one with a proxy or extra CA certificates. Nil means Kind's transport.
// Redirects and timeouts are handled by the action whatever the transport.
func KindWith(transport http.RoundTripper) actions.Kind {
	if transport == nil {
		transport = defaultTransport()
	}
	return actions.Kind{
		Name:   "http",
		Params: &Params{},
		New: func(with map[string]any) (actions.Action, error) {
			return newAction(with, transport)
		},
	}
}

// defaultTransport is Go's default transport (proxy from the environment,
// HTTP/2, connection pooling) with shorter connect limits: a host that does not
// answer within them will not answer within a step's timeout either.
func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.IdleConnTimeout = 90 * time.Second
	t.ExpectContinueTimeout = time.Second
	return t
}

// Action sends one validated request per Run. It holds no per-run state, so
// one Action may serve several attempts at once.
type Action struct {
	transport   http.RoundTripper
	method      string
	url         *url.URL
	header      http.Header
	body        []byte // nil: no body
	timeout     time.Duration
	expect      Expect
	maxResponse int64
}

var _ actions.Action = (*Action)(nil)

// newAction decodes and validates with. Error messages never repeat the URL or
// header values, which may hold rendered secrets, only what is wrong with them.
func newAction(with map[string]any, transport http.RoundTripper) (*Action, error) {
	var p Params
	if err := actions.Decode(with, &p); err != nil {
		return nil, err
	}
	a := &Action{
		transport:   transport,
		timeout:     DefaultTimeout,
		expect:      Expect{"2xx"},
		maxResponse: DefaultMaxResponse,
		header:      make(http.Header),
	}
	var err error
	if a.url, err = parseURL(p.URL); err != nil {
		return nil, err
	}
	if a.method, err = parseMethod(p.Method); err != nil {
		return nil, err
	}
	if err := a.setHeaders(p.Headers); err != nil {
		return nil, err
	}
	if err := a.setBody(with, p); err != nil {
		return nil, err
	}
	if err := a.setBasicAuth(p.BasicAuth); err != nil {
		return nil, err
	}
	// Presence is read from with, not from the zero value, so that an explicit
	// `timeout: 0` is reported instead of silently meaning the default.
	if _, ok := with["timeout"]; ok {
		if p.Timeout <= 0 {
			return nil, errors.New("timeout: must be more than 0, e.g. 10s")
		}
		a.timeout = time.Duration(p.Timeout)
	}
	if _, ok := with["max_response"]; ok {
		if p.MaxResponse <= 0 || p.MaxResponse > maxMaxResponse {
			return nil, errors.New("max_response: must be from 1 byte to 1Gi, e.g. 1Mi")
		}
		a.maxResponse = int64(p.MaxResponse)
	}
	if len(p.Expect) > 0 {
		a.expect = p.Expect
	}
	if a.header.Get("User-Agent") == "" {
		a.header.Set("User-Agent", "hookflow")
	}
	return a, nil
}

func parseURL(raw string) (*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, errors.New("url: is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's message quotes the whole URL; keep only what is wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("url: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("url: scheme %q is not supported: write an http:// or https:// URL", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("url: the host is missing: write it like https://example.com/path")
	}
	return u, nil
}

func parseMethod(m string) (string, error) {
	if m == "" {
		return http.MethodGet, nil
	}
	if !isToken(m) {
		return "", fmt.Errorf("method %q: write a method name such as GET, POST or PUT", m)
	}
	return strings.ToUpper(m), nil
}

// setHeaders copies the user's headers in canonical form. Two names differing
// only in case are rejected: map order is random, so which one won would be too.
func (a *Action) setHeaders(headers map[string]string) error {
	names := make([]string, 0, len(headers))
	for name := range headers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !isToken(name) {
			return fmt.Errorf("headers: %q is not a valid header name", name)
		}
		if strings.ContainsAny(headers[name], "\r\n\x00") {
			return fmt.Errorf("headers: the value of %s contains a line break or NUL", name)
		}
		if len(a.header.Values(name)) > 0 {
			return fmt.Errorf("headers: %s is given twice (header names are case-insensitive)", name)
		}
		a.header.Set(name, headers[name])
	}
	return nil
}

// setBody encodes the one body setting given, if any, and sets its Content-Type
// unless the user's headers already name one. Presence is read from with so
// that an empty `body: ""` next to `json:` is still reported as two bodies.
func (a *Action) setBody(with map[string]any, p Params) error {
	var given []string
	for _, k := range []string{"body", "json", "form"} {
		if _, ok := with[k]; ok {
			given = append(given, k)
		}
	}
	if len(given) > 1 {
		return fmt.Errorf("%s: give at most one of body, json and form", strings.Join(given, " and "))
	}
	if len(given) == 0 {
		return nil
	}
	var contentType string
	switch given[0] {
	case "body":
		a.body = []byte(p.Body)
	case "json":
		// Encode the rendered value rather than p.JSON: decoding into any has
		// turned every number into a float64, which would round large integers.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // keep <, > and & readable for chat hooks
		if err := enc.Encode(with["json"]); err != nil {
			return fmt.Errorf("json: %w", err)
		}
		a.body = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		contentType = "application/json"
	case "form":
		values := make(url.Values, len(p.Form))
		for k, v := range p.Form {
			values.Set(k, v)
		}
		a.body = []byte(values.Encode())
		contentType = "application/x-www-form-urlencoded"
	}
	if contentType != "" && a.header.Get("Content-Type") == "" {
		a.header.Set("Content-Type", contentType)
	}
	return nil
}

func (a *Action) setBasicAuth(b *BasicAuth) error {
	if b == nil {
		return nil
	}
	if b.Username == "" && b.Password == "" {
		return errors.New("basic_auth: give a username, a password or both")
	}
	if strings.Contains(b.Username, ":") {
		return errors.New("basic_auth: the username may not contain a colon")
	}
	if a.header.Get("Authorization") != "" {
		return errors.New("basic_auth: headers already set Authorization; give only one of them")
	}
	// A throwaway request builds the header exactly as net/http would.
	r := http.Request{Header: a.header}
	r.SetBasicAuth(b.Username, b.Password)
	return nil
}

// isToken reports whether s is an RFC 9110 token, the syntax of both method
// and header names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
