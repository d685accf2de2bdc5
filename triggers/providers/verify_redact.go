package providers

import "strings"

// Redacted replaces a credential in the headers and query that an event keeps.
const Redacted = "***"

// credentialHeaders are the headers whose value is a credential rather than
// a signature: whoever reads them could send deliveries of their own.
// Signatures stay, since each is bound to its own body (and, for timestamped
// schemes, expires).
var credentialHeaders = []string{"authorization", "proxy-authorization", "x-gitlab-token", "x-hookflow-token"}

// credentialQuery are the query parameters that carry a credential: the
// generic provider's ?token=.
var credentialQuery = []string{"token"}

// RedactHeaders replaces the value of every credential-bearing header in h
// (Authorization, Proxy-Authorization, X-Gitlab-Token, X-Hookflow-Token; names
// in any case) with Redacted, so that stored and displayed events never hold
// a credential.
func RedactHeaders(h map[string]string) {
	redact(h, credentialHeaders)
}

// RedactQuery replaces the value of the token query parameter in q (in any
// case) with Redacted, for the same reason as RedactHeaders.
func RedactQuery(q map[string]string) {
	redact(q, credentialQuery)
}

// redact replaces the values of the keys of m that equal one of names, ignoring
// case.
func redact(m map[string]string, names []string) {
	for k := range m {
		for _, name := range names {
			if strings.EqualFold(k, name) {
				m[k] = Redacted
			}
		}
	}
}
