package gitaction

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/hookflow/hookflow/internal/gitclient/gittest"
)

func TestSSH(t *testing.T) {
	r := newRemote(t)
	head := r.Commit(map[string]string{"app.conf": "port=8080\n"})
	key, signer := gittest.Key(t)
	srv := gittest.NewSSHServer(t, filepath.Dir(r.Bare), signer.PublicKey())
	repoURL := srv.URL(r.Bare)
	trusted := srv.KnownHosts(srv.HostKey)

	t.Run("key and known_hosts inline", func(t *testing.T) {
		s, log := newStep(t, key)
		res := mustRun(t, s, map[string]any{"url": repoURL, "ssh_key": key, "known_hosts": trusted})
		if res.Outputs["commit"] != head {
			t.Errorf("commit = %v, want %s", res.Outputs["commit"], head)
		}
		if got := gittest.ReadFile(t, filepath.Join(s.Workspace, "src", "app.conf")); got != "port=8080\n" {
			t.Errorf("app.conf = %q", got)
		}
		if strings.Contains(log.String(), "PRIVATE KEY") {
			t.Errorf("log holds the key:\n%s", log)
		}
		// The known_hosts written for the step is gone again.
		if entries, _ := os.ReadDir(s.TempDir); len(entries) > 0 {
			t.Errorf("step temp dir holds %v", entries)
		}
	})

	t.Run("key and known_hosts files, pull in place", func(t *testing.T) {
		s, _ := newStep(t)
		write := func(name, content string) {
			if err := os.WriteFile(filepath.Join(s.Workspace, name), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		write("deploy_key", key)
		write("known_hosts", trusted)
		dir := filepath.Join(t.TempDir(), "app")
		with := map[string]any{"url": repoURL, "ssh_key": "deploy_key", "known_hosts": "known_hosts", "dir": dir}
		first := mustRun(t, s, with).Outputs["commit"].(string)
		next := r.Commit(map[string]string{"app.conf": "port=9090\n"})
		res := mustRun(t, s, with)
		wantOutputs(t, res, next, first, []string{"app.conf"}, dir)
	})

	t.Run("server's known_hosts", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(file, []byte(trusted), 0o600); err != nil {
			t.Fatal(err)
		}
		kind := KindWith(Config{KnownHosts: []string{filepath.Join(t.TempDir(), "missing"), file}})
		s, _ := newStep(t)
		if _, err := runKind(t, kind, s, map[string]any{"url": repoURL, "ssh_key": key}); err != nil {
			t.Fatalf("Run: %v", err)
		}
	})

	t.Run("encrypted key", func(t *testing.T) {
		other, _ := gittest.Key(t)
		encrypted := gittest.EncryptKey(t, other, "open sesame")
		with := map[string]any{"url": repoURL, "ssh_key": encrypted, "known_hosts": trusted}
		if _, err := Kind().New(with); err == nil || !strings.Contains(err.Error(), "set password to its passphrase") {
			t.Errorf("New without the passphrase: %v", err)
		}
		with["password"] = "open sesame"
		s, _ := newStep(t)
		_, err := runIn(t, s, with)
		// The key decrypts, but the server does not know it.
		wantPermanent(t, err, "authentication failed: the server did not accept the ssh key (or password) of user git")
	})

	t.Run("host key mismatch", func(t *testing.T) {
		_, other := gittest.Key(t)
		before := srv.AuthAttempts.Load()
		s, log := newStep(t)
		_, err := runIn(t, s, map[string]any{"url": repoURL, "ssh_key": key, "known_hosts": srv.KnownHosts(other.PublicKey())})
		wantPermanent(t, err, fmt.Sprintf("host key mismatch: [127.0.0.1]:%d offered the ssh-ed25519 key %s", srv.Port, ssh.FingerprintSHA256(srv.HostKey)),
			"refusing to connect")
		if n := srv.AuthAttempts.Load() - before; n != 0 {
			t.Errorf("the client offered its key %d times to a server it does not trust", n)
		}
		if !strings.Contains(log.String(), "failed: host key mismatch") {
			t.Errorf("log:\n%s", log)
		}
	})

	t.Run("host not in known_hosts", func(t *testing.T) {
		before := srv.Conns.Load()
		s, _ := newStep(t)
		_, err := runIn(t, s, map[string]any{"url": repoURL, "ssh_key": key,
			"known_hosts": knownhosts.Line([]string{"git.example.com"}, srv.HostKey) + "\n"})
		wantPermanent(t, err, fmt.Sprintf("[127.0.0.1]:%d is not in known_hosts", srv.Port), fmt.Sprintf("ssh-keyscan -p %d 127.0.0.1", srv.Port))
		if n := srv.Conns.Load() - before; n != 0 {
			t.Errorf("%d connections to an unknown host", n)
		}
	})

	t.Run("no known_hosts anywhere", func(t *testing.T) {
		before := srv.Conns.Load()
		missing := filepath.Join(t.TempDir(), "known_hosts")
		s, _ := newStep(t)
		_, err := runKind(t, KindWith(Config{KnownHosts: []string{missing}}), s, map[string]any{"url": repoURL, "ssh_key": key})
		wantPermanent(t, err, "no known_hosts to check the server's key against", missing, "never accepted unchecked")
		if n := srv.Conns.Load() - before; n != 0 {
			t.Errorf("%d connections without known_hosts", n)
		}
	})

	t.Run("known_hosts file missing", func(t *testing.T) {
		s, _ := newStep(t)
		_, err := runIn(t, s, map[string]any{"url": repoURL, "ssh_key": key, "known_hosts": "/nonexistent/known_hosts"})
		wantPermanent(t, err, "known_hosts: stat /nonexistent/known_hosts: no such file")
	})

	t.Run("key not authorized", func(t *testing.T) {
		other, _ := gittest.Key(t)
		s, _ := newStep(t)
		_, err := runIn(t, s, map[string]any{"url": repoURL, "ssh_key": other, "known_hosts": trusted})
		wantPermanent(t, err, "authentication failed")
	})
}
