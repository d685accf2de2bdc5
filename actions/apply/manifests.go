package applyaction

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yamlnodes "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/hookflow/hookflow/workflows"
)

// maxManifestBytes bounds one manifest file: they are held in memory, and a
// larger one is more likely a mistaken path than a manifest.
const maxManifestBytes = 8 << 20

// maxAliased bounds the values the aliases of one document stand for, each
// alias counting as a copy of the value it names: the conversion to JSON
// copies every one, so a few hundred bytes of nested aliases would otherwise
// take the server's memory. Values written out are bounded by the file's size.
const maxAliased = 100_000

// object is one manifest document, with where it came from for error messages.
type object struct {
	source source
	obj    *unstructured.Unstructured
}

// source says where a document is: a file (or "manifests" for the inline
// ones), its index among the file's objects and its first line, both from 1.
type source struct {
	file  string
	index int
	line  int
}

func (s source) String() string {
	return fmt.Sprintf("%s: document %d (line %d)", s.file, s.index, s.line)
}

// describe names the object as errors and the log do: its kind, then
// namespace/name or name.
func (o *object) describe() string {
	if ns := o.obj.GetNamespace(); ns != "" {
		return o.obj.GetKind() + " " + ns + "/" + o.obj.GetName()
	}
	return o.obj.GetKind() + " " + o.obj.GetName()
}

// errorf returns an error naming the object's file, document, kind and name.
func (o *object) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", o.source, o.describe(), fmt.Errorf(format, args...))
}

// readPath reads the manifests in path, a file or a folder, relative to dir.
// A folder is searched recursively for .yaml, .yml and .json files in lexical
// order, skipping hidden files and folders (.git, .github); a file named
// directly is read whatever its extension. When render is not nil, each file's
// ${{ }} templates are rendered before it is parsed. Errors name the file as
// the user wrote it, relative to dir. A file the view hides, or reached
// through a symbolic link into a hidden path, is refused, as the step's own
// processes would find it masked.
func readPath(dir, path string, render func(string) (string, error), view fileView) ([]*object, error) {
	full := path
	if !filepath.IsAbs(full) {
		full = filepath.Join(dir, full)
	}
	if err := view.check(full); err != nil {
		return nil, fmt.Errorf("path: %s: %w", path, err)
	}
	fi, err := os.Stat(full)
	if err != nil {
		return nil, fmt.Errorf("path: %w", unwrapPathError(err, path))
	}
	var files []string
	if !fi.IsDir() {
		files = []string{full}
	} else {
		err := filepath.WalkDir(full, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != full && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !slices.Contains([]string{".yaml", ".yml", ".json"}, strings.ToLower(filepath.Ext(p))) {
				return nil
			}
			if d.Type()&fs.ModeSymlink != 0 {
				// A link to a file counts as the file; links to folders are
				// not followed.
				if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
					files = append(files, p)
				}
				return nil
			}
			if d.Type().IsRegular() {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("path: %w", err)
		}
	}
	var objs []*object
	for _, f := range files {
		name := displayName(path, full, f)
		if err := view.check(f); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		data, err := readFile(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if render != nil {
			if data, err = renderTemplates(data, render); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
		more, err := parseManifests(name, data)
		if err != nil {
			return nil, err
		}
		objs = append(objs, more...)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("path: %s holds no manifests (.yaml, .yml or .json files with objects in them)", path)
	}
	return objs, nil
}

// displayName is f as the user would write it: under path as they gave it.
func displayName(path, full, f string) string {
	if f == full {
		return path
	}
	rel, err := filepath.Rel(full, f)
	if err != nil {
		return f
	}
	return filepath.Join(path, rel)
}

func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, unwrapPathError(err, "")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("larger than %d MiB: is this a manifest?", maxManifestBytes>>20)
	}
	return data, nil
}

// unwrapPathError drops the absolute path *fs.PathError adds; the caller says
// which file it means. name, if set, replaces it.
func unwrapPathError(err error, name string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		if name != "" {
			return fmt.Errorf("%s: %w", name, pe.Err)
		}
		return pe.Err
	}
	return err
}

// renderTemplates renders each ${{ expr }} in data with render, one by one,
// so that an error can say on which line and column its expression starts.
// Values are spliced in as text: quote them in the YAML, or use toJSON().
func renderTemplates(data []byte, render func(string) (string, error)) ([]byte, error) {
	src := string(data)
	var out strings.Builder
	for pos := 0; ; {
		start := strings.Index(src[pos:], "${{")
		if start < 0 {
			out.WriteString(src[pos:])
			return []byte(out.String()), nil
		}
		start += pos
		out.WriteString(src[pos:start])
		end := workflows.ExpressionEnd(src[start+3:])
		line, col := lineCol(src, start)
		if end < 0 {
			return nil, fmt.Errorf("line %d, column %d: ${{ without a closing }}", line, col)
		}
		pos = start + 3 + end + 2
		v, err := render(src[start:pos])
		if err != nil {
			return nil, fmt.Errorf("line %d, column %d: %w", line, col, err)
		}
		out.WriteString(v)
	}
}

// lineCol is the 1-based line and column (in bytes) of offset in s.
func lineCol(s string, offset int) (int, int) {
	line := 1 + strings.Count(s[:offset], "\n")
	return line, offset - strings.LastIndex(s[:offset], "\n")
}

// parseManifests splits data into YAML documents and decodes each into an
// object. A document that starts with { or [ is read as JSON, which may hold
// several values one after another. Empty documents are skipped; a List's
// items become objects of their own. Errors name file, the document and its
// line.
func parseManifests(file string, data []byte) ([]*object, error) {
	var objs []*object
	index := 0
	for _, doc := range splitDocuments(data) {
		if isEmptyDocument(doc.text) {
			continue
		}
		var values []document
		if t := bytes.TrimSpace(doc.text); t[0] == '{' || t[0] == '[' {
			var err error
			if values, err = splitJSON(doc); err != nil {
				return nil, fmt.Errorf("%s: %w", source{file: file, index: index + 1, line: doc.line}, err)
			}
		} else {
			values = []document{doc}
		}
		for _, v := range values {
			index++
			src := source{file: file, index: index, line: v.line}
			more, err := decodeDocument(src, v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", src, err)
			}
			objs = append(objs, more...)
		}
	}
	return objs, nil
}

// decodeDocument decodes one YAML or JSON document: one object, or a List's
// items.
func decodeDocument(src source, doc document) ([]*object, error) {
	j := doc.text
	if !doc.json {
		if err := checkAliases(doc); err != nil {
			return nil, err
		}
		var err error
		if j, err = yaml.YAMLToJSONStrict(doc.text); err != nil {
			return nil, errors.New(yamlError(err, src.line))
		}
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil || m == nil {
		return nil, errors.New("not an object: write a mapping with apiVersion, kind and metadata")
	}
	u := &unstructured.Unstructured{Object: m}
	if err := checkObject(u); err != nil {
		return nil, err
	}
	if !u.IsList() {
		return []*object{{source: src, obj: u}}, nil
	}
	items, ok := m["items"].([]any)
	if !ok {
		return nil, fmt.Errorf("%s: items must be a list of objects", u.GetKind())
	}
	objs := make([]*object, 0, len(items))
	for i, it := range items {
		im, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s item %d: not an object", u.GetKind(), i+1)
		}
		item := &unstructured.Unstructured{Object: im}
		if err := checkObject(item); err != nil {
			return nil, fmt.Errorf("%s item %d: %w", u.GetKind(), i+1, err)
		}
		objs = append(objs, &object{source: src, obj: item})
	}
	return objs, nil
}

// checkAliases holds a YAML document to maxAliased before it is converted.
// Only a document with a '*' in it can hold an alias, so no other is parsed
// twice; one that does not parse is left for the conversion to report.
func checkAliases(doc document) error {
	if !bytes.Contains(doc.text, []byte("*")) {
		return nil
	}
	var root yamlnodes.Node
	if yamlnodes.Unmarshal(doc.text, &root) != nil {
		return nil
	}
	if err := (workflows.NodeBudget{MaxAliased: maxAliased}).Check(&root); err != nil {
		return fmt.Errorf("line %d, column %d: %s", doc.line+err.Line-1, err.Col, err.Msg)
	}
	return nil
}

// splitJSON cuts a JSON document into its values, each with its first line.
func splitJSON(doc document) ([]document, error) {
	var values []document
	dec := json.NewDecoder(bytes.NewReader(doc.text))
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return values, nil
		}
		if err != nil {
			off := int(dec.InputOffset())
			var se *json.SyntaxError
			if errors.As(err, &se) {
				off = int(se.Offset)
			}
			line, _ := lineCol(string(doc.text), min(off, len(doc.text)))
			return nil, fmt.Errorf("invalid JSON at line %d: %s", doc.line+line-1, strings.TrimPrefix(err.Error(), "json: "))
		}
		start := int(dec.InputOffset()) - len(raw)
		line, _ := lineCol(string(doc.text), start)
		values = append(values, document{text: raw, line: doc.line + line - 1, json: true})
	}
}

// checkObject checks what server-side apply needs before anything is sent,
// so that one bad document fails the step before any object is applied.
func checkObject(u *unstructured.Unstructured) error {
	apiVersion, kind := u.GetAPIVersion(), u.GetKind()
	if apiVersion == "" || kind == "" {
		var missing []string
		if apiVersion == "" {
			missing = append(missing, "apiVersion")
		}
		if kind == "" {
			missing = append(missing, "kind")
		}
		return fmt.Errorf("%s missing: every manifest needs apiVersion and kind, e.g. apiVersion: v1, kind: ConfigMap",
			strings.Join(missing, " and "))
	}
	if _, err := schema.ParseGroupVersion(apiVersion); err != nil {
		return fmt.Errorf("%s: apiVersion %q: write it as group/version or v1", kind, apiVersion)
	}
	if u.IsList() {
		return nil
	}
	md, ok := u.Object["metadata"].(map[string]any)
	if !ok {
		return fmt.Errorf("%s: metadata missing or not a mapping: write metadata: {name: ...}", kind)
	}
	for _, key := range []string{"name", "namespace", "generateName"} {
		if v, ok := md[key]; ok {
			if _, isString := v.(string); !isString {
				return fmt.Errorf("%s: metadata.%s is %v, not a string: quote it "+
					"(YAML reads y, n, yes, no, on, off, true, false and numbers as other types)", kind, key, v)
			}
		}
	}
	if u.GetName() == "" {
		if u.GetGenerateName() != "" {
			return fmt.Errorf("%s: generateName cannot be applied: server-side apply needs metadata.name", kind)
		}
		return fmt.Errorf("%s: metadata.name missing", kind)
	}
	return nil
}

// document is one YAML document or JSON value of a file and the line it
// starts on.
type document struct {
	text []byte
	line int
	json bool
}

// splitDocuments cuts data at lines starting with "---", as kubectl does.
func splitDocuments(data []byte) []document {
	var docs []document
	cur := document{line: 1}
	lines := bytes.SplitAfter(data, []byte("\n"))
	for i, l := range lines {
		if isSeparator(l) {
			docs = append(docs, cur)
			cur = document{line: i + 2}
			continue
		}
		cur.text = append(cur.text, l...)
	}
	return append(docs, cur)
}

// isSeparator reports whether l is a document separator: --- alone, or
// followed by a space and anything (a comment).
func isSeparator(l []byte) bool {
	l = bytes.TrimRight(l, "\r\n")
	return bytes.Equal(l, []byte("---")) || bytes.HasPrefix(l, []byte("--- ")) || bytes.HasPrefix(l, []byte("---\t"))
}

// isEmptyDocument reports whether doc holds only blank lines, comments and
// directives.
func isEmptyDocument(doc []byte) bool {
	for l := range bytes.Lines(doc) {
		l = bytes.TrimSpace(l)
		if len(l) > 0 && l[0] != '#' && l[0] != '%' && !bytes.Equal(l, []byte("...")) {
			return false
		}
	}
	return true
}

var yamlLine = regexp.MustCompile(`\bline (\d+):`)

// yamlError makes a YAML parser error read well: without the converter's
// prefixes, on one line, and with lines counted from the start of the file.
func yamlError(err error, docLine int) string {
	msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	msg = yamlLine.ReplaceAllStringFunc(msg, func(m string) string {
		n, _ := strconv.Atoi(yamlLine.FindStringSubmatch(m)[1])
		return fmt.Sprintf("line %d:", n+docLine-1)
	})
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return "invalid YAML: " + strings.Join(lines, "; ")
}
