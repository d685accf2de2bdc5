package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
)

// server is a hookflow serve process.
type server struct {
	url string
	cmd *exec.Cmd
	dir string
}

// freeAddr returns a loopback address nobody listens on.
func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// serve starts bin on the workflows given (file name → content) with the
// extra configuration lines, and waits until it answers.
func (b *bench) serve(bin, name string, files map[string]string, config string, env ...string) (*server, error) {
	dir := b.dir(name)
	wf := filepath.Join(dir, "workflows")
	if err := os.MkdirAll(wf, 0o755); err != nil {
		return nil, err
	}
	for f, content := range files {
		if err := os.WriteFile(filepath.Join(wf, f), []byte(content), 0o644); err != nil {
			return nil, err
		}
	}
	addr := freeAddr()
	cfg := fmt.Sprintf("listen: %s\nworkflows: %s\ndata_dir: %s\nlog_level: error\n%s", addr, wf, filepath.Join(dir, "data"), config)
	if err := os.WriteFile(filepath.Join(dir, "hookflow.yaml"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--config", filepath.Join(dir, "hookflow.yaml"))
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	log, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{url: "http://" + addr, cmd: cmd, dir: dir}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(s.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			s.stop()
			out, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
			return nil, fmt.Errorf("%s did not start: %s", name, out)
		}
	}
}

// stop ends the server, gracefully if it will.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// rss is the server's resident memory in MiB.
func (s *server) rss() float64 { return rssOf(s.cmd.Process.Pid) }

// rssOf reads VmRSS of pid, in MiB.
func rssOf(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// finished is how many runs of the server have ended, from its metrics.
func (s *server) finished() (int, error) {
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	n := 0
	for line := range strings.SplitSeq(string(body), "\n") {
		if strings.HasPrefix(line, "hookflow_runs_total{") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			n += int(v)
		}
	}
	return n, nil
}

// post sends body to the server's path with headers, and returns the answer.
func (s *server) post(path string, body []byte, headers map[string]string) (int, []byte, error) {
	req, err := http.NewRequest("POST", s.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	return resp.StatusCode, answer, err
}

// getJSON decodes GET path into v.
func (s *server) getJSON(path string, v any) error {
	resp, err := http.Get(s.url + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// pushBody is a GitHub push of about 2 KB to refs/heads/ref.
func pushBody(ref string) []byte {
	type commit struct {
		ID       string   `json:"id"`
		Message  string   `json:"message"`
		Modified []string `json:"modified"`
	}
	var commits []commit
	for i := range 6 {
		commits = append(commits, commit{fmt.Sprintf("%040x", i+1), fmt.Sprintf("change number %d to the deploy scripts", i), []string{fmt.Sprintf("deploy/app%d.yaml", i)}})
	}
	push := map[string]any{
		"ref": "refs/heads/" + ref, "before": strings.Repeat("0", 40), "after": strings.Repeat("a", 40),
		"repository":  map[string]any{"full_name": "org/repo", "name": "repo", "html_url": "https://github.com/org/repo", "default_branch": "main"},
		"pusher":      map[string]any{"name": "dev", "email": "dev@example.com"},
		"sender":      map[string]any{"login": "dev"},
		"commits":     commits,
		"head_commit": commits[len(commits)-1],
	}
	for padding := ""; ; padding += strings.Repeat("x", 64) {
		push["padding"] = padding
		if b, _ := json.Marshal(push); len(b) >= 2048 {
			return b
		}
	}
}

// sign is GitHub's X-Hub-Signature-256 of body.
func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// load is what one wrk round measured.
type load struct {
	rate   float64 // requests a second
	p99    float64 // ms
	non2xx int
}

// wrk loads url with 32 connections for the bench's duration, POSTing body
// with headers and a unique X-GitHub-Delivery per request.
func (b *bench) wrk(url string, body []byte, headers map[string]string) (load, error) {
	dir := b.dir("wrk")
	bodyFile := filepath.Join(dir, "body")
	if err := os.WriteFile(bodyFile, body, 0o644); err != nil {
		return load{}, err
	}
	var lua strings.Builder
	fmt.Fprintf(&lua, "wrk.method = \"POST\"\nwrk.body = io.open(%q):read(\"*a\")\nwrk.headers[\"Content-Type\"] = \"application/json\"\n", bodyFile)
	for k, v := range headers {
		fmt.Fprintf(&lua, "wrk.headers[%q] = %q\n", k, v)
	}
	fmt.Fprintf(&lua, "local n = 0\nlocal prefix = %q\nrequest = function() n = n + 1; wrk.headers[\"X-GitHub-Delivery\"] = prefix .. n; return wrk.format() end\n",
		fmt.Sprintf("%d-", time.Now().UnixNano()))
	script := filepath.Join(dir, "load.lua")
	if err := os.WriteFile(script, []byte(lua.String()), 0o644); err != nil {
		return load{}, err
	}
	secs := fmt.Sprintf("%ds", int(b.o.duration.Seconds()))
	out, err := exec.CommandContext(b.ctx, "wrk", "-t1", "-c32", "-d"+secs, "--latency", "-s", script, url).CombinedOutput()
	if err != nil {
		return load{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	return parseWrk(string(out))
}

var (
	wrkRate   = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkP99    = regexp.MustCompile(`\s99%\s+([\d.]+)(us|ms|s)\b`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// parseWrk reads the figures of wrk --latency's report.
func parseWrk(out string) (load, error) {
	var l load
	m := wrkRate.FindStringSubmatch(out)
	if m == nil {
		return l, fmt.Errorf("no rate in wrk's report: %s", out)
	}
	l.rate, _ = strconv.ParseFloat(m[1], 64)
	if m := wrkP99.FindStringSubmatch(out); m != nil {
		v, _ := strconv.ParseFloat(m[1], 64)
		l.p99 = v * map[string]float64{"us": 0.001, "ms": 1, "s": 1000}[m[2]]
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		l.non2xx, _ = strconv.Atoi(m[1])
	}
	return l, nil
}

// ceiling serves the reference handler: it reads the body, verifies its
// GitHub signature in constant time and answers 202, storing nothing.
func ceiling(args []string) error {
	fs := flag.NewFlagSet("ceiling", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address")
	secret := fs.String("secret", "", "the webhook secret")
	if err := fs.Parse(args); err != nil {
		return err
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	key := []byte(*secret)
	e.POST("/hooks/:path", func(c echo.Context) error {
		body, err := io.ReadAll(io.LimitReader(c.Request().Body, 1<<20))
		if err != nil {
			return c.JSON(http.StatusBadRequest, map[string]string{"error": "read body"})
		}
		got, ok := strings.CutPrefix(c.Request().Header.Get("X-Hub-Signature-256"), "sha256=")
		want := hmac.New(sha256.New, key)
		want.Write(body)
		sum, err := hex.DecodeString(got)
		if !ok || err != nil || !hmac.Equal(sum, want.Sum(nil)) {
			return c.JSON(http.StatusUnauthorized, map[string]string{"error": "bad signature"})
		}
		return c.JSON(http.StatusAccepted, map[string]any{"accepted": true})
	})
	return e.Start(*listen)
}

// startCeiling runs the reference handler as a process of its own.
func (b *bench) startCeiling(secret string) (string, func(), error) {
	addr := freeAddr()
	cmd := exec.Command(b.self, "ceiling", "-listen", addr, "-secret", secret)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr, stop, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("the ceiling handler did not start")
}
