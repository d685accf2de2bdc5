package main

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/hookflow/hookflow/api"
)

// TestUIReports opens, in a real browser, the page of a run whose notice
// cannot be sent yet (its receiver answers 503): the Reports table shows it
// queued with the answer; once the receiver takes it, the table turns to
// sent by itself, and stops reloading.
func TestUIReports(t *testing.T) {
	rc := newReceiver(t, true)
	a := startApp(t, map[string]string{"nightly.yaml": fmt.Sprintf(`on: {dispatch: {}}
notify:
  - when: always
    webhook: {url: "%s/notice"}
steps:
  - run: "true"
`, rc.URL)})
	var run api.RunView
	if code := a.call(t, http.MethodPost, "/api/v1/workflows/nightly/dispatch", map[string]any{}, &run); code != http.StatusAccepted {
		t.Fatalf("dispatch: %d", code)
	}
	a.waitRun(t, run.ID)

	tb := newBrowser(t).open(t)
	tb.do("open the run", chromedp.Navigate(a.url+"/ui/runs/"+run.ID), chromedp.WaitVisible("#run-summary"))
	tb.wait("the notice, refused", hasText("#run-reports", "503 Service Unavailable"))
	if got := tb.text("#run-reports table.reports tbody tr td[data-label=Status]"); got == "" || got[:6] != "queued" {
		t.Errorf("status cell %q, want queued", got)
	}
	rc.open()
	tb.wait("the notice, sent", hasText("#run-reports table.reports tbody tr td[data-label=Status]", "sent"))
	tb.wait("the table to stop reloading", `!document.querySelector("#run-reports").hasAttribute("data-refresh")`)
	if got, _ := rc.notices(); len(got) != 1 {
		t.Errorf("the receiver took %d notices, want 1", len(got))
	}
}
