package reliability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the hookflow command built once for the whole suite.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hookflow-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "hookflow")
	build := exec.Command("go", "build", "-o", binary, "github.com/hookflow/hookflow/cmd/hookflow")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build hookflow:", err)
		os.Exit(1)
	}
	code := m.Run()
	printFigures()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a `hookflow serve` child process on its own data folder.
type server struct {
	cmd    *exec.Cmd
	url    string
	dir    string
	stderr *bytes.Buffer
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// workflowFiles are the workflows every server in the suite loads: a webhook
// whose runs are cheap, one whose runs take a while, and a dispatch workflow.
var workflowFiles = map[string]string{
	"quick.yaml": "on: {webhook: {path: quick, provider: generic}}\nsteps: [{run: 'true'}]\n",
	"slow.yaml":  "on: {webhook: {path: slow, provider: generic}}\nsteps: [{run: 'sleep 0.05'}]\n",
}

// newServerDir writes the workflows and a configuration into a new folder.
func newServerDir(t testing.TB, config string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range workflowFiles {
		if err := os.MkdirAll(filepath.Join(dir, "workflows"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "workflows", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := "listen: 127.0.0.1:0\nworkflows: " + filepath.Join(dir, "workflows") + "\ndata_dir: " + filepath.Join(dir, "data") + "\n" + config
	if err := os.WriteFile(filepath.Join(dir, "hookflow.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// start runs the server on dir and waits until it listens.
func start(t testing.TB, dir string) *server {
	t.Helper()
	s := &server{dir: dir, stderr: &bytes.Buffer{}}
	s.cmd = exec.Command(binary, "serve", "--config", filepath.Join(dir, "hookflow.yaml"))
	s.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = &lockedWriter{w: s.stderr}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case s.url = <-found:
	case <-time.After(time.Minute):
		s.cmd.Process.Kill()
		t.Fatalf("server did not start")
	}
	t.Cleanup(func() { s.kill() })
	return s
}

func (s *server) kill() {
	if s.cmd.ProcessState == nil {
		s.cmd.Process.Signal(syscall.SIGKILL)
		s.cmd.Wait()
	}
}

// stop asks for a graceful shutdown and waits for it.
func (s *server) stop() error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	return s.cmd.Wait()
}

// rss is the server's resident memory in bytes, from /proc.
func (s *server) rss() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// metric reads one unlabelled value from /metrics.
func (s *server) metric(t testing.TB, name string) float64 {
	t.Helper()
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == name {
			v, _ := strconv.ParseFloat(f[1], 64)
			return v
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// client is shared by the senders: keep-alive connections, bounded waits.
var client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// deliver posts one webhook and returns the status and the event id of a
// stored event.
func deliver(ctx context.Context, url, path string, n int) (int, string, error) {
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/hooks/"+path, strings.NewReader(`{"n":`+strconv.Itoa(n)+`}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var rc struct {
		EventID string `json:"event_id"`
	}
	json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&rc)
	return resp.StatusCode, rc.EventID, nil
}

// eventExists asks the server whether it stored event id.
func eventExists(t testing.TB, url, id string) bool {
	t.Helper()
	resp, err := client.Get(url + "/api/v1/events/" + id)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// lockedWriter serialises writes to a buffer shared with the test.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
