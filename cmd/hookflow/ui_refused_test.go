package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestUIRefusedDeliveries opens the events list, follows it to the refused
// deliveries, and watches a delivery with a bad signature appear there with
// its status and reason; its headers, shown on demand, have the signature
// and the credentials masked.
func TestUIRefusedDeliveries(t *testing.T) {
	t.Setenv("HOOKFLOW_SECRET_GH", "gh-secret-value")
	a := startApp(t, map[string]string{"gh.yaml": signedHook})
	b := newBrowser(t)
	tb := b.open(t)

	tb.do("open the events", chromedp.Navigate(a.url+"/ui/events"), chromedp.WaitVisible(chromedp.ID("events-rows")))
	tb.do("follow the link to the refused deliveries", chromedp.Click(chromedp.CSS(`a[href="/ui/events?refused=1"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.refused")))
	if got := tb.text("#events-rows"); !strings.Contains(got, "No refused deliveries.") {
		t.Errorf("before any delivery: %q", got)
	}

	h := http.Header{"X-Github-Event": {"push"}, "X-Hub-Signature-256": {"sha256=" + strings.Repeat("0", 64)},
		"Authorization": {"Bearer not-a-real-token"}}
	if code, body := post(t, a.url+"/hooks/gh", `{"ref":"refs/heads/main"}`, h); code != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d %s", code, body)
	}
	const reason = "missing or invalid signature: github: X-Hub-Signature-256 does not match the body"
	tb.wait("the refused delivery in the self-refreshing list", hasText("#events-rows", reason))
	row := tb.text("#events-rows tr")
	if !regexp.MustCompile(`POST /hooks/gh github`).MatchString(row) || tb.text("#events-rows .refused-status") != "401" ||
		tb.text("#events-rows .refused-reason") != reason {
		t.Errorf("refused row: %q", row)
	}
	tb.do("show its headers", chromedp.Click(chromedp.CSS("#events-rows details summary")))
	tb.wait("the headers shown", `document.querySelector('#events-rows details').open`)
	headers := tb.text("#events-rows details dl")
	for _, want := range []string{"X-Hub-Signature-256\n***", "Authorization\n***", "X-Github-Event\npush"} {
		if !strings.Contains(headers, want) {
			t.Errorf("headers lack %q:\n%s", want, headers)
		}
	}
	if strings.Contains(headers, "not-a-real-token") || strings.Contains(headers, strings.Repeat("0", 64)) {
		t.Errorf("headers show a credential or the signature:\n%s", headers)
	}
	tb.shot("events-refused-desktop")
}
