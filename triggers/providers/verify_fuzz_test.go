package providers

import (
	"crypto/sha256"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// fuzzSecret is the secret every fuzzed trigger is configured with.
const fuzzSecret = "fuzz-secret"

// fuzzCredentials are the configurations each fuzzed delivery meets, so that
// every branch of every scheme is reached.
func fuzzCredentials() []Credentials {
	return []Credentials{
		{Secret: fuzzSecret, SecretSet: true},
		{Secret: standardSecret, SecretSet: true},
		{Secret: "", SecretSet: true},
		{Username: "user", Password: fuzzSecret, BasicSet: true},
		{Secret: fuzzSecret, SecretSet: true, Signature: &workflows.Signature{
			Header: "X-Signature", Algorithm: "sha512", Encoding: "base64", Prefix: "sha512=", TimestampHeader: "X-Timestamp"}},
		{Secret: fuzzSecret, SecretSet: true, Signature: &workflows.Signature{Header: "X-Signature", Algorithm: "sha1"}},
	}
}

// fuzzRequest sends sig under every header a scheme reads a signature or token
// from, ts under every timestamp header, and id as the Standard Webhooks id.
func fuzzRequest(sig, ts, id, auth string, body []byte) *Request {
	h := http.Header{}
	for _, name := range []string{"X-Hub-Signature-256", "X-Hub-Signature", "X-Gitlab-Token", "X-Gitea-Signature",
		"X-Forgejo-Signature", "X-Grafana-Alerting-Signature", "X-Slack-Signature", "Stripe-Signature",
		"webhook-signature", "X-Hookflow-Token", "X-Signature"} {
		h[name] = []string{sig}
	}
	for _, name := range []string{"X-Grafana-Alerting-Signature-Timestamp", "X-Slack-Request-Timestamp",
		"webhook-timestamp", "X-Timestamp"} {
		h[name] = []string{ts}
	}
	h["webhook-id"] = []string{id}
	h["Authorization"] = []string{auth}
	return &Request{Method: http.MethodPost, Headers: h, Query: url.Values{"token": {sig}}, Body: body}
}

// FuzzVerify checks that no delivery makes any provider's scheme panic, that
// every failure is ErrUnauthorized, and that no failure reveals the secret.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	ts := unix(now)
	body := `{"type":"push"}`
	sig := hexMAC(sha256.New, fuzzSecret, body)
	f.Add("sha256="+sig, ts, "msg_1", "Bearer "+fuzzSecret, []byte(body))
	f.Add(sig, ts, "msg_1", basicAuth("user", fuzzSecret), []byte(body))
	f.Add("v0="+hexMAC(sha256.New, fuzzSecret, "v0:"+ts+":", body), ts, "", "", []byte(body))
	f.Add("t="+ts+",v1="+hexMAC(sha256.New, fuzzSecret, ts+".", body)+",v0=00", ts, "", "", []byte(body))
	f.Add(signStandard(f, standardSecret, "msg_1", []byte(body), now).Get("webhook-signature"), ts, "msg_1", "", []byte(body))
	f.Add("v1, v1,=== v1a,x ,,", "99999999999999999999", "", "Basic ===", []byte{})
	f.Add("sha512=", "-1", "a.b", "bearer", []byte("\xff\x00"))
	f.Fuzz(func(t *testing.T, sig, ts, id, auth string, body []byte) {
		r := fuzzRequest(sig, ts, id, auth, body)
		for _, provider := range append(workflows.ProviderNames(), "") {
			for _, c := range fuzzCredentials() {
				err := Verify(provider, r, c, now)
				if err == nil {
					continue
				}
				if !errors.Is(err, ErrUnauthorized) {
					t.Fatalf("%s: Verify = %v, want ErrUnauthorized", provider, err)
				}
				if c.Secret != "" && strings.Contains(err.Error(), c.Secret) {
					t.Fatalf("%s: error %q reveals the secret", provider, err)
				}
			}
		}
	})
}
