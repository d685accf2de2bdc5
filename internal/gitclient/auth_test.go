package gitclient

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/hookflow/hookflow/internal/gitclient/gittest"
)

// writeFile writes content to path and returns path.
func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// knownHostsFile writes line to a new known_hosts file and returns its path.
func knownHostsFile(t *testing.T, line string) string {
	t.Helper()
	return writeFile(t, filepath.Join(t.TempDir(), "known_hosts"), line)
}

func TestSSH(t *testing.T) {
	t.Parallel()
	r := gittest.NewRepo(t, t.TempDir())
	head := r.Commit(map[string]string{"a.txt": "1\n"})
	key, signer := gittest.Key(t)
	srv := gittest.NewSSHServer(t, filepath.Dir(r.Bare), signer.PublicKey())
	missing := filepath.Join(t.TempDir(), "missing")
	trusted := []string{missing, knownHostsFile(t, srv.KnownHosts(srv.HostKey))}
	_, other := gittest.Key(t)
	mismatched := []string{knownHostsFile(t, srv.KnownHosts(other.PublicKey()))}
	elsewhere := []string{knownHostsFile(t, knownhosts.Line([]string{"git.example.com"}, srv.HostKey)+"\n")}
	hostPort := fmt.Sprintf("[127.0.0.1]:%d", srv.Port)

	for _, tt := range []struct {
		name string
		ssh  SSH
		want string // the error; empty for none
		// connects and offers says whether the client may connect, and
		// offer its key, to the server.
		connects, offers bool
	}{
		{name: "key", ssh: SSH{Key: []byte(key), KnownHosts: trusted}, connects: true, offers: true},
		{name: "encrypted key", ssh: SSH{Key: []byte(gittest.EncryptKey(t, key, "open sesame")), Password: "open sesame", KnownHosts: trusted}, connects: true, offers: true},
		{name: "encrypted key without passphrase", ssh: SSH{Key: []byte(gittest.EncryptKey(t, key, "open sesame")), KnownHosts: trusted},
			want: "ssh_key: the key is encrypted: set the-passphrase-setting to its passphrase"},
		{name: "not a key", ssh: SSH{Key: []byte("-----BEGIN nothing"), KnownHosts: trusted},
			want: "ssh_key: not a private key in PEM or OpenSSH format"},
		{name: "user other than the URL's", ssh: SSH{User: "deploy", Key: []byte(key), KnownHosts: trusted}, connects: true, offers: true,
			want: "authentication failed: the server did not accept the ssh key (or password) of user deploy"},
		{name: "password not accepted", ssh: SSH{Password: "hunter2", KnownHosts: trusted}, connects: true,
			want: "authentication failed: the server did not accept the ssh key (or password) of user git"},
		{name: "no way to log in", ssh: SSH{KnownHosts: trusted}, want: "ssh: no key, password or agent"},
		{name: "host key mismatch", ssh: SSH{Key: []byte(key), KnownHosts: mismatched}, connects: true,
			want: "host key mismatch: " + hostPort + " offered the ssh-ed25519 key " + ssh.FingerprintSHA256(srv.HostKey)},
		{name: "host not in known_hosts", ssh: SSH{Key: []byte(key), KnownHosts: elsewhere, ShownHosts: []string{"the-shown-file"}},
			want: hostPort + " is not in known_hosts (the-shown-file): add its key, such as the output of ssh-keyscan -p " +
				fmt.Sprint(srv.Port) + " 127.0.0.1 checked against a fingerprint you trust, to the-known-hosts-setting or to that file"},
		{name: "no known_hosts file", ssh: SSH{Key: []byte(key), KnownHosts: []string{missing}},
			want: "no known_hosts to check the server's key against: set the-known-hosts-setting, or create " + missing +
				"; host keys are never accepted unchecked"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the server's counters tell what each case did.
			conns, offered := srv.Conns.Load(), srv.AuthAttempts.Load()
			login := tt.ssh
			target, _, err := fetchRef(t, srv.URL(r.Bare), "", Credentials{SSH: &login})
			if tt.want == "" {
				if err != nil || target.Commit.String() != head {
					t.Fatalf("Fetch = %v, %v; want %s", target, err, head)
				}
			} else {
				wantError(t, err, tt.want, false)
			}
			if got := srv.Conns.Load() > conns; got != tt.connects {
				t.Errorf("connected = %v, want %v", got, tt.connects)
			}
			if got := srv.AuthAttempts.Load() > offered; got != tt.offers {
				t.Errorf("offered a key = %v, want %v", got, tt.offers)
			}
			if strings.Contains(fmt.Sprint(err), "PRIVATE KEY") {
				t.Errorf("the error quotes the key: %v", err)
			}
		})
	}
}

func TestCheckKnownHosts(t *testing.T) {
	t.Parallel()
	_, signer := gittest.Key(t)
	good := "# a comment\n\n" + knownhosts.Line([]string{"git.example.com"}, signer.PublicKey()) + "\n"
	if err := CheckKnownHosts([]byte(good)); err != nil {
		t.Errorf("CheckKnownHosts(good) = %v", err)
	}
	bad := good + "git.example.com ssh-ed25519 notbase64!\n"
	if err := CheckKnownHosts([]byte(bad)); err == nil || !strings.Contains(err.Error(), "line 4 is not a known_hosts entry") {
		t.Errorf("CheckKnownHosts(bad) = %v, want line 4 refused", err)
	}
}

// TestFetchUnchangedConnectsOnce: fetching a branch that has not moved since
// the last fetch into the same repository lists the remote's refs and stops
// there, one connection; a branch that moved is fetched.
func TestFetchUnchangedConnectsOnce(t *testing.T) {
	t.Parallel()
	r := gittest.NewRepo(t, t.TempDir())
	r.Commit(map[string]string{"a.txt": "1\n"})
	key, signer := gittest.Key(t)
	srv := gittest.NewSSHServer(t, filepath.Dir(r.Bare), signer.PublicKey())
	login := SSH{Key: []byte(key), KnownHosts: []string{knownHostsFile(t, srv.KnownHosts(srv.HostKey))}}
	remote := New(Options{URL: srv.URL(r.Bare), Settings: settings})
	auth, err := remote.Auth(Credentials{SSH: &login})
	if err != nil {
		t.Fatal(err)
	}
	repo := emptyRepo(t)
	fetch := func(want string) int32 {
		t.Helper()
		before := srv.Conns.Load()
		target, err := remote.Fetch(context.Background(), repo, FetchOptions{Ref: "main", Auth: auth})
		if err != nil || target.Commit.String() != want {
			t.Fatalf("Fetch = %v, %v; want %s", target, err, want)
		}
		return srv.Conns.Load() - before
	}
	head := r.Commit(map[string]string{"a.txt": "2\n"})
	first := fetch(head)
	if again := fetch(head); again != 1 || first != 2 {
		t.Errorf("connections: first fetch %d (want 2: list, fetch), unchanged %d (want 1: list only)", first, again)
	}
	if moved := fetch(r.Commit(map[string]string{"a.txt": "3\n"})); moved != 2 {
		t.Errorf("connections after the branch moved: %d, want 2", moved)
	}
}
