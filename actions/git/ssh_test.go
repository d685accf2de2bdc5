package gitaction

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshServer is a git host over ssh: it runs `git upload-pack` for the user
// git logging in with the authorized key, on repositories under root.
type sshServer struct {
	t       *testing.T
	root    string
	port    int
	hostKey ssh.PublicKey
	config  *ssh.ServerConfig

	conns        atomic.Int32 // TCP connections accepted
	authAttempts atomic.Int32 // public keys offered to it
	wg           sync.WaitGroup
}

func newSSHServer(t *testing.T, root string, authorized ssh.PublicKey) *sshServer {
	t.Helper()
	_, hostSigner := testKey(t)
	s := &sshServer{t: t, root: root, hostKey: hostSigner.PublicKey()}
	s.config = &ssh.ServerConfig{
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			s.authAttempts.Add(1)
			if c.User() == "git" && bytes.Equal(key.Marshal(), authorized.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("key not authorized")
		},
	}
	s.config.AddHostKey(hostSigner)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(nc)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		s.wg.Wait()
	})
	return s
}

// url is the ssh URL of the bare repository at path.
func (s *sshServer) url(path string) string {
	return fmt.Sprintf("ssh://git@127.0.0.1:%d%s", s.port, path)
}

// knownHosts is a known_hosts line giving key for the server's address.
func (s *sshServer) knownHosts(key ssh.PublicKey) string {
	return knownhosts.Line([]string{fmt.Sprintf("127.0.0.1:%d", s.port)}, key) + "\n"
}

func (s *sshServer) serve(nc net.Conn) {
	defer nc.Close()
	conn, chans, reqs, err := ssh.NewServerConn(nc, s.config)
	if err != nil {
		return
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	for newCh := range chans {
		if newCh.ChannelType() != "session" {
			newCh.Reject(ssh.UnknownChannelType, "sessions only")
			continue
		}
		ch, chReqs, err := newCh.Accept()
		if err != nil {
			return
		}
		s.session(ch, chReqs)
	}
}

// session answers one exec request for git-upload-pack, as sshd running
// git-shell would, and refuses everything else.
func (s *sshServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" {
			req.Reply(false, nil)
			continue
		}
		var payload struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
			req.Reply(false, nil)
			return
		}
		// go-git sends: git-upload-pack '/path/to/repo.git'
		program, arg, _ := strings.Cut(payload.Command, " ")
		path := filepath.Clean(strings.Trim(arg, "'"))
		if program != "git-upload-pack" || !strings.HasPrefix(path, s.root+string(os.PathSeparator)) {
			req.Reply(false, nil)
			return
		}
		req.Reply(true, nil)
		cmd := exec.Command("git", "upload-pack", path)
		cmd.Env = gitEnv(s.root)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return
		}
		go func() {
			io.Copy(stdin, ch)
			stdin.Close()
		}()
		cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
		status := 0
		if err := cmd.Run(); err != nil {
			status = 1
		}
		ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
		return
	}
}

func TestSSH(t *testing.T) {
	r := newRemote(t)
	head := r.commit(map[string]string{"app.conf": "port=8080\n"})
	key, signer := testKey(t)
	srv := newSSHServer(t, filepath.Dir(r.bare), signer.PublicKey())
	repoURL := srv.url(r.bare)
	trusted := srv.knownHosts(srv.hostKey)

	t.Run("key and known_hosts inline", func(t *testing.T) {
		s, log := newStep(t, key)
		res := mustRun(t, s, map[string]any{"url": repoURL, "ssh_key": key, "known_hosts": trusted})
		if res.Outputs["commit"] != head {
			t.Errorf("commit = %v, want %s", res.Outputs["commit"], head)
		}
		if got := readFile(t, filepath.Join(s.Workspace, "src", "app.conf")); got != "port=8080\n" {
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
		next := r.commit(map[string]string{"app.conf": "port=9090\n"})
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
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("open sesame"))
		if err != nil {
			t.Fatal(err)
		}
		encrypted := string(pem.EncodeToMemory(block))
		with := map[string]any{"url": repoURL, "ssh_key": encrypted, "known_hosts": trusted}
		if _, err := Kind().New(with); err == nil || !strings.Contains(err.Error(), "set password to its passphrase") {
			t.Errorf("New without the passphrase: %v", err)
		}
		with["password"] = "open sesame"
		s, _ := newStep(t)
		_, err = runIn(t, s, with)
		// The key decrypts, but the server does not know it.
		wantPermanent(t, err, "authentication failed: the server did not accept the ssh key (or password) of user git")
	})

	t.Run("host key mismatch", func(t *testing.T) {
		_, other := testKey(t)
		before := srv.authAttempts.Load()
		s, log := newStep(t)
		_, err := runIn(t, s, map[string]any{"url": repoURL, "ssh_key": key, "known_hosts": srv.knownHosts(other.PublicKey())})
		wantPermanent(t, err, fmt.Sprintf("host key mismatch: [127.0.0.1]:%d offered the ssh-ed25519 key %s", srv.port, ssh.FingerprintSHA256(srv.hostKey)),
			"refusing to connect")
		if n := srv.authAttempts.Load() - before; n != 0 {
			t.Errorf("the client offered its key %d times to a server it does not trust", n)
		}
		if !strings.Contains(log.String(), "failed: host key mismatch") {
			t.Errorf("log:\n%s", log)
		}
	})

	t.Run("host not in known_hosts", func(t *testing.T) {
		before := srv.conns.Load()
		s, _ := newStep(t)
		_, err := runIn(t, s, map[string]any{"url": repoURL, "ssh_key": key,
			"known_hosts": knownhosts.Line([]string{"git.example.com"}, srv.hostKey) + "\n"})
		wantPermanent(t, err, fmt.Sprintf("[127.0.0.1]:%d is not in known_hosts", srv.port), fmt.Sprintf("ssh-keyscan -p %d 127.0.0.1", srv.port))
		if n := srv.conns.Load() - before; n != 0 {
			t.Errorf("%d connections to an unknown host", n)
		}
	})

	t.Run("no known_hosts anywhere", func(t *testing.T) {
		before := srv.conns.Load()
		missing := filepath.Join(t.TempDir(), "known_hosts")
		s, _ := newStep(t)
		_, err := runKind(t, KindWith(Config{KnownHosts: []string{missing}}), s, map[string]any{"url": repoURL, "ssh_key": key})
		wantPermanent(t, err, "no known_hosts to check the server's key against", missing, "never accepted unchecked")
		if n := srv.conns.Load() - before; n != 0 {
			t.Errorf("%d connections without known_hosts", n)
		}
	})

	t.Run("known_hosts file missing", func(t *testing.T) {
		s, _ := newStep(t)
		_, err := runIn(t, s, map[string]any{"url": repoURL, "ssh_key": key, "known_hosts": "/nonexistent/known_hosts"})
		wantPermanent(t, err, "known_hosts: stat /nonexistent/known_hosts: no such file")
	})

	t.Run("key not authorized", func(t *testing.T) {
		other, _ := testKey(t)
		s, _ := newStep(t)
		_, err := runIn(t, s, map[string]any{"url": repoURL, "ssh_key": other, "known_hosts": trusted})
		wantPermanent(t, err, "authentication failed")
	})
}
