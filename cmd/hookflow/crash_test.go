package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookflow/hookflow/api"
)

// TestMain lets the test binary act as the hookflow command, so that crash
// tests can run a real server process and SIGKILL it.
func TestMain(m *testing.M) {
	if os.Getenv("HOOKFLOW_TEST_AS_COMMAND") == "1" {
		ctx, stop := signalContext()
		code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// serverProcess is `hookflow serve` in a child process.
type serverProcess struct {
	cmd *exec.Cmd
	url string
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

func startProcess(t *testing.T, dir string) *serverProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--listen", "127.0.0.1:0", "--workflows", filepath.Join(dir, "workflows"),
		"--data", filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(), "HOOKFLOW_TEST_AS_COMMAND=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case url := <-found:
		p := &serverProcess{cmd: cmd, url: url}
		t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
		return p
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("server did not start:\n%s", stderr.String())
		return nil
	}
}

func (p *serverProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
}

func getJSON(t *testing.T, url string, out any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// TestKillDuringBurst kills the server with SIGKILL in the middle of a burst
// of dispatches and checks, after a restart, that every acknowledged run
// exists, queued runs then run, and runs that were running end `failed`
// ("interrupted"), or run again with on_interrupt: requeue.
func TestKillDuringBurst(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "workflows", "work.yaml"), "on: {dispatch: {}}\nsteps:\n  - run: sleep 0.2\n")
	writeFile(t, filepath.Join(dir, "workflows", "again.yaml"), "on: {dispatch: {}}\non_interrupt: requeue\nsteps:\n  - run: sleep 0.2\n")
	srv := startProcess(t, dir)

	var mu sync.Mutex
	acked := map[string]string{} // run id → workflow
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			workflow := []string{"work", "again"}[i%2]
			for ctx.Err() == nil {
				resp, err := http.Post(srv.url+"/api/v1/workflows/"+workflow+"/dispatch", "application/json", strings.NewReader("{}"))
				if err != nil {
					return // the server is gone
				}
				var run api.RunView
				json.NewDecoder(resp.Body).Decode(&run)
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					mu.Lock()
					acked[run.ID] = workflow
					mu.Unlock()
				}
			}
		}()
	}
	// Kill once runs of both kinds are running and plenty are queued.
	deadline := time.Now().Add(time.Minute)
	for {
		var list struct{ Runs []api.RunView }
		getJSON(t, srv.url+"/api/v1/runs?status=running&limit=10", &list)
		kinds := map[string]bool{}
		for _, r := range list.Runs {
			kinds[r.Workflow] = true
		}
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if len(kinds) == 2 && n >= 60 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no running runs of both workflows after a minute (%d acknowledged)", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv.kill(t)
	stop()
	wg.Wait()
	t.Logf("%d dispatches acknowledged before SIGKILL", len(acked))

	srv = startProcess(t, dir)
	counts := map[string]int{}
	for id, workflow := range acked {
		var run api.RunView
		if code := getJSON(t, srv.url+"/api/v1/runs/"+id, &run); code != http.StatusOK {
			t.Fatalf("acknowledged run %s of %s is missing after restart (%d)", id, workflow, code)
		}
		for !api.Finished(run.Status) {
			time.Sleep(50 * time.Millisecond)
			getJSON(t, srv.url+"/api/v1/runs/"+id, &run)
		}
		switch {
		case run.Status == "succeeded":
			counts[workflow+" succeeded"]++
		case run.Status == "failed" && run.Reason == "interrupted" && workflow == "work":
			counts["work interrupted"]++
		default:
			t.Errorf("run %s of %s ended %s (%q)", id, workflow, run.Status, run.Reason)
		}
	}
	t.Logf("outcomes: %v", counts)
	if counts["work interrupted"] == 0 {
		t.Error("no run of work was recorded as interrupted, though some were running at the kill")
	}
	if counts["again succeeded"] == 0 || counts["work succeeded"] == 0 {
		t.Errorf("queued runs did not run after the restart: %v", counts)
	}
}
