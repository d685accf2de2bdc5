package applyaction

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/hookflow/hookflow/actions"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// building lets one kustomize build run at a time: kustomize keeps the
// OpenAPI schema a kustomization may name (`openapi:`) in a global, which
// one build would otherwise change under another.
var building sync.Mutex

// buildKustomization builds the kustomization in dir (as the user wrote
// it, relative to base) with the kustomize library, as `kubectl kustomize`
// would with its defaults: files only from within each kustomization's
// folder and the bases it names, no plugins, no Helm charts, no functions.
//
// The build runs in the server's process, so before it starts every
// kustomization it would read is checked: a remote resource (a git
// repository or an http(s) file) is refused, since kustomize would fetch it
// by running git or an HTTP client outside the step's sandbox, and a file
// the view hides is refused while it builds. Errors name the kustomization file.
func buildKustomization(base, dir string, view fileView) ([]*object, error) {
	full := dir
	if !filepath.IsAbs(full) {
		full = filepath.Join(base, dir)
	}
	fsys := visibleFS{FileSystem: filesys.MakeFsOnDisk(), view: view}
	if err := checkKustomization(fsys, dir, full, map[string]bool{}); err != nil {
		return nil, err
	}
	building.Lock()
	defer building.Unlock()
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, full)
	if err != nil {
		// Paths as the user knows them: in the kustomization's folder, or
		// from the step's working directory, not the server's workspace.
		msg := strings.NewReplacer(filepath.Clean(full)+"/", "", filepath.Clean(full), dir, filepath.Clean(base)+"/", "").Replace(err.Error())
		return nil, fmt.Errorf("kustomize: %s: %s", dir, msg)
	}
	out, err := resources.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize: %s: %w", dir, err)
	}
	objs, err := parseManifests(dir+" (kustomize)", out)
	if err != nil {
		return nil, err
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("kustomize: %s builds no objects", dir)
	}
	return objs, nil
}

// kustomizationFile finds the kustomization file in the folder full.
func kustomizationFile(fsys filesys.FileSystem, full string) (string, bool) {
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		if p := filepath.Join(full, name); fsys.Exists(p) && !fsys.IsDir(p) {
			return name, true
		}
	}
	return "", false
}

// checkKustomization reads the kustomization in full (shown as dir) and,
// through the folders it names as resources or components, every one it
// includes, before kustomize builds them: each path it names must be local,
// and each base must be a folder with a kustomization file.
func checkKustomization(fsys visibleFS, dir, full string, seen map[string]bool) error {
	if seen[full] {
		return nil // kustomize reports the cycle
	}
	seen[full] = true
	if err := fsys.view.check(full); err != nil {
		return fmt.Errorf("kustomize: %s: %w", dir, err)
	}
	if !fsys.IsDir(full) {
		return fmt.Errorf("kustomize: %s: not a folder: name the folder that holds kustomization.yaml", dir)
	}
	name, ok := kustomizationFile(fsys, full)
	if !ok {
		return fmt.Errorf("kustomize: %s: no kustomization.yaml, kustomization.yml or Kustomization in it", dir)
	}
	file := filepath.Join(dir, name)
	data, err := fsys.ReadFile(filepath.Join(full, name))
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	var k types.Kustomization
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		if _, field, ok := strings.Cut(err.Error(), "json: unknown field "); ok {
			return fmt.Errorf("%s: unknown field %s: see kustomize's kustomization reference", file, field)
		}
		return fmt.Errorf("%s: %s", file, yamlError(err, 1))
	}
	k.FixKustomization()
	for _, ref := range kustomizationPaths(&k) {
		if isRemote(ref.path) {
			return fmt.Errorf("%s: %s: %s is remote, and remote resources are not fetched: "+
				"check the repository out with a `uses: git` step and name its folder", file, ref.field, ref.path)
		}
		target := ref.path
		if !filepath.IsAbs(target) {
			target = filepath.Join(full, target)
		}
		switch {
		case !fsys.Exists(target):
			return fmt.Errorf("%s: %s: %s: no such file or folder", file, ref.field, ref.path)
		case fsys.IsDir(target):
			if ref.field != "resources" && ref.field != "components" {
				return fmt.Errorf("%s: %s: %s is a folder: name a file", file, ref.field, ref.path)
			}
			if err := checkKustomization(fsys, filepath.Join(dir, ref.path), target, seen); err != nil {
				return err
			}
		case !within(target, full):
			return fmt.Errorf("%s: %s: %s is outside the kustomization's folder: kustomize reads files "+
				"only from within it (a folder with a kustomization of its own may be anywhere)", file, ref.field, ref.path)
		}
	}
	return nil
}

// within reports whether path is dir or inside it, both cleaned.
func within(path, dir string) bool {
	path, dir = filepath.Clean(path), filepath.Clean(dir)
	return path == dir || strings.HasPrefix(path, dir+string(filepath.Separator))
}

// pathRef is a path a kustomization names, with the field it is named in.
type pathRef struct{ field, path string }

// kustomizationPaths lists every path k names that kustomize reads:
// resources and components, patches, generator sources and the other files.
// Inline patches and configurations are not paths and are left out.
func kustomizationPaths(k *types.Kustomization) []pathRef {
	var refs []pathRef
	add := func(field string, paths ...string) {
		for _, p := range paths {
			if p != "" && !strings.Contains(p, "\n") { // a generator or transformer may be inline YAML
				refs = append(refs, pathRef{field, p})
			}
		}
	}
	add("resources", k.Resources...)
	add("components", k.Components...)
	add("crds", k.Crds...)
	add("configurations", k.Configurations...)
	add("generators", k.Generators...)
	add("transformers", k.Transformers...)
	add("validators", k.Validators...)
	add("openapi", k.OpenAPI["path"])
	for _, p := range k.Patches {
		add("patches", p.Path)
	}
	//lint:ignore SA1019 kustomize still reads the deprecated field, so it must be checked
	for _, p := range k.PatchesJson6902 {
		add("patchesJson6902", p.Path)
	}
	//lint:ignore SA1019 kustomize still reads the deprecated field, so it must be checked
	for _, p := range k.PatchesStrategicMerge {
		if !strings.ContainsAny(string(p), "\n:") { // else an inline patch
			add("patchesStrategicMerge", string(p))
		}
	}
	for _, r := range k.Replacements {
		add("replacements", r.Path)
	}
	sources := func(field string, s types.KvPairSources) {
		for _, f := range s.FileSources {
			_, path, found := strings.Cut(f, "=")
			if !found {
				path = f
			}
			add(field, path)
		}
		add(field, s.EnvSources...) // FixKustomization moved env here
	}
	for _, g := range k.ConfigMapGenerator {
		sources("configMapGenerator", g.KvPairSources)
	}
	for _, g := range k.SecretGenerator {
		sources("secretGenerator", g.KvPairSources)
	}
	return refs
}

// isRemote reports whether kustomize would fetch path rather than read it
// from disk: an http(s), ssh or file URL, a git address with a user
// (git@host:repo) or a GitHub one without a scheme (github.com/org/repo),
// with or without a git:: prefix.
func isRemote(path string) bool {
	p := strings.ToLower(strings.TrimSpace(path))
	p = strings.TrimPrefix(p, "git::")
	return strings.Contains(p, "://") || remoteUser.MatchString(p) ||
		strings.HasPrefix(p, "github.com/") || strings.HasPrefix(p, "github.com:")
}

var remoteUser = regexp.MustCompile(`^[a-z][a-z0-9-]*@`)

// visibleFS is the disk as a step sees it: reading a hidden path, or one
// that a symbolic link leads into one, fails.
type visibleFS struct {
	filesys.FileSystem
	view fileView
}

// check fails when path, symbolic links resolved, is hidden from steps.
func (v visibleFS) check(path string) error {
	if err := v.view.check(path); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func (v visibleFS) Open(path string) (filesys.File, error) {
	if err := v.check(path); err != nil {
		return nil, err
	}
	return v.FileSystem.Open(path)
}

func (v visibleFS) ReadFile(path string) ([]byte, error) {
	if err := v.check(path); err != nil {
		return nil, err
	}
	return v.FileSystem.ReadFile(path)
}

func (v visibleFS) ReadDir(path string) ([]string, error) {
	if err := v.check(path); err != nil {
		return nil, err
	}
	return v.FileSystem.ReadDir(path)
}

func (v visibleFS) Walk(path string, walkFn filepath.WalkFunc) error {
	if err := v.check(path); err != nil {
		return err
	}
	return v.FileSystem.Walk(path, func(p string, info fs.FileInfo, err error) error {
		if err == nil {
			err = v.check(p)
		}
		return walkFn(p, info, err)
	})
}

// errHidden is a path steps may not read.
var errHidden = errors.New("hidden from steps: it is one of the server's own files or a sandbox.hidden path")

// fileView is the file system as the step's processes see it: the hidden
// paths masked, but for the step's workspace, which lies in the server's
// hidden data folder and is bound over it.
type fileView struct {
	hidden    []string
	workspace string // symbolic links resolved
}

// viewOf is the view of the step s.
func viewOf(s *actions.Step) fileView {
	v := fileView{hidden: s.Hidden, workspace: s.Workspace}
	if real, err := filepath.EvalSymlinks(s.Workspace); err == nil {
		v.workspace = real
	}
	return v
}

// check fails when path, symbolic links resolved, is or is inside a hidden
// path and not in the workspace. A path that does not exist is left for the
// reader to report.
func (v fileView) check(path string) error {
	if len(v.hidden) == 0 {
		return nil
	}
	real, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if real, err = filepath.Abs(real); err != nil {
		return err
	}
	// A hidden path that holds the workspace (the data folder) hides all but
	// the workspace; one inside the workspace hides what it holds.
	inWorkspace := v.workspace != "" && within(real, v.workspace)
	if slices.ContainsFunc(v.hidden, func(h string) bool {
		return within(real, h) && !(inWorkspace && within(v.workspace, h))
	}) {
		return errHidden
	}
	return nil
}
