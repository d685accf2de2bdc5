package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// triggerWorkflows are the workflows TestUITriggerContext drives: one that a
// signed GitHub push starts, and one started by hand that also has a cron
// schedule. Their steps have no names.
func triggerWorkflows() map[string]string {
	return map[string]string{
		"ci.yaml": `
on:
  webhook: {path: gh, provider: github, secret: "${{ secrets.GH_HOOK }}"}
steps:
  - run: echo testing the push
`,
		"manual.yaml": `
on:
  cron: ["0 3 * * *"]
  dispatch:
    inputs:
      env: {required: true}
steps:
  - run: echo "deploying to $TARGET"
    env: {TARGET: "${{ inputs.env }}"}
`,
	}
}

// TestUITriggerContext checks in a real browser that runs show what
// triggered them (provider and event, branch, short commit linked to the
// forge, sender; inputs of a dispatched run; who re-ran one), that an event's
// page links to its runs, and that the home page shows the next cron fire, a
// strip of the latest results and a reload button that works.
func TestUITriggerContext(t *testing.T) {
	const secret = "gh-hook-secret-value"
	t.Setenv("HOOKFLOW_SECRET_GH_HOOK", secret)
	a := startApp(t, triggerWorkflows())
	b := newBrowser(t)

	const sha = "9fceb02d0ae598e95dc970b74767f19372d61af8"
	body := `{"ref":"refs/heads/main","before":"0000000000000000000000000000000000000000","after":"` + sha + `",
		"repository":{"full_name":"acme/app","html_url":"https://github.example/acme/app","clone_url":"https://github.example/acme/app.git"},
		"sender":{"login":"octocat"},"pusher":{"name":"octocat"}}`
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-GitHub-Event", "push")
	h.Set("X-GitHub-Delivery", "push-delivery-1")
	h.Set("X-Hub-Signature-256", "sha256="+hmacHex(secret, body))
	code, answer := post(t, a.url+"/hooks/gh", body, h)
	if code != http.StatusAccepted {
		t.Fatalf("push: %d %s", code, answer)
	}
	var pushed workflowsReceipt
	decodeJSON(t, answer, &pushed)
	if len(pushed.Runs) != 1 {
		t.Fatalf("push receipt %+v", pushed)
	}
	pushRun := pushed.Runs[0].ID
	commitLink := `a.commit[href="https://github.example/acme/app/commit/` + sha + `"]`

	t.Run("a run row shows the push", func(t *testing.T) {
		tb := b.open(t)
		tb.do("open the runs list", chromedp.Navigate(a.url+"/ui/runs"), chromedp.WaitVisible(chromedp.ID("runs-rows")))
		row := fmt.Sprintf(`#runs-rows tr:has(a[href="/ui/runs/%s"])`, pushRun)
		tb.wait("the push's run in the list", fmt.Sprintf(`document.querySelector(%q) !== null`, row))
		cell := tb.text(row + ` td[data-label="Trigger"]`)
		for _, want := range []string{"github push", "main", sha[:7], "by octocat"} {
			if !strings.Contains(cell, want) {
				t.Errorf("the row's trigger %q lacks %q", cell, want)
			}
		}
		if strings.Contains(cell, sha[:8]) {
			t.Errorf("the row's commit is not short: %q", cell)
		}
		if !evalIn[bool](tb, fmt.Sprintf(`document.querySelector(%q) !== null`, row+" "+commitLink)) {
			t.Errorf("the row's commit does not link to the forge")
		}
	})

	t.Run("the run page shows the push", func(t *testing.T) {
		tb := b.open(t)
		tb.do("open the run", chromedp.Navigate(a.url+"/ui/runs/"+pushRun), chromedp.WaitVisible(chromedp.ID("run-summary")))
		tb.wait("the run's end", hasText("#run-summary .title-row", "succeeded"))
		facts := tb.text("#run-summary dl.facts")
		for _, want := range []string{"github push", "acme/app", "main", sha[:7], "octocat"} {
			if !strings.Contains(facts, want) {
				t.Errorf("the run's facts lack %q:\n%s", want, facts)
			}
		}
		if !evalIn[bool](tb, fmt.Sprintf(`document.querySelector(%q) !== null`, "#run-summary "+commitLink)) {
			t.Errorf("the run page's commit does not link to the forge")
		}
		if steps := tb.text("table.steps"); !strings.Contains(steps, "echo testing the push") {
			t.Errorf("the unnamed step is not named after what it runs:\n%s", steps)
		}
	})

	t.Run("the event page links to its runs", func(t *testing.T) {
		tb := b.open(t)
		tb.do("open the event", chromedp.Navigate(a.url+"/ui/events/"+pushed.EventID), chromedp.WaitVisible(chromedp.CSS("table.verdict-table")))
		link := fmt.Sprintf(`table.verdict-table a[href="/ui/runs/%s"]`, pushRun)
		tb.do("follow the link to the run", chromedp.Click(chromedp.CSS(link)))
		tb.wait("the run's page", fmt.Sprintf(`location.pathname === "/ui/runs/%s" && document.querySelector("#run-summary") !== null`, pushRun))
	})

	var dispatched string
	t.Run("a dispatched run shows its inputs", func(t *testing.T) {
		tb := b.open(t)
		tb.do("open the home page", chromedp.Navigate(a.url+"/ui/"), chromedp.WaitVisible(chromedp.CSS(".cards")))
		card := `li.card:has(form[action="/ui/workflows/manual/dispatch"])`
		tb.do("fill in and send the dispatch form",
			chromedp.Click(chromedp.CSS(card+" details.dispatch summary")),
			chromedp.SendKeys(chromedp.CSS(card+` input[name="input.env"]`), "prod-eu"),
			chromedp.Click(chromedp.CSS(card+` button[type="submit"]`)))
		tb.wait("the dispatched run's page", `location.pathname.startsWith("/ui/runs/") && document.querySelector("#run-summary") !== null`)
		dispatched = strings.TrimPrefix(evalIn[string](tb, `location.pathname`), "/ui/runs/")
		tb.wait("the run's end", hasText("#run-summary .title-row", "succeeded"))
		facts := tb.text("#run-summary dl.facts")
		for _, want := range []string{"dispatch", "env", "prod-eu", "ui loopback from 127.0.0.1"} {
			if !strings.Contains(facts, want) {
				t.Errorf("the dispatched run's facts lack %q:\n%s", want, facts)
			}
		}
		if strings.Contains(facts, "Re-run by") {
			t.Errorf("a first attempt says it was re-run:\n%s", facts)
		}
	})
	if dispatched == "" {
		t.FailNow()
	}

	t.Run("a rerun shows who re-ran it", func(t *testing.T) {
		tb := b.open(t)
		tb.do("open the run", chromedp.Navigate(a.url+"/ui/runs/"+dispatched), chromedp.WaitVisible(chromedp.ID("run-summary")))
		tb.do("rerun it", chromedp.Click(chromedp.Search(`//button[normalize-space()="Rerun"]`)))
		tb.wait("the new attempt's page", fmt.Sprintf(`location.pathname.startsWith("/ui/runs/") && location.pathname !== "/ui/runs/%s" && document.querySelector("#run-summary") !== null`, dispatched))
		facts := tb.text("#run-summary dl.facts")
		for _, want := range []string{"Re-run by", "ui loopback from 127.0.0.1", "prod-eu", "2 (rerun of"} {
			if !strings.Contains(facts, want) {
				t.Errorf("the rerun's facts lack %q:\n%s", want, facts)
			}
		}
		tb.do("open the runs list", chromedp.Navigate(a.url+"/ui/runs?workflow=manual"), chromedp.WaitVisible(chromedp.ID("runs-rows")))
		if row := tb.text("#runs-rows tr"); !strings.Contains(row, "re-run by ui loopback from 127.0.0.1") || !strings.Contains(row, "env=prod-eu") {
			t.Errorf("the rerun's row does not say who re-ran it with which inputs: %q", row)
		}
	})

	t.Run("the home page shows next cron fire, result strip and reload", func(t *testing.T) {
		tb := b.open(t)
		tb.do("open the home page", chromedp.Navigate(a.url+"/ui/"), chromedp.WaitVisible(chromedp.CSS(".cards")))
		card := `li.card:has(form[action="/ui/workflows/manual/dispatch"])`
		next := evalIn[string](tb, fmt.Sprintf(`(document.querySelector(%q) || {getAttribute: () => ""}).getAttribute("datetime")`, card+" .next-cron time"))
		if !strings.HasSuffix(next, "T03:00:00Z") {
			t.Errorf("next cron fire %q, want the next 03:00 UTC", next)
		}
		if evalIn[bool](tb, `document.querySelector('li.card:has(h2) .next-cron') !== null && document.querySelectorAll('.next-cron').length !== 1`) {
			t.Errorf("a workflow without a schedule shows a next cron fire")
		}
		cells := evalIn[[]string](tb, fmt.Sprintf(`[...document.querySelectorAll(%q)].map(a => a.getAttribute("href"))`, card+" .strip a.cell"))
		if len(cells) != 2 || cells[0] != "/ui/runs/"+dispatched {
			t.Errorf("manual's strip links %q, want its 2 runs, oldest (%s) first", cells, dispatched)
		}
		if !evalIn[bool](tb, fmt.Sprintf(`document.querySelector(%q) !== null`, card+" .strip a.cell.st-succeeded")) {
			t.Errorf("the strip does not colour a succeeded run")
		}
		tb.do("reload the workflows", chromedp.Click(chromedp.ID("reload")))
		tb.wait("the reload's result", hasText("#reload-result", "Reloaded"))
		tb.shot("home-trigger-desktop")
	})
}

// decodeJSON decodes s into v, failing the test.
func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
}
