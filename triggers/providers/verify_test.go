package providers

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// testNow is the receiver's clock in the generated cases.
var testNow = time.Unix(1_700_000_000, 0)

// mac returns the HMAC of the concatenated parts under key.
func mac(newHash func() hash.Hash, key []byte, parts ...string) []byte {
	m := hmac.New(newHash, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// hexMAC is mac, hex-encoded, keyed with a string.
func hexMAC(newHash func() hash.Hash, key string, parts ...string) string {
	return hex.EncodeToString(mac(newHash, []byte(key), parts...))
}

// unix formats t as Unix seconds.
func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// standardSecret is a Standard Webhooks secret in its whsec_ form.
const standardSecret = "whsec_" + "c2lnbmluZy1rZXktZm9yLWhvb2tmbG93LXRlc3Rz" // "signing-key-for-hookflow-tests"

// signStandard returns Standard Webhooks headers for body, signed at ts with
// the key of a whsec_ secret.
func signStandard(t testing.TB, secret, id string, body []byte, ts time.Time) http.Header {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatalf("test secret %q is not base64: %v", secret, err)
	}
	sig := base64.StdEncoding.EncodeToString(mac(sha256.New, key, id+"."+unix(ts)+".", string(body)))
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", unix(ts))
	h.Set("webhook-signature", "v1,"+sig)
	return h
}

// basicAuth is the Authorization value for basic auth.
func basicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// wantUnauthorized fails unless err is ErrUnauthorized with the EUnauthorized
// code, and its message holds none of the secrets: the configured secret and
// the credential a correct sender would have sent for this very request.
func wantUnauthorized(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Verify = %v, want ErrUnauthorized", err)
	}
	if code := workflows.ErrorCode(err); code != workflows.EUnauthorized {
		t.Errorf("error code %q, want %q", code, workflows.EUnauthorized)
	}
	msg := err.Error()
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			t.Errorf("error %q reveals %q", msg, s)
		}
	}
}

// credentialParts splits a credential header value into the pieces that could
// leak on their own: the signature without its sha256=, v1, or t= framing.
// Short pieces (scheme names, versions) are not secrets.
func credentialParts(v string) []string {
	parts := []string{v}
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == '=' || r == ',' || r == ' ' }) {
		if len(f) >= 8 {
			parts = append(parts, f)
		}
	}
	return parts
}

// signer is how the generated tests sign deliveries for one way a provider
// authenticates.
type signer struct {
	name     string
	provider string
	// secret is the configured secret (default "It's a secret"), and wrong
	// another one of the same form.
	secret, wrong string
	// creds turns a secret into the trigger's credentials; by default the
	// secret alone.
	creds func(secret string) Credentials
	// sign returns the delivery a sender holding secret sends with body at ts.
	sign func(t testing.TB, secret string, body []byte, ts time.Time) *Request
	// credential is the header that carries the signature or token, or
	// "?name" for a query parameter.
	credential string
	// timestampHeader names the header holding the timestamp, for schemes
	// with a replay window and a timestamp header of their own.
	timestampHeader string
	// timestamped says the scheme has a replay window.
	timestamped bool
	// unbound says the credential does not depend on the body (a token or a
	// password), so tampering with the body goes unnoticed by design.
	unbound bool
}

// credentialValue returns the credential s reads from r.
func (s signer) credentialValue(r *Request) string {
	if name, ok := strings.CutPrefix(s.credential, "?"); ok {
		return r.Query.Get(name)
	}
	return r.Headers.Get(s.credential)
}

// setCredential replaces the credential in r; remove deletes it.
func (s signer) setCredential(r *Request, v string, remove bool) {
	if name, ok := strings.CutPrefix(s.credential, "?"); ok {
		if remove {
			r.Query.Del(name)
		} else {
			r.Query.Set(name, v)
		}
		return
	}
	if remove {
		r.Headers.Del(s.credential)
	} else {
		r.Headers.Set(s.credential, v)
	}
}

// signers covers every provider and every way each one authenticates.
func signers() []signer {
	hub := func(header string) func(testing.TB, string, []byte, time.Time) *Request {
		return func(_ testing.TB, secret string, body []byte, _ time.Time) *Request {
			h := http.Header{}
			h.Set(header, "sha256="+hexMAC(sha256.New, secret, string(body)))
			return &Request{Method: http.MethodPost, Headers: h, Body: body}
		}
	}
	bare := func(headers ...string) func(testing.TB, string, []byte, time.Time) *Request {
		return func(_ testing.TB, secret string, body []byte, _ time.Time) *Request {
			h := http.Header{}
			for _, name := range headers {
				h.Set(name, hexMAC(sha256.New, secret, string(body)))
			}
			return &Request{Method: http.MethodPost, Headers: h, Body: body}
		}
	}
	header := func(name, prefix string) func(testing.TB, string, []byte, time.Time) *Request {
		return func(_ testing.TB, secret string, body []byte, _ time.Time) *Request {
			h := http.Header{}
			h.Set(name, prefix+secret)
			return &Request{Method: http.MethodPost, Headers: h, Body: body}
		}
	}
	standard := func(t testing.TB, secret string, body []byte, ts time.Time) *Request {
		return &Request{Method: http.MethodPost, Headers: signStandard(t, secret, "msg_2b1oVn2qhJ", body, ts), Body: body}
	}
	basic := func(secret string) Credentials {
		return Credentials{Username: "prometheus", Password: secret, BasicSet: true}
	}
	signBasic := func(_ testing.TB, secret string, body []byte, _ time.Time) *Request {
		h := http.Header{}
		h.Set("Authorization", basicAuth("prometheus", secret))
		return &Request{Method: http.MethodPost, Headers: h, Body: body}
	}
	genericSig := func(sig workflows.Signature) func(string) Credentials {
		return func(secret string) Credentials {
			return Credentials{Secret: secret, SecretSet: true, Signature: &sig}
		}
	}
	return []signer{
		{name: "github", provider: "github", sign: hub("X-Hub-Signature-256"), credential: "X-Hub-Signature-256"},
		{name: "gitlab token", provider: "gitlab", sign: header("X-Gitlab-Token", ""), credential: "X-Gitlab-Token", unbound: true},
		{
			name: "gitlab standard webhooks", provider: "gitlab", secret: standardSecret, wrong: "whsec_b3RoZXIta2V5",
			sign: standard, credential: "webhook-signature", timestampHeader: "webhook-timestamp", timestamped: true,
		},
		{name: "gitea", provider: "gitea", sign: bare("X-Gitea-Signature"), credential: "X-Gitea-Signature"},
		{name: "forgejo", provider: "forgejo", sign: bare("X-Forgejo-Signature"), credential: "X-Forgejo-Signature"},
		{name: "forgejo with gitea's header", provider: "forgejo", sign: bare("X-Gitea-Signature"), credential: "X-Gitea-Signature"},
		{name: "bitbucket", provider: "bitbucket", sign: hub("X-Hub-Signature"), credential: "X-Hub-Signature"},
		{name: "alertmanager bearer", provider: "alertmanager", sign: header("Authorization", "Bearer "), credential: "Authorization", unbound: true},
		{name: "alertmanager basic", provider: "alertmanager", creds: basic, sign: signBasic, credential: "Authorization", unbound: true},
		{
			name: "grafana", provider: "grafana", credential: "X-Grafana-Alerting-Signature",
			sign: bare("X-Grafana-Alerting-Signature"),
		},
		{
			name: "grafana timestamped", provider: "grafana", credential: "X-Grafana-Alerting-Signature",
			timestampHeader: "X-Grafana-Alerting-Signature-Timestamp", timestamped: true,
			sign: func(_ testing.TB, secret string, body []byte, ts time.Time) *Request {
				h := http.Header{}
				h.Set("X-Grafana-Alerting-Signature-Timestamp", unix(ts))
				h.Set("X-Grafana-Alerting-Signature", hexMAC(sha256.New, secret, unix(ts)+":", string(body)))
				return &Request{Method: http.MethodPost, Headers: h, Body: body}
			},
		},
		{
			name: "slack", provider: "slack", credential: "X-Slack-Signature",
			timestampHeader: "X-Slack-Request-Timestamp", timestamped: true,
			sign: func(_ testing.TB, secret string, body []byte, ts time.Time) *Request {
				h := http.Header{}
				h.Set("X-Slack-Request-Timestamp", unix(ts))
				h.Set("X-Slack-Signature", "v0="+hexMAC(sha256.New, secret, "v0:"+unix(ts)+":", string(body)))
				return &Request{Method: http.MethodPost, Headers: h, Body: body}
			},
		},
		{
			name: "stripe", provider: "stripe", secret: "whsec_test_aW4gc3RyaXBlIGl0IGlzIGEgc3RyaW5n", wrong: "whsec_test_b3RoZXI=",
			credential: "Stripe-Signature", timestamped: true,
			sign: func(_ testing.TB, secret string, body []byte, ts time.Time) *Request {
				h := http.Header{}
				h.Set("Stripe-Signature", "t="+unix(ts)+",v1="+hexMAC(sha256.New, secret, unix(ts)+".", string(body)))
				return &Request{Method: http.MethodPost, Headers: h, Body: body}
			},
		},
		{
			name: "standard", provider: "standard", secret: standardSecret, wrong: "whsec_b3RoZXIta2V5",
			sign: standard, credential: "webhook-signature", timestampHeader: "webhook-timestamp", timestamped: true,
		},
		{name: "generic bearer token", provider: "generic", sign: header("Authorization", "Bearer "), credential: "Authorization", unbound: true},
		{name: "generic token header", provider: "generic", sign: header("X-Hookflow-Token", ""), credential: "X-Hookflow-Token", unbound: true},
		{
			name: "generic token query", provider: "generic", credential: "?token", unbound: true,
			sign: func(_ testing.TB, secret string, body []byte, _ time.Time) *Request {
				return &Request{Method: http.MethodPost, Headers: http.Header{}, Query: url.Values{"token": {secret}}, Body: body}
			},
		},
		{name: "generic basic", provider: "generic", creds: basic, sign: signBasic, credential: "Authorization", unbound: true},
		{
			name: "generic hmac sha256 hex with prefix", provider: "generic", credential: "X-Signature",
			creds: genericSig(workflows.Signature{Header: "X-Signature", Algorithm: "sha256", Encoding: "hex", Prefix: "sha256="}),
			sign: func(_ testing.TB, secret string, body []byte, _ time.Time) *Request {
				h := http.Header{}
				h.Set("X-Signature", "sha256="+hexMAC(sha256.New, secret, string(body)))
				return &Request{Method: http.MethodPost, Headers: h, Body: body}
			},
		},
		{
			name: "generic hmac sha1 base64", provider: "generic", credential: "X-Signature",
			creds: genericSig(workflows.Signature{Header: "X-Signature", Algorithm: "sha1", Encoding: "base64"}),
			sign: func(_ testing.TB, secret string, body []byte, _ time.Time) *Request {
				h := http.Header{}
				h.Set("X-Signature", base64.StdEncoding.EncodeToString(mac(sha1.New, []byte(secret), string(body))))
				return &Request{Method: http.MethodPost, Headers: h, Body: body}
			},
		},
		{
			name: "generic hmac sha512 timestamped", provider: "generic", credential: "X-Signature",
			timestampHeader: "X-Timestamp", timestamped: true,
			creds: genericSig(workflows.Signature{Header: "X-Signature", Algorithm: "sha512", Encoding: "hex", TimestampHeader: "X-Timestamp"}),
			sign: func(_ testing.TB, secret string, body []byte, ts time.Time) *Request {
				h := http.Header{}
				h.Set("X-Timestamp", unix(ts))
				h.Set("X-Signature", hexMAC(sha512.New, secret, unix(ts)+".", string(body)))
				return &Request{Method: http.MethodPost, Headers: h, Body: body}
			},
		},
	}
}

// withDefaults fills a signer's optional fields.
func (s signer) withDefaults() signer {
	if s.secret == "" {
		s.secret, s.wrong = "It's a secret", "It's another secret"
	}
	if s.creds == nil {
		s.creds = func(secret string) Credentials { return Credentials{Secret: secret, SecretSet: true} }
	}
	return s
}

// TestVerifyGenerated runs the same cases against every way every provider
// authenticates: a correct delivery passes, and each kind of damage to it is
// ErrUnauthorized without revealing a secret.
func TestVerifyGenerated(t *testing.T) {
	body := []byte(`{"ref":"refs/heads/main","after":"6113728f27ae82c7b1a177c8d03f9e96e0adf246"}`)
	inWindow := testNow.Add(-DefaultTolerance + time.Second)
	for _, s := range signers() {
		s := s.withDefaults()
		t.Run(s.name, func(t *testing.T) {
			creds := s.creds(s.secret)
			// verify checks r and, on failure, that the error reveals neither
			// the secret nor what a correct sender would have sent for r.
			verify := func(t *testing.T, r *Request, c Credentials, ts time.Time) error {
				t.Helper()
				err := Verify(s.provider, r, c, testNow)
				if err != nil {
					correct := s.sign(t, s.secret, r.Body, ts)
					wantUnauthorized(t, err, append(credentialParts(s.credentialValue(correct)), s.secret, c.Secret, c.Password)...)
				}
				return err
			}
			signed := func(t *testing.T, ts time.Time) *Request {
				t.Helper()
				return s.sign(t, s.secret, body, ts)
			}

			t.Run("valid", func(t *testing.T) {
				if err := verify(t, signed(t, testNow), creds, testNow); err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
			})
			t.Run("no credentials configured", func(t *testing.T) {
				if err := Verify(s.provider, signed(t, testNow), Credentials{}, testNow); err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
			})
			t.Run("tampered body", func(t *testing.T) {
				r := signed(t, testNow)
				r.Body = append(slices.Clone(body[:len(body)-1]), []byte(`,"forced":true}`)...)
				err := verify(t, r, creds, testNow)
				if s.unbound {
					if err != nil {
						t.Fatalf("Verify = %v; a token does not sign the body", err)
					}
					return
				}
				wantUnauthorized(t, err)
			})
			t.Run("wrong secret", func(t *testing.T) {
				r := s.sign(t, s.wrong, body, testNow)
				wantUnauthorized(t, verify(t, r, creds, testNow))
			})
			t.Run("missing credential", func(t *testing.T) {
				r := signed(t, testNow)
				s.setCredential(r, "", true)
				wantUnauthorized(t, verify(t, r, creds, testNow))
			})
			for _, bad := range []string{"", "garbage", "sha256=zz", "v0=", "v1,!!!", "t=,v1=", "Bearer", "Basic !!!", strings.Repeat("f", 64)} {
				t.Run("malformed credential "+strconv.Quote(bad), func(t *testing.T) {
					r := signed(t, testNow)
					s.setCredential(r, bad, false)
					wantUnauthorized(t, verify(t, r, creds, testNow))
				})
			}
			t.Run("empty configured secret", func(t *testing.T) {
				// Even a delivery signed with the empty secret fails: the
				// secret's value is missing, not meant to be empty.
				r := s.sign(t, "", body, testNow)
				wantUnauthorized(t, verify(t, r, s.creds(""), testNow))
			})
			if !s.timestamped {
				return
			}
			t.Run("timestamp inside the window", func(t *testing.T) {
				if err := verify(t, signed(t, inWindow), creds, inWindow); err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
			})
			t.Run("timestamp at the edge of the window", func(t *testing.T) {
				for _, ts := range []time.Time{testNow.Add(-DefaultTolerance), testNow.Add(DefaultTolerance)} {
					if err := verify(t, signed(t, ts), creds, ts); err != nil {
						t.Fatalf("Verify at %s = %v, want nil", ts.Sub(testNow), err)
					}
				}
			})
			t.Run("stale timestamp", func(t *testing.T) {
				ts := testNow.Add(-DefaultTolerance - time.Second)
				wantUnauthorized(t, verify(t, signed(t, ts), creds, ts))
			})
			t.Run("future timestamp", func(t *testing.T) {
				ts := testNow.Add(DefaultTolerance + time.Second)
				wantUnauthorized(t, verify(t, signed(t, ts), creds, ts))
			})
			if s.timestampHeader == "" {
				return
			}
			for _, bad := range []string{"", "soon", "-1", "+1700000000", "1700000000.5", " 17 ", "99999999999999999999999"} {
				t.Run("unparsable timestamp "+strconv.Quote(bad), func(t *testing.T) {
					r := signed(t, testNow)
					r.Headers.Set(s.timestampHeader, bad)
					wantUnauthorized(t, verify(t, r, creds, testNow))
				})
			}
			t.Run("missing timestamp", func(t *testing.T) {
				r := signed(t, testNow)
				r.Headers.Del(s.timestampHeader)
				// For Grafana, whose timestamp is optional, the signature is
				// then checked against the body alone, which it does not sign.
				wantUnauthorized(t, verify(t, r, creds, testNow))
			})
			t.Run("timestamp replaced", func(t *testing.T) {
				// A fresh timestamp does not revive an old signature.
				r := signed(t, testNow.Add(-time.Hour))
				r.Headers.Set(s.timestampHeader, unix(testNow))
				wantUnauthorized(t, verify(t, r, creds, testNow))
			})
		})
	}
}

// TestVerifyPublishedVectors checks the examples the providers publish in
// their documentation, so the schemes agree with the real senders and not
// only with this package's own tests.
func TestVerifyPublishedVectors(t *testing.T) {
	header := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	// Slack's example slash-command body from "Verifying requests from Slack".
	slackBody := "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V" +
		"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=" +
		"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN" +
		"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	standard := header(
		"webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		"webhook-timestamp", "1614265330",
		"webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	tests := []struct {
		name     string
		provider string
		secret   string
		headers  http.Header
		body     string
		now      time.Time
	}{
		{
			// GitHub Docs, "Validating webhook deliveries": testing the
			// implementation.
			name: "github", provider: "github", secret: "It's a Secret to Everybody",
			headers: header("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
			body:    "Hello, World!", now: testNow,
		},
		{
			name: "slack", provider: "slack", secret: "8f742231b10e8888abcd99yyyzzz85a5",
			headers: header("X-Slack-Request-Timestamp", "1531420618",
				"X-Slack-Signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"),
			body: slackBody, now: time.Unix(1531420618, 0).Add(time.Minute),
		},
		{
			// The Standard Webhooks specification's example.
			name: "standard", provider: "standard", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			headers: standard, body: `{"test": 2432232314}`, now: time.Unix(1614265330, 0),
		},
		{
			name: "gitlab signed like standard", provider: "gitlab", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			headers: standard, body: `{"test": 2432232314}`, now: time.Unix(1614265330, 0),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Request{Method: http.MethodPost, Headers: tt.headers, Body: []byte(tt.body)}
			c := Credentials{Secret: tt.secret, SecretSet: true}
			if err := Verify(tt.provider, r, c, tt.now); err != nil {
				t.Fatalf("published example: Verify = %v, want nil", err)
			}
			r.Body = append(r.Body, ' ')
			wantUnauthorized(t, Verify(tt.provider, r, c, tt.now), tt.secret)
			if tt.provider != "github" {
				wantUnauthorized(t, Verify(tt.provider, r, c, tt.now.Add(time.Hour)), tt.secret)
			}
		})
	}
}

// TestVerifyCoversProviders keeps the schemes in step with the providers
// workflows accept and the normalisers.
func TestVerifyCoversProviders(t *testing.T) {
	got := slices.Sorted(maps.Keys(schemes))
	if want := slices.Sorted(slices.Values(workflows.ProviderNames())); !slices.Equal(got, want) {
		t.Errorf("schemes cover %v, want workflows.ProviderNames() %v", got, want)
	}
	if want := slices.Sorted(maps.Keys(normalizers)); !slices.Equal(got, want) {
		t.Errorf("schemes cover %v, normalizers %v", got, want)
	}
}

// TestVerifyNoCredentials accepts anything on a trigger without credentials,
// for every provider and for the empty provider (generic).
func TestVerifyNoCredentials(t *testing.T) {
	for _, provider := range append(workflows.ProviderNames(), "") {
		t.Run(provider, func(t *testing.T) {
			for _, r := range []*Request{nil, {}, {Headers: http.Header{"X-Hub-Signature-256": {"sha256=00"}}, Body: []byte("x")}} {
				if err := Verify(provider, r, Credentials{Secret: "ignored"}, testNow); err != nil {
					t.Fatalf("Verify(%v) = %v, want nil", r, err)
				}
			}
		})
	}
}
