// Package gitaction is the `uses: git` step (SPEC §6): it clones a repository
// into the run's workspace, or brings a persistent checkout at an absolute path
// up to date in place, at a branch, tag or commit. It authenticates with a
// token, a username and password, or an SSH key whose server is checked
// against known_hosts, and refuses to overwrite local changes unless told to.
// Its outputs are the commit checked out, the one before it, the files changed
// between the two, and the checkout's folder.
package gitaction

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/gitclient"
)

// DefaultDir is the checkout's folder in the workspace when `dir` is unset.
const DefaultDir = "src"

// Params are the `with:` settings of a git step.
type Params struct {
	// URL is the repository: https://…, http://…, ssh://…, user@host:path,
	// git://… or an absolute local path. The loader escapes the values
	// templated into it for the part of the URL they stand in.
	URL string `json:"url" template:"url"`
	// Ref is a branch, a tag, a full ref name (refs/…) or a commit hash; empty
	// is the branch the remote's HEAD names.
	Ref string `json:"ref"`
	// Dir is the checkout's folder: relative to the workspace (DefaultDir when
	// unset), or an absolute path for a checkout kept between runs.
	Dir string `json:"dir"`
	// Depth limits the history fetched to this many commits; 0 fetches all.
	Depth int `json:"depth"`
	// Token is sent as the basic-auth password of an http(s) URL, with
	// Username, or "hookflow", as the username.
	Token string `json:"token"`
	// Username is the basic-auth username of an http(s) URL, or the ssh login.
	Username string `json:"username"`
	// Password is the basic-auth password of an http(s) URL; for an ssh URL,
	// the passphrase of SSHKey, or else the login's password.
	Password string `json:"password"`
	// SSHKey is a private key for an ssh URL: the key itself (PEM or OpenSSH
	// format), or the path of a file holding it.
	SSHKey string `json:"ssh_key"`
	// KnownHosts holds the ssh server's public keys, in known_hosts format,
	// or is the path of such a file; when unset the kind's default files are
	// used. Host keys are always checked.
	KnownHosts string `json:"known_hosts"`
	// Clean discards local changes to tracked files instead of failing.
	Clean bool `json:"clean"`
}

// Config is what the git kind takes from the server rather than from a step.
type Config struct {
	// KnownHosts are the known_hosts files that ssh host keys are checked
	// against when a step sets no `known_hosts`. Files that do not exist are
	// skipped; when none exists, ssh URLs fail before connecting.
	KnownHosts []string
}

// Kind returns the git action kind, checking ssh host keys against
// gitclient.DefaultKnownHosts when a step sets no `known_hosts`.
func Kind() actions.Kind { return KindWith(Config{KnownHosts: gitclient.DefaultKnownHosts()}) }

// KindWith returns the git action kind with the server-side settings of cfg.
func KindWith(cfg Config) actions.Kind {
	return actions.Kind{
		Name:   "git",
		Params: &Params{},
		New: func(with map[string]any) (actions.Action, error) {
			return newAction(with, cfg)
		},
	}
}

// Action brings one checkout to one ref per Run. It holds no per-run state.
type Action struct {
	url      string
	endpoint *transport.Endpoint
	ref      string
	dir      string // cleaned; relative to the workspace unless absolute
	depth    int
	clean    bool

	// basic is the http(s) login; empty Username means none.
	basic struct{ Username, Password string }
	// ssh is set for ssh URLs.
	ssh *sshParams

	// secrets are the credentials among the settings, kept out of logs and
	// errors together with the run's own secrets.
	secrets []string
}

var _ actions.Action = (*Action)(nil)

// sshParams are the ssh settings of a step, checked but not yet read from
// files: relative paths are resolved against the workspace at run time.
type sshParams struct {
	user           string // `username`; empty lets the client take the URL's, else git
	key            []byte // inline key; nil when keyPath is set
	keyPath        string
	password       string // the key's passphrase, or the login's password without a key
	knownHosts     []byte // inline known_hosts; nil when knownHostsPath is set
	knownHostsPath string
	defaultHosts   []string // the kind's files, used when neither above is set
}

// newAction decodes and validates with. Errors never repeat the URL or the
// credentials, which may be rendered secrets, only what is wrong with them.
func newAction(with map[string]any, cfg Config) (*Action, error) {
	var p Params
	if err := actions.Decode(with, &p); err != nil {
		return nil, err
	}
	a := &Action{url: strings.TrimSpace(p.URL), ref: strings.TrimSpace(p.Ref), depth: p.Depth, clean: p.Clean}
	var err error
	if a.endpoint, err = parseURL(a.url); err != nil {
		return nil, err
	}
	if a.dir, err = parseDir(p.Dir); err != nil {
		return nil, err
	}
	if err := checkRef(a.ref); err != nil {
		return nil, err
	}
	if a.depth < 0 {
		return nil, errors.New("depth: must be 0 (all history) or more, e.g. 1")
	}
	if err := a.setAuth(p, cfg); err != nil {
		return nil, err
	}
	for _, v := range []string{p.Token, p.Password} {
		if v != "" {
			a.secrets = append(a.secrets, v)
		}
	}
	if a.ssh != nil && a.ssh.key != nil {
		a.secrets = append(a.secrets, p.SSHKey) // a key's path is no secret
	}
	return a, nil
}

func parseURL(raw string) (*transport.Endpoint, error) {
	if raw == "" {
		return nil, errors.New("url: is required")
	}
	ep, err := transport.NewEndpoint(raw)
	if err != nil {
		// go-git's message quotes the whole URL; say only what to write.
		return nil, errors.New("url: not a repository URL: write it like https://host/owner/repo.git, ssh://git@host/owner/repo.git, git@host:owner/repo.git or /srv/git/repo.git")
	}
	switch ep.Protocol {
	case "http", "https", "ssh", "git":
		if ep.Host == "" {
			return nil, errors.New("url: the host is missing: write it like https://host/owner/repo.git")
		}
		if err := checkSegments(raw); err != nil {
			return nil, err
		}
	case "file":
		// go-git would resolve a relative path against the server's own
		// working directory.
		if !strings.HasPrefix(raw, "file://") && !filepath.IsAbs(raw) {
			return nil, errors.New("url: a local repository must be an absolute path, such as /srv/git/repo.git")
		}
		if strings.HasPrefix(raw, "file://") {
			if err := checkSegments(raw); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("url: scheme %q is not supported: use https, http, ssh, git or a local path", ep.Protocol)
	}
	return ep, nil
}

// checkSegments refuses a URL with a path segment escaped so that decoding it
// gives a /, ?, #, % or a . or .. segment, as the loader escapes a value
// templated into the path. go-git reads the path decoded and uses it so, in
// its requests and as the path on an ssh or git server, where such a segment
// would become part of the URL's structure or leave the folder meant.
func checkSegments(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return nil // not a URL with an authority: nothing there is decoded
	}
	for _, seg := range strings.Split(u.EscapedPath(), "/") {
		dec, err := url.PathUnescape(seg)
		if err != nil || dec == seg {
			continue
		}
		if strings.ContainsAny(dec, "/?#%") || dec == "." || dec == ".." {
			return errors.New("url: a segment of the path holds an escaped /, ?, #, % or is an escaped . or .., " +
				"which the git client would not keep escaped: give the whole URL in one ${{ }}, such as ${{ event.clone_url }}")
		}
	}
	return nil
}

func parseDir(dir string) (string, error) {
	if dir == "" {
		return DefaultDir, nil
	}
	if filepath.IsAbs(dir) {
		return filepath.Clean(dir), nil
	}
	clean := filepath.Clean(dir)
	switch {
	case !filepath.IsLocal(clean):
		return "", fmt.Errorf("dir: %q leaves the workspace: write a folder inside it, such as src, or an absolute path", dir)
	case clean == ".":
		return "", errors.New("dir: the workspace itself holds hookflow's own files: name a folder inside it, such as src")
	}
	return clean, nil
}

// checkRef rejects what can be no ref name at all. Whether the ref exists is
// only known once the remote has been asked.
func checkRef(ref string) error {
	if ref == "" {
		return nil
	}
	name := plumbing.ReferenceName(ref)
	if !strings.HasPrefix(ref, "refs/") && ref != "HEAD" {
		name = plumbing.NewBranchReferenceName(ref)
	}
	if err := name.Validate(); err != nil || strings.HasPrefix(ref, "-") {
		return fmt.Errorf("ref: %q is not a valid branch, tag or commit", ref)
	}
	return nil
}

// setAuth checks that the credentials given fit the URL's protocol, and
// keeps them for Run.
func (a *Action) setAuth(p Params, cfg Config) error {
	urlCreds := a.endpoint.User != "" || a.endpoint.Password != ""
	switch a.endpoint.Protocol {
	case "http", "https":
		if p.SSHKey != "" || p.KnownHosts != "" {
			return errors.New("ssh_key and known_hosts are for ssh URLs; for an http(s) URL set token, or username and password")
		}
		given := p.Token != "" || p.Username != "" || p.Password != ""
		switch {
		case given && urlCreds:
			return errors.New("url: holds credentials and with: sets them too; give them in one place (preferably token)")
		case p.Token != "" && p.Password != "":
			return errors.New("token and password: give one of them")
		case p.Token != "":
			a.basic.Username, a.basic.Password = cmp.Or(p.Username, gitclient.TokenUser), p.Token
		case p.Password != "" && p.Username == "":
			return errors.New("password: set username too")
		case p.Username != "":
			a.basic.Username, a.basic.Password = p.Username, p.Password
		}
		if strings.Contains(a.basic.Username, ":") {
			return errors.New("username: may not contain a colon")
		}
		return nil
	case "ssh":
		if p.Token != "" {
			return errors.New("token is for http(s) URLs; for an ssh URL set ssh_key (and known_hosts)")
		}
		if a.endpoint.Password != "" {
			return errors.New("url: do not write a password into an ssh URL; set ssh_key, or password")
		}
		return a.setSSH(p, cfg)
	default:
		if p.Token != "" || p.Username != "" || p.Password != "" || p.SSHKey != "" || p.KnownHosts != "" {
			return fmt.Errorf("token, username, password, ssh_key and known_hosts are for http(s) and ssh URLs, not %s", a.endpoint.Protocol)
		}
		return nil
	}
}

func (a *Action) setSSH(p Params, cfg Config) error {
	s := &sshParams{user: p.Username, password: p.Password, defaultHosts: cfg.KnownHosts}
	switch {
	case p.SSHKey == "" && p.Password == "":
		// The server's own keys and ssh agent are not lent to workflows.
		return errors.New("ssh_key: an ssh URL needs a key (or password); hookflow does not use the server's own keys or ssh agent")
	case strings.Contains(p.SSHKey, "-----BEGIN"):
		s.key = []byte(p.SSHKey)
		if _, err := gitclient.ParseKey(s.key, p.Password, settings.Passphrase); err != nil {
			return fmt.Errorf("ssh_key: %w", err)
		}
	case p.SSHKey != "":
		s.keyPath = p.SSHKey
	}
	switch {
	case strings.ContainsAny(p.KnownHosts, " \t\n"):
		s.knownHosts = []byte(p.KnownHosts)
		if err := gitclient.CheckKnownHosts(s.knownHosts); err != nil {
			return fmt.Errorf("known_hosts: %w", err)
		}
	case p.KnownHosts != "":
		s.knownHostsPath = p.KnownHosts
	}
	a.ssh = s
	return nil
}
