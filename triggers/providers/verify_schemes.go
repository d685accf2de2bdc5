package providers

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"
)

// This file holds each provider's verification scheme (SPEC §4).

// verifyGitHub checks `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(body)>`.
// GitHub also sends the SHA-1 X-Hub-Signature; on its own it is refused, never
// checked in place of the SHA-256 one.
func verifyGitHub(r *Request, c Credentials, _ time.Time) error {
	v, ok, err := oneHeader(r.Headers, "X-Hub-Signature-256")
	if err != nil {
		return err
	}
	if !ok {
		if present(r.Headers, "X-Hub-Signature") {
			return errors.New("only the SHA-1 X-Hub-Signature was sent; X-Hub-Signature-256 is required")
		}
		return errors.New("no X-Hub-Signature-256 header")
	}
	return checkHubSignature("X-Hub-Signature-256", v, c.Secret, r.Body)
}

// verifyBitbucket checks `X-Hub-Signature: sha256=<hex HMAC-SHA256(body)>`,
// which Bitbucket Cloud and Bitbucket Server / Data Center both send. Another
// algorithm in the prefix is refused.
func verifyBitbucket(r *Request, c Credentials, _ time.Time) error {
	v, err := requireHeader(r.Headers, "X-Hub-Signature")
	if err != nil {
		return err
	}
	return checkHubSignature("X-Hub-Signature", v, c.Secret, r.Body)
}

// checkHubSignature checks a header value of the form sha256=<hex> against
// the body, as GitHub and Bitbucket send it.
func checkHubSignature(name, v, secret string, body []byte) error {
	sig, ok := strings.CutPrefix(v, "sha256=")
	if !ok {
		return fmt.Errorf("%s does not start with sha256=", name)
	}
	if !equalHexMAC(sig, computeMAC(sha256.New, []byte(secret), body)) {
		return fmt.Errorf("%s does not match the body", name)
	}
	return nil
}

// verifyGitea checks `X-Gitea-Signature: <hex HMAC-SHA256(body)>`.
func verifyGitea(r *Request, c Credentials, _ time.Time) error {
	return checkHexSignature(r, c.Secret, "X-Gitea-Signature")
}

// verifyForgejo checks `X-Forgejo-Signature: <hex HMAC-SHA256(body)>`, or
// X-Gitea-Signature when that is absent: Forgejo sends both, with the same
// value, and senders that only know Gitea's name send the latter.
func verifyForgejo(r *Request, c Credentials, _ time.Time) error {
	if !present(r.Headers, "X-Forgejo-Signature") && present(r.Headers, "X-Gitea-Signature") {
		return checkHexSignature(r, c.Secret, "X-Gitea-Signature")
	}
	return checkHexSignature(r, c.Secret, "X-Forgejo-Signature")
}

// checkHexSignature checks that the header name holds the hex HMAC-SHA256 of
// the body, without a prefix.
func checkHexSignature(r *Request, secret, name string) error {
	v, err := requireHeader(r.Headers, name)
	if err != nil {
		return err
	}
	if !equalHexMAC(v, computeMAC(sha256.New, []byte(secret), r.Body)) {
		return fmt.Errorf("%s does not match the body", name)
	}
	return nil
}

// verifyGitLab checks a Standard Webhooks signature when the delivery has a
// webhook-signature header (GitLab's signing tokens), and otherwise that
// X-Gitlab-Token equals the secret. A delivery that has the signature header
// is never let in by its token instead.
func verifyGitLab(r *Request, c Credentials, now time.Time) error {
	if present(r.Headers, "webhook-signature") {
		return verifyStandard(r, c, now)
	}
	token, err := requireHeader(r.Headers, "X-Gitlab-Token")
	if err != nil {
		return err
	}
	if !equalSecret(token, c.Secret) {
		return errors.New("X-Gitlab-Token does not match")
	}
	return nil
}

// verifyAlertmanager checks the bearer token or the basic auth that
// Alertmanager's http_config sends. Alertmanager sends one or the other, so a
// trigger that configures both requires basic auth, as the generic provider
// does: the secret is then not a second way in.
func verifyAlertmanager(r *Request, c Credentials, _ time.Time) error {
	if c.BasicSet {
		return checkBasic(r.Headers, c)
	}
	return checkBearer(r.Headers, c.Secret)
}

// verifyGrafana checks `X-Grafana-Alerting-Signature: <hex HMAC-SHA256>` of
// the body or, when the delivery has X-Grafana-Alerting-Signature-Timestamp,
// of `<timestamp>:<body>`, with the timestamp (Unix seconds) within
// DefaultTolerance of now. Grafana's HMAC settings name no timestamp header
// by default; a contact point that wants replay protection sets its
// "Timestamp Header" to X-Grafana-Alerting-Signature-Timestamp.
func verifyGrafana(r *Request, c Credentials, now time.Time) error {
	const name = "X-Grafana-Alerting-Signature"
	sig, err := requireHeader(r.Headers, name)
	if err != nil {
		return err
	}
	ts, timestamped, err := oneHeader(r.Headers, name+"-Timestamp")
	if err != nil {
		return err
	}
	var want []byte
	if timestamped {
		if err := checkTimestamp(ts, now, DefaultTolerance); err != nil {
			return err
		}
		want = computeMAC(sha256.New, []byte(c.Secret), []byte(ts+":"), r.Body)
	} else {
		// Without the header the body alone is signed, so a captured
		// timestamped delivery could be replayed for ever with its timestamp
		// moved into the body ("<ts>:<body>") and the header dropped. No
		// Grafana payload starts with digits and a colon; refuse those.
		if looksTimestamped(r.Body) {
			return errors.New("body starts with a timestamp but no timestamp header was sent")
		}
		want = computeMAC(sha256.New, []byte(c.Secret), r.Body)
	}
	if !equalHexMAC(sig, want) {
		return fmt.Errorf("%s does not match", name)
	}
	return nil
}

// looksTimestamped reports whether body starts with decimal digits and a
// colon, the layout of Grafana's timestamped signed content.
func looksTimestamped(body []byte) bool {
	digits := 0
	for digits < len(body) && body[digits] >= '0' && body[digits] <= '9' {
		digits++
	}
	return digits > 0 && digits < len(body) && body[digits] == ':'
}

// verifySlack checks `X-Slack-Signature: v0=<hex HMAC-SHA256>` of
// `v0:<timestamp>:<body>`, with X-Slack-Request-Timestamp within
// DefaultTolerance of now.
func verifySlack(r *Request, c Credentials, now time.Time) error {
	ts, err := requireHeader(r.Headers, "X-Slack-Request-Timestamp")
	if err != nil {
		return err
	}
	if err := checkTimestamp(ts, now, DefaultTolerance); err != nil {
		return err
	}
	v, err := requireHeader(r.Headers, "X-Slack-Signature")
	if err != nil {
		return err
	}
	sig, ok := strings.CutPrefix(v, "v0=")
	if !ok {
		return errors.New("X-Slack-Signature does not start with v0=")
	}
	if !equalHexMAC(sig, computeMAC(sha256.New, []byte(c.Secret), []byte("v0:"+ts+":"), r.Body)) {
		return errors.New("X-Slack-Signature does not match")
	}
	return nil
}

// verifyStripe checks `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`: any
// v1 entry equal to the hex HMAC-SHA256 of `<t>.<body>` is enough (Stripe
// sends several while a secret is being rolled), with t within
// DefaultTolerance of now. Other schemes in the header (v0, Stripe's test
// scheme) are ignored. The key is the secret exactly as configured, whsec_
// prefix and all, as Stripe signs with it.
func verifyStripe(r *Request, c Credentials, now time.Time) error {
	v, err := requireHeader(r.Headers, "Stripe-Signature")
	if err != nil {
		return err
	}
	var ts string
	var sigs []string
	for item := range strings.SplitSeq(v, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return errors.New("Stripe-Signature has an entry that is not key=value")
		}
		switch key {
		case "t":
			if ts != "" {
				return errors.New("Stripe-Signature has more than one t")
			}
			ts = value
		case "v1":
			sigs = append(sigs, value)
		}
	}
	if ts == "" {
		return errors.New("Stripe-Signature has no t")
	}
	if len(sigs) == 0 {
		return errors.New("Stripe-Signature has no v1 signature")
	}
	if err := checkTimestamp(ts, now, DefaultTolerance); err != nil {
		return err
	}
	want := computeMAC(sha256.New, []byte(c.Secret), []byte(ts+"."), r.Body)
	if !anyMatch(sigs, func(sig string) bool { return equalHexMAC(sig, want) }) {
		return errors.New("no v1 signature in Stripe-Signature matches")
	}
	return nil
}

// anyMatch reports whether match holds for any of sigs. It looks at all of
// them, so the time taken does not tell which one matched.
func anyMatch(sigs []string, match func(string) bool) bool {
	found := false
	for _, s := range sigs {
		if match(s) {
			found = true
		}
	}
	return found
}

// verifyStandard checks a Standard Webhooks delivery: webhook-signature is a
// space-separated list of `v1,<base64 HMAC-SHA256>` entries, any of which may
// match `<webhook-id>.<webhook-timestamp>.<body>`; entries of other versions
// (v1a, the asymmetric scheme) are ignored. webhook-timestamp must lie within
// DefaultTolerance of now. The key comes from the secret as standardKey says.
func verifyStandard(r *Request, c Credentials, now time.Time) error {
	id, err := requireHeader(r.Headers, "webhook-id")
	if err != nil {
		return err
	}
	if id == "" {
		return errors.New("webhook-id is empty")
	}
	ts, err := requireHeader(r.Headers, "webhook-timestamp")
	if err != nil {
		return err
	}
	if err := checkTimestamp(ts, now, DefaultTolerance); err != nil {
		return err
	}
	v, err := requireHeader(r.Headers, "webhook-signature")
	if err != nil {
		return err
	}
	var sigs []string
	for _, entry := range strings.Fields(v) {
		if sig, ok := strings.CutPrefix(entry, "v1,"); ok {
			sigs = append(sigs, sig)
		}
	}
	if len(sigs) == 0 {
		return errors.New("webhook-signature has no v1 signature")
	}
	key, err := standardKey(c.Secret)
	if err != nil {
		return err
	}
	want := computeMAC(sha256.New, key, []byte(id+"."+ts+"."), r.Body)
	match := func(sig string) bool {
		got, err := decodeBase64(sig)
		return err == nil && hmac.Equal(got, want)
	}
	if !anyMatch(sigs, match) {
		return errors.New("no v1 signature in webhook-signature matches")
	}
	return nil
}

// standardKey turns a Standard Webhooks secret into its HMAC key. The
// specification's form is whsec_ followed by the base64 key; a secret with
// that prefix that does not decode is refused rather than used as text. A
// secret without the prefix is taken as the bare base64 key when it decodes
// (the form some senders display), and as the key's own bytes otherwise, so
// that a plain shared password also works.
func standardKey(secret string) ([]byte, error) {
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		key, err := decodeBase64(rest)
		if err != nil || len(key) == 0 {
			return nil, errors.New("the trigger's secret has the Standard Webhooks prefix but no base64 key after it")
		}
		return key, nil
	}
	if key, err := decodeBase64(secret); err == nil && len(key) > 0 {
		return key, nil
	}
	return []byte(secret), nil
}

// verifyGeneric checks a generic sender in the first way the trigger
// configures:
//
//   - signature: an HMAC of the body keyed with the secret (see
//     checkGenericSignature);
//   - basic_auth: HTTP basic auth with the username and password;
//   - secret alone: a token equal to the secret, taken from the first of
//     `Authorization: Bearer <token>`, the X-Hookflow-Token header and the
//     `token` query parameter that the delivery has. Only that one is
//     compared: a wrong bearer token is not excused by a right query token.
//
// A trigger with basic_auth and a secret but no signature therefore requires
// basic auth.
func verifyGeneric(r *Request, c Credentials, now time.Time) error {
	switch {
	case c.Signature != nil:
		return checkGenericSignature(r, c, now)
	case c.BasicSet:
		return checkBasic(r.Headers, c)
	default:
		return checkToken(r, c.Secret)
	}
}

// checkToken implements the generic provider's token scheme.
func checkToken(r *Request, secret string) error {
	token, ok, err := authorization(r.Headers, "Bearer")
	if err == nil && !ok {
		token, ok, err = oneHeader(r.Headers, "X-Hookflow-Token")
	}
	if err == nil && !ok {
		token, ok, err = oneQuery(r.Query, "token")
	}
	switch {
	case err != nil:
		return err
	case !ok:
		return errors.New("no token in Authorization: Bearer, X-Hookflow-Token or ?token=")
	case !equalSecret(token, secret):
		return errors.New("token does not match")
	}
	return nil
}

// checkGenericSignature checks the generic provider's configured HMAC: the
// header named by Signature.Header holds Prefix (when set, required) followed
// by the MAC in Encoding (hex, the default, or base64) computed with
// Algorithm (sha1, sha256 — the default — or sha512) under the secret. The
// signed content is the body or, when TimestampHeader is set, `<ts>.<body>`
// (the layout Stripe and Standard Webhooks use) with ts that header's value in
// Unix seconds, which must lie within Tolerance (DefaultTolerance when zero)
// of now.
func checkGenericSignature(r *Request, c Credentials, now time.Time) error {
	s := c.Signature
	if !c.SecretSet {
		return errors.New("signature settings are configured without a secret")
	}
	if s.Header == "" {
		return errors.New("signature settings name no header")
	}
	newHash, err := hashFunc(s.Algorithm)
	if err != nil {
		return err
	}
	decode, err := decodeFunc(s.Encoding)
	if err != nil {
		return err
	}
	v, err := requireHeader(r.Headers, s.Header)
	if err != nil {
		return err
	}
	sig, ok := strings.CutPrefix(v, s.Prefix)
	if !ok {
		return fmt.Errorf("%s does not start with the configured prefix", s.Header)
	}
	var want []byte
	if s.TimestampHeader != "" {
		ts, err := requireHeader(r.Headers, s.TimestampHeader)
		if err != nil {
			return err
		}
		tolerance := time.Duration(s.Tolerance)
		if tolerance <= 0 {
			tolerance = DefaultTolerance
		}
		if err := checkTimestamp(ts, now, tolerance); err != nil {
			return err
		}
		want = computeMAC(newHash, []byte(c.Secret), []byte(ts+"."), r.Body)
	} else {
		want = computeMAC(newHash, []byte(c.Secret), r.Body)
	}
	got, err := decode(sig)
	if err != nil || !hmac.Equal(got, want) {
		return fmt.Errorf("%s does not match", s.Header)
	}
	return nil
}

// hashFunc returns the hash of a signature's algorithm; empty is sha256, the
// default workflow loading fills in.
func hashFunc(algorithm string) (func() hash.Hash, error) {
	switch strings.ToLower(algorithm) {
	case "sha1":
		return sha1.New, nil
	case "sha256", "":
		return sha256.New, nil
	case "sha512":
		return sha512.New, nil
	}
	return nil, errors.New("signature algorithm is not sha1, sha256 or sha512")
}

// decodeFunc returns the decoder of a signature's encoding; empty is hex, the
// default workflow loading fills in.
func decodeFunc(encoding string) (func(string) ([]byte, error), error) {
	switch strings.ToLower(encoding) {
	case "hex", "":
		return hex.DecodeString, nil
	case "base64":
		return decodeBase64, nil
	}
	return nil, errors.New("signature encoding is not hex or base64")
}
