package web_test

import (
	"strings"
	"testing"
)

// applyOutputsFor are the outputs of an apply step that configured one
// object, left one alone and pruned one, with a diff holding hostile text.
func applyOutputsFor(diffLine string) map[string]any {
	return map[string]any{
		"applied": []any{
			map[string]any{"kind": "ConfigMap", "namespace": "web", "name": "settings", "result": "configured"},
			map[string]any{"kind": "Namespace", "namespace": "", "name": "web", "result": "unchanged"},
		},
		"pruned": []any{map[string]any{"kind": "ConfigMap", "namespace": "web", "name": "old"}},
		"counts": map[string]any{"created": 0, "configured": 1, "unchanged": 1, "pruned": 1},
		"diff": "--- live/ConfigMap/web/settings\n+++ applied/ConfigMap/web/settings\n@@ -1,3 +1,3 @@\n data:\n" +
			"-  color: blue\n+  color: " + diffLine + "\n--- live/ConfigMap/web/old\n+++ applied/ConfigMap/web/old\n@@ -1 +0,0 @@\n-data: {}\n",
		"other": "kept",
	}
}

// TestRunPageShowsApply: an apply step's objects, their results and its
// diff are shown, the diff as text whatever it holds, and its other outputs
// as before.
func TestRunPageShowsApply(t *testing.T) {
	f := newFixture(t, map[string]string{"deploy.yaml": "on: {dispatch: {}}\nsteps:\n  - {id: apply, run: 'true'}\n"})
	f.dispatch(t, 1, map[string]any{}, "deploy")
	run := f.finish(t, "succeeded", "", []map[string]any{{"index": 0, "id": "apply", "outcome": "success", "exit_code": 0,
		"outputs": applyOutputsFor(hostile)}})
	_, body := f.get(t, "/ui/runs/"+run.ID)
	body = strings.ReplaceAll(body, "&#43;", "+") // how the template writes a +
	for _, want := range []string{
		"<summary>1 configured, 1 unchanged, 1 pruned</summary>",
		`<td>ConfigMap</td><td><code>web/settings</code></td><td><span class="res res-configured">configured</span></td>`,
		`<code>web/old</code></td><td><span class="res res-pruned">pruned</span>`,
		`Diff (2 objects, <span class="d-add">+1</span> <span class="d-del">−2</span>)`,
		`<span class="d-hdr">--- live/ConfigMap/web/settings</span><span class="d-hdr">+++ applied/ConfigMap/web/settings</span>`,
		`<span class="d-ctx"> data:</span>`,
		`<span class="d-del">-  color: blue</span><span class="d-add">+  color: &lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;</span>`,
		`<span class="d-hunk">@@ -1,3 +1,3 @@</span>`,
		"<dt>other</dt><dd><code>kept</code></dd>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("run page lacks %q", want)
		}
	}
	for _, unwanted := range []string{"<dt>applied</dt>", "<dt>diff</dt>", "<dt>counts</dt>", "<img"} {
		if strings.Contains(body, unwanted) {
			t.Errorf("run page holds %q", unwanted)
		}
	}
}

// TestRunPageApplyFallsBack: outputs that are not an apply's, whatever
// their names, are shown as any other step's.
func TestRunPageApplyFallsBack(t *testing.T) {
	cases := map[string]map[string]any{
		"applied not a list":      {"applied": "ConfigMap x"},
		"an item not an object":   {"applied": []any{"ConfigMap x"}},
		"an item without a kind":  {"applied": []any{map[string]any{"name": "x", "result": "created"}}},
		"an item without result":  {"applied": []any{map[string]any{"kind": "ConfigMap", "name": "x"}}},
		"a name that is a number": {"applied": []any{map[string]any{"kind": "ConfigMap", "name": 3, "result": "created"}}},
	}
	for name, outputs := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, map[string]string{"deploy.yaml": "on: {dispatch: {}}\nsteps:\n  - {id: apply, run: 'true'}\n"})
			f.dispatch(t, 1, map[string]any{}, "deploy")
			run := f.finish(t, "succeeded", "", []map[string]any{{"index": 0, "id": "apply", "outcome": "success", "exit_code": 0,
				"outputs": outputs}})
			_, body := f.get(t, "/ui/runs/"+run.ID)
			if !strings.Contains(body, "<dt>applied</dt>") || strings.Contains(body, "apply-objects") {
				t.Errorf("the outputs are not shown as plain outputs:\n%s", body)
			}
		})
	}
}
