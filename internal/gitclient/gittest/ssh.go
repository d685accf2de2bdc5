package gittest

import (
	"bytes"
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

// SSHServer is a git host over ssh on 127.0.0.1: it runs `git upload-pack`
// for the user git logging in with the authorized key, on repositories under
// its root.
type SSHServer struct {
	// Port is the port it listens on.
	Port int
	// HostKey is its host key.
	HostKey ssh.PublicKey
	// Conns counts the TCP connections it accepted.
	Conns atomic.Int32
	// AuthAttempts counts the public keys offered to it.
	AuthAttempts atomic.Int32

	root   string
	config *ssh.ServerConfig
	wg     sync.WaitGroup
}

// NewSSHServer starts a server of the repositories under root that lets the
// user git in with the key authorized. It stops when the test ends.
func NewSSHServer(t testing.TB, root string, authorized ssh.PublicKey) *SSHServer {
	t.Helper()
	_, hostSigner := Key(t)
	s := &SSHServer{root: root, HostKey: hostSigner.PublicKey()}
	s.config = &ssh.ServerConfig{
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			s.AuthAttempts.Add(1)
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
	s.Port = l.Addr().(*net.TCPAddr).Port
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			s.Conns.Add(1)
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

// URL is the ssh URL of the bare repository at path.
func (s *SSHServer) URL(path string) string {
	return fmt.Sprintf("ssh://git@127.0.0.1:%d%s", s.Port, path)
}

// KnownHosts is a known_hosts line giving key for the server's address.
func (s *SSHServer) KnownHosts(key ssh.PublicKey) string {
	return knownhosts.Line([]string{fmt.Sprintf("127.0.0.1:%d", s.Port)}, key) + "\n"
}

func (s *SSHServer) serve(nc net.Conn) {
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
func (s *SSHServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
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
		cmd.Env = Env(s.root)
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
