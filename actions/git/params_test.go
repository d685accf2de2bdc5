package gitaction

import (
	"slices"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/gitclient/gittest"
)

func TestKind(t *testing.T) {
	k := Kind()
	if k.Name != "git" {
		t.Errorf("Name = %q, want git", k.Name)
	}
	want := []string{"url", "ref", "dir", "depth", "token", "username", "password", "ssh_key", "known_hosts", "clean"}
	if got := actions.ParamKeys(k.Params); !slices.Equal(got, want) {
		t.Errorf("ParamKeys = %v, want %v", got, want)
	}
	if got := actions.URLKeys(k.Params); !slices.Equal(got, []string{"url"}) {
		t.Errorf("URLKeys = %v, want [url]", got)
	}
	if _, err := actions.NewRegistry(k); err != nil {
		t.Errorf("NewRegistry: %v", err)
	}
}

func TestNew(t *testing.T) {
	key, _ := gittest.Key(t)
	tests := []struct {
		name string
		with map[string]any
	}{
		{"https", map[string]any{"url": "https://example.com/o/r.git"}},
		{"token", map[string]any{"url": "https://example.com/o/r.git", "token": "t0k"}},
		{"token with username", map[string]any{"url": "https://example.com/o/r.git", "token": "t0k", "username": "x-access-token"}},
		{"username and password", map[string]any{"url": "http://example.com/o/r.git", "username": "u", "password": "p"}},
		{"credentials in url", map[string]any{"url": "https://u:p@example.com/o/r.git"}},
		{"scp-like ssh with inline key", map[string]any{"url": "git@example.com:o/r.git", "ssh_key": key}},
		{"ssh key path and known_hosts path", map[string]any{"url": "ssh://git@example.com:2222/o/r.git", "ssh_key": "keys/deploy", "known_hosts": "/etc/hookflow/known_hosts"}},
		{"ssh inline known_hosts", map[string]any{"url": "ssh://example.com/o/r.git", "ssh_key": key,
			"known_hosts": "# a comment\n\nexample.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"}},
		{"ssh password", map[string]any{"url": "ssh://example.com/o/r.git", "username": "deploy", "password": "pw"}},
		{"local path", map[string]any{"url": "/srv/git/r.git", "dir": "/srv/app", "clean": true}},
		{"git protocol", map[string]any{"url": "git://example.com/r.git"}},
		{"all refs", map[string]any{"url": "/srv/git/r.git", "ref": "refs/pull/7/head", "depth": 1, "dir": "deep/er"}},
		{"commit", map[string]any{"url": "/srv/git/r.git", "ref": "0123456789abcdef0123456789abcdef01234567"}},
		{"escaped space in the path", map[string]any{"url": "https://example.com/o/my%20repo.git"}},
		{"escaped credentials", map[string]any{"url": "https://u:p%40ss%2Fword@example.com/o/r.git"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Kind().New(tt.with); err != nil {
				t.Errorf("New: %v", err)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	const u = "https://example.com/o/r.git"
	key, _ := gittest.Key(t)
	tests := []struct {
		name string
		with map[string]any
		want string // part of the error
	}{
		{"unknown key", map[string]any{"url": u, "branch": "main"}, `unknown field "branch"`},
		{"wrong type", map[string]any{"url": u, "depth": "one"}, "depth"},
		{"fractional depth", map[string]any{"url": u, "depth": 1.5}, "depth"},
		{"missing url", map[string]any{"ref": "main"}, "url: is required"},
		{"ftp", map[string]any{"url": "ftp://example.com/r.git"}, `scheme "ftp" is not supported`},
		{"relative local path", map[string]any{"url": "repos/r.git"}, "absolute path"},
		{"negative depth", map[string]any{"url": u, "depth": -1}, "depth: must be 0"},
		{"dir outside", map[string]any{"url": u, "dir": "../elsewhere"}, "leaves the workspace"},
		{"dir is the workspace", map[string]any{"url": u, "dir": "./"}, "the workspace itself"},
		{"bad ref", map[string]any{"url": u, "ref": "a..b"}, `ref: "a..b" is not a valid`},
		{"ref with space", map[string]any{"url": u, "ref": "my branch"}, "is not a valid"},
		{"option-like ref", map[string]any{"url": u, "ref": "-x"}, "is not a valid"},
		{"token and password", map[string]any{"url": u, "token": "t", "password": "p"}, "give one of them"},
		{"password without username", map[string]any{"url": u, "password": "p"}, "set username too"},
		{"credentials twice", map[string]any{"url": "https://u:p@example.com/r.git", "token": "t"}, "in one place"},
		{"colon in username", map[string]any{"url": u, "username": "a:b", "password": "p"}, "colon"},
		{"ssh key for https", map[string]any{"url": u, "ssh_key": key}, "ssh_key and known_hosts are for ssh URLs"},
		{"known_hosts for https", map[string]any{"url": u, "known_hosts": "/k"}, "ssh_key and known_hosts are for ssh URLs"},
		{"token for ssh", map[string]any{"url": "git@example.com:o/r.git", "token": "t"}, "token is for http(s) URLs"},
		{"ssh without key", map[string]any{"url": "git@example.com:o/r.git"}, "an ssh URL needs a key"},
		{"ssh password in url", map[string]any{"url": "ssh://git:pw@example.com/r.git", "ssh_key": key}, "do not write a password"},
		{"bad inline key", map[string]any{"url": "git@example.com:o/r.git", "ssh_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nnope\n-----END OPENSSH PRIVATE KEY-----\n"},
			"ssh_key: not a private key"},
		{"bad known_hosts", map[string]any{"url": "git@example.com:o/r.git", "ssh_key": key, "known_hosts": "example.com ssh-ed25519 notbase64!\n"},
			"known_hosts: line 1 is not a known_hosts entry"},
		{"credentials for a local path", map[string]any{"url": "/srv/r.git", "token": "t"}, "not file"},
		// A templated value escaped as one path segment that go-git would
		// decode into several, or into a query or a fragment.
		{"escaped / in an https path", map[string]any{"url": "https://example.com/repos/..%2F..%2Fadmin.git"}, "a segment of the path holds an escaped /"},
		{"escaped ? in an https path", map[string]any{"url": "https://example.com/repos/r%3Fx=1.git"}, "a segment of the path holds an escaped /"},
		{"escaped # in an http path", map[string]any{"url": "http://example.com/r%23.git"}, "a segment of the path holds an escaped /"},
		{"escaped dot-dot in an ssh path", map[string]any{"url": "ssh://git@example.com/srv/%2E%2E/r.git", "ssh_key": key}, "a segment of the path holds an escaped /"},
		{"escaped / in a git path", map[string]any{"url": "git://example.com/a%2Fb.git"}, "a segment of the path holds an escaped /"},
		{"escaped / in a file URL", map[string]any{"url": "file:///srv/git/..%2Fsecret.git"}, "a segment of the path holds an escaped /"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Kind().New(tt.with)
			if err == nil {
				t.Fatalf("New succeeded (%+v), want an error containing %q", a, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// TestNewRejectsQuietly checks that rejected settings are not repeated in
// the error: they may hold rendered secrets, and New has no list of them.
func TestNewRejectsQuietly(t *testing.T) {
	for _, with := range []map[string]any{
		{"url": "ftp://hunter2@example.com/r.git"},
		{"url": "https://hunter2@exa mple.com/r.git"},
		{"url": "git@example.com:o/r.git", "ssh_key": "-----BEGIN hunter2"},
		{"url": "https://example.com/r.git", "token": "hunter2", "password": "hunter2"},
	} {
		_, err := Kind().New(with)
		if err == nil {
			t.Errorf("New(%v) succeeded", with)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error %q repeats a secret", err)
		}
	}
}
