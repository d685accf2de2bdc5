package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookflow/hookflow/intake"
	"github.com/hookflow/hookflow/runner"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/sqlite"
	"github.com/hookflow/hookflow/triggers"
	"github.com/hookflow/hookflow/workflows"
)

// fixture is the API over real parts: a SQLite store in a temp folder, the
// workflows of a temp folder behind a triggers.Source, an intake committing
// through a running dispatcher, and a log broker. Only what the API asks of
// the pool is recorded instead (runs), since nothing executes runs here.
type fixture struct {
	url    string
	echo   *echo.Echo
	server *Server
	store  *sqlite.Store
	dir    string // the workflow folder
	intake *intake.Intake
	runs   *runsSpy
	feed   *runner.Broker
}

// fixtureConfig is what a test may change before the API is served.
type fixtureConfig struct {
	dispatcher runner.DispatcherConfig
	server     *Server
}

// newFixture writes files into a workflow folder and serves the API on them.
// mod, when set, changes the configuration before anything starts.
func newFixture(t *testing.T, files map[string]string, mod func(*fixtureConfig)) *fixture {
	t.Helper()
	f := &fixture{dir: filepath.Join(t.TempDir(), "workflows"), feed: runner.NewBroker()}
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		f.write(t, name, content)
	}
	ctx, cancel := context.WithCancel(context.Background())
	source, err := triggers.NewSource(ctx, func(context.Context) (*workflows.Set, error) {
		return workflows.LoadPaths(nil, f.dir)
	}, nil, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	f.store, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookflow.db"), sqlite.Options{Durability: "normal"})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	cfg := &fixtureConfig{
		dispatcher: runner.DispatcherConfig{Store: f.store, MaxQueued: 1000},
		server: &Server{Store: f.store, Workflows: source, Logs: f.feed, Gatherer: prometheus.NewRegistry(),
			Ready: func(context.Context) error { return nil }, Logger: slog.New(slog.DiscardHandler)},
	}
	if mod != nil {
		mod(cfg)
	}
	dispatcher := runner.NewDispatcher(cfg.dispatcher)
	var running sync.WaitGroup
	running.Go(func() { dispatcher.Run(ctx) })
	f.intake = &intake.Intake{Workflows: source.Set, Commit: dispatcher}
	f.runs = &runsSpy{Dispatcher: dispatcher}
	f.server = cfg.server
	f.server.Intake, f.server.Runs = f.intake, f.runs

	f.echo = newEcho()
	f.server.Register(f.echo)
	srv := httptest.NewServer(f.echo)
	f.url = srv.URL
	t.Cleanup(func() {
		srv.Close()
		cancel()
		running.Wait()
		f.store.Close()
	})
	return f
}

// newEcho is an echo instance as hookflow serve makes it: the client is the
// connection's address, whatever the request's headers say.
func newEcho() *echo.Echo {
	e := echo.New()
	e.IPExtractor = echo.ExtractIPDirect()
	return e
}

// write puts a workflow file into the folder; reload to make it active.
func (f *fixture) write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runsSpy queues reruns through the real dispatcher and records the cancels
// asked of this process, which has no pool whose runs they would stop.
type runsSpy struct {
	*runner.Dispatcher
	mu      sync.Mutex
	cancels []cancelCall
}

// cancelCall is one call of Cancel.
type cancelCall struct {
	id, cause string
}

func (r *runsSpy) Cancel(id string, cause error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cancels = append(r.cancels, cancelCall{id: id, cause: cause.Error()})
	return true
}

func (r *runsSpy) calls() []cancelCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]cancelCall(nil), r.cancels...)
}

// answer is an HTTP answer.
type answer struct {
	code   int
	header http.Header
	body   string
}

// errorMessage is the message of an answer's {"error": ...} body.
func (a answer) errorMessage(t *testing.T) string {
	t.Helper()
	var body struct {
		Error *string `json:"error"`
	}
	if err := json.Unmarshal([]byte(a.body), &body); err != nil || body.Error == nil {
		t.Fatalf("answer %d %q is not an error body", a.code, a.body)
	}
	return *body.Error
}

// do sends a request to the served API, from 127.0.0.1, and returns the
// answer. header values are set on the request; "Host" sets its Host.
func (f *fixture) do(t *testing.T, method, path, body string, header map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(method, f.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{code: resp.StatusCode, header: resp.Header, body: string(b)}
}

// serve answers req in process, for clients the loopback interface cannot
// stand for (another host's address).
func (f *fixture) serve(req *http.Request) answer {
	rec := httptest.NewRecorder()
	f.echo.ServeHTTP(rec, req)
	return answer{code: rec.Code, header: rec.Header(), body: rec.Body.String()}
}

// decode reads an answer's JSON body, which must have the status want.
func decode[T any](t *testing.T, a answer, want int) T {
	t.Helper()
	var v T
	if a.code != want {
		t.Fatalf("status %d, want %d: %s", a.code, want, a.body)
	}
	if err := json.Unmarshal([]byte(a.body), &v); err != nil {
		t.Fatalf("answer %q: %v", a.body, err)
	}
	return v
}

// dispatchRun starts workflow name through the API and returns its run.
func (f *fixture) dispatchRun(t *testing.T, name string) *RunView {
	t.Helper()
	return decode[*RunView](t, f.do(t, "POST", "/api/v1/workflows/"+name+"/dispatch", "", nil), http.StatusAccepted)
}

// claim marks the oldest queued run running, as a pool would.
func (f *fixture) claim(t *testing.T) *store.Run {
	t.Helper()
	r, err := f.store.Claim(context.Background(), "node-a", time.Hour, time.Now())
	if err != nil || r == nil {
		t.Fatalf("claim: %v, %v", r, err)
	}
	return r
}

// finish ends running run r with status.
func (f *fixture) finish(t *testing.T, r *store.Run, status string) {
	t.Helper()
	r.Status, r.FinishedAt = status, time.Now().UTC()
	if err := f.store.Finish(context.Background(), "node-a", r); err != nil {
		t.Fatal(err)
	}
}

// Workflows the tests share.
const (
	// manual takes a dispatch with no inputs.
	manualYAML = "on: {dispatch: {}}\nsteps: [{id: build, run: 'true'}]\n"
	// hookYAML runs for a generic delivery on /hooks/gh whose body has ok: true.
	hookYAML = "on: {webhook: {path: gh, provider: generic}}\nif: event.body.ok == true\nsteps: [{run: 'true'}]\n"
)
