package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/config"
	"github.com/hookflow/hookflow/internal/smtptest"
	"github.com/hookflow/hookflow/store"
)

// receiver is a real HTTP server that records the notices posted to it,
// answering 503 while closed.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	closed   bool
	attempts int
	got      []notice
}

// notice is one notice a receiver accepted.
type notice struct {
	Path string
	Auth string
	Body map[string]any
}

func newReceiver(t *testing.T, closed bool) *receiver {
	t.Helper()
	rc := &receiver{closed: closed}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.attempts++
		if rc.closed {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("notice is not JSON: %s", body)
		}
		rc.got = append(rc.got, notice{Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Body: m})
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) open() {
	rc.mu.Lock()
	rc.closed = false
	rc.mu.Unlock()
}

// notices returns what was accepted so far, and how many attempts came.
func (rc *receiver) notices() ([]notice, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got), rc.attempts
}

// settled waits until run id has ended, the report telling of its end
// (kind) is there, and none of its reports is queued; it returns the run.
func settled(t *testing.T, get func(*api.RunView), id, kind string) *api.RunView {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var run api.RunView
		get(&run)
		done := slices.ContainsFunc(run.Reports, func(r *store.Report) bool {
			return r.Kind == kind && r.RunStatus == run.Status && api.Finished(run.Status)
		})
		for _, r := range run.Reports {
			done = done && r.Status != "queued"
		}
		if done {
			return &run
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reports of run %s (%s: %s) did not settle: %+v", id, run.Status, run.Reason, run.Reports)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNotifyRecoveredOnce runs a workflow that succeeds, fails twice, and
// succeeds twice, with one notify entry for failure and recovery and one
// for recovery alone, to a real HTTP server: a first success tells
// nothing, the second failure is within repeat, and recovered comes once.
// The commit status, which a dispatch (no commit) skips, shows when a
// run's end has been planned: its notices are planned with it.
func TestNotifyRecoveredOnce(t *testing.T) {
	rc := newReceiver(t, false)
	t.Setenv("HOOKFLOW_SECRET_HOOK_TOKEN", "hook-token-4f1c9a7e")
	workflow := fmt.Sprintf(`on:
  dispatch:
    inputs:
      fail: {type: boolean, default: false}
notify:
  - when: [failure, recovered]
    webhook:
      url: %[1]s/all
      headers: {Authorization: "Bearer ${{ secrets.HOOK_TOKEN }}"}
  - when: recovered
    webhook: {url: "%[1]s/recovered"}
report: {commit_status: true, token: "${{ secrets.FORGE_TOKEN }}"}
steps:
  - id: work
    name: Do the work
    env: {FAIL: "${{ inputs.fail }}"}
    run: test "$FAIL" != true
`, rc.URL)
	a := startApp(t, map[string]string{"flaky.yaml": workflow})

	var states []string
	for i, fail := range []bool{false, true, true, false, false} {
		var run api.RunView
		if code := a.call(t, "POST", "/api/v1/workflows/flaky/dispatch", map[string]any{"inputs": map[string]any{"fail": fail}}, &run); code != http.StatusAccepted {
			t.Fatalf("dispatch: %d", code)
		}
		final := settled(t, func(v *api.RunView) { a.call(t, "GET", "/api/v1/runs/"+run.ID, nil, v) }, run.ID, "commit_status")
		if want := map[bool]string{false: "succeeded", true: "failed"}[fail]; final.Status != want {
			t.Fatalf("run %d: %s, want %s", i+1, final.Status, want)
		}
		for _, r := range final.Reports {
			if r.Kind == "commit_status" {
				if r.RunStatus == final.Status && (r.Status != "skipped" || !strings.Contains(r.Error, "names no commit")) {
					t.Errorf("run %d: commit status %+v, want skipped: a dispatch has no commit", i+1, r)
				}
				continue
			}
			if r.Status != "sent" || r.Attempts != 1 {
				t.Errorf("run %d: report %+v, want sent at the first attempt", i+1, r)
			}
			states = append(states, fmt.Sprintf("%d:%s#%d", i+1, r.State, r.Target))
		}
	}
	if want := []string{"2:failure#0", "4:recovered#0", "4:recovered#1"}; !slices.Equal(states, want) {
		t.Errorf("notices %v, want %v", states, want)
	}
	got, _ := rc.notices()
	if len(got) != 3 {
		t.Fatalf("the receiver got %d notices, want 3: %+v", len(got), got)
	}
	// A run's notices are sent at once, in any order: the failure first,
	// then the two recoveries, the one to /all first here.
	slices.SortStableFunc(got[1:], func(a, b notice) int { return strings.Compare(a.Path, b.Path) })
	failure := got[0]
	if failure.Auth != "Bearer hook-token-4f1c9a7e" {
		t.Errorf("the notice's Authorization is %q", failure.Auth)
	}
	if failure.Body["state"] != "failure" || failure.Body["workflow"] != "flaky" || failure.Body["failed_step"] != "Do the work" {
		t.Errorf("failure notice %v", failure.Body)
	}
	run, _ := failure.Body["run"].(map[string]any)
	if run == nil || run["status"] != "failed" || failure.Body["run_url"] != a.url+"/ui/runs/"+run["id"].(string) {
		t.Errorf("failure notice's run %v and link %v", run, failure.Body["run_url"])
	}
	if got[1].Body["state"] != "recovered" || got[2].Body["state"] != "recovered" || got[2].Auth != "" || got[2].Path != "/recovered" ||
		got[1].Path != "/all" || got[1].Auth != "Bearer hook-token-4f1c9a7e" {
		t.Errorf("recovery notices %+v", got[1:])
	}
	if n := metricValue(t, a, `hookflow_reports_total{kind="webhook",result="sent"}`); n != 3 {
		t.Errorf("hookflow_reports_total{kind=webhook,result=sent} = %v, want 3", n)
	}
}

// TestReportSurvivesKill kills the server with SIGKILL after a run ended
// and before its notice could be delivered (the receiver answers 503 until
// then): after a restart, the notice arrives, once.
func TestReportSurvivesKill(t *testing.T) {
	rc := newReceiver(t, true)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "workflows", "nightly.yaml"), fmt.Sprintf(`on: {dispatch: {}}
notify:
  - when: always
    webhook: {url: "%s/notice"}
steps:
  - run: "true"
`, rc.URL))
	srv := startProcess(t, dir)
	resp, err := http.Post(srv.url+"/api/v1/workflows/nightly/dispatch", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	var run api.RunView
	json.NewDecoder(resp.Body).Decode(&run)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("dispatch: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var now api.RunView
		getJSON(t, srv.url+"/api/v1/runs/"+run.ID, &now)
		_, attempts := rc.notices()
		if api.Finished(now.Status) && attempts > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s is %s and the receiver saw %d attempts after a minute", run.ID, now.Status, attempts)
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv.kill(t)
	if got, _ := rc.notices(); len(got) != 0 {
		t.Fatalf("a notice was accepted before the kill: %+v", got)
	}

	rc.open()
	srv = startProcess(t, dir)
	final := settled(t, func(v *api.RunView) { getJSON(t, srv.url+"/api/v1/runs/"+run.ID, v) }, run.ID, "webhook")
	if len(final.Reports) != 1 || final.Reports[0].Status != "sent" || final.Reports[0].Attempts < 2 {
		t.Fatalf("reports after the restart: %+v", final.Reports)
	}
	// Once settled as sent, it is not sent again: another pass of the
	// reporter finds nothing due.
	time.Sleep(time.Second)
	got, attempts := rc.notices()
	if len(got) != 1 || got[0].Body["state"] != "success" {
		t.Fatalf("after the restart the receiver accepted %+v (of %d attempts), want one success", got, attempts)
	}
}

// metricValue reads one sample of the app's /metrics, 0 when absent.
func metricValue(t *testing.T, a *testApp, sample string) float64 {
	t.Helper()
	resp, err := http.Get(a.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if value, ok := strings.CutPrefix(line, sample+" "); ok {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", line, err)
			}
			return v
		}
	}
	return 0
}

// TestEmailOnFailure serves a workflow that fails, with an email notice,
// through notify_smtp to a real SMTP server on 127.0.0.1 that asks for
// STARTTLS and a login: the failure mail arrives, once, with the run's link
// and failing step, and a success after it mails nothing (when: failure).
func TestEmailOnFailure(t *testing.T) {
	mails := smtptest.Start(t, smtptest.Options{User: "hookflow", Password: "smtp-pw-31c"})
	host, port := mails.Addr()
	ca := writeFile(t, filepath.Join(t.TempDir(), "ca.pem"), string(mails.CertPEM()))
	t.Setenv("HOOKFLOW_NOTIFY_SMTP_PASSWORD", "smtp-pw-31c")
	a := startApp(t, map[string]string{"backup.yaml": `on:
  dispatch:
    inputs:
      fail: {type: boolean, default: true}
notify:
  - when: failure
    email: {to: [ops@example.com]}
report: {commit_status: true, token: "${{ secrets.NONE }}"}
steps:
  - name: Copy the database
    env: {FAIL: "${{ inputs.fail }}"}
    run: test "$FAIL" != true
`}, func(c *config.Config) {
		c.NotifySMTP = config.SMTPConfig{Host: host, Port: port, Username: "hookflow", Password: "smtp-pw-31c",
			From: "hookflow@example.com", CAFile: ca}
	})
	var failed, fixed api.RunView
	a.call(t, "POST", "/api/v1/workflows/backup/dispatch", map[string]any{}, &failed)
	settled(t, func(v *api.RunView) { a.call(t, "GET", "/api/v1/runs/"+failed.ID, nil, v) }, failed.ID, "email")
	a.call(t, "POST", "/api/v1/workflows/backup/dispatch", map[string]any{"inputs": map[string]any{"fail": false}}, &fixed)
	settled(t, func(v *api.RunView) { a.call(t, "GET", "/api/v1/runs/"+fixed.ID, nil, v) }, fixed.ID, "commit_status")

	got := mails.Mails()
	if len(got) != 1 {
		t.Fatalf("%d mails, want the failure's alone", len(got))
	}
	m := got[0]
	if !m.TLS || m.User != "hookflow" || m.From != "hookflow@example.com" || !slices.Equal(m.To, []string{"ops@example.com"}) {
		t.Errorf("envelope %+v", m)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if msg.Header.Get("Subject") != "[hookflow] backup failed" ||
		!strings.Contains(string(body), "Run: "+a.url+"/ui/runs/"+failed.ID) ||
		!strings.Contains(string(body), "Failed step: Copy the database") {
		t.Errorf("mail %v\n%s", msg.Header, body)
	}
	if strings.Contains(string(m.Data), "smtp-pw-31c") {
		t.Error("the mail holds the SMTP password")
	}

	// `runs show` lists the run's reports, with why one was not sent.
	code, out, errOut := hookflow(t, "runs", "show", failed.ID, "--server", a.url)
	if code != 0 {
		t.Fatalf("runs show: %d %s", code, errOut)
	}
	_, reports, _ := strings.Cut(out, "\nreports:\n")
	for _, want := range []string{
		"  commit status  failure (failed)  skipped (nothing to report on: the event (dispatch) names no commit)\n",
		"  email notice  failure (failed)  sent\n",
	} {
		if !strings.Contains(reports, want) {
			t.Errorf("runs show lacks %q:\n%s", want, out)
		}
	}
}
