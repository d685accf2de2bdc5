package applyaction

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/actions/actiontest"
	"github.com/hookflow/hookflow/workflows"
)

// describeAll is parsed objects as "file#index@line Kind name" lines.
func describeAll(objs []*object) string {
	lines := make([]string, len(objs))
	for i, o := range objs {
		lines[i] = fmt.Sprintf("%s#%d@%d %s", o.source.file, o.source.index, o.source.line, o.describe())
	}
	return strings.Join(lines, "\n")
}

func TestParseManifests(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"one", oneConfigMap, "f#1@1 ConfigMap a"},
		{
			"documents, comments and empty ones",
			"# leading comment\n---\n" + oneConfigMap + "--- # second\napiVersion: v1\nkind: Secret\nmetadata:\n  name: b\n  namespace: ns1\n---\n---\n# only a comment\n...\n",
			"f#1@3 ConfigMap a\nf#2@7 Secret ns1/b",
		},
		{"an indented --- is no separator",
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  x: |\n    ---x\n", "f#1@1 ConfigMap a"},
		{"json", `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}`, "f#1@1 ConfigMap j"},
		{"json indented with tabs, two values", "{\n\t\"apiVersion\": \"v1\",\n\t\"kind\": \"ConfigMap\",\n\t\"metadata\": {\"name\": \"j1\"}\n}\n\n" +
			"{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"j2\"}}\n", "f#1@1 ConfigMap j1\nf#2@7 ConfigMap j2"},
		{"json after yaml", oneConfigMap + "---\n{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"s\"}}\n",
			"f#1@1 ConfigMap a\nf#2@5 Secret s"},
		{"list", "apiVersion: v1\nkind: List\nitems:\n- " + strings.ReplaceAll(strings.TrimSuffix(oneConfigMap, "\n"), "\n", "\n  ") +
			"\n- {apiVersion: v1, kind: Secret, metadata: {name: s}}\n", "f#1@1 ConfigMap a\nf#1@1 Secret s"},
		{"crlf", strings.ReplaceAll(oneConfigMap+"---\n"+oneConfigMap, "\n", "\r\n"), "f#1@1 ConfigMap a\nf#2@5 ConfigMap a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := parseManifests("f", []byte(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			if got := describeAll(objs); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestParseManifestsErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"yaml syntax, line counted in the file", oneConfigMap + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n   bad: indent\n",
			"f: document 2 (line 5): invalid YAML: line 9: mapping values are not allowed in this context"},
		{"duplicate key", "apiVersion: v1\nkind: ConfigMap\nkind: Secret\nmetadata: {name: a}\n",
			`f: document 1 (line 1): invalid YAML: line 3: key "kind" already set in map`},
		{"duplicate key in a later document", oneConfigMap + "---\napiVersion: v1\nkind: ConfigMap\nkind: Secret\nmetadata: {name: a}\n",
			`f: document 2 (line 5): invalid YAML: line 7: key "kind" already set in map`},
		{"name not a string", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 12}\n", "ConfigMap: metadata.name is 12, not a string: quote it"},
		{"namespace read as a bool", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: no}\n", "ConfigMap: metadata.namespace is false, not a string"},
		{"scalar", "just text\n", "f: document 1 (line 1): not an object"},
		{"list document", "- a\n- b\n", "f: document 1 (line 1): not an object"},
		{"apiVersion and kind missing", "metadata: {name: a}\n", "f: document 1 (line 1): apiVersion and kind missing"},
		{"kind missing", "apiVersion: v1\nmetadata: {name: a}\n", "f: document 1 (line 1): kind missing"},
		{"bad apiVersion", "apiVersion: a/b/c\nkind: X\nmetadata: {name: a}\n", `f: document 1 (line 1): X: apiVersion "a/b/c"`},
		{"metadata missing", "apiVersion: v1\nkind: ConfigMap\n", "f: document 1 (line 1): ConfigMap: metadata missing"},
		{"name missing", "apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {a: b}}\n", "f: document 1 (line 1): ConfigMap: metadata.name missing"},
		{"generateName", "apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: a-}\n", "generateName cannot be applied"},
		{"json syntax", oneConfigMap + "---\n{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"ConfigMap\"\n  \"metadata\": {}\n}\n",
			"f: document 2 (line 5): invalid JSON at line 8: invalid character '\"' after object key:value pair"},
		{"list item", "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- {kind: ConfigMap}\n",
			"f: document 1 (line 1): List item 2: apiVersion missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseManifests("f", []byte(tt.text))
			actiontest.WantErrorContains(t, err, tt.want)
		})
	}
}

func TestReadPath(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"deploy/b.yml":           strings.Replace(oneConfigMap, "name: a", "name: b", 1),
		"deploy/a.yaml":          oneConfigMap,
		"deploy/sub/c.JSON":      `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}`,
		"deploy/.github/ci.yml":  "on: push",
		"deploy/.hidden.yaml":    "kind: [",
		"deploy/kustomize.txt":   "resources: []",
		"deploy/sub/empty.yaml":  "# nothing here\n",
		"other/manifest.txt":     strings.Replace(oneConfigMap, "name: a", "name: t", 1),
		"templated/app.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${{ env.COLOR }}\n",
		"templated/broken.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: \"${{ '}}' \"\n",
		"templated2/broken.yaml": "data:\n  a: ${{ nope }}\n",
	})
	if err := os.Symlink("../../other/manifest.txt", filepath.Join(dir, "deploy", "sub", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		render     func(string) (string, error)
		want, err  string
	}{
		{"folder", "deploy", nil, "deploy/a.yaml#1@1 ConfigMap a\ndeploy/b.yml#1@1 ConfigMap b\ndeploy/sub/c.JSON#1@1 ConfigMap c\n" +
			"deploy/sub/link.yaml#1@1 ConfigMap t", ""},
		{"file named directly, any extension", "other/manifest.txt", nil, "other/manifest.txt#1@1 ConfigMap t", ""},
		{"absolute", dir + "/deploy/a.yaml", nil, dir + "/deploy/a.yaml#1@1 ConfigMap a", ""},
		{"template", "templated/app.yaml", fakeRender, "templated/app.yaml#1@1 ConfigMap teal", ""},
		{"missing", "nope", nil, "", "path: nope: no such file or directory"},
		{"empty folder", "deploy/sub/empty.yaml", nil, "", "path: deploy/sub/empty.yaml holds no manifests"},
		{"unclosed template", "templated/broken.yaml", fakeRender, "", "templated/broken.yaml: line 6, column 7: ${{ without a closing }}"},
		{"template error", "templated2", fakeRender, "", "templated2/broken.yaml: line 2, column 6: expression: unknown name nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := readPath(dir, tt.path, tt.render, fileView{})
			if tt.err != "" {
				actiontest.WantErrorContains(t, err, tt.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := describeAll(objs); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestRenderTemplates(t *testing.T) {
	var seen []string
	render := func(text string) (string, error) {
		seen = append(seen, text)
		if strings.Contains(text, "fail") {
			return "", errors.New("boom")
		}
		return "<" + strings.TrimSpace(text[3:len(text)-2]) + ">", nil
	}
	out, err := renderTemplates([]byte("a: ${{ x }}\nb: \"${{ '}}' }}\" ${{y}}\nc: $${ z }\n"), render)
	if err != nil {
		t.Fatal(err)
	}
	if want := "a: <x>\nb: \"<'}}'>\" <y>\nc: $${ z }\n"; string(out) != want {
		t.Errorf("got %q, want %q", out, want)
	}
	if want := []string{"${{ x }}", "${{ '}}' }}", "${{y}}"}; fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("render saw %q, want %q", seen, want)
	}
	_, err = renderTemplates([]byte("a: 1\n  b: ${{ fail }}\n"), render)
	actiontest.WantErrorContains(t, err, "line 2, column 6: boom")
}

// nestedAliases is a ConfigMap whose data holds levels of width aliases each,
// after filler values written out.
func nestedAliases(filler, levels, width int) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\nfiller: [")
	b.WriteString(strings.TrimSuffix(strings.Repeat("x, ", filler), ", "))
	b.WriteString("]\nbomb:\n  l0: &l0 [lol]\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "  l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), width), ", "))
	}
	return b.String()
}

func TestParseManifestsBoundsAliases(t *testing.T) {
	dir := t.TempDir()
	// Nine levels of nine, in the second document of a file.
	writeFiles(t, dir, map[string]string{"deploy/bomb.yaml": oneConfigMap + "---\n" + nestedAliases(0, 9, 9)})
	_, err := readPath(dir, "deploy", nil, fileView{})
	actiontest.WantErrorContains(t, err, "deploy/bomb.yaml: document 2 (line 5): line 15, column 42: alias *l4 takes what aliases stand for past 100000 values")

	// Values written out first dilute the aliases enough for the YAML
	// library's own ratio check, which lets about 130000 aliased values
	// through here; the bound counts them.
	_, err = parseManifests("f", []byte(nestedAliases(8000, 3, 40)))
	actiontest.WantErrorContains(t, err, "f: document 1 (line 1): line 9, column 157")
	actiontest.WantErrorContains(t, err, "alias *l2 takes what aliases stand for past 100000 values")

	// Inline manifests are refused when the step is built, before anything
	// is sent to a cluster.
	_, err = Kind().New(map[string]any{"manifests": nestedAliases(0, 9, 9)})
	actiontest.WantErrorContains(t, err, "manifests: document 1 (line 1): line 11, column 42: alias *l4")

	// Aliases within the bound read as copies of what they name.
	objs, err := parseManifests("f", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: &l {app: web}}\ndata: *l\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := objs[0].obj.Object["data"]; fmt.Sprint(got) != "map[app:web]" {
		t.Errorf("data = %v, want the labels", got)
	}
}

func TestLoadRefusesInlineAliasBomb(t *testing.T) {
	reg, err := actions.NewRegistry(Kind())
	if err != nil {
		t.Fatal(err)
	}
	inline := "    " + strings.ReplaceAll(strings.TrimSuffix(nestedAliases(0, 9, 9), "\n"), "\n", "\n        ")
	wf := "on: {dispatch: {}}\nsteps:\n  - uses: apply\n    with:\n      manifests: |\n    " + inline + "\n"
	_, err = workflows.Parse("deploy.yaml", []byte(wf), reg)
	actiontest.WantErrorContains(t, err, "deploy.yaml:5:7: uses: apply: manifests: document 1 (line 1): line 11, column 42: alias *l4")
}
