package httpaction

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/internal/mask"
)

// build makes an action of the default kind from with, failing the test if
// with does not build.
func build(t *testing.T, with map[string]any) actions.Action {
	t.Helper()
	a, err := Kind().New(with)
	if err != nil {
		t.Fatalf("New(%v): %v", with, err)
	}
	return a
}

// run builds with and runs it once with ctx, returning the result, the
// step's log and the error. The step's masker is built from secrets, as the
// runner builds a run's.
func run(t *testing.T, ctx context.Context, with map[string]any, secrets ...string) (actions.Result, string, error) {
	t.Helper()
	a := build(t, with)
	var log syncBuffer
	res, err := a.Run(ctx, &actions.Step{Stdout: &log, Stderr: &log, Mask: mask.New(secrets)})
	return res, log.String(), err
}

// syncBuffer is a log sink safe for the two writers a Step may have.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// received is what a test server saw of one request.
type received struct {
	method, path, query, host string
	header                    http.Header
	body                      string
}

// recordingServer answers every request with status and body after passing
// what it received to the returned channel, which holds one request.
func recordingServer(t *testing.T, status int, body string) (*httptest.Server, <-chan received) {
	t.Helper()
	got := make(chan received, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- received{
			method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, host: r.Host,
			header: r.Header.Clone(), body: string(b),
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// respond returns a server answering every request with status, the given
// header pairs and body.
func respond(t *testing.T, status int, body string, header ...string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Add(header[i], header[i+1])
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// closedAddr returns a local address that nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
