package providers

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// TestVerifySchemes covers what each provider's scheme does beyond the
// generated cases: the headers it prefers, the weaker schemes it refuses, and
// the forms of secret and header it accepts.
func TestVerifySchemes(t *testing.T) {
	const secret = "It's a secret"
	body := `{"action":"opened"}`
	ts := unix(testNow)
	secretOnly := Credentials{Secret: secret, SecretSet: true}
	basicOnly := Credentials{Username: "am", Password: secret, BasicSet: true}
	sha256Hex := hexMAC(sha256.New, secret, body)
	wrongHex := hexMAC(sha256.New, "wrong", body)
	stripeSig := func(key, t string) string { return hexMAC(sha256.New, key, t+".", body) }
	standardHeaders := func(secret string) http.Header { return signStandard(t, secret, "msg_1", []byte(body), testNow) }
	// standardWith returns headers signed with the raw key bytes key.
	standardWith := func(key []byte) http.Header {
		h := http.Header{}
		h.Set("webhook-id", "msg_1")
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac(sha256.New, key, "msg_1."+ts+".", body)))
		return h
	}
	generic := func(s workflows.Signature) Credentials {
		return Credentials{Secret: secret, SecretSet: true, Signature: &s}
	}
	tests := []struct {
		name     string
		provider string
		creds    Credentials
		headers  http.Header
		query    url.Values
		body     string    // body when empty
		now      time.Time // testNow when zero
		ok       bool
	}{
		// GitHub.
		{name: "github sha1 alone is refused", provider: "github", creds: secretOnly,
			headers: http.Header{"X-Hub-Signature": {"sha1=" + hexMAC(sha1.New, secret, body)}}},
		{name: "github sha1 beside sha256 is ignored", provider: "github", creds: secretOnly, ok: true,
			headers: http.Header{"X-Hub-Signature": {"sha1=0000"}, "X-Hub-Signature-256": {"sha256=" + sha256Hex}}},
		{name: "github sha256 value under a sha1 prefix", provider: "github", creds: secretOnly,
			headers: http.Header{"X-Hub-Signature-256": {"sha1=" + sha256Hex}}},
		{name: "github without prefix", provider: "github", creds: secretOnly,
			headers: http.Header{"X-Hub-Signature-256": {sha256Hex}}},
		{name: "github upper-case hex", provider: "github", creds: secretOnly, ok: true,
			headers: http.Header{"X-Hub-Signature-256": {"sha256=" + strings.ToUpper(sha256Hex)}}},
		{name: "github header key not canonical", provider: "github", creds: secretOnly, ok: true,
			headers: http.Header{"x-hub-signature-256": {"sha256=" + sha256Hex}}},
		{name: "github header sent twice", provider: "github", creds: secretOnly,
			headers: http.Header{"X-Hub-Signature-256": {"sha256=" + sha256Hex, "sha256=" + sha256Hex}}},
		{name: "github truncated signature", provider: "github", creds: secretOnly,
			headers: http.Header{"X-Hub-Signature-256": {"sha256=" + sha256Hex[:32]}}},
		{name: "github with basic auth configured", provider: "github",
			creds:   Credentials{Secret: secret, SecretSet: true, Username: "u", Password: "p", BasicSet: true},
			headers: http.Header{"X-Hub-Signature-256": {"sha256=" + sha256Hex}}},
		{name: "github with signature settings configured", provider: "github", creds: generic(workflows.Signature{Header: "X-Hub-Signature-256"}),
			headers: http.Header{"X-Hub-Signature-256": {"sha256=" + sha256Hex}}},

		// GitLab.
		{name: "gitlab signature present is never excused by the token", provider: "gitlab", creds: secretOnly,
			headers: http.Header{"X-Gitlab-Token": {secret}, "Webhook-Signature": {"v1,AAAA"}, "Webhook-Id": {"msg_1"}, "Webhook-Timestamp": {ts}}},
		{name: "gitlab empty signature header present", provider: "gitlab", creds: secretOnly,
			headers: http.Header{"X-Gitlab-Token": {secret}, "Webhook-Signature": {""}}},
		{name: "gitlab token with another case", provider: "gitlab", creds: secretOnly,
			headers: http.Header{"X-Gitlab-Token": {strings.ToUpper(secret)}}},
		{name: "gitlab standard signature beside a wrong token", provider: "gitlab", ok: true,
			creds:   Credentials{Secret: standardSecret, SecretSet: true},
			headers: with(standardHeaders(standardSecret), "X-Gitlab-Token", "wrong")},

		// Gitea and Forgejo.
		{name: "gitea refuses forgejo's header", provider: "gitea", creds: secretOnly,
			headers: http.Header{"X-Forgejo-Signature": {sha256Hex}}},
		{name: "gitea with the hub header only", provider: "gitea", creds: secretOnly,
			headers: http.Header{"X-Hub-Signature-256": {"sha256=" + sha256Hex}}},
		{name: "forgejo with both headers", provider: "forgejo", creds: secretOnly, ok: true,
			headers: http.Header{"X-Forgejo-Signature": {sha256Hex}, "X-Gitea-Signature": {sha256Hex}}},
		{name: "forgejo checks its own header when both are sent", provider: "forgejo", creds: secretOnly,
			headers: http.Header{"X-Forgejo-Signature": {wrongHex}, "X-Gitea-Signature": {sha256Hex}}},
		{name: "forgejo header sent twice is not replaced by gitea's", provider: "forgejo", creds: secretOnly,
			headers: http.Header{"X-Forgejo-Signature": {sha256Hex, sha256Hex}, "X-Gitea-Signature": {sha256Hex}}},

		// Bitbucket.
		{name: "bitbucket sha1 prefix is refused", provider: "bitbucket", creds: secretOnly,
			headers: http.Header{"X-Hub-Signature": {"sha1=" + hexMAC(sha1.New, secret, body)}}},
		{name: "bitbucket ignores github's header", provider: "bitbucket", creds: secretOnly,
			headers: http.Header{"X-Hub-Signature-256": {"sha256=" + sha256Hex}}},

		// Alertmanager.
		{name: "alertmanager bearer scheme in lower case", provider: "alertmanager", creds: secretOnly, ok: true,
			headers: http.Header{"Authorization": {"bearer " + secret}}},
		{name: "alertmanager bearer token without the scheme", provider: "alertmanager", creds: secretOnly,
			headers: http.Header{"Authorization": {secret}}},
		{name: "alertmanager basic wrong user", provider: "alertmanager", creds: basicOnly,
			headers: http.Header{"Authorization": {basicAuth("other", secret)}}},
		{name: "alertmanager basic wrong password", provider: "alertmanager", creds: basicOnly,
			headers: http.Header{"Authorization": {basicAuth("am", "wrong")}}},
		{name: "alertmanager basic without a colon", provider: "alertmanager", creds: basicOnly,
			headers: http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("am"+secret))}}},
		{name: "alertmanager basic with an empty configured username", provider: "alertmanager",
			creds:   Credentials{Password: secret, BasicSet: true},
			headers: http.Header{"Authorization": {basicAuth("", secret)}}},
		{name: "alertmanager bearer when basic auth is configured", provider: "alertmanager", creds: basicOnly,
			headers: http.Header{"Authorization": {"Bearer " + secret}}},
		{name: "alertmanager both configured requires basic auth", provider: "alertmanager",
			creds:   Credentials{Secret: secret, SecretSet: true, Username: "am", Password: "pw", BasicSet: true},
			headers: http.Header{"Authorization": {"Bearer " + secret}}},
		{name: "alertmanager both configured, basic auth", provider: "alertmanager", ok: true,
			creds:   Credentials{Secret: secret, SecretSet: true, Username: "am", Password: "pw", BasicSet: true},
			headers: http.Header{"Authorization": {basicAuth("am", "pw")}}},
		{name: "alertmanager password with a colon", provider: "alertmanager", ok: true,
			creds:   Credentials{Username: "am", Password: "a:b", BasicSet: true},
			headers: http.Header{"Authorization": {basicAuth("am", "a:b")}}},

		// Grafana.
		{name: "grafana timestamp sent but not signed", provider: "grafana", creds: secretOnly,
			headers: http.Header{"X-Grafana-Alerting-Signature": {sha256Hex}, "X-Grafana-Alerting-Signature-Timestamp": {ts}}},
		{name: "grafana timestamp signed with Stripe's dot", provider: "grafana", creds: secretOnly,
			headers: http.Header{"X-Grafana-Alerting-Signature": {stripeSig(secret, ts)}, "X-Grafana-Alerting-Signature-Timestamp": {ts}}},

		{name: "grafana timestamp moved into the body", provider: "grafana", creds: secretOnly,
			body:    ts + ":" + body,
			headers: http.Header{"X-Grafana-Alerting-Signature": {hexMAC(sha256.New, secret, ts+":", body)}}},
		{name: "grafana body with digits but no colon", provider: "grafana", creds: secretOnly, ok: true,
			body:    "42",
			headers: http.Header{"X-Grafana-Alerting-Signature": {hexMAC(sha256.New, secret, "42")}}},

		// Slack.
		{name: "slack without the v0= prefix", provider: "slack", creds: secretOnly,
			headers: http.Header{"X-Slack-Request-Timestamp": {ts}, "X-Slack-Signature": {hexMAC(sha256.New, secret, "v0:"+ts+":", body)}}},
		{name: "slack v1 prefix", provider: "slack", creds: secretOnly,
			headers: http.Header{"X-Slack-Request-Timestamp": {ts}, "X-Slack-Signature": {"v1=" + hexMAC(sha256.New, secret, "v0:"+ts+":", body)}}},

		// Stripe.
		{name: "stripe any v1 may match", provider: "stripe", creds: secretOnly, ok: true,
			headers: http.Header{"Stripe-Signature": {"t=" + ts + ",v1=" + wrongHex + ",v1=" + stripeSig(secret, ts) + ",v0=" + wrongHex}}},
		{name: "stripe with spaces", provider: "stripe", creds: secretOnly, ok: true,
			headers: http.Header{"Stripe-Signature": {"t=" + ts + ", v1=" + stripeSig(secret, ts)}}},
		{name: "stripe v0 alone is refused", provider: "stripe", creds: secretOnly,
			headers: http.Header{"Stripe-Signature": {"t=" + ts + ",v0=" + stripeSig(secret, ts)}}},
		{name: "stripe without t", provider: "stripe", creds: secretOnly,
			headers: http.Header{"Stripe-Signature": {"v1=" + stripeSig(secret, ts)}}},
		{name: "stripe with two t", provider: "stripe", creds: secretOnly,
			headers: http.Header{"Stripe-Signature": {"t=" + ts + ",t=" + ts + ",v1=" + stripeSig(secret, ts)}}},
		{name: "stripe entry without =", provider: "stripe", creds: secretOnly,
			headers: http.Header{"Stripe-Signature": {"t=" + ts + ",v1=" + stripeSig(secret, ts) + ",junk"}}},
		{name: "stripe stale t", provider: "stripe", creds: secretOnly, now: testNow.Add(DefaultTolerance + time.Second),
			headers: http.Header{"Stripe-Signature": {"t=" + ts + ",v1=" + stripeSig(secret, ts)}}},
		{name: "stripe unparsable t", provider: "stripe", creds: secretOnly,
			headers: http.Header{"Stripe-Signature": {"t=now,v1=" + stripeSig(secret, "now")}}},
		{name: "stripe whsec_ secret is the key as written", provider: "stripe", ok: true,
			creds:   Credentials{Secret: "whsec_dGVzdA==", SecretSet: true},
			headers: http.Header{"Stripe-Signature": {"t=" + ts + ",v1=" + stripeSig("whsec_dGVzdA==", ts)}}},
		{name: "stripe whsec_ secret is not decoded", provider: "stripe",
			creds:   Credentials{Secret: "whsec_dGVzdA==", SecretSet: true},
			headers: http.Header{"Stripe-Signature": {"t=" + ts + ",v1=" + stripeSig("test", ts)}}},

		// Standard Webhooks.
		{name: "standard several signatures, one matching", provider: "standard", ok: true,
			creds: Credentials{Secret: standardSecret, SecretSet: true},
			headers: with(standardHeaders(standardSecret), "webhook-signature",
				"v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1a,ignored "+standardHeaders(standardSecret).Get("webhook-signature"))},
		{name: "standard v1a alone is refused", provider: "standard",
			creds: Credentials{Secret: standardSecret, SecretSet: true},
			headers: with(standardHeaders(standardSecret), "webhook-signature",
				"v1a,"+strings.TrimPrefix(standardHeaders(standardSecret).Get("webhook-signature"), "v1,"))},
		{name: "standard secret without whsec_ is base64 decoded", provider: "standard", ok: true,
			creds:   Credentials{Secret: strings.TrimPrefix(standardSecret, "whsec_"), SecretSet: true},
			headers: standardHeaders(standardSecret)},
		{name: "standard secret that is not base64 is the raw key", provider: "standard", ok: true,
			creds:   Credentials{Secret: "not base64!", SecretSet: true},
			headers: standardWith([]byte("not base64!"))},
		{name: "standard whsec_ secret is not used as text", provider: "standard",
			creds:   Credentials{Secret: "whsec_not base64!", SecretSet: true},
			headers: standardWith([]byte("whsec_not base64!"))},
		{name: "standard whsec_ with nothing after it", provider: "standard",
			creds:   Credentials{Secret: "whsec_", SecretSet: true},
			headers: standardWith(nil)},
		{name: "standard empty webhook-id", provider: "standard",
			creds:   Credentials{Secret: standardSecret, SecretSet: true},
			headers: with(standardHeaders(standardSecret), "webhook-id", "")},
		{name: "standard missing webhook-id", provider: "standard",
			creds:   Credentials{Secret: standardSecret, SecretSet: true},
			headers: without(standardHeaders(standardSecret), "webhook-id")},
		{name: "standard unpadded base64", provider: "standard", ok: true,
			creds: Credentials{Secret: standardSecret, SecretSet: true},
			headers: with(standardHeaders(standardSecret), "webhook-signature",
				strings.TrimRight(standardHeaders(standardSecret).Get("webhook-signature"), "="))},

		// Generic.
		{name: "generic token in the wrong header", provider: "generic", creds: secretOnly,
			headers: http.Header{"X-Token": {secret}}},
		{name: "generic wrong bearer is not excused by a right header", provider: "generic", creds: secretOnly,
			headers: http.Header{"Authorization": {"Bearer wrong"}, "X-Hookflow-Token": {secret}}},
		{name: "generic basic Authorization does not hide the token header", provider: "generic", creds: secretOnly, ok: true,
			headers: http.Header{"Authorization": {basicAuth("u", "p")}, "X-Hookflow-Token": {secret}}},
		{name: "generic wrong header token is not excused by a right query", provider: "generic", creds: secretOnly,
			headers: http.Header{"X-Hookflow-Token": {"wrong"}}, query: url.Values{"token": {secret}}},
		{name: "generic query token sent twice", provider: "generic", creds: secretOnly,
			query: url.Values{"token": {secret, secret}}},
		{name: "generic empty provider is generic", provider: "", creds: secretOnly, ok: true,
			query: url.Values{"token": {secret}}},
		{name: "generic basic auth and secret require basic auth", provider: "generic",
			creds:   Credentials{Secret: secret, SecretSet: true, Username: "u", Password: "p", BasicSet: true},
			headers: http.Header{"X-Hookflow-Token": {secret}}},
		{name: "generic signature without a secret", provider: "generic",
			creds:   Credentials{Signature: &workflows.Signature{Header: "X-Sig"}},
			headers: http.Header{"X-Sig": {hexMAC(sha256.New, "", body)}}},
		{name: "generic signature naming no header", provider: "generic", creds: generic(workflows.Signature{}),
			headers: http.Header{"": {sha256Hex}}},
		{name: "generic signature defaults to sha256 hex", provider: "generic", ok: true,
			creds: generic(workflows.Signature{Header: "X-Sig"}), headers: http.Header{"X-Sig": {sha256Hex}}},
		{name: "generic signature missing its prefix", provider: "generic",
			creds:   generic(workflows.Signature{Header: "X-Sig", Prefix: "sha256="}),
			headers: http.Header{"X-Sig": {sha256Hex}}},
		{name: "generic signature algorithm unknown", provider: "generic",
			creds:   generic(workflows.Signature{Header: "X-Sig", Algorithm: "md5"}),
			headers: http.Header{"X-Sig": {sha256Hex}}},
		{name: "generic signature encoding unknown", provider: "generic",
			creds:   generic(workflows.Signature{Header: "X-Sig", Encoding: "base32"}),
			headers: http.Header{"X-Sig": {sha256Hex}}},
		{name: "generic algorithm in upper case", provider: "generic", ok: true,
			creds:   generic(workflows.Signature{Header: "X-Sig", Algorithm: "SHA256", Encoding: "HEX"}),
			headers: http.Header{"X-Sig": {sha256Hex}}},
		{name: "generic signature with the wrong algorithm", provider: "generic",
			creds:   generic(workflows.Signature{Header: "X-Sig", Algorithm: "sha1"}),
			headers: http.Header{"X-Sig": {sha256Hex}}},
		{name: "generic base64 signature sent as hex", provider: "generic",
			creds:   generic(workflows.Signature{Header: "X-Sig", Encoding: "base64"}),
			headers: http.Header{"X-Sig": {sha256Hex}}},
		{name: "generic tolerance widens the window", provider: "generic", ok: true, now: testNow.Add(30 * time.Minute),
			creds:   generic(workflows.Signature{Header: "X-Sig", TimestampHeader: "X-Ts", Tolerance: workflows.Duration(time.Hour)}),
			headers: http.Header{"X-Ts": {ts}, "X-Sig": {hexMAC(sha256.New, secret, ts+".", body)}}},
		{name: "generic tolerance narrows the window", provider: "generic", now: testNow.Add(2 * time.Second),
			creds:   generic(workflows.Signature{Header: "X-Sig", TimestampHeader: "X-Ts", Tolerance: workflows.Duration(time.Second)}),
			headers: http.Header{"X-Ts": {ts}, "X-Sig": {hexMAC(sha256.New, secret, ts+".", body)}}},
		{name: "generic timestamped signature over the body alone", provider: "generic",
			creds:   generic(workflows.Signature{Header: "X-Sig", TimestampHeader: "X-Ts"}),
			headers: http.Header{"X-Ts": {ts}, "X-Sig": {sha256Hex}}},

		// Configuration.
		{name: "unknown provider", provider: "gogs", creds: secretOnly,
			headers: http.Header{"X-Hub-Signature-256": {"sha256=" + sha256Hex}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = testNow
			}
			sent := tt.body
			if sent == "" {
				sent = body
			}
			r := &Request{Method: http.MethodPost, Headers: tt.headers, Query: tt.query, Body: []byte(sent)}
			err := Verify(tt.provider, r, tt.creds, now)
			if tt.ok {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			wantUnauthorized(t, err, secret, sha256Hex, stripeSig(secret, ts), tt.creds.Secret, tt.creds.Password)
		})
	}
}

// TestVerifyUnknownProviderWithoutCredentials fails closed even when nothing
// is configured: an unknown provider is a broken trigger.
func TestVerifyUnknownProviderWithoutCredentials(t *testing.T) {
	wantUnauthorized(t, Verify("gogs", &Request{}, Credentials{}, testNow))
}

// TestVerifyNilRequest refuses a missing request when a credential is
// configured.
func TestVerifyNilRequest(t *testing.T) {
	wantUnauthorized(t, Verify("github", nil, Credentials{Secret: "x", SecretSet: true}, testNow))
}

// with returns h with the header name set to v.
func with(h http.Header, name, v string) http.Header {
	h.Set(name, v)
	return h
}

// without returns h without the header name.
func without(h http.Header, name string) http.Header {
	h.Del(name)
	return h
}
