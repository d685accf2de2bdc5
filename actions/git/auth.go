package gitaction

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/gitclient"
)

// credentials are the step's login for the client: the key read from its
// file in the workspace, and the known_hosts to check the server against,
// the step's own written to a temporary file that cleanup removes once the
// login is built.
func (a *Action) credentials(s *actions.Step) (c gitclient.Credentials, cleanup func(), err error) {
	cleanup = func() {}
	if a.ssh == nil {
		return gitclient.Credentials{Username: a.basic.Username, Password: a.basic.Password}, cleanup, nil
	}
	p := a.ssh
	login := &gitclient.SSH{User: p.user, Key: p.key, Password: p.password}
	if p.keyPath != "" {
		if login.Key, err = os.ReadFile(resolveIn(s.Workspace, p.keyPath)); err != nil {
			return c, cleanup, fmt.Errorf("ssh_key: %w", err)
		}
	}
	switch {
	case p.knownHosts != nil:
		f, err := os.CreateTemp(s.TempDir, "known_hosts-*")
		if err != nil {
			return c, cleanup, fmt.Errorf("known_hosts: %w", err)
		}
		cleanup = func() { os.Remove(f.Name()) }
		_, err = f.Write(p.knownHosts)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			cleanup()
			return c, func() {}, fmt.Errorf("known_hosts: %w", err)
		}
		login.KnownHosts, login.ShownHosts = []string{f.Name()}, []string{"the known_hosts given in with:"}
	case p.knownHostsPath != "":
		path := resolveIn(s.Workspace, p.knownHostsPath)
		if _, err := os.Stat(path); err != nil {
			return c, cleanup, fmt.Errorf("known_hosts: %w", err)
		}
		login.KnownHosts, login.ShownHosts = []string{path}, []string{p.knownHostsPath}
	case len(p.defaultHosts) == 0:
		login.ShownHosts = []string{"no default files configured"}
	default:
		login.KnownHosts = p.defaultHosts
	}
	return gitclient.Credentials{SSH: login}, cleanup, nil
}

// resolveIn resolves p against the workspace unless it is absolute.
func resolveIn(workspace, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(workspace, p)
}
