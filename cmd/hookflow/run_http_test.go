package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRunSummaryShowsHTTPStatus runs http steps locally against a real
// server: the summary shows each one's status line, not "exit 0" and not
// its body.
func TestRunSummaryShowsHTTPStatus(t *testing.T) {
	body := strings.Repeat("BODY-OF-THE-ANSWER ", 50)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			http.Error(w, body, http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "call.yaml"), `
on: {dispatch: {}}
steps:
  - id: ping
    uses: http
    with: {url: "`+srv.URL+`/up"}
  - id: notify
    uses: http
    with: {url: "`+srv.URL+`/down"}
`)
	code, out, errOut := hookflow(t, "run", "call", "--workflows", dir)
	if code != exitFail {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	_, summary, _ := strings.Cut(out, "\nrun ")
	for _, want := range []string{`(?m)^  success\s+ping\s+HTTP 200 OK$`, `(?m)^  failure\s+notify\s+HTTP 503 Service Unavailable$`} {
		if !regexp.MustCompile(want).MatchString(summary) {
			t.Errorf("summary lacks %s:\n%s", want, summary)
		}
	}
	if strings.Contains(summary, "BODY-OF-THE-ANSWER") || strings.Contains(summary, "exit 0") {
		t.Errorf("summary shows the body or an exit code:\n%s", summary)
	}
}
