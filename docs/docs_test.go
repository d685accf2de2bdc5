// Package docs_test keeps the documentation honest: every workflow example in
// docs/*.md and README.md must load with the real parser and action registry,
// and the workflow reference must mention every key of the JSON Schema.
package docs_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/actions/builtin"
	"github.com/hookflow/hookflow/workflows"
)

// reference is the workflow file reference, relative to this folder.
const reference = "workflows.md"

// block is one fenced ```yaml block of a markdown file.
type block struct {
	file string // the markdown file, as shown in messages
	line int    // line of the opening fence, from 1
	text string
}

// markdownFiles lists docs/*.md and README.md, each with the name messages use.
func markdownFiles(t *testing.T) map[string]string {
	t.Helper()
	docs, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{filepath.Join("..", "README.md"): "README.md"}
	for _, d := range docs {
		files[d] = "docs/" + d
	}
	if !slices.Contains(docs, reference) {
		t.Fatalf("docs/%s is missing", reference)
	}
	return files
}

// fence recognises an opening or closing code fence: up to three spaces, then
// three or more backticks or tildes, then the info string.
var fence = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})(.*)$")

// yamlBlocks returns the blocks fenced as ```yaml in the markdown text. Blocks
// with any other info string (```yaml-fragment, ```sh, …) are skipped whole,
// so that a ```yaml line inside them is not mistaken for an example.
func yamlBlocks(name, text string) ([]block, error) {
	var blocks []block
	var open string // the fence that opened the current block, "" outside one
	var cur *block
	var body []string
	for i, line := range strings.Split(text, "\n") {
		m := fence.FindStringSubmatch(line)
		if open == "" {
			if m == nil {
				continue
			}
			open = m[1]
			info := strings.Fields(m[2])
			if len(info) > 0 && info[0] == "yaml" {
				cur, body = &block{file: name, line: i + 1}, nil
			}
			continue
		}
		// A closing fence: the same character, at least as long, nothing after.
		if m != nil && m[1][0] == open[0] && len(m[1]) >= len(open) && strings.TrimSpace(m[2]) == "" {
			if cur != nil {
				cur.text = strings.Join(body, "\n") + "\n"
				blocks = append(blocks, *cur)
			}
			open, cur = "", nil
			continue
		}
		if cur != nil {
			body = append(body, line)
		}
	}
	if cur != nil {
		return blocks, fmt.Errorf("%s:%d: the ```yaml block is never closed", name, cur.line)
	}
	return blocks, nil
}

// topLevelWorkflowKey finds `on:` or `steps:` at the start of a line.
var topLevelWorkflowKey = regexp.MustCompile(`(?m)^["']?(on|steps)["']?\s*:`)

// TestYAMLExamplesAreValidWorkflows loads every ```yaml block of docs/*.md and
// README.md as a workflow file. Fragments that are not whole workflows must
// be fenced as ```yaml-fragment. README.md may also show the server's own
// hookflow.yaml; a README block with neither `on:` nor `steps:` is taken for
// that and skipped.
func TestYAMLExamplesAreValidWorkflows(t *testing.T) {
	reg := builtin.Registry()
	dir := t.TempDir()
	for path, name := range markdownFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		blocks, err := yamlBlocks(name, string(data))
		if err != nil {
			t.Error(err)
		}
		var loaded []*workflows.Workflow
		validated := 0
		for _, b := range blocks {
			if name == "README.md" && !topLevelWorkflowKey.MatchString(b.text) {
				t.Logf("%s:%d: not a workflow (no on: or steps:), skipped", b.file, b.line)
				continue
			}
			validated++
			if w := checkBlock(t, reg, dir, b); w != nil {
				loaded = append(loaded, w)
			}
		}
		if validated == 0 && (name == "README.md" || name == "docs/"+reference) {
			t.Errorf("%s: no ```yaml workflow example found", name)
		}
		// A reader may copy every example of a page into one folder: they
		// must not clash (names, shared webhook paths).
		if _, err := workflows.NewSet("docs", loaded); err != nil {
			t.Errorf("%s: the examples do not load together as one folder (files are named after the fence line):\n%v", name, err)
		}
	}
}

// checkBlock writes b to a file of its own and parses it. Errors are reported
// at their place in the markdown file. It returns the workflow, or nil.
func checkBlock(t *testing.T, reg *actions.Registry, dir string, b block) *workflows.Workflow {
	t.Helper()
	base := strings.NewReplacer("/", "-", ".", "-").Replace(b.file)
	file := filepath.Join(dir, fmt.Sprintf("%s-L%d.yaml", base, b.line))
	if err := os.WriteFile(file, []byte(b.text), 0o600); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	w, err := workflows.Parse(file, data, reg)
	if err == nil {
		return w
	}
	var list workflows.ErrorList
	if !errors.As(err, &list) {
		t.Errorf("%s:%d: the ```yaml block is not a valid workflow: %v", b.file, b.line, err)
		return nil
	}
	msgs := make([]string, len(list))
	for i, e := range list {
		// Line 1 of the block is the line after the opening fence.
		msgs[i] = fmt.Sprintf("\t%s:%d:%d: %s", b.file, b.line+e.Line, e.Col, e.Msg)
	}
	t.Errorf("%s:%d: the ```yaml block is not a valid workflow (fence it as ```yaml-fragment if it is not meant to be one):\n%s",
		b.file, b.line, strings.Join(msgs, "\n"))
	return nil
}

// schemaProperties returns every key of every "properties" object in the
// JSON Schema, sorted and without repeats.
func schemaProperties(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "workflows", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var root any
	if err := json.Unmarshal(data, &root); err != nil {
		t.Fatalf("schema.json: %v", err)
	}
	var keys []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok {
				for k := range props {
					keys = append(keys, k)
				}
			}
			for _, child := range v {
				walk(child)
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(root)
	slices.Sort(keys)
	return slices.Compact(keys)
}

// TestReferenceCoversSchema checks that docs/workflows.md names every property
// of the workflow JSON Schema in backticks, so that a key added to the format
// cannot go undocumented.
func TestReferenceCoversSchema(t *testing.T) {
	keys := schemaProperties(t)
	for _, want := range []string{"on", "steps", "webhook", "signature", "max_delay", "cancel_in_progress"} {
		if !slices.Contains(keys, want) {
			t.Fatalf("schema walk found no %q among %d keys: is the walk broken?", want, len(keys))
		}
	}
	data, err := os.ReadFile(reference)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	var missing []string
	for _, k := range keys {
		if !strings.Contains(doc, "`"+k+"`") {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		t.Errorf("docs/%s does not mention these workflow schema keys in backticks: %s",
			reference, strings.Join(missing, ", "))
	}
}

// TestYAMLBlocks checks the fence scanner itself.
func TestYAMLBlocks(t *testing.T) {
	text := strings.Join([]string{
		"intro",              // 1
		"```yaml",            // 2
		"on: {dispatch: {}}", // 3
		"```",                // 4
		"````markdown",       // 5
		"```yaml",            // 6: inside another block
		"x: 1",               // 7
		"```",                // 8
		"````",               // 9
		"```yaml-fragment",   // 10
		"- run: echo",        // 11
		"```",                // 12
		"  ```yaml",          // 13
		"steps: []",          // 14
		"  ```",              // 15
	}, "\n")
	blocks, err := yamlBlocks("x.md", text)
	if err != nil {
		t.Fatal(err)
	}
	want := []block{
		{file: "x.md", line: 2, text: "on: {dispatch: {}}\n"},
		{file: "x.md", line: 13, text: "steps: []\n"},
	}
	if !slices.Equal(blocks, want) {
		t.Errorf("got %+v, want %+v", blocks, want)
	}
	if _, err := yamlBlocks("y.md", "```yaml\non: {}\n"); err == nil {
		t.Error("an unclosed block is not reported")
	}
}
