package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/hookflow/hookflow/api"
)

// TestUIApply runs an apply step on the test API server twice, the second
// time with one ConfigMap changed and another removed from the folder, and
// checks in a real browser that the run page lists the objects with their
// results, the pruned one among them, and shows the diff on demand, each
// line marked as added or removed.
func TestUIApply(t *testing.T) {
	kubeconfig := testKubeconfig(t)
	ns := "ui-" + randomHex(t)
	deploy := t.TempDir()
	writeFile(t, filepath.Join(deploy, "ns.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+ns+"\n")
	writeFile(t, filepath.Join(deploy, "settings.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n")
	writeFile(t, filepath.Join(deploy, "old.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: old\ndata:\n  note: <img src=x onerror=alert(1)>\n")
	a := startApp(t, map[string]string{"cluster.yaml": fmt.Sprintf(`on: {dispatch: {}}
steps:
  - id: apply
    uses: apply
    env: {KUBECONFIG: %s}
    with: {path: %s, namespace: %s, prune: true, diff: true}
`, kubeconfig, deploy, ns)})
	dispatch := func() string {
		t.Helper()
		var run api.RunView
		if code := a.call(t, http.MethodPost, "/api/v1/workflows/cluster/dispatch", map[string]any{}, &run); code != http.StatusAccepted {
			t.Fatalf("dispatch: %d", code)
		}
		if r := a.waitRun(t, run.ID); r.Status != "succeeded" {
			t.Fatalf("run %s: %s (%s)", r.ID, r.Status, r.Reason)
		}
		return run.ID
	}
	dispatch()
	writeFile(t, filepath.Join(deploy, "settings.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: green\n")
	if err := os.Remove(filepath.Join(deploy, "old.yaml")); err != nil {
		t.Fatal(err)
	}
	second := dispatch()

	tb := newBrowser(t).open(t)
	tb.do("open the second run", chromedp.Navigate(a.url+"/ui/runs/"+second), chromedp.WaitVisible(".apply-objects"))
	if got, want := tb.text(".apply-objects summary"), "1 configured, 1 unchanged, 1 pruned"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	rows := evalIn[[]string](tb, `[...document.querySelectorAll(".apply-objects tr")].map(r => r.innerText.replace(/\s+/g, " ").trim())`)
	if got, want := strings.Join(rows, "; "), "Namespace "+ns+" unchanged; ConfigMap "+ns+"/settings configured; ConfigMap "+ns+"/old pruned"; got != want {
		t.Errorf("objects %q, want %q", got, want)
	}
	if evalIn[bool](tb, `document.querySelector("pre.diff").checkVisibility()`) {
		t.Error("the diff is open before it is asked for")
	}
	tb.do("open the diff", chromedp.Click("details.diff summary"), chromedp.WaitVisible("pre.diff"))
	// One line changed in settings; old was removed whole.
	if got := tb.text("details.diff summary"); !strings.HasPrefix(got, "Diff (2 objects, +1 −") {
		t.Errorf("diff summary %q", got)
	}
	added := evalIn[[]string](tb, `[...document.querySelectorAll("pre.diff .d-add")].map(s => s.textContent)`)
	removed := evalIn[[]string](tb, `[...document.querySelectorAll("pre.diff .d-del")].map(s => s.textContent)`)
	if !strings.Contains(strings.Join(added, "\n"), "+  color: green") {
		t.Errorf("added lines %q lack the new color", added)
	}
	for _, want := range []string{"-  color: blue", "-  note: <img src=x onerror=alert(1)>"} {
		if !strings.Contains(strings.Join(removed, "\n"), want) {
			t.Errorf("removed lines %q lack %q", removed, want)
		}
	}
	if n := evalIn[int](tb, `document.querySelectorAll("pre.diff img").length`); n != 0 {
		t.Errorf("the diff made %d img elements", n)
	}
	colors := evalIn[[]string](tb, `[".d-add", ".d-del"].map(c => getComputedStyle(document.querySelector("pre.diff " + c)).color)`)
	if colors[0] == colors[1] {
		t.Errorf("added and removed lines have the same colour %s", colors[0])
	}
}
