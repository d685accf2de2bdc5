package gitclient

import (
	"cmp"
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
)

// connectTimeout bounds making an ssh connection. go-git dials ssh servers
// without the caller's context, so this is what stops a silent host.
const connectTimeout = 30 * time.Second

// Credentials are how to log in to a remote. The zero value is no login:
// go-git then uses the credentials written into an http(s) URL, if any.
type Credentials struct {
	// Username and Password are the basic-auth login of an http(s) URL;
	// an empty Username is none.
	Username, Password string
	// SSH is the login of an ssh URL.
	SSH *SSH
}

// SSH is an ssh login. Exactly one way of logging in is used: Key, else
// Password, else the ssh agent when Agent is set.
type SSH struct {
	// User is the login name; empty is the URL's user, else git.
	User string
	// Key is a private key in PEM or OpenSSH format.
	Key []byte
	// Password is the passphrase of an encrypted Key, or without a Key the
	// login's password.
	Password string
	// Agent lets the ssh agent of $SSH_AUTH_SOCK offer its keys when there
	// is neither Key nor Password.
	Agent bool
	// KnownHosts are the known_hosts files the server's key is checked
	// against. Files that do not exist are skipped; when none exists, or
	// none lists the server, the login fails before connecting.
	KnownHosts []string
	// ShownHosts name the known_hosts in messages; nil shows KnownHosts.
	ShownHosts []string
}

// DefaultKnownHosts are the files OpenSSH itself checks for the user hookflow
// runs as: ~/.ssh/known_hosts (from the process's $HOME) and
// /etc/ssh/ssh_known_hosts.
func DefaultKnownHosts() []string {
	files := []string{"/etc/ssh/ssh_known_hosts"}
	if home, err := os.UserHomeDir(); err == nil {
		files = append([]string{filepath.Join(home, ".ssh", "known_hosts")}, files...)
	}
	return files
}

// Auth returns the go-git login of c for the remote, or nil for none. For an
// ssh login it reads the key and the known_hosts files, and fails before any
// connection when no file exists or none lists the server: host keys are
// never accepted unchecked. Its errors never quote a key.
func (r *Remote) Auth(c Credentials) (transport.AuthMethod, error) {
	switch {
	case c.SSH != nil:
		ep, err := r.endpoint()
		if err != nil {
			return nil, err
		}
		return r.sshAuth(c.SSH, ep)
	case c.Username != "":
		return &githttp.BasicAuth{Username: c.Username, Password: c.Password}, nil
	}
	return nil, nil
}

func (r *Remote) sshAuth(p *SSH, ep *transport.Endpoint) (*sshAuth, error) {
	a := &sshAuth{user: cmp.Or(p.User, ep.User, "git")}
	switch {
	case p.Key != nil:
		signer, err := ParseKey(p.Key, p.Password, r.settings.Passphrase)
		if err != nil {
			return nil, fmt.Errorf("ssh_key: %w", err)
		}
		a.methods = []ssh.AuthMethod{ssh.PublicKeys(signer)}
	case p.Password != "":
		a.methods = []ssh.AuthMethod{ssh.Password(p.Password)}
	case p.Agent:
		agent, err := gitssh.NewSSHAgentAuth(a.user)
		if err != nil {
			return nil, fmt.Errorf("ssh agent: %w", err)
		}
		a.methods = []ssh.AuthMethod{ssh.PublicKeysCallback(agent.Callback)}
	default:
		return nil, errors.New("ssh: no key, password or agent to log in with")
	}

	shown := p.ShownHosts
	if shown == nil {
		shown = p.KnownHosts
	}
	var files []string
	for _, f := range p.KnownHosts {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		where := "create " + strings.Join(shown, " or ")
		if r.settings.KnownHosts != "" {
			where = "set " + r.settings.KnownHosts + ", or " + where
		}
		return nil, &hostKeyError{msg: "no known_hosts to check the server's key against: " + where + "; host keys are never accepted unchecked"}
	}
	db, err := gitssh.NewKnownHostsDb(files...)
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
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
		addTo := "that file"
		if r.settings.KnownHosts != "" {
			addTo = r.settings.KnownHosts + " or to that file"
		}
		return nil, &hostKeyError{msg: fmt.Sprintf(
			"%s is not in known_hosts (%s): add its key, such as the output of ssh-keyscan%s %s checked against a fingerprint you trust, to %s",
			knownhosts.Normalize(hostPort), strings.Join(shown, ", "), portFlag(port), ep.Host, addTo)}
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

func portFlag(port int) string {
	if port == gitssh.DefaultPort {
		return ""
	}
	return " -p " + strconv.Itoa(port)
}

// ParseKey reads a private key, decrypting it with passphrase when it is
// encrypted. setting names where a passphrase is given, for the message about
// an encrypted key without one; empty when it can be given nowhere. Its
// errors never quote the key.
func ParseKey(pem []byte, passphrase, setting string) (ssh.Signer, error) {
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing) && passphrase == "" && setting == "":
		return nil, errors.New("the key is encrypted: use a key without a passphrase")
	case errors.As(err, &missing) && passphrase == "":
		return nil, fmt.Errorf("the key is encrypted: set %s to its passphrase", setting)
	case errors.As(err, &missing):
		signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte(passphrase))
		if err != nil {
			return nil, errors.New("the password does not decrypt the key")
		}
	case err != nil:
		return nil, errors.New("not a private key in PEM or OpenSSH format")
	}
	return signer, nil
}

// CheckKnownHosts checks that every line of data is a known_hosts entry, a
// comment or blank, so that a typo is found before any connection.
func CheckKnownHosts(data []byte) error {
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if _, _, _, _, _, err := ssh.ParseKnownHosts([]byte(line)); err != nil {
			return fmt.Errorf("line %d is not a known_hosts entry (write lines like the output of ssh-keyscan)", i+1)
		}
	}
	return nil
}

// sshAuth is go-git's ssh AuthMethod with the host-key check and connect
// timeout set by this package, so that nothing falls back to go-git's own
// choice of known_hosts, keys or agent.
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

// hostKeyError is a refused ssh server key, or no way to check one: never
// worth another attempt.
type hostKeyError struct{ msg string }

func (e *hostKeyError) Error() string { return e.msg }
