package gitaction

import "testing"

// GitHTTPServer lets the tests of package gitaction_test serve repositories
// over HTTP with basic auth, as the tests of this package do.
var GitHTTPServer = gitHTTPServer

// NewRemote makes a bare repository holding one commit of files and returns
// its path and the commit's hash.
func NewRemote(t *testing.T, files map[string]string) (bare, head string) {
	t.Helper()
	r := newRemote(t)
	return r.bare, r.commit(files)
}
