package gitaction

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/hookflow/hookflow/actions"
)

// connectTimeout bounds making an ssh connection. go-git dials ssh servers
// without the step's context, so this is what stops a silent host.
const connectTimeout = 30 * time.Second

// authMethod is how Run logs in to the remote, or nil for none (go-git then
// uses the credentials of an http(s) URL, if it has any). For an ssh URL it
// reads the key and the known_hosts entries, and fails before connecting when
// known_hosts has no key for the server.
func (a *Action) authMethod(s *actions.Step) (transport.AuthMethod, error) {
	switch {
	case a.ssh != nil:
		auth, err := a.ssh.auth(s, a.endpoint)
		if err != nil {
			return nil, err
		}
		return auth, nil
	case a.basic.Username != "":
		return &githttp.BasicAuth{Username: a.basic.Username, Password: a.basic.Password}, nil
	}
	return nil, nil
}

func (p *sshParams) auth(s *actions.Step, ep *transport.Endpoint) (*sshAuth, error) {
	a := &sshAuth{user: p.user}
	key := p.key
	if p.keyPath != "" {
		var err error
		if key, err = os.ReadFile(resolveIn(s.Workspace, p.keyPath)); err != nil {
			return nil, actions.Permanent(fmt.Errorf("ssh_key: %w", err))
		}
	}
	if key != nil {
		signer, err := parseKey(key, p.password)
		if err != nil {
			return nil, actions.Permanent(fmt.Errorf("ssh_key: %w", err))
		}
		a.methods = []ssh.AuthMethod{ssh.PublicKeys(signer)}
	} else {
		a.methods = []ssh.AuthMethod{ssh.Password(p.password)}
	}

	files, cleanup, err := p.knownHostsFiles(s)
	if err != nil {
		return nil, actions.Permanent(err)
	}
	// Both libraries read the files now, so a temporary one can go at once.
	db, err := gitssh.NewKnownHostsDb(files...)
	cleanup()
	if err != nil {
		return nil, actions.Permanent(fmt.Errorf("known_hosts: %w", err))
	}
	port := ep.Port
	if port <= 0 {
		port = gitssh.DefaultPort
	}
	hostPort := net.JoinHostPort(ep.Host, strconv.Itoa(port))
	// The algorithms known_hosts has keys of are the only ones to negotiate:
	// otherwise the server may show a key of another type, which known_hosts
	// cannot vouch for. None at all means the host is not there.
	if a.algorithms = db.HostKeyAlgorithms(hostPort); len(a.algorithms) == 0 {
		return nil, actions.Permanent(&hostKeyError{msg: fmt.Sprintf(
			"%s is not in known_hosts (%s): add its key, such as the output of ssh-keyscan%s %s checked against a fingerprint you trust, "+
				"to known_hosts in with: or to that file", knownhosts.Normalize(hostPort), strings.Join(p.shownHostFiles(), ", "), portFlag(port), ep.Host)})
	}
	check := db.HostKeyCallback()
	a.hostKeyCallback = func(host string, remote net.Addr, key ssh.PublicKey) error {
		err := check(host, remote, key)
		var keyErr *knownhosts.KeyError
		var revoked *knownhosts.RevokedError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &keyErr) && len(keyErr.Want) > 0:
			return &hostKeyError{msg: fmt.Sprintf(
				"host key mismatch: %s offered the %s key %s, which known_hosts does not list for it; refusing to connect "+
					"(if the server's key was changed on purpose, update known_hosts)",
				knownhosts.Normalize(host), key.Type(), ssh.FingerprintSHA256(key))}
		case errors.As(err, &revoked):
			return &hostKeyError{msg: fmt.Sprintf("host key of %s is revoked in known_hosts; refusing to connect", knownhosts.Normalize(host))}
		default:
			return &hostKeyError{msg: fmt.Sprintf("host key of %s (%s %s) is not accepted: %v",
				knownhosts.Normalize(host), key.Type(), ssh.FingerprintSHA256(key), err)}
		}
	}
	return a, nil
}

// knownHostsFiles are the known_hosts files to check the server against:
// the step's (its inline entries written to a temporary file that cleanup
// removes), or else those of the kind that exist.
func (p *sshParams) knownHostsFiles(s *actions.Step) (files []string, cleanup func(), err error) {
	cleanup = func() {}
	switch {
	case p.knownHosts != nil:
		f, err := os.CreateTemp(s.TempDir, "known_hosts-*")
		if err != nil {
			return nil, cleanup, fmt.Errorf("known_hosts: %w", err)
		}
		cleanup = func() { os.Remove(f.Name()) }
		_, err = f.Write(p.knownHosts)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			cleanup()
			return nil, func() {}, fmt.Errorf("known_hosts: %w", err)
		}
		return []string{f.Name()}, cleanup, nil
	case p.knownHostsPath != "":
		path := resolveIn(s.Workspace, p.knownHostsPath)
		if _, err := os.Stat(path); err != nil {
			return nil, cleanup, fmt.Errorf("known_hosts: %w", err)
		}
		return []string{path}, cleanup, nil
	}
	for _, f := range p.defaultHosts {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, cleanup, &hostKeyError{msg: fmt.Sprintf(
			"no known_hosts to check the server's key against: set known_hosts in with:, or create %s; host keys are never accepted unchecked",
			strings.Join(p.shownHostFiles(), " or "))}
	}
	return files, cleanup, nil
}

// shownHostFiles names, for messages, where host keys were looked up.
func (p *sshParams) shownHostFiles() []string {
	switch {
	case p.knownHosts != nil:
		return []string{"the known_hosts given in with:"}
	case p.knownHostsPath != "":
		return []string{p.knownHostsPath}
	case len(p.defaultHosts) == 0:
		return []string{"no default files configured"}
	}
	return p.defaultHosts
}

func portFlag(port int) string {
	if port == gitssh.DefaultPort {
		return ""
	}
	return " -p " + strconv.Itoa(port)
}

// sshAuth is go-git's ssh AuthMethod with the host-key check and connect
// timeout set by this package, so that nothing falls back to the server's
// own known_hosts, keys or agent.
type sshAuth struct {
	user            string
	methods         []ssh.AuthMethod
	hostKeyCallback ssh.HostKeyCallback
	algorithms      []string
}

var _ gitssh.AuthMethod = (*sshAuth)(nil)

func (a *sshAuth) Name() string   { return "ssh" }
func (a *sshAuth) String() string { return "user: " + a.user + ", name: ssh" }

// ClientConfig returns a new configuration for every connection, as go-git
// may change the one it is given.
func (a *sshAuth) ClientConfig() (*ssh.ClientConfig, error) {
	return &ssh.ClientConfig{
		User:              a.user,
		Auth:              a.methods,
		HostKeyCallback:   a.hostKeyCallback,
		HostKeyAlgorithms: a.algorithms,
		Timeout:           connectTimeout,
	}, nil
}

// hostKeyError is a refused ssh server key: never worth another attempt.
type hostKeyError struct{ msg string }

func (e *hostKeyError) Error() string { return e.msg }

// resolveIn resolves p against the workspace unless it is absolute.
func resolveIn(workspace, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(workspace, p)
}
