// Package gitclient is hookflow's one git client, on go-git: the `uses: git`
// action and the git workflow source both fetch through it. It logs in with
// a basic-auth login or an ssh key, password or agent whose server is always
// checked against known_hosts; it fetches a branch, tag, full ref or commit
// (or the branch the remote's HEAD names), checks a commit out, and explains
// what went wrong in errors that say whether another attempt might succeed
// and never show a credential.
package gitclient

import (
	"errors"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/hookflow/hookflow/internal/mask"
)

// TokenUser is the basic-auth username sent with a token that names none;
// GitHub, GitLab and Gitea accept any name with a token.
const TokenUser = "hookflow"

// Settings name the caller's settings in messages that say what to set.
type Settings struct {
	// Ref is the setting that chooses the ref, such as "ref".
	Ref string
	// Credentials are the settings that give an http(s) login, such as
	// "token, or username and password".
	Credentials string
	// KnownHosts is where known_hosts entries may be given besides the
	// files, such as "known_hosts in with:"; empty when nowhere.
	KnownHosts string
	// Passphrase is the setting that gives an ssh key's passphrase, such as
	// "password"; empty when there is none.
	Passphrase string
}

// Options are what a Remote is made of.
type Options struct {
	// URL is the repository, as go-git reads it.
	URL string
	// Mask hides the caller's secrets (nil for none). The Remote adds the
	// credentials written into an http(s) URL, and Secrets.
	Mask *mask.Masker
	// Secrets are the credentials the caller holds besides those in URL.
	Secrets []string
	// Settings name the caller's settings in messages.
	Settings Settings
}

// Remote is one repository to fetch from, and how messages about it are
// shown: with every credential masked. It holds no connection and does not
// change after New, so its methods may be called from several goroutines
// (each fetching into a repository of its own).
type Remote struct {
	url      string
	mask     *mask.Masker
	shown    string
	settings Settings
}

// New returns the remote of o. It does no I/O.
func New(o Options) *Remote {
	m := o.Mask.WithURL(o.URL).With(o.Secrets...)
	return &Remote{url: o.URL, mask: m, shown: m.URL(o.URL), settings: o.Settings}
}

// Shown is the URL as messages show it: secrets masked, and the user
// information of an http(s) URL replaced by mask.Hidden.
func (r *Remote) Shown() string { return r.shown }

// Mask returns s with every secret of the remote masked.
func (r *Remote) Mask(s string) string { return r.mask.Mask(s) }

// endpoint parses the URL. go-git's error quotes the whole URL, which may
// hold credentials; this one does not.
func (r *Remote) endpoint() (*transport.Endpoint, error) {
	ep, err := transport.NewEndpoint(r.url)
	if err != nil {
		return nil, errors.New("not a repository URL")
	}
	return ep, nil
}

// WithoutCredentials is raw without the user information of an http(s) URL,
// for writing it where it stays, such as a checkout's configuration.
func WithoutCredentials(raw string) string {
	u := mask.UserinfoURL(raw)
	if u == nil {
		return raw
	}
	u.User = nil
	return u.String()
}
