package providers

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// This file holds what the verification schemes share: reading one credential
// from a request, computing and comparing MACs, and the replay window.

// errRepeated is returned for a credential sent more than once. Which copy
// counts would be a guess, so neither does.
var errRepeated = errors.New("sent more than once")

// oneHeader returns the value of the header name in h, trimmed of spaces, and
// whether it was sent. Names match case-insensitively even in an http.Header
// built by hand with non-canonical keys. A header sent more than once is an
// error rather than a choice between its values.
func oneHeader(h http.Header, name string) (string, bool, error) {
	var values []string
	for k, vs := range h {
		if strings.EqualFold(k, name) {
			values = append(values, vs...)
		}
	}
	switch len(values) {
	case 0:
		return "", false, nil
	case 1:
		return strings.TrimSpace(values[0]), true, nil
	default:
		return "", false, fmt.Errorf("header %s %w", name, errRepeated)
	}
}

// present reports whether the header name was sent at all, even empty or more
// than once.
func present(h http.Header, name string) bool {
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return true
		}
	}
	return false
}

// requireHeader is oneHeader for a header the scheme cannot do without.
func requireHeader(h http.Header, name string) (string, error) {
	v, ok, err := oneHeader(h, name)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("no %s header", name)
	}
	return v, nil
}

// oneQuery returns the query parameter name and whether it was sent, refusing
// a parameter that repeats as oneHeader refuses a repeated header.
func oneQuery(q url.Values, name string) (string, bool, error) {
	values := q[name]
	switch len(values) {
	case 0:
		return "", false, nil
	case 1:
		return values[0], true, nil
	default:
		return "", false, fmt.Errorf("query parameter %s %w", name, errRepeated)
	}
}

// computeMAC returns the HMAC of the concatenated parts under key.
func computeMAC(newHash func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(newHash, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// equalHexMAC reports whether sent, a hex-encoded MAC in either case, is
// want. Malformed hex is simply not equal.
func equalHexMAC(sent string, want []byte) bool {
	got, err := hex.DecodeString(sent)
	return err == nil && hmac.Equal(got, want)
}

// decodeBase64 decodes standard base64, padded or not: senders differ, and
// the padding carries no bits.
func decodeBase64(s string) ([]byte, error) {
	if strings.HasSuffix(s, "=") {
		return base64.StdEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// equalSecret compares a presented token or password with the configured one
// in time that depends on neither, not even on their lengths, by comparing
// their SHA-256 digests.
func equalSecret(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// maxTimestampDigits bounds a timestamp's length so that parsing cannot
// overflow; 18 digits reach far beyond any real clock.
const maxTimestampDigits = 18

// checkTimestamp parses ts as Unix seconds (decimal digits only) and refuses
// it unless it lies within tolerance of now, before or after: a stale
// timestamp is a possible replay, and one from the future would stay valid
// for longer than the window.
func checkTimestamp(ts string, now time.Time, tolerance time.Duration) error {
	if ts == "" || len(ts) > maxTimestampDigits || strings.Trim(ts, "0123456789") != "" {
		return errors.New("timestamp is not a number of Unix seconds")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("timestamp is not a number of Unix seconds")
	}
	// time.Time.Sub saturates instead of overflowing, whatever sec is.
	switch age := now.Sub(time.Unix(sec, 0)); {
	case age > tolerance:
		return fmt.Errorf("timestamp is older than the %s replay window", tolerance)
	case age < -tolerance:
		return fmt.Errorf("timestamp is more than %s in the future", tolerance)
	}
	return nil
}

// authorization splits the Authorization header into its scheme (matched
// case-insensitively, as RFC 9110 says) and credentials, and reports whether
// the header was sent with that scheme.
func authorization(h http.Header, scheme string) (string, bool, error) {
	v, ok, err := oneHeader(h, "Authorization")
	if err != nil || !ok {
		return "", false, err
	}
	got, credentials, _ := strings.Cut(v, " ")
	if !strings.EqualFold(got, scheme) {
		return "", false, nil
	}
	return strings.TrimSpace(credentials), true, nil
}

// checkBearer requires `Authorization: Bearer <token>` with token equal to
// want.
func checkBearer(h http.Header, want string) error {
	token, ok, err := authorization(h, "Bearer")
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("no Authorization: Bearer header")
	}
	if !equalSecret(token, want) {
		return errors.New("bearer token does not match")
	}
	return nil
}

// checkBasic requires HTTP basic auth with the configured username and
// password. Both are compared, always, so the time taken does not say which
// one was wrong.
func checkBasic(h http.Header, c Credentials) error {
	credentials, ok, err := authorization(h, "Basic")
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("no Authorization: Basic header")
	}
	decoded, err := base64.StdEncoding.DecodeString(credentials)
	if err != nil {
		return errors.New("basic credentials are not base64")
	}
	user, password, ok := strings.Cut(string(decoded), ":")
	if !ok {
		return errors.New("basic credentials have no ':'")
	}
	userOK := equalSecret(user, c.Username)
	passwordOK := equalSecret(password, c.Password)
	if !userOK || !passwordOK {
		return errors.New("basic auth username or password does not match")
	}
	return nil
}
