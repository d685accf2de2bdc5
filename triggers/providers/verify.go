package providers

import (
	"errors"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// Credentials are a webhook trigger's rendered verification settings.
type Credentials struct {
	// Secret is the rendered secret; SecretSet says the trigger configures one,
	// so an empty Secret with SecretSet is a secret whose value is missing
	// (an unset environment variable, say) and every delivery fails.
	Secret    string
	SecretSet bool
	// Username and Password are the basic-auth credentials of the generic and
	// alertmanager providers; BasicSet says the trigger configures them, and
	// an empty Username or Password with BasicSet fails every delivery.
	Username, Password string
	BasicSet           bool
	// Signature is the generic provider's HMAC settings (nil: none). Its key
	// is Secret.
	Signature *workflows.Signature
}

// configured reports whether c asks for any check at all. A Signature
// without a secret counts: it is a broken configuration, and Verify fails
// closed on it rather than accepting everything.
func (c Credentials) configured() bool {
	return c.SecretSet || c.BasicSet || c.Signature != nil
}

// ErrUnauthorized is the one error Verify returns for a bad or missing
// credential. Its message is generic, so the HTTP edge can show it as is; it
// is a workflows.Error with code EUnauthorized, which the edge maps to 401.
var ErrUnauthorized error = &workflows.Error{Code: workflows.EUnauthorized, Message: "missing or invalid signature"}

// DefaultTolerance is the replay window of timestamped schemes: a timestamp
// further than this from the receiver's clock, in the past or the future, is
// refused.
const DefaultTolerance = 5 * time.Minute

// verifier checks one provider's scheme. It runs only when the trigger
// configures a credential, after checkCredentials, so a secret it needs is
// known to be non-empty when SecretSet is true. The errors it returns say why
// for the server log and are wrapped in ErrUnauthorized by Verify; they never
// hold the secret or anything computed from it.
type verifier func(r *Request, c Credentials, now time.Time) error

// scheme is how one provider authenticates its deliveries.
type scheme struct {
	verify verifier
	// basic says whether the provider can authenticate with basic auth.
	basic bool
}

// schemes is every provider's verification scheme, keyed like normalizers; a
// test checks that both cover workflows.ProviderNames().
var schemes = map[string]scheme{
	"github":       {verify: verifyGitHub},
	"gitlab":       {verify: verifyGitLab},
	"gitea":        {verify: verifyGitea},
	"forgejo":      {verify: verifyForgejo},
	"bitbucket":    {verify: verifyBitbucket},
	"alertmanager": {verify: verifyAlertmanager, basic: true},
	"grafana":      {verify: verifyGrafana},
	"slack":        {verify: verifySlack},
	"stripe":       {verify: verifyStripe},
	"standard":     {verify: verifyStandard},
	"generic":      {verify: verifyGeneric, basic: true},
}

// Verify checks that r, received at now for a trigger of provider configured
// with c, carries the credential the provider's scheme (SPEC §4) requires. An
// empty provider means generic, as in workflow files.
//
// With no credential configured (neither SecretSet nor BasicSet nor a
// Signature) every delivery is accepted. Otherwise verification fails closed:
// a configured but empty secret, username or password, a credential the
// provider has no scheme for, or an unknown provider refuses every delivery,
// and a sender that omits the strong scheme is never checked against a weaker
// one instead. Every comparison of a credential runs in constant time.
//
// Any failure is ErrUnauthorized (test with errors.Is), wrapped with the
// reason for the server log. Neither the message nor the reason ever holds
// the secret, the expected signature or token, or anything derived from them.
func Verify(provider string, r *Request, c Credentials, now time.Time) error {
	if provider == "" {
		provider = "generic"
	}
	s, ok := schemes[provider]
	if !ok {
		return fmt.Errorf("%w: unknown provider %q", ErrUnauthorized, provider)
	}
	if !c.configured() {
		return nil
	}
	if r == nil {
		r = &Request{}
	}
	err := checkCredentials(provider, s, c)
	if err == nil {
		err = s.verify(r, c, now)
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrUnauthorized, provider, err)
	}
	return nil
}

// checkCredentials refuses configurations that cannot be checked as written,
// so that a broken trigger fails closed instead of accepting deliveries.
// Workflow loading already rejects the last two; Verify does not rely on it.
func checkCredentials(provider string, s scheme, c Credentials) error {
	switch {
	case c.SecretSet && c.Secret == "":
		return errors.New("the trigger's secret is configured but renders empty")
	case c.BasicSet && (c.Username == "" || c.Password == ""):
		return errors.New("the trigger's basic auth is configured but its username or password renders empty")
	case c.BasicSet && !s.basic:
		return fmt.Errorf("basic auth is configured, but %s deliveries cannot carry it", provider)
	case c.Signature != nil && provider != "generic":
		return fmt.Errorf("signature settings are configured, but %s signs its own way", provider)
	}
	return nil
}
